"""The claims registry (GTN_FACTS.md, C1..C8) and the verdicts measured records give them.

A claim is judged only from records of its protocol: the paper scale of the bundled suite
that tests it, recognised by its configuration hash. Records of other scales, or of an
edited or user-written suite, show the measured value as a regression figure, with the
verdict "not judged at this scale" or "not judged (not the bundled protocol)".
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from gtnbench.metrics import mean_std, steps_to_reach

Record = dict[str, Any]

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_JUDGED = "not judged at this scale"
NOT_PROTOCOL = "not judged (not the bundled protocol)"
INCOMPLETE = "incomplete"
NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Measurement:
    measured: str  # what was measured, in words and numbers
    holds: bool | None  # whether it satisfies the claim; None: the comparison needs more records
    scale: str


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    claimed: str
    source: str
    suite: str
    scale: str  # the scale the claim was made at; the only one it is judged at
    measure: Callable[[list[Record]], Measurement | None]


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    measured: str
    claimed: str
    scale: str | None
    verdict: str


def _ok(records: Iterable[Record], **match: Any) -> list[Record]:
    """OK records whose fields, budget entries or details equal the given values."""
    chosen = []
    for record in records:
        if record["status"] != "ok":
            continue
        fields = {**record, **record.get("budget", {}), **record.get("details", {})}
        if all(fields.get(key) == value for key, value in match.items()):
            chosen.append(record)
    return chosen


def _scale(records: list[Record]) -> str:
    scales = {r["scale"] for r in records}
    return scales.pop() if len(scales) == 1 else "mixed"


def _mean(records: list[Record], metric: str) -> tuple[float, float, int]:
    values = [r["metrics"][metric] for r in records if metric in r["metrics"]]
    mean, std = mean_std(values)
    return mean, std, len(values)


def _pct(mean: float, std: float, n: int) -> str:
    return f"{100 * mean:.2f} ± {100 * std:.2f} % (n={n})" if n > 1 else f"{100 * mean:.2f} % (n={n})"


# -- measures -----------------------------------------------------------------------------
C1_TARGET, C1_TOLERANCE = 0.989, 0.003


def _gtn_mnist(records: list[Record]) -> list[Record]:
    """GTN records of C1's condition (MNIST, full curriculum, T=32) of the best-scoring GTN method
    (the suites try the paper's final loss and the official code's per-step losses; the text names
    which); below the paper scale, where the suites shrink T, any T: a regression figure."""
    full = _ok(records, kind="gtn", dataset="mnist", curriculum="full")
    chosen = [r for r in full if r["details"]["inner_steps"] == 32] or [r for r in full if r["scale"] != "paper"]
    by_method: dict[str, list[Record]] = {}
    for record in chosen:
        by_method.setdefault(record["method"], []).append(record)
    return max(by_method.values(), key=lambda group: _mean(group, "test_acc")[0], default=[])


def _which(records: list[Record]) -> str:
    return f"{records[0]['method']}, T={records[0]['details']['inner_steps']}"


def measure_c1(records: list[Record]) -> Measurement | None:
    gtn = _gtn_mnist(records)
    if not gtn:
        return None
    mean, std, n = _mean(gtn, "test_acc")
    return Measurement(f"{_pct(mean, std, n)} ({_which(gtn)})", mean >= C1_TARGET - C1_TOLERANCE, _scale(gtn))


def measure_c1b(records: list[Record]) -> Measurement | None:
    gtn = [r for r in _gtn_mnist(records) if "learner_train_seconds" in r["metrics"]]
    if not gtn:
        return None
    mean, _, n = _mean(gtn, "learner_train_seconds")
    devices = ", ".join(sorted({r["device_name"] for r in gtn}))
    return Measurement(f"{mean * 1000:.1f} ms on {devices} (n={n}; {_which(gtn)})", mean <= 0.5, _scale(gtn))


def measure_c2(records: list[Record]) -> Measurement | None:
    gtn = _gtn_mnist(records)
    steps = gtn[0]["details"]["inner_steps"] if gtn else 32
    real = _ok(records, kind="real", dataset="mnist", steps=steps)
    if not real:
        return None
    r_mean, r_std, r_n = _mean(real, "test_acc")
    text = f"real data (tuned) {_pct(r_mean, r_std, r_n)} after {steps} steps"
    if not gtn:
        return Measurement(text + "; GTN not in these runs", None, _scale(real))
    g_mean, g_std, g_n = _mean(gtn, "test_acc")
    return Measurement(f"{text} vs GTN {_pct(g_mean, g_std, g_n)} ({_which(gtn)})", r_mean < g_mean,
                       _scale(real + gtn))  # fmt: skip


C3_ORDER = ("full", "shuffled-batch", "all-shuffled", "none")


def _by_curriculum(records: list[Record]) -> dict[str, list[Record]]:
    """GTN records of C3's condition (MNIST, T=32) by curriculum; below the paper scale, where the
    suites shrink T, any T: a regression figure."""
    gtn = _ok(records, kind="gtn", dataset="mnist")
    chosen = [r for r in gtn if r["details"]["inner_steps"] == 32] or [r for r in gtn if r["scale"] != "paper"]
    groups: dict[str, list[Record]] = {}
    for record in chosen:
        groups.setdefault(record["details"]["curriculum"], []).append(record)
    return groups


def measure_c3(records: list[Record]) -> Measurement | None:
    groups = _by_curriculum(records)
    if len(groups) < 2:
        return None
    present = [c for c in C3_ORDER if c in groups]
    means = {c: _mean(groups[c], "test_acc")[0] for c in present}
    text = " > ".join(f"{c} {100 * means[c]:.2f}" for c in present) + " (test %, mean over seeds)"
    if len(present) < len(C3_ORDER):
        return Measurement(text + f"; missing {', '.join(c for c in C3_ORDER if c not in groups)}", None,
                           _scale([r for g in groups.values() for r in g]))  # fmt: skip
    ordered = all(means[a] > means[b] for a, b in zip(C3_ORDER, C3_ORDER[1:]))
    return Measurement(text, ordered, _scale([r for g in groups.values() for r in g]))


def iterations_to_reach(history: list[dict[str, Any]], target: float) -> float:
    """The first outer iteration whose validation accuracy reaches `target` (inf if none does)."""
    return next((h["iteration"] for h in history if h["val_acc"] >= target), math.inf)


def measure_c3a(records: list[Record]) -> Measurement | None:
    groups = _by_curriculum(records)
    if "full" not in groups or "none" not in groups:
        return None
    reach = {c: sorted(iterations_to_reach(r["details"].get("validation", []), 0.95) for r in groups[c])
             for c in ("full", "none")}  # fmt: skip
    median = {c: v[len(v) // 2] for c, v in reach.items()}
    text = f"iterations to 95 % validation accuracy (median over seeds): full {median['full']}, none {median['none']}"
    holds = median["full"] < math.inf and median["none"] >= 4 * median["full"]
    return Measurement(text + " (judged: none needs ≥ 4x as many)", holds, _scale(groups["full"] + groups["none"]))


def measure_c4(records: list[Record]) -> Measurement | None:
    # failed records carry no details: the weight-norm flag comes from the trial's variant
    sides = {}
    for flag in (True, False):
        members = [r for r in records if r["kind"] == "gtn" and r.get("variant", {}).get("weight_norm") == flag]
        if members:
            sides[flag] = members
    if len(sides) < 2:
        return None
    summary, stats, other_failures = [], {}, 0
    for flag, members in sides.items():
        diverged = sum(r["status"] != "ok" and _diverged(r) for r in members)
        other_failures += sum(r["status"] != "ok" and not _diverged(r) for r in members)
        ok = [r for r in members if r["status"] == "ok"]
        mean = _mean(ok, "test_acc")[0] if ok else math.nan
        stats[flag] = (diverged / len(members), mean)
        summary.append(f"weight norm {'on' if flag else 'off'}: {diverged}/{len(members)} diverged, "
                       f"test {100 * mean:.2f} %")  # fmt: skip
    (fail_on, acc_on), (fail_off, acc_off) = stats[True], stats[False]
    holds = fail_off > fail_on or (not math.isnan(acc_on) and (math.isnan(acc_off) or acc_on - acc_off >= 0.01))
    text = "; ".join(summary) + " (judged: more divergence or ≥ 1 point lower accuracy without)"
    if other_failures:  # a crash or an out-of-memory kill says nothing about stability
        return Measurement(text + f"; {other_failures} trial(s) failed for other reasons: rerun them", None,
                           _scale([r for m in sides.values() for r in m]))  # fmt: skip
    return Measurement(text, holds, _scale([r for m in sides.values() for r in m]))


def _diverged(record: Record) -> bool:
    """Failed by the divergence guard (NaN/inf meta-loss or accuracy collapse), not by a crash."""
    reason = record.get("reason") or ""
    return reason.startswith("diverged") or reason.startswith("accuracy collapse")


C5_TARGET = 4.0


def measure_c5(records: list[Record]) -> Measurement | None:
    """Real-data steps needed to reach the GTN learner's accuracy, divided by the GTN's inner steps."""
    cifar = [r for r in records if r["dataset"] in ("cifar10", "cifar10-jpeg")]
    gtn = _ok(cifar, kind="gtn")
    real = [r for r in _ok(cifar, kind="real") if "steps" in r["budget"]]
    if not gtn or not real:
        return None
    by_steps: dict[int, list[float]] = {}
    for r in real:
        by_steps.setdefault(r["budget"]["steps"], []).append(r["metrics"]["test_acc"])
    steps = sorted(by_steps)
    curve = [mean_std(by_steps[k])[0] for k in steps]
    acc, _, n = _mean(gtn, "test_acc")
    inner = gtn[0]["details"]["inner_steps"]
    needed = steps_to_reach(steps, curve, acc)
    factor = needed / inner
    gtn_seconds = _mean(gtn, "learner_train_seconds")[0]
    real_seconds = [mean_std([r["metrics"]["train_seconds"] for r in real if r["budget"]["steps"] == k])[0] for k in steps]
    seconds = steps_to_reach(steps, curve, acc) * float(np.mean([s / k for s, k in zip(real_seconds, steps)]))
    label = "CIFAR-10 (JPEG copy)" if any(r["dataset"] == "cifar10-jpeg" for r in gtn) else "CIFAR-10"
    text = (f"{label}: GTN {100 * acc:.2f} % after {inner} steps (n={n}); real data needs {needed:.0f} steps: "
            f"{factor:.2f}x in steps, {seconds / gtn_seconds:.2f}x in seconds")  # fmt: skip
    return Measurement(text, factor >= C5_TARGET, _scale(gtn + real))


C6_REAL_STEPS, C6_GTN_STEPS = 1200, 128
C7_TARGET, C7_TOLERANCE = 0.5582, 0.05
C8_WITHIN = 0.5  # accuracy points


def _gtn_proxy(rows, scale: str):
    """The GTN proxy of the claims (128 steps); below the paper scale, where suites shrink the budgets,
    the first GTN proxy at its largest budget (a regression figure)."""
    gtn = [r for r in rows if r.teacher == "gtn"]
    at_128 = next((r for r in gtn if r.steps == C6_GTN_STEPS), None)
    if at_128 is not None or scale == "paper" or not gtn:
        return at_128
    first = [r for r in gtn if r.method == gtn[0].method]
    return max(first, key=lambda r: r.steps)


@dataclass
class NasClaimInputs:
    proxies: dict[str, Any]
    rows: list[Any]
    gtn: Any  # the ProxyRow of the GTN proxy the claims judge
    column: str  # the ground-truth column of the run
    scale: str


def _nas_claim_inputs(records: list[Record]) -> NasClaimInputs | None:
    """The NB201 proxies of a run, their rank rows against the run's ground-truth column, and the
    GTN proxy C6-C8 judge; None when the run has no GTN proxy."""
    from gtnbench.nas.table import load_table
    from gtnbench.rankcorr import collect, rank_rows

    nas = [r for r in records if r["kind"].startswith("nb201")]
    proxies = collect(nas)
    if not proxies:
        return None
    column = next((r["details"]["ground_truth"] for r in nas if r.get("details", {}).get("ground_truth")),
                  "cifar10_test_acc_hp200_mean")  # fmt: skip
    rows = rank_rows(proxies, load_table(), column, resamples=500)
    gtn = _gtn_proxy(rows, _scale(nas))
    return None if gtn is None else NasClaimInputs(proxies, rows, gtn, column, _scale(nas))


def measure_c6(records: list[Record]) -> Measurement | None:
    from gtnbench.rankcorr import speedups

    inputs = _nas_claim_inputs(records)
    if inputs is None:
        return None
    rows, gtn, scale = inputs.rows, inputs.gtn, inputs.scale
    found = next((s for s in speedups(rows) if s.proxy == gtn.name), None)
    if found is None:
        return Measurement("no real-data proxy curve to compare with", None, scale)
    one_off = [r["metrics"]["meta_seconds"] for r in _ok(records, kind="gtn") if "meta_seconds" in r["metrics"]]
    n = gtn.n
    end_to_end = ""
    if one_off and math.isfinite(found.seconds_factor):
        gtn_seconds = gtn.seconds
        amortised = gtn_seconds + float(np.mean(one_off)) / n
        end_to_end = f"; end to end with meta-training amortised over {n} cells: {found.seconds_factor * gtn_seconds / amortised:.2f}x in seconds"
    text = (f"{gtn.name} Spearman {found.spearman:.3f}; real data needs {found.real_steps_needed:.0f} steps "
            f"to match: {found.factor:.2f}x [{found.interval[0]:.2f}, {found.interval[1]:.2f}] in steps, "
            f"{found.seconds_factor:.2f}x in seconds per evaluation{end_to_end}")  # fmt: skip
    return Measurement(text, found.real_steps_needed >= C6_REAL_STEPS, scale)


def measure_c7(records: list[Record]) -> Measurement | None:
    inputs = _nas_claim_inputs(records)
    if inputs is None:
        return None
    rows, row, scale = inputs.rows, inputs.gtn, inputs.scale
    value = row.metrics["spearman_top50_by_proxy"]
    others = sorted(((r.metrics["spearman"], r.name) for r in rows if r.teacher != "gtn"), reverse=True)
    rank = 1 + sum(v > row.metrics["spearman"] for v, _ in others)
    text = (f"{row.name}: {value:.3f} [{row.c7_ci[0]:.3f}, {row.c7_ci[1]:.3f}] over the top 50 % by GTN score (n={row.n}); "
            f"full-set Spearman {row.metrics['spearman']:.3f}, rank {rank} of {len(others) + 1} proxies")  # fmt: skip
    return Measurement(text, value >= C7_TARGET - C7_TOLERANCE, scale)


def measure_c8(records: list[Record]) -> Measurement | None:
    from gtnbench.nas.table import load_table
    from gtnbench.rankcorr import search_curves

    inputs = _nas_claim_inputs(records)
    if inputs is None:
        return None
    rows, gtn, scale = inputs.rows, inputs.gtn, inputs.scale
    real = [r.name for r in rows if r.teacher == "real"]
    _, results = search_curves(inputs.proxies, rows, load_table(), inputs.column, n_seeds=10)
    if not real or gtn.name not in results:
        return Measurement("no real-data proxy to compare with", None, scale)
    target = max(results[name][-1].accuracy.mean for name in real) - C8_WITHIN

    def budget_to_reach(name: str) -> float:
        return next((b.budget_seconds for b in results[name] if b.n_evaluated and b.accuracy.mean >= target), math.inf)

    real_name = min(real, key=budget_to_reach)
    real_needed, gtn_needed = budget_to_reach(real_name), budget_to_reach(gtn.name)
    ratio = real_needed / gtn_needed
    text = (f"to come within {C8_WITHIN} points of the best real-data-guided search ({target + C8_WITHIN:.2f} %), "
            f"{real_name}-guided search needs {real_needed:.3g} s, {gtn.name}-guided {gtn_needed:.3g} s "
            f"(compute ratio real/GTN {ratio:.3g})")  # fmt: skip
    return Measurement(text + " (judged: ≥ 10)", ratio >= 10, scale)


CLAIMS: dict[str, Claim] = {
    c.id: c
    for c in (
        Claim("C1", "MNIST learner trained only on GTN data (32 steps x 128, full curriculum)",
              f"98.9 % test accuracy (judged: ≥ {100 * (C1_TARGET - C1_TOLERANCE):.1f} %)", "paper", "mnist-fewstep",
              "paper", measure_c1),
        Claim("C1b", "time to train that learner for 32 steps", "about 0.5 s (judged: ≤ 0.5 s)", "paper",
              "mnist-fewstep", "paper", measure_c1b),
        Claim("C2", "a real-data learner at the same 32 steps is worse than GTN", "real < GTN", "paper",
              "mnist-fewstep", "paper", measure_c2),
        Claim("C3", "curriculum ablation after 2,000 outer iterations",
              "full 98.5 > shuffled batch 97.4 > all shuffled 96.8 > none 95.6 %", "fig", "mnist-curriculum",
              "paper", measure_c3),
        Claim("C3a", "full curriculum reaches 95 % by ~150 outer iterations; none needs ~1,100-1,400",
              "~150 vs ~1,100-1,400 iterations", "fig", "mnist-curriculum", "paper", measure_c3a),
        Claim("C4", "weight normalisation greatly stabilises meta-training", "qualitative", "paper",
              "mnist-weightnorm", "paper", measure_c4),
        Claim("C5", "CIFAR-10 learners reach a given accuracy ~4x faster on GTN data", "4x", "blog",
              "cifar10-fewstep", "paper", measure_c5),
        Claim("C6", "a 128-step GTN proxy ranks architectures as well as 1,200 real-data steps",
              "9x (judged: real data needs ≥ 1,200 steps to match GTN@128)", "paper", "nb201-gtn", "paper", measure_c6),
        Claim("C7", "Spearman of the GTN proxy over the top 50 % by GTN score",
              f"{C7_TARGET} (judged: ≥ {C7_TARGET - C7_TOLERANCE:.4f})", "blog", "nb201-gtn", "paper", measure_c7),
        Claim("C8", "GTN-guided random search is competitive at far less compute", "qualitative", "paper",
              "nb201-gtn", "paper", measure_c8),
    )  # fmt: skip
}


@functools.cache
def protocol_hash(suite: str) -> str | None:
    """The configuration hash of the bundled suite's paper scale: the protocol its claims are judged under."""
    from gtnbench.suite import bundled_suite_dir, load_suite

    path = bundled_suite_dir() / f"{suite}.toml"
    return load_suite(path).at("paper").config_hash() if path.is_file() else None


def judge(claim: Claim, records: list[Record]) -> Verdict:
    protocol = [r for r in records if r.get("config_hash") == protocol_hash(claim.suite)]
    measurement = claim.measure(protocol or records)
    if measurement is None:
        return Verdict(claim, "–", claim.claimed, None, NOT_MEASURED)
    if measurement.holds is None:
        verdict = INCOMPLETE
    elif measurement.scale != claim.scale:
        verdict = NOT_JUDGED
    elif not protocol:
        verdict = NOT_PROTOCOL
    else:
        verdict = REPRODUCED if measurement.holds else NOT_REPRODUCED
    return Verdict(claim, measurement.measured, claim.claimed, measurement.scale, verdict)


def judge_all(records: list[Record], claim_ids: Iterable[str] | None = None) -> list[Verdict]:
    """Verdicts for the given claims (default: every claim the records can say something about)."""
    if claim_ids is not None:
        return [judge(CLAIMS[c], records) for c in claim_ids if c in CLAIMS]
    verdicts = [judge(claim, records) for claim in CLAIMS.values()]
    return [v for v in verdicts if v.verdict != NOT_MEASURED]
