"""Measures of the NAS claims (C6-C8) on a tabular benchmark: pure functions of proxy records.

Each judges one named proxy (the claim's `judged`, e.g. "gtn@128": method gtn read out at 128
steps), never whichever GTN proxy comes first, and compares it with the suite's tuned real-data
proxy (the claim's first baseline, a method read out at several budgets) on the cells both
scored. The trivial baselines (training-free scores, the table's short-schedule column, and the
tuned real-data proxy of about the same cost) are shown beside every figure, each on the cells it
shares with the judged proxy, so adding or removing one never changes another's figure.
Intervals are paired bootstraps over architectures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np

from gtnbench.claims.common import comparison, interval_text, scale_of
from gtnbench.claims.verdicts import Baseline, Claim, Estimate, Measurement, Record, Settings
from gtnbench.metrics import (
    interval_of,
    resampled_indices,
    spearman,
    spearman_rows,
    spearman_top_k_rows,
    steps_to_reach,
)
from gtnbench.nas.search import cells_to_reach, mean_pick_curve, search_orders
from gtnbench.rankcorr import Proxy, collect, ground_truth_of, mean_scores, seconds_per_arch, space_of

C8_WITHIN = 0.5  # accuracy points below the best real-data-guided search


@dataclass
class NasInputs:
    proxies: dict[str, Proxy]
    judged: str  # the proxy judged (the claim's, or below the paper scale its method's largest budget)
    real: list[str]  # the tuned real-data proxy at each budget, by budget
    truth: dict[int, float]  # ground truth of every scored architecture
    best_possible: float
    scale: str
    records: list[Record]  # all of them (the GTN's meta-training record too)
    _scores: dict[str, dict[int, float]] = field(default_factory=dict)

    def scores(self, name: str) -> dict[int, float]:
        if name not in self._scores:
            self._scores[name] = mean_scores(self.proxies[name])
        return self._scores[name]

    def cost(self, name: str) -> float:
        return seconds_per_arch(self.proxies[name], self.proxies)

    def compared(self) -> tuple[list[str], list[int], list[np.ndarray], np.ndarray]:
        """The judged proxy and the real-data proxies, the cells they all scored, their scores and the truth."""
        names = [self.judged, *self.real]
        pool = _pool(self, names)
        arrays, truth = _arrays(self, names, pool)
        return names, pool, arrays, truth


def _split(judged: str) -> tuple[str, int]:
    method, _, steps = judged.partition("@")
    return method, int(steps)


def _inputs(claim: Claim, records: list[Record]) -> NasInputs | Measurement | None:
    """The claim's proxies, or a Measurement saying what is missing, or None (no NAS records)."""
    nas = [r for r in records if r["kind"].startswith("nb201")]
    if not nas or space_of(nas) != "nb201":  # the claims are about NAS-Bench-201
        return None
    proxies, scale = collect(nas), scale_of(nas)
    method, steps = _split(claim.judged)
    failed = sum(r["status"] != "ok" for r in nas if r["method"] == method)
    judged = claim.judged
    if judged not in proxies and scale != claim.scale:  # suites shrink the budgets below the paper scale
        own = [p for p in proxies.values() if p.method == method and p.kind == "nb201-train"]
        judged = max(own, key=lambda p: p.steps).name if own else judged
    real = sorted((p for p in proxies.values() if p.method == claim.baselines[0] and p.kind == "nb201-train"),
                  key=lambda p: p.steps)  # fmt: skip
    missing = None
    if failed:
        missing = f"{failed} trial(s) of {method} failed"
    elif judged not in proxies:
        missing = f"{claim.judged} is not in these runs" if any(r["method"] == method for r in nas) else None
        if missing is None:
            return None
    elif len(real) < 2:
        missing = f"the real-data proxy {claim.baselines[0]} at two or more budgets is not in these runs"
    if missing:
        return Measurement(claim.judged, Estimate(math.nan), "–", scale, missing=missing)
    table, column = ground_truth_of(nas)
    archs = {a for p in proxies.values() for s in p.scores.values() for a in s}
    truth = {a: table.value(column, a) for a in archs}
    return NasInputs(proxies, judged, [p.name for p in real], truth, float(np.nanmax(table.column(column))), scale,
                     records)  # fmt: skip


def _pool(inputs: NasInputs, names: list[str]) -> list[int]:
    """Architectures every one of `names` scored (sorted)."""
    shared = set.intersection(*(set(inputs.scores(n)) for n in names))
    return sorted(shared)


def _arrays(inputs: NasInputs, names: list[str], pool: list[int]) -> tuple[list[np.ndarray], np.ndarray]:
    return [np.array([inputs.scores(n)[a] for a in pool]) for n in names], np.array([inputs.truth[a] for a in pool])


def _trivial(inputs: NasInputs) -> list[str]:
    """The training-free and tabular proxies of the run, and the tuned real-data proxy nearest the judged one's cost."""
    shown = [n for n, p in inputs.proxies.items() if p.kind in ("nb201-free", "nb201-table")]
    cost = inputs.cost(inputs.judged)
    priced = [n for n in inputs.real if math.isfinite(inputs.cost(n)) and inputs.cost(n) > 0]
    if priced and math.isfinite(cost) and cost > 0:
        shown.append(min(priced, key=lambda n: abs(math.log(inputs.cost(n) / cost))))
    return shown


def _one(rows_statistic, x: np.ndarray, y: np.ndarray) -> float:
    return float(rows_statistic(x[None], y[None])[0])


def _paired_difference(inputs: NasInputs, other: str, rows_statistic, settings: Settings) -> tuple[Estimate, Estimate, int]:
    """A row-wise statistic of `other` on the cells it shares with the judged proxy, and judged minus other
    (paired bootstrap over those cells)."""
    pool = _pool(inputs, [inputs.judged, other])
    (judged, baseline), truth = _arrays(inputs, [inputs.judged, other], pool)
    if len(pool) < 3:
        return Estimate(math.nan), Estimate(math.nan), len(pool)
    draws = resampled_indices(len(pool), settings.resamples, settings.seed)
    own = rows_statistic(baseline[draws], truth[draws])
    diff = rows_statistic(judged[draws], truth[draws]) - own
    value = _one(rows_statistic, baseline, truth)
    return (Estimate(value, *interval_of(own)), Estimate(_one(rows_statistic, judged, truth) - value, *interval_of(diff)),
            len(pool))  # fmt: skip


def _baselines(inputs: NasInputs, rows_statistic, settings: Settings) -> tuple[Baseline, ...]:
    shown = []
    for name in _trivial(inputs):
        own, diff, n = _paired_difference(inputs, name, rows_statistic, settings)
        label = f"{name} (tuned real data, about the same cost)" if name in inputs.real else name
        shown.append(Baseline(f"{label} [{n} cells]", interval_text(own, 1, 3),
                              comparison(diff, f"{inputs.judged} minus it", 1, "", 3)))  # fmt: skip
    return tuple(shown)


def real_steps_to_match(steps: list[int], real: np.ndarray, judged: float, threshold: float) -> float:
    """Real-data steps whose Spearman matches the judged proxy's. Never reached: beyond the last budget,
    which counts as clearing the threshold only when that budget does (else NaN: too short a curve to
    tell). A NaN on the curve gives NaN (review finding 8: never "inf, so reproduced")."""
    if np.isnan(real).any() or math.isnan(judged):
        return math.nan
    needed = steps_to_reach(steps, real, judged)
    if math.isinf(needed) and steps[-1] < threshold:
        return math.nan
    return needed


def _meta_seconds(inputs: NasInputs) -> float:
    """Meta-training seconds of the GTN that taught the judged proxy (its checkpoint names the trial)."""
    method, _ = _split(inputs.judged)
    teaching = [r for r in inputs.records if r["method"] == method and r["status"] == "ok"]
    trials = {PurePath(r["details"].get("checkpoint", "")).parent.name.replace("__", "/") for r in teaching}
    seconds = [r["metrics"]["meta_seconds"] for r in inputs.records
               if r["trial"] in trials and "meta_seconds" in r.get("metrics", {})]  # fmt: skip
    return float(np.mean(seconds)) if seconds else math.nan


def _calibration_seconds(inputs: NasInputs) -> float:
    found = [r["details"].get("calibration_seconds") for r in inputs.records
             if r["method"] == inputs.proxies[inputs.real[0]].method and r["status"] == "ok"]  # fmt: skip
    found = [s for s in found if s is not None]
    return float(found[0]) if found else 0.0


def measure_c6(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    inputs = _inputs(claim, records)
    if not isinstance(inputs, NasInputs):
        return inputs
    names, pool, arrays, truth = inputs.compared()
    steps = [inputs.proxies[n].steps for n in inputs.real]
    rho = [spearman(a, truth) for a in arrays]
    threshold = claim.threshold.value
    needed = real_steps_to_match(steps, np.array(rho[1:]), rho[0], threshold)
    draws = resampled_indices(len(pool), settings.resamples, settings.seed)
    rows = [spearman_rows(a[draws], truth[draws]) for a in arrays]
    needed_draws = [real_steps_to_match(steps, np.array([r[b] for r in rows[1:]]), rows[0][b], threshold)
                    for b in range(len(draws))]  # fmt: skip
    e = Estimate(needed, *interval_of(needed_draws))
    gtn_steps = inputs.proxies[inputs.judged].steps
    cost = inputs.cost(inputs.judged)
    per_step = float(np.mean([inputs.cost(n) / s for n, s in zip(inputs.real, steps)]))
    seconds = needed * per_step / cost if math.isfinite(needed) and cost > 0 else math.inf
    meta = _meta_seconds(inputs)
    end_to_end = ""
    if math.isfinite(meta) and math.isfinite(seconds):
        end_to_end = (f"; end to end, with meta-training ({meta:.3g} s) amortised over {len(pool)} cells: "
                      f"{needed * per_step / (cost + meta / len(pool)):.2f}x in seconds")  # fmt: skip
    factors = (f"{needed / gtn_steps:.2f}x in steps, {seconds:.2f}x in seconds per evaluation{end_to_end}"
               if math.isfinite(needed) else f"more than its last budget, {steps[-1]} steps")  # fmt: skip
    text = (f"{inputs.judged} Spearman {rho[0]:.3f} on {len(pool)} cells; tuned real data needs "
            f"{interval_text(e, 1, 0, ' steps')} to match it: {factors}")  # fmt: skip
    return Measurement(inputs.judged, e, text, inputs.scale, _baselines(inputs, spearman_rows, settings))


def top_half_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Claim C7's statistic, per row: Spearman within the top 50 % of architectures by the proxy's own score."""
    return spearman_top_k_rows(x, y, 50)


def measure_c7(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    inputs = _inputs(claim, records)
    if not isinstance(inputs, NasInputs):
        return inputs
    pool = sorted(inputs.scores(inputs.judged))
    (judged,), truth = _arrays(inputs, [inputs.judged], pool)
    draws = resampled_indices(len(pool), settings.resamples, settings.seed)
    e = Estimate(_one(top_half_spearman, judged, truth), *interval_of(top_half_spearman(judged[draws], truth[draws])))
    full = spearman(judged, truth)
    text = (f"{inputs.judged}: {interval_text(e, 1, 3)} over the top 50 % by its own score ({len(pool)} cells; "
            f"Spearman over all of them {full:.3f})")  # fmt: skip
    return Measurement(inputs.judged, e, text, inputs.scale, _baselines(inputs, top_half_spearman, settings))


@dataclass(frozen=True)
class SearchBudgets:
    target: float  # accuracy (%) the searches must reach
    real: str  # the real-data proxy that reaches it with the least compute
    real_seconds: float
    judged_seconds: float
    judged_seconds_end_to_end: float

    @property
    def ratio(self) -> float:
        return self.real_seconds / self.judged_seconds if self.judged_seconds > 0 else math.nan


def search_budgets(scores: dict[str, np.ndarray], truth: np.ndarray, costs: dict[str, float], judged: str,
                   real: list[str], n_seeds: int, one_off: float, real_one_off: float, seed: int = 0) -> SearchBudgets:  # fmt: skip
    """C8's exact budgets on one pool: the target is C8_WITHIN points below the best real-data proxy's
    search over the whole pool; each proxy's compute to reach it is the smallest number of cells at which
    its seed-mean pick reaches the target, times its cost per cell. End to end, the GTN's meta-training
    (and the real proxy's calibration) is amortised over the pool."""
    orders = search_orders(len(truth), n_seeds, seed)
    curves = {name: mean_pick_curve(scores[name], truth, orders) for name in [judged, *real]}
    target = max(curves[name][-1] for name in real) - C8_WITHIN
    real_seconds = {name: cells_to_reach(curves[name], target) * (costs[name] + real_one_off / len(truth))
                    for name in real}  # fmt: skip
    best = min(real_seconds, key=real_seconds.get)
    cells = cells_to_reach(curves[judged], target)
    return SearchBudgets(target, best, real_seconds[best], cells * costs[judged],
                         cells * (costs[judged] + one_off / len(truth)))  # fmt: skip


def measure_c8(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    inputs = _inputs(claim, records)
    if not isinstance(inputs, NasInputs):
        return inputs
    names, pool, arrays, truth = inputs.compared()
    scores = dict(zip(names, arrays))
    costs = {n: inputs.cost(n) for n in names}
    if any(not (math.isfinite(c) and c > 0) for c in costs.values()):
        return Measurement(inputs.judged, Estimate(math.nan), "–", inputs.scale,
                           missing="a proxy of the comparison has no measured cost")  # fmt: skip
    meta, calibration = _meta_seconds(inputs), _calibration_seconds(inputs)
    one_off = meta if math.isfinite(meta) else 0.0

    def budgets(index: np.ndarray, with_one_off: bool) -> SearchBudgets:
        return search_budgets({n: s[index] for n, s in scores.items()}, truth[index], costs, inputs.judged,
                              inputs.real, settings.search_seeds, one_off if with_one_off else 0.0,
                              calibration if with_one_off else 0.0, settings.seed)  # fmt: skip

    everything = np.arange(len(pool))
    found, end_to_end = budgets(everything, False), budgets(everything, True)
    draws = resampled_indices(len(pool), settings.resamples, settings.seed)
    e = Estimate(found.ratio, *interval_of([budgets(i, False).ratio for i in draws]))
    end_ratio = end_to_end.real_seconds / end_to_end.judged_seconds_end_to_end
    text = (f"to come within {C8_WITHIN} points of the best real-data-guided search ({found.target + C8_WITHIN:.2f} % "
            f"on {len(pool)} cells, {settings.search_seeds} search seeds), {found.real}-guided search needs "
            f"{found.real_seconds:.3g} s and {inputs.judged}-guided {found.judged_seconds:.3g} s: compute ratio "
            f"{interval_text(e, 1, 3, 'x')} per evaluation; end to end, with meta-training"
            f"{f' ({meta:.3g} s)' if math.isfinite(meta) else ' (not in these runs)'} and the real proxy's "
            f"calibration ({calibration:.3g} s) amortised over the pool: {end_ratio:.3g}x")  # fmt: skip
    shown = []
    for name in _trivial(inputs):
        if name in names:
            continue
        shared = _pool(inputs, [*names, name])
        (*_, own), sub_truth = _arrays(inputs, [*names, name], shared)
        curve = mean_pick_curve(own, sub_truth, search_orders(len(shared), settings.search_seeds, settings.seed))
        cells = cells_to_reach(curve, found.target)
        seconds = cells * inputs.cost(name)
        shown.append(Baseline(f"{name} [{len(shared)} cells]", f"{seconds:.3g} s ({cells:g} cell{'' if cells == 1 else 's'}) to reach "
                              f"{found.target:.2f} %; picks {curve[-1]:.2f} % over the whole pool",
                              "" if math.isinf(cells) else f"compute ratio real/it {found.real_seconds / seconds:.3g}x"
                              if seconds > 0 else "free"))  # fmt: skip
    return Measurement(inputs.judged, e, text, inputs.scale, tuple(shown))
