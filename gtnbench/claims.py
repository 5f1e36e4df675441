"""The claims registry (GTN_FACTS.md, C1..C8) and the verdicts measured records give them.

A claim is judged only from records at the scale it was made at (`paper`); at smaller
scales the measured value is shown as a regression figure, with the verdict
"not judged at this scale".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from gtnbench.metrics import mean_std

Record = dict[str, Any]

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_JUDGED = "not judged at this scale"
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


def _gtn_mnist_32(records: list[Record]) -> list[Record]:
    return _ok(records, kind="gtn", dataset="mnist", inner_steps=32, curriculum="full")


def measure_c1(records: list[Record]) -> Measurement | None:
    gtn = _gtn_mnist_32(records)
    if not gtn:
        return None
    mean, std, n = _mean(gtn, "test_acc")
    return Measurement(_pct(mean, std, n), mean >= C1_TARGET - C1_TOLERANCE, _scale(gtn))


def measure_c1b(records: list[Record]) -> Measurement | None:
    gtn = [r for r in _gtn_mnist_32(records) if "learner_train_seconds" in r["metrics"]]
    if not gtn:
        return None
    mean, _, n = _mean(gtn, "learner_train_seconds")
    devices = ", ".join(sorted({r["device_name"] for r in gtn}))
    return Measurement(f"{mean * 1000:.1f} ms for 32 steps on {devices} (n={n})", mean <= 0.5, _scale(gtn))


def measure_c2(records: list[Record]) -> Measurement | None:
    real = _ok(records, kind="real", dataset="mnist", steps=32)
    gtn = _gtn_mnist_32(records)
    if not real:
        return None
    r_mean, r_std, r_n = _mean(real, "test_acc")
    text = f"real data (tuned) {_pct(r_mean, r_std, r_n)}"
    if not gtn:
        return Measurement(text + "; GTN not in these runs", None, _scale(real))
    g_mean, g_std, g_n = _mean(gtn, "test_acc")
    return Measurement(f"{text} vs GTN {_pct(g_mean, g_std, g_n)}", r_mean < g_mean, _scale(real + gtn))


C3_ORDER = ("full", "shuffled-batch", "all-shuffled", "none")


def _by_curriculum(records: list[Record]) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = {}
    for record in _ok(records, kind="gtn", dataset="mnist", inner_steps=32):
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
    summary, stats = [], {}
    for flag, members in sides.items():
        failed = sum(r["status"] != "ok" for r in members)
        ok = [r for r in members if r["status"] == "ok"]
        mean = _mean(ok, "test_acc")[0] if ok else math.nan
        stats[flag] = (failed / len(members), mean)
        summary.append(f"weight norm {'on' if flag else 'off'}: {failed}/{len(members)} diverged, "
                       f"test {100 * mean:.2f} %")  # fmt: skip
    (fail_on, acc_on), (fail_off, acc_off) = stats[True], stats[False]
    holds = fail_off > fail_on or (not math.isnan(acc_on) and (math.isnan(acc_off) or acc_on - acc_off >= 0.01))
    text = "; ".join(summary) + " (judged: more divergence or ≥ 1 point lower accuracy without)"
    return Measurement(text, holds, _scale([r for m in sides.values() for r in m]))


def _not_yet(_: list[Record]) -> Measurement | None:
    return None


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
              "cifar10-fewstep", "paper", _not_yet),
        Claim("C6", "a 128-step GTN proxy ranks architectures as well as 1,200 real-data steps", "9x", "paper",
              "nb201-rankcorr", "paper", _not_yet),
        Claim("C7", "Spearman of the GTN proxy over the top 50 % by GTN score", "0.5582", "blog",
              "nb201-rankcorr", "paper", _not_yet),
        Claim("C8", "GTN-guided random search is competitive at far less compute", "qualitative", "paper",
              "nb201-rankcorr", "paper", _not_yet),
    )  # fmt: skip
}


def judge(claim: Claim, records: list[Record]) -> Verdict:
    measurement = claim.measure(records)
    if measurement is None:
        return Verdict(claim, "–", claim.claimed, None, NOT_MEASURED)
    if measurement.holds is None:
        verdict = INCOMPLETE
    elif measurement.scale != claim.scale:
        verdict = NOT_JUDGED
    else:
        verdict = REPRODUCED if measurement.holds else NOT_REPRODUCED
    return Verdict(claim, measurement.measured, claim.claimed, measurement.scale, verdict)


def judge_all(records: list[Record], claim_ids: Iterable[str] | None = None) -> list[Verdict]:
    """Verdicts for the given claims (default: every claim the records can say something about)."""
    if claim_ids is not None:
        return [judge(CLAIMS[c], records) for c in claim_ids if c in CLAIMS]
    verdicts = [judge(claim, records) for claim in CLAIMS.values()]
    return [v for v in verdicts if v.verdict != NOT_MEASURED]
