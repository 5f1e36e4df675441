"""Measures of the GTN claims on MNIST and CIFAR-10 (C1-C5): pure functions of records.

Each names the method it judges (the claim's `judged`: a suite method, never chosen by its test
accuracy) and computes one quantity with a bootstrap interval over seeds. Below the paper scale,
where the suites shrink T, the judged method is read at the suite's own T: a regression figure.
"""

from __future__ import annotations

import math

import numpy as np

from gtnbench.claims.common import (
    Group,
    baseline_accuracy,
    difference,
    estimate,
    group,
    interval_text,
    matching,
    mean,
    ok,
    pct,
    scale_of,
    values,
)
from gtnbench.claims.verdicts import Baseline, Claim, Estimate, Measurement, Record, Settings
from gtnbench.metrics import steps_to_reach

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
            shown.append(baseline_accuracy(name, judged, values(g.ok, "untrained_test_acc"), settings,
                                           label=f"untrained generator, {steps} steps"))  # fmt: skip
        elif any(r["kind"] == "gtn" for r in matching(records, method=name)):
            other = [r for r in ok(records, method=name) if r["details"].get("inner_steps") == steps]
            shown.append(baseline_accuracy(name, judged, values(other, "test_acc"), settings,
                                           label=f"{name} (GTN variant, T={steps})"))  # fmt: skip
        else:
            shown.append(baseline_accuracy(name, judged, _real_at(records, name, steps), settings,
                                           label=f"{name} (tuned real data, {steps} steps x {batch})"))  # fmt: skip
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
    e = estimate([values(g.ok, "test_acc")], mean, settings)
    text = f"{claim.judged} (T={_steps(g)}): {pct(e)} test accuracy, mean over {len(g.ok)} seeds"
    return Measurement(f"{claim.judged} (T={_steps(g)})", e, text, scale_of(g.ok),
                       _gtn_baselines(claim, records, g, settings))  # fmt: skip


def measure_c1b(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    g = _judged_mnist(claim, records)
    if g.missing:
        return _incomplete(claim, g, records)
    seconds = values(g.ok, "learner_train_seconds")
    e = estimate([seconds], mean, settings)
    devices = ", ".join(sorted({r["device_name"] for r in g.ok}))
    text = (f"{claim.judged} (T={_steps(g)}): {interval_text(e, 1000, 1, ' ms')} on {devices} (mean over seeds of "
            "each trial's median learner)")  # fmt: skip
    return Measurement(f"{claim.judged} (T={_steps(g)})", e, text, scale_of(g.ok))


def measure_c2(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    g = _judged_mnist(claim, records)
    real_name = claim.baselines[0]
    if g.missing:
        return _incomplete(claim, g, records)
    steps = _steps(g)
    gtn, real = values(g.ok, "test_acc"), _real_at(records, real_name, steps)
    if not real:
        return Measurement(claim.judged, Estimate(math.nan), "–", scale_of(g.ok),
                           missing=f"{real_name} at {steps} steps is not in these runs")  # fmt: skip
    e = estimate([gtn, real], difference, settings)
    text = (f"{claim.judged} {pct(estimate([gtn], mean, settings))} vs {real_name} "
            f"{pct(estimate([real], mean, settings))} after {steps} steps: GTN minus real "
            f"{interval_text(e, 100, 2, ' points')}")  # fmt: skip
    return Measurement(f"{claim.judged} (T={steps})", e, text, scale_of(g.ok + ok(records, method=real_name)),
                       _gtn_baselines(claim, records, g, settings))  # fmt: skip


C3_ORDER = ("full", "shuffled-batch", "all-shuffled", "none")


def _curricula(claim: Claim, records: list[Record]) -> tuple[dict[str, list[Record]], int]:
    g = group([r for r in records if r["dataset"] == "mnist"], claim.judged)
    chosen = _at_t(g.ok, PAPER_T)
    by: dict[str, list[Record]] = {}
    for record in chosen:
        by.setdefault(record["details"]["curriculum"], []).append(record)
    return by, g.failed


def _smallest_gap(*groups: np.ndarray) -> float:
    means = [np.mean(x) for x in groups]
    return float(min(a - b for a, b in zip(means, means[1:])))


def measure_c3(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    by, failed = _curricula(claim, records)
    if len(by) < 2 and not failed:
        return None
    scale = scale_of([r for rs in by.values() for r in rs]) if by else scale_of(records)
    absent = [c for c in C3_ORDER if c not in by]
    accuracy = {c: values(by[c], "test_acc") for c in C3_ORDER if c in by}
    shown = tuple(Baseline(c, pct(estimate([accuracy[c]], mean, settings))) for c in accuracy)
    if absent or failed:
        why = ", ".join(filter(None, [f"missing {', '.join(absent)}" if absent else "",
                                      f"{failed} trial(s) failed" if failed else ""]))  # fmt: skip
        return Measurement(claim.judged, Estimate(math.nan), "–", scale, shown, missing=why)
    e = estimate([accuracy[c] for c in C3_ORDER], _smallest_gap, settings)
    gaps = " > ".join(f"{c} {100 * np.mean(accuracy[c]):.2f}" for c in C3_ORDER)
    text = f"{gaps} (test %, mean over seeds); smallest adjacent gap {interval_text(e, 100, 2, ' points')}"
    return Measurement(f"{claim.judged} (4 curricula)", e, text, scale, shown)


def iterations_to_reach(history: list[dict], target: float) -> float:
    """The first outer iteration whose validation accuracy (mean of the validation learners) reaches
    `target`; math.inf if none does."""
    return next((h["iteration"] for h in history if h["val_acc"] >= target), math.inf)


def _ratio_of_means(none: np.ndarray, full: np.ndarray) -> float:
    f, n = float(np.mean(full)), float(np.mean(none))
    return math.inf if math.isinf(n) and not math.isinf(f) else n / f if f > 0 else math.nan


def measure_c3a(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    by, failed = _curricula(claim, records)
    if "full" not in by or "none" not in by:
        return None if not failed else Measurement(claim.judged, Estimate(math.nan), "–", scale_of(records),
                                                   missing=f"{failed} trial(s) failed")  # fmt: skip
    reach = {c: [iterations_to_reach(r["details"].get("validation", []), 0.95) for r in by[c]] for c in ("full", "none")}
    scale = scale_of(by["full"] + by["none"])
    learners = by["full"][0]["details"].get("meta", {}).get("validation_learners", 1)
    text_reach = (f"iterations to 95 % validation accuracy (mean of {learners} validation learner(s)), per seed: "
                  f"full {reach['full']}, none {reach['none']}")  # fmt: skip
    if failed:
        return Measurement(claim.judged, Estimate(math.nan), text_reach, scale, missing=f"{failed} trial(s) failed")
    if all(math.isinf(v) for v in reach["full"]):
        return Measurement(claim.judged, Estimate(math.nan), text_reach + "; full never reaches 95 %", scale,
                           settled=False)  # fmt: skip
    e = estimate([reach["none"], reach["full"]], _ratio_of_means, settings)
    return Measurement(f"{claim.judged} (full vs none)", e,
                       text_reach + f"; none / full {interval_text(e, 1, 2, 'x')}", scale)  # fmt: skip


def _diverged(record: Record) -> bool:
    """Failed by the divergence guard (NaN/inf meta-loss or accuracy collapse), not by a crash."""
    reason = record.get("reason") or ""
    return reason.startswith("diverged") or reason.startswith("accuracy collapse")


def measure_c4(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    """Weight norm on vs off (failed records carry no details: the flag comes from the trial's variant)."""
    sides = {flag: [r for r in records if r["method"] == claim.judged and r.get("variant", {}).get("weight_norm") == flag]
             for flag in (True, False)}  # fmt: skip
    if not sides[True] or not sides[False]:
        return None
    scale = scale_of(sides[True] + sides[False])
    diverged = {flag: sum(r["status"] != "ok" and _diverged(r) for r in rs) for flag, rs in sides.items()}
    crashed = sum(r["status"] != "ok" and not _diverged(r) for rs in sides.values() for r in rs)
    accuracy = {flag: values([r for r in rs if r["status"] == "ok"], "test_acc") for flag, rs in sides.items()}
    words = "; ".join(f"weight norm {'on' if flag else 'off'}: {diverged[flag]}/{len(sides[flag])} diverged, test "
                      f"{pct(estimate([accuracy[flag]], mean, settings)) if accuracy[flag] else '–'}"
                      for flag in (True, False))  # fmt: skip
    if crashed:  # a crash or an out-of-memory kill says nothing about stability
        return Measurement(claim.judged, Estimate(math.nan), words, scale,
                           missing=f"{crashed} trial(s) failed for other reasons than divergence: rerun them")  # fmt: skip
    if diverged[False] > diverged[True]:
        return Measurement(claim.judged, Estimate(math.nan), words + "; more runs diverge without weight norm", scale,
                           settled=True)  # fmt: skip
    if not accuracy[True] or not accuracy[False]:
        return Measurement(claim.judged, Estimate(math.nan), words, scale, settled=not accuracy[False])
    e = estimate([accuracy[True], accuracy[False]], difference, settings)
    return Measurement(f"{claim.judged} (weight norm on vs off)", e,
                       words + f"; on minus off {interval_text(e, 100, 2, ' points')}", scale)  # fmt: skip


def _real_curve(records: list[Record], method: str) -> tuple[list[int], dict[int, list[float]], dict[int, list[float]]]:
    """A real-data method's step budgets, test accuracies per budget (one per seed) and training seconds."""
    accuracy: dict[int, list[float]] = {}
    seconds: dict[int, list[float]] = {}
    for r in ok(records, method=method):
        if "steps" in r["budget"]:
            accuracy.setdefault(r["budget"]["steps"], []).append(r["metrics"]["test_acc"])
            seconds.setdefault(r["budget"]["steps"], []).append(r["metrics"]["train_seconds"])
    return sorted(accuracy), accuracy, seconds


def speedup_in_steps(steps: list[int], inner: int, threshold: float):
    """The statistic of C5: real-data steps to reach the GTN's mean accuracy, over T. A curve that never
    reaches it counts as beyond its last budget only when that budget already makes the factor
    clear the threshold (else NaN: the curve is too short to tell); a curve whose first budget
    already reaches it gives only an upper bound (NaN unless that bound is under the threshold)."""

    def statistic(gtn: np.ndarray, *curve: np.ndarray) -> float:
        means = [float(np.mean(c)) for c in curve]
        if any(math.isnan(m) for m in means) or math.isnan(float(np.mean(gtn))):
            return math.nan
        needed = steps_to_reach(steps, means, float(np.mean(gtn)))
        if math.isinf(needed):
            return math.inf if steps[-1] / inner >= threshold else math.nan
        if needed == steps[0] and means[0] >= float(np.mean(gtn)) and steps[0] / inner >= threshold:
            return math.nan
        return needed / inner

    return statistic


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
    e = estimate([gtn, *(accuracy[k] for k in steps)], speedup_in_steps(steps, inner, claim.threshold.value), settings)
    label = "CIFAR-10 (JPEG copy)" if any(r["dataset"] == "cifar10-jpeg" for r in g.ok) else "CIFAR-10"
    needed = steps_to_reach(steps, [float(np.mean(accuracy[k])) for k in steps], float(np.mean(gtn)))
    per_step = float(np.mean([np.mean(seconds[k]) / k for k in steps]))
    gtn_seconds = float(np.mean(values(g.ok, "learner_train_seconds")))
    in_seconds = needed * per_step / gtn_seconds if math.isfinite(needed) else math.inf
    text = (f"{label}: {claim.judged} {pct(estimate([gtn], mean, settings))} after {inner} steps; {real_name} "
            f"needs {needed:.0f} steps: {interval_text(e, 1, 2, 'x')} in steps, {in_seconds:.2f}x in seconds")  # fmt: skip
    at_t = accuracy.get(inner, [])
    shown = (baseline_accuracy(real_name, gtn, at_t, settings, label=f"{real_name} (tuned real data, {inner} steps)"),
             baseline_accuracy("untrained generator", gtn, values(g.ok, "untrained_test_acc"), settings,
                               label=f"untrained generator, {inner} steps"))  # fmt: skip
    return Measurement(f"{claim.judged} (T={inner})", e, text, scale_of(g.ok + ok(cifar, method=real_name)), shown)

