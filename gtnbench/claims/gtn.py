"""Measures of the GTN claims on MNIST and CIFAR-10 (C1-C5): pure functions of records.

Each names the method it judges (the claim's `judged`: a suite method, never chosen by its test
accuracy) and computes one quantity with a bootstrap interval over seeds. Below the paper scale,
where the suites shrink T, the judged method is read at the suite's own T: a regression figure.
"""

from __future__ import annotations

import math

import numpy as np

from gtnbench.analysis.intervals import crossing_interval, difference_interval, fisher_greater, log_ratio_interval
from gtnbench.claims.common import (
    Group,
    as_estimate,
    baseline_accuracy,
    difference,
    group,
    interval_text,
    matching,
    mean,
    ok,
    pct,
    plural,
    scale_of,
    values,
)
from gtnbench.claims.verdicts import Baseline, Claim, Estimate, Measurement, Record, Settings
from gtnbench.data.names import data_label

PAPER_T = 32  # C1-C3a: MNIST, 32 inner steps


def _at_t(records: list[Record], t: int) -> list[Record]:
    """Records of the paper's T, or below the paper scale (suites shrink T) whatever T they have."""
    exact = [r for r in records if r["details"].get("inner_steps") == t]
    return exact or [r for r in records if r["scale"] != "paper"]


def _judged_mnist(claim: Claim, records: list[Record]) -> Group:
    g = group([r for r in records if r["dataset"] == "mnist"], claim.judged)
    return Group(g.name, _at_t(g.ok, PAPER_T), g.failed)


def _steps(g: Group) -> int:
    return g.ok[0]["details"]["inner_steps"]


def _real_at(records: list[Record], method: str, steps: int) -> list[float]:
    return values(ok(records, method=method, steps=steps), "test_acc")


def _gtn_baselines(claim: Claim, records: list[Record], g: Group, settings: Settings) -> tuple[Baseline, ...]:
    """The tuned real-data learner at the same steps (it sees as many real images as the GTN generates),
    the untrained generator, and the other GTN variants the suite meta-trained."""
    judged, steps = values(g.ok, "test_acc"), _steps(g)
    batch = g.ok[0]["details"].get("batch_size") or g.ok[0]["details"].get("meta", {}).get("meta_batch_size", 128)
    shown = []
    for name in claim.baselines:
        if name == "untrained generator":
            shown.append(
                baseline_accuracy(
                    name,
                    judged,
                    values(g.ok, "untrained_test_acc"),
                    settings,
                    label=f"untrained generator, {steps} steps",
                )
            )
        elif not matching(records, method=name):  # never guess what an absent method is
            shown.append(Baseline(name, "not in these runs"))
        elif any(r["kind"] == "gtn" for r in matching(records, method=name)):
            other = [r for r in ok(records, method=name) if r["details"].get("inner_steps") == steps]
            shown.append(
                baseline_accuracy(
                    name, judged, values(other, "test_acc"), settings, label=f"{name} (GTN variant, T={steps})"
                )
            )
        else:
            shown.append(
                baseline_accuracy(
                    name,
                    judged,
                    _real_at(records, name, steps),
                    settings,
                    label=f"{name} (tuned real data, {steps} steps x {batch})",
                )
            )
    return tuple(shown)


def _incomplete(claim: Claim, g: Group, records: list[Record]) -> Measurement | None:
    """Incomplete when the judged method is missing or failed but the runs hold MNIST GTN records
    (never a fall-back to another variant); None when they hold none (nothing measured)."""
    if not any(r["kind"] == "gtn" and r["dataset"] == "mnist" for r in records):
        return None
    return Measurement(claim.judged, Estimate(math.nan), "–", scale_of(records), missing=g.missing)


def measure_c1(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    g = _judged_mnist(claim, records)
    if g.missing:
        return _incomplete(claim, g, records)
    e = mean(values(g.ok, "test_acc"))
    text = f"{claim.judged} (T={_steps(g)}): {pct(e)} test accuracy, mean over {plural(len(g.ok), 'seed')}"
    return Measurement(
        f"{claim.judged} (T={_steps(g)})", e, text, scale_of(g.ok), _gtn_baselines(claim, records, g, settings)
    )


def measure_c1b(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    g = _judged_mnist(claim, records)
    if g.missing:
        return _incomplete(claim, g, records)
    seconds = values(g.ok, "learner_train_seconds")
    e = mean(seconds)
    devices = ", ".join(sorted({r["device_name"] for r in g.ok}))
    text = (
        f"{claim.judged} (T={_steps(g)}): {interval_text(e, 1000, 1, ' ms')} on {devices} (mean over seeds of "
        "each trial's median learner)"
    )
    return Measurement(f"{claim.judged} (T={_steps(g)})", e, text, scale_of(g.ok))


def measure_c2(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    g = _judged_mnist(claim, records)
    real_name = claim.baselines[0]
    if g.missing:
        return _incomplete(claim, g, records)
    steps = _steps(g)
    gtn, real = values(g.ok, "test_acc"), _real_at(records, real_name, steps)
    if not real:
        return Measurement(
            claim.judged,
            Estimate(math.nan),
            "–",
            scale_of(g.ok),
            missing=f"{real_name} at {steps} steps is not in these runs",
        )
    e = difference(gtn, real)
    text = (
        f"{claim.judged} {pct(mean(gtn))} vs {real_name} {pct(mean(real))} after {steps} steps: GTN minus real "
        f"{interval_text(e, 100, 2, ' points')}"
    )
    return Measurement(
        f"{claim.judged} (T={steps})",
        e,
        text,
        scale_of(g.ok + ok(records, method=real_name)),
        _gtn_baselines(claim, records, g, settings),
    )


C3_ORDER = ("full", "shuffled-batch", "all-shuffled", "none")


def _curricula(claim: Claim, records: list[Record]) -> tuple[dict[str, list[Record]], int]:
    g = group([r for r in records if r["dataset"] == "mnist"], claim.judged)
    chosen = _at_t(g.ok, PAPER_T)
    by: dict[str, list[Record]] = {}
    for record in chosen:
        by.setdefault(record["details"]["curriculum"], []).append(record)
    return by, g.failed


C3_PAIRS = tuple(zip(C3_ORDER, C3_ORDER[1:]))


def smallest_gap(accuracy: dict[str, list[float]]) -> Estimate:
    """C3's statistic: the smallest adjacent gap of the curricula's mean accuracies. Its lower bound is the
    smallest of the gaps' 95 % Welch lower bounds (all gaps clear 0 only if each does: an intersection-union
    test, so a truth on the threshold reads "reproduced" at most 2.5 % of the time); its upper bound the
    smallest of their Bonferroni upper bounds (one-sided 2.5 % / 3 each)."""
    lower = [difference(accuracy[a], accuracy[b]) for a, b in C3_PAIRS]
    upper = [difference_interval(accuracy[a], accuracy[b], 1 - 0.05 / len(C3_PAIRS)) for a, b in C3_PAIRS]
    value = min(e.value for e in lower)
    if not all(e.has_interval for e in lower):
        return Estimate(value, method=lower[0].method)
    return Estimate(
        value, min(e.low for e in lower), min(i.high for i in upper), f"{lower[0].method} per adjacent pair"
    )


def measure_c3(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    by, failed = _curricula(claim, records)
    if len(by) < 2 and not failed:
        return None
    scale = scale_of([r for rs in by.values() for r in rs]) if by else scale_of(records)
    absent = [c for c in C3_ORDER if c not in by]
    accuracy = {c: values(by[c], "test_acc") for c in C3_ORDER if c in by}
    shown = tuple(Baseline(c, pct(mean(accuracy[c]))) for c in accuracy)
    if absent or failed:
        why = ", ".join(
            filter(
                None, [f"missing {', '.join(absent)}" if absent else "", f"{failed} trial(s) failed" if failed else ""]
            )
        )
        return Measurement(claim.judged, Estimate(math.nan), "–", scale, shown, missing=why)
    e = smallest_gap(accuracy)
    gaps = " > ".join(f"{c} {100 * np.mean(accuracy[c]):.2f}" for c in C3_ORDER)
    text = f"{gaps} (test %, mean over seeds); smallest adjacent gap {interval_text(e, 100, 2, ' points')}"
    return Measurement(f"{claim.judged} (4 curricula)", e, text, scale, shown)


C3A_TARGET = 0.95  # validation accuracy whose first iteration C3a compares


def iterations_to_reach(history: list[dict], target: float) -> float:
    """The first outer iteration whose validation accuracy (mean of the validation learners) reaches
    `target`; math.inf if none does."""
    return next((h["iteration"] for h in history if h["val_acc"] >= target), math.inf)


def _outer_iterations(records: list[Record]) -> float:
    """How long the runs meta-trained (the censoring limit of "never reached")."""
    found = [r["details"].get("meta", {}).get("outer_iterations") for r in records]
    found += [max((h["iteration"] for h in r["details"].get("validation", [])), default=None) for r in records]
    known = [f for f in found if f is not None]
    return float(min(known)) if known else math.nan


def measure_c3a(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    """none / full in outer iterations to reach 95 % validation accuracy: the ratio of geometric means with a
    Welch interval on the logarithms over seeds. A `none` run that never gets there is censored at the
    run's length (the value and lower bound become lower bounds; inconclusive when too short to tell);
    the full curriculum never getting there settles the claim as not reproduced."""
    by, failed = _curricula(claim, records)
    if "full" not in by or "none" not in by:
        return (
            None
            if not failed
            else Measurement(
                claim.judged, Estimate(math.nan), "–", scale_of(records), missing=f"{failed} trial(s) failed"
            )
        )
    target = C3A_TARGET
    reach = {
        c: [iterations_to_reach(r["details"].get("validation", []), target) for r in by[c]] for c in ("full", "none")
    }
    scale = scale_of(by["full"] + by["none"])
    limit = _outer_iterations(by["full"] + by["none"])
    learners = by["full"][0]["details"].get("meta", {}).get("validation_learners", 1)
    text_reach = (
        f"iterations to {100 * target:g} % validation accuracy (mean of {learners} validation learner"
        f"{'' if learners == 1 else 's'}), per seed: full {_iterations(reach['full'])}, none "
        f"{_iterations(reach['none'])} (never: not within the run's {limit:g} iterations)"
    )
    if failed:
        return Measurement(claim.judged, Estimate(math.nan), text_reach, scale, missing=f"{failed} trial(s) failed")
    never_full = sum(math.isinf(v) for v in reach["full"])
    if never_full == len(reach["full"]):
        return Measurement(
            claim.judged, Estimate(math.nan), text_reach + "; full never reaches it", scale, settled=False
        )
    if never_full:
        return Measurement(
            claim.judged,
            Estimate(math.inf),
            text_reach + f"; full does not reach it in {never_full} seed(s): no interval",
            scale,
        )
    e = as_estimate(log_ratio_interval(reach["none"], reach["full"], limit))
    censored = any(math.isinf(v) for v in reach["none"])
    words = f"none / full {'at least ' if censored else ''}{interval_text(e, 1, 2, 'x')} (ratio of geometric means)"
    if censored and e.has_interval and e.low < claim.threshold.value:
        words += "; none never got there in some seeds and the run is too short to tell"
    return Measurement(f"{claim.judged} (full vs none)", e, f"{text_reach}; {words}", scale)


def _iterations(values_: list[float]) -> str:
    return "[" + ", ".join("never" if math.isinf(v) else f"{v:g}" for v in values_) + "]"


C4_ALPHA = 0.0125  # each of C4's two criteria at half of the 2.5 % one-sided error (Bonferroni)


def _diverged(record: Record) -> bool:
    """Failed by the divergence guard (NaN/inf meta-loss or accuracy collapse), not by a crash."""
    reason = record.get("reason") or ""
    return reason.startswith("diverged") or reason.startswith("accuracy collapse")


def measure_c4(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    """Weight norm on vs off (failed records carry no details: the flag comes from the trial's variant).

    Two pre-stated criteria, each at a one-sided 1.25 % (together at most 2.5 %): more divergence
    without weight norm by a one-sided Fisher exact test of the counts; otherwise the accuracy of the
    runs that finished, on minus off, by a 97.5 % Welch interval against 1 point. "Not reproduced" needs
    both refuted: the accuracy interval below 1 point and no more divergence without weight norm than
    with it (else inconclusive). Every run with weight norm diverging is "not reproduced" (it stabilised
    nothing)."""
    sides = {
        flag: [r for r in records if r["method"] == claim.judged and r.get("variant", {}).get("weight_norm") == flag]
        for flag in (True, False)
    }
    if not sides[True] or not sides[False]:
        return None
    scale = scale_of(sides[True] + sides[False])
    diverged = {flag: sum(r["status"] != "ok" and _diverged(r) for r in rs) for flag, rs in sides.items()}
    crashed = sum(r["status"] != "ok" and not _diverged(r) for rs in sides.values() for r in rs)
    accuracy = {flag: values([r for r in rs if r["status"] == "ok"], "test_acc") for flag, rs in sides.items()}
    words = "; ".join(
        f"weight norm {'on' if flag else 'off'}: {diverged[flag]}/{len(sides[flag])} diverged, test "
        f"{pct(mean(accuracy[flag])) if accuracy[flag] else '–'}"
        for flag in (True, False)
    )
    if crashed:  # a crash or an out-of-memory kill says nothing about stability
        return Measurement(
            claim.judged,
            Estimate(math.nan),
            words,
            scale,
            missing=f"{crashed} trial(s) failed for other reasons than divergence: rerun them",
        )
    p = fisher_greater(diverged[False], len(sides[False]), diverged[True], len(sides[True]))
    fisher = f"more divergence without weight norm: one-sided Fisher exact p = {p:.3g}"
    if p <= C4_ALPHA:
        return Measurement(claim.judged, Estimate(math.nan), f"{words}; {fisher} ≤ {C4_ALPHA:g}", scale, settled=True)
    if not accuracy[True]:
        return Measurement(
            claim.judged, Estimate(math.nan), f"{words}; every run with weight norm diverged", scale, settled=False
        )
    if not accuracy[False]:
        return Measurement(
            claim.judged,
            Estimate(math.inf, method="no run without weight norm finished"),
            f"{words}; {fisher} > {C4_ALPHA:g}; no run without weight norm finished: too few to tell",
            scale,
        )
    e = as_estimate(difference_interval(accuracy[True], accuracy[False], 1 - 2 * C4_ALPHA))
    text = f"{words}; {fisher} > {C4_ALPHA:g}; on minus off {interval_text(e, 100, 2, ' points')} (97.5 % interval)"
    if diverged[False] > diverged[True] and e.has_interval and e.high < claim.threshold.value:
        # the accuracies refute one criterion, but more runs diverged without: the other is merely unproven
        return Measurement(
            f"{claim.judged} (weight norm on vs off)",
            Estimate(e.value, method=e.method),
            text + "; more runs diverged without weight norm, too few to tell",
            scale,
        )
    return Measurement(f"{claim.judged} (weight norm on vs off)", e, text, scale)


def _real_curve(records: list[Record], method: str) -> tuple[list[int], dict[int, list[float]], dict[int, list[float]]]:
    """A real-data method's step budgets, test accuracies per budget (one per seed) and training seconds."""
    accuracy: dict[int, list[float]] = {}
    seconds: dict[int, list[float]] = {}
    for r in ok(records, method=method):
        if "steps" in r["budget"]:
            accuracy.setdefault(r["budget"]["steps"], []).append(r["metrics"]["test_acc"])
            seconds.setdefault(r["budget"]["steps"], []).append(r["metrics"]["train_seconds"])
    return sorted(accuracy), accuracy, seconds


def speedup_estimate(steps: list[int], curve: list[list[float]], gtn: list[float], inner: int) -> Estimate:
    """C5's statistic: real-data steps to reach the GTN's mean accuracy, over T, with bounds by test inversion
    (analysis/intervals.crossing_interval). Not reached within the budgets: the value is infinite and the
    lower bound is the last budget (so a curve too short to tell reads inconclusive, never "inf, so
    reproduced"); reached at the first budget: the lower bound is 0. A NaN on the curve gives NaN."""
    crossing = crossing_interval(steps, curve, gtn)
    if any(math.isnan(v) for v in (crossing.value, crossing.earliest, crossing.latest)):
        return Estimate(math.nan)
    earliest = crossing.earliest
    if math.isinf(earliest):
        earliest = float(steps[-1])
    elif earliest == steps[0]:
        earliest = 0.0
    if any(len(c) < 2 for c in curve) or len(gtn) < 2:
        return Estimate(crossing.value / inner, method=crossing.method)
    return Estimate(crossing.value / inner, earliest / inner, crossing.latest / inner, crossing.method)


def measure_c5(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    """Real-data steps needed to reach the GTN learner's accuracy, divided by the GTN's inner steps."""
    cifar = [r for r in records if r["dataset"] in ("cifar10", "cifar10-jpeg")]
    g = group(cifar, claim.judged)
    real_name = claim.baselines[0]
    steps, accuracy, seconds = _real_curve(cifar, real_name)
    if g.missing or not steps:
        if not matching(cifar, method=claim.judged):
            return None
        why = g.missing or f"{real_name} (a curve over step budgets) is not in these runs"
        return Measurement(claim.judged, Estimate(math.nan), "–", scale_of(cifar), missing=why)
    inner = _steps(g)
    gtn = values(g.ok, "test_acc")
    e = speedup_estimate(steps, [accuracy[k] for k in steps], gtn, inner)
    label = data_label(g.ok)
    needed = e.value * inner
    per_step = float(np.mean([np.mean(seconds[k]) / k for k in steps]))
    gtn_seconds = float(np.mean(values(g.ok, "learner_train_seconds")))
    in_seconds = needed * per_step / gtn_seconds if math.isfinite(needed) else math.inf
    reached = f"needs {needed:.0f} steps" if math.isfinite(needed) else f"does not reach it within {steps[-1]} steps"
    text = (
        f"{label}: {claim.judged} {pct(mean(gtn))} after {inner} steps; {real_name} {reached}: "
        f"{interval_text(e, 1, 2, 'x')} in steps, {in_seconds:.2f}x in seconds"
    )
    at_t = accuracy.get(inner, [])
    shown = (
        baseline_accuracy(real_name, gtn, at_t, settings, label=f"{real_name} (tuned real data, {inner} steps)"),
        baseline_accuracy(
            "untrained generator",
            gtn,
            values(g.ok, "untrained_test_acc"),
            settings,
            label=f"untrained generator, {inner} steps",
        ),
    )
    return Measurement(f"{claim.judged} (T={inner})", e, text, scale_of(g.ok + ok(cifar, method=real_name)), shown)
