"""Measures of the NAS claims (C6-C8) on a tabular benchmark: pure functions of proxy records.

Each judges one named proxy (the claim's `judged`, e.g. "gtn@128": method gtn read out at 128
steps), never whichever GTN proxy comes first, and compares it with the suite's tuned real-data
proxy (the claim's first baseline, a method read out at several budgets) on the cells both
scored. The trivial baselines (training-free scores, the table's short-schedule column, and the
tuned real-data proxy of about the same cost) are shown beside every figure, each on the cells it
shares with the judged proxy, so adding or removing one never changes another's figure.

Intervals: claims/panel.py (a t interval with a seed jackknife and a cell bootstrap). `check` also shows
each seed's own verdict (its interval over cells alone) and whether the seeds agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np

from gtnbench.analysis.rankcorr import Proxy, collect, ground_truth_of, seconds_per_arch, space_of
from gtnbench.claims.common import comparison, interval_text, plural, scale_of
from gtnbench.claims.panel import (
    SPEARMAN_GAP_LIMITS,
    SPEARMAN_LIMITS,
    Draws,
    Panel,
    RowStatistic,
    interval_method,
    panel_of,
    seed_mean,
    seed_t_bounds,
    seed_t_estimate,
    two_stage,
    whole_draw,
)
from gtnbench.claims.verdicts import Baseline, Claim, Estimate, Measurement, Record, SeedMeasurement, Settings
from gtnbench.data.names import data_label
from gtnbench.metrics import spearman_rows, spearman_top_k_rows, steps_to_reach
from gtnbench.nas.search import cells_to_reach_rows, mean_pick_curves, search_orders

C8_WITHIN = 0.5  # accuracy points below the best real-data-guided search


@dataclass
class NasInputs:
    proxies: dict[str, Proxy]
    judged: str  # the proxy judged (the claim's, or below the paper scale its method's largest budget)
    real: list[str]  # the tuned real-data proxy at each budget, by budget
    truth: dict[int, float]  # ground truth of every scored architecture
    best_possible: float
    scale: str
    records: list[Record]  # all of them (the GTN's meta-training records too)

    @property
    def data(self) -> str:
        """The data the proxies trained on, as reports label it ("CIFAR-10 (JPEG copy)")."""
        return data_label(self.records)

    def cost(self, name: str) -> float:
        return seconds_per_arch(self.proxies[name], self.proxies)

    def panel(self, names: list[str]) -> Panel:
        return panel_of(self.proxies, self.truth, names)

    def seeds(self) -> list[int]:
        """The judged proxy's seeds (each: one GTN meta-training and one training of every cell)."""
        return sorted(self.proxies[self.judged].scores)


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
    real = sorted(
        (p for p in proxies.values() if p.method == claim.baselines[0] and p.kind == "nb201-train"),
        key=lambda p: p.steps,
    )
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
    return NasInputs(
        proxies, judged, [p.name for p in real], truth, float(np.nanmax(table.column(column))), scale, records
    )


def _trivial(inputs: NasInputs) -> list[str]:
    """The training-free and tabular proxies of the run, and the tuned real-data proxy nearest the judged one's cost."""
    shown = [n for n, p in inputs.proxies.items() if p.kind in ("nb201-free", "nb201-table")]
    cost = inputs.cost(inputs.judged)
    priced = [n for n in inputs.real if math.isfinite(inputs.cost(n)) and inputs.cost(n) > 0]
    if priced and math.isfinite(cost) and cost > 0:
        shown.append(min(priced, key=lambda n: abs(math.log(inputs.cost(n) / cost))))
    return shown


def _baselines(inputs: NasInputs, statistic: RowStatistic, settings: Settings) -> tuple[Baseline, ...]:
    """Each trivial baseline's statistic on the cells it shares with the judged proxy, and judged minus it."""
    shown = []
    for name in [] if settings.verdict_only else _trivial(inputs):
        panel = inputs.panel([inputs.judged, name])
        label = f"{name} (tuned real data, about the same cost)" if name in inputs.real else name
        if len(panel.pool) < 3:
            shown.append(Baseline(f"{label} [{len(panel.pool)} cells]", "too few shared cells"))
            continue
        own = seed_t_estimate(panel, settings, lambda d, n=name: two_stage(panel, d, n, statistic), SPEARMAN_LIMITS)
        diff = seed_t_estimate(
            panel,
            settings,
            lambda d, n=name: two_stage(panel, d, inputs.judged, statistic) - two_stage(panel, d, n, statistic),
            SPEARMAN_GAP_LIMITS,
        )
        shown.append(
            Baseline(
                f"{label} [{len(panel.pool)} cells]",
                interval_text(own, 1, 3),
                comparison(diff, f"{inputs.judged} minus it", 1, "", 3),
            )
        )
    return tuple(shown)


def real_steps_to_match(steps: list[int], real: np.ndarray, judged: float) -> float:
    """Real-data steps whose Spearman matches the judged proxy's; inf beyond the last budget. A NaN on the
    curve gives NaN (review finding 8: never "inf, so reproduced")."""
    if np.isnan(real).any() or math.isnan(judged):
        return math.nan
    return steps_to_reach(steps, real, judged)


def _per_seed(
    inputs: NasInputs, measure: Callable[[NasInputs, Panel, Settings], Estimate], panel: Panel, settings: Settings
) -> tuple[SeedMeasurement, ...]:
    """The claim's estimate from each of the judged proxy's seeds alone (interval over cells), when it has several."""
    if settings.verdict_only or len(inputs.seeds()) < 2:
        return ()
    return tuple(SeedMeasurement(f"seed {s}", measure(inputs, panel.only_seed(s), settings)) for s in inputs.seeds())


C6_GRID_PER_OCTAVE = 16  # budgets at which C6's interval is inverted, between the real proxy's first and last


def _log_interpolation(steps: list[int], grid: np.ndarray) -> np.ndarray:
    """The matrix [grid, steps] that interpolates a curve over `steps` at `grid`, linearly in log2(steps)."""
    return np.stack([np.interp(np.log2(grid), np.log2(steps), row) for row in np.eye(len(steps))], axis=1)


def c6_estimate(inputs: NasInputs, panel: Panel, settings: Settings) -> Estimate:
    """Real-data steps to match the judged proxy's seed-mean Spearman. The interval inverts a test: at each
    budget T of a log grid, the judged proxy's Spearman minus the real curve's at T (linear in the seeds'
    Spearmans) gets its `seed_t_bounds`; steps needed exceed T with confidence where that gap's lower bound
    is above 0 (the interval's low end is the first T where it is not, at most the last budget: beyond it
    nothing is known), and fall short of T where its upper bound is below 0 (none: no upper end)."""
    steps = [inputs.proxies[n].steps for n in inputs.real]
    rho = {n: seed_mean(panel, n, spearman_rows) for n in panel.names}
    needed = real_steps_to_match(steps, np.array([rho[n] for n in inputs.real]), rho[inputs.judged])
    method = interval_method(panel, settings)
    if math.isnan(needed):
        return Estimate(needed, method=method)
    octaves = math.log2(steps[-1] / steps[0])
    grid = np.exp2(np.linspace(math.log2(steps[0]), math.log2(steps[-1]), int(round(octaves * C6_GRID_PER_OCTAVE)) + 1))
    at_grid = _log_interpolation(steps, grid)

    def gap(draws: Draws) -> np.ndarray:
        curve = np.stack([two_stage(panel, draws, n, spearman_rows) for n in inputs.real], axis=1)
        return two_stage(panel, draws, inputs.judged, spearman_rows)[:, None] - curve @ at_grid.T

    low, high = seed_t_bounds(panel, settings, gap)
    if np.isnan(low).any() or np.isnan(high).any():
        return Estimate(needed, math.nan, math.nan, method)
    return Estimate(needed, min(steps_to_reach(grid, -low, 0.0), steps[-1]), steps_to_reach(grid, -high, 0.0), method)


def _meta_seconds(inputs: NasInputs) -> dict[int, float]:
    """Meta-training seconds (validation included) of the GTN that taught the judged proxy, by seed (its
    checkpoint names the trial)."""
    method, _ = _split(inputs.judged)
    teaching = [r for r in inputs.records if r["method"] == method and r["status"] == "ok"]
    trials = {PurePath(r["details"].get("checkpoint", "")).parent.name.replace("__", "/") for r in teaching}
    return {
        r["seed"]: float(r["metrics"]["meta_seconds"])
        for r in inputs.records
        if r["trial"] in trials and "meta_seconds" in r.get("metrics", {})
    }


def _calibration_seconds(inputs: NasInputs) -> dict[int, float]:
    """The tuned real-data proxy's calibration seconds, by seed (a search pays one calibration)."""
    method = inputs.proxies[inputs.real[0]].method
    return {
        r["seed"]: float(r["details"]["calibration_seconds"])
        for r in inputs.records
        if r["method"] == method and r["status"] == "ok" and r["details"].get("calibration_seconds") is not None
    }


def _mean(values: dict[int, float]) -> float:
    return float(np.mean(list(values.values()))) if values else math.nan


def measure_c6(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    inputs = _inputs(claim, records)
    if not isinstance(inputs, NasInputs):
        return inputs
    panel = inputs.panel([inputs.judged, *inputs.real])
    e = c6_estimate(inputs, panel, settings)
    rho = seed_mean(panel, inputs.judged, spearman_rows)
    needed, steps = e.value, [inputs.proxies[n].steps for n in inputs.real]
    gtn_steps, cost = inputs.proxies[inputs.judged].steps, inputs.cost(inputs.judged)
    per_step = float(np.mean([inputs.cost(n) / s for n, s in zip(inputs.real, steps)]))
    seconds = needed * per_step / cost if math.isfinite(needed) and cost > 0 else math.inf
    meta, calibration, n = _mean(_meta_seconds(inputs)), _mean(_calibration_seconds(inputs)), len(panel.pool)
    end_to_end = ""
    if math.isfinite(meta) and math.isfinite(seconds):
        real_side = n * needed * per_step + (calibration if math.isfinite(calibration) else 0.0)
        end_to_end = (
            f"; end to end over the {n} cells, with the GTN's meta-training ({meta:.3g} s) and the real "
            f"proxy's calibration ({calibration:.3g} s) each paid once: "
            f"{real_side / (n * cost + meta):.3g}x in seconds"
        )
    factors = (
        f"{needed / gtn_steps:.2f}x in steps, {seconds:.2f}x in seconds per evaluation{end_to_end}"
        if math.isfinite(needed)
        else f"more than its last budget, {steps[-1]} steps"
    )
    text = (
        f"{inputs.data}: {inputs.judged} Spearman {rho:.3f} (mean over {plural(len(inputs.seeds()), 'seed')}) on {n} cells; "
        f"tuned real data needs {interval_text(e, 1, 0, ' steps')} to match it: {factors}"
    )
    per_seed = _per_seed(inputs, c6_estimate, panel, settings)
    return Measurement(
        inputs.judged, e, text, inputs.scale, _baselines(inputs, spearman_rows, settings), per_seed=per_seed
    )


def top_half_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Claim C7's statistic, per row: Spearman within the top 50 % of architectures by the proxy's own score."""
    return spearman_top_k_rows(x, y, 50)


def c7_estimate(inputs: NasInputs, panel: Panel, settings: Settings) -> Estimate:
    return seed_t_estimate(
        panel, settings, lambda d: two_stage(panel, d, inputs.judged, top_half_spearman), SPEARMAN_LIMITS
    )


def measure_c7(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    inputs = _inputs(claim, records)
    if not isinstance(inputs, NasInputs):
        return inputs
    panel = inputs.panel([inputs.judged])
    e = c7_estimate(inputs, panel, settings)
    full = seed_mean(panel, inputs.judged, spearman_rows)
    text = (
        f"{inputs.data}: {inputs.judged}: {interval_text(e, 1, 3)} over the top 50 % by its own score ({len(panel.pool)} cells, "
        f"mean over {plural(len(inputs.seeds()), 'seed')}; Spearman over all of them {full:.3f})"
    )
    return Measurement(
        inputs.judged,
        e,
        text,
        inputs.scale,
        _baselines(inputs, top_half_spearman, settings),
        per_seed=_per_seed(inputs, c7_estimate, panel, settings),
    )


@dataclass(frozen=True)
class SearchCosts:
    """What a proxy-guided random search over the pool pays to come within C8_WITHIN points of the best
    real-data-guided search, per draw: evaluations only, and end to end (one-off costs paid once)."""

    target: np.ndarray  # [B] accuracy the searches must reach
    real: np.ndarray  # [B] the cheapest real-data proxy's seconds, evaluations only
    judged: np.ndarray  # [B]
    real_end_to_end: np.ndarray  # [B] with its calibration
    judged_end_to_end: np.ndarray  # [B] with the GTN's meta-training
    best_real: list[str]  # [B] the real-data proxy that is cheapest

    @property
    def ratio(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.real / self.judged

    @property
    def ratio_end_to_end(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.real_end_to_end / self.judged_end_to_end


def _seed_mean_curves(
    panel: Panel, name: str, cells: np.ndarray, seed_picks: np.ndarray, orders: np.ndarray
) -> np.ndarray:
    """Mean pick curves [B, n] of the proxy's searches, averaged over each draw's resampled seeds."""
    truth = panel.truth[cells]
    per_seed = np.stack([mean_pick_curves(panel.scores[name][s][cells], truth, orders) for s in panel.seeds(name)])
    return per_seed[seed_picks, np.arange(len(cells))[:, None]].mean(axis=1)


def search_costs(
    inputs: NasInputs, panel: Panel, cells: np.ndarray, seeds: dict[str, np.ndarray], settings: Settings
) -> SearchCosts:
    """C8's exact budgets in each row of resampled cells and seeds: the target is C8_WITHIN points below the
    best real-data proxy's pick over the whole pool; each proxy pays the smallest number of cells at which
    its seed-mean pick reaches the target, times its cost per cell; end to end, the GTN's meta-training and
    the real proxy's calibration are each paid once (a search pays them whatever it evaluates)."""
    orders = search_orders(len(panel.pool), settings.search_seeds, settings.seed)
    curves = {n: _seed_mean_curves(panel, n, cells, seeds[panel.methods[n]], orders) for n in panel.names}
    target = np.max([curves[n][:, -1] for n in inputs.real], axis=0) - C8_WITHIN
    paid = {n: cells_to_reach_rows(curves[n], target) * inputs.cost(n) for n in panel.names}
    real = np.stack([paid[n] for n in inputs.real])
    cheapest = np.argmin(real, axis=0)
    rows = np.arange(len(cells))
    meta = _by_seed(_meta_seconds(inputs), panel.seeds(inputs.judged), seeds[panel.methods[inputs.judged]])
    calibration = _by_seed(
        _calibration_seconds(inputs), panel.seeds(inputs.real[0]), seeds[panel.methods[inputs.real[0]]]
    )
    return SearchCosts(
        target,
        real[cheapest, rows],
        paid[inputs.judged],
        real[cheapest, rows] + calibration,
        paid[inputs.judged] + meta,
        [inputs.real[i] for i in cheapest],
    )


def _by_seed(seconds: dict[int, float], seeds: list[int], picks: np.ndarray) -> np.ndarray:
    """A one-off cost per draw: the mean over the draw's resampled seeds (0 where no seed recorded it)."""
    per_seed = np.array([seconds.get(s, 0.0) for s in seeds])
    return per_seed[picks].mean(axis=1)


def c8_estimate(inputs: NasInputs, panel: Panel, settings: Settings) -> tuple[Estimate, Estimate, SearchCosts]:
    """The end-to-end and per-evaluation compute ratios with their intervals (t intervals of the log ratios:
    NaN bounds where a draw's search never reaches the target), and the costs on the whole data."""

    def log_ratios_of(costs: SearchCosts) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(np.stack([costs.ratio_end_to_end, costs.ratio], axis=1))

    def log_ratios(draws: Draws) -> np.ndarray:
        return log_ratios_of(search_costs(inputs, panel, draws.cells, draws.seeds, settings))

    whole = whole_draw(panel)
    found = search_costs(inputs, panel, whole.cells, whole.seeds, settings)
    low, high = np.exp(seed_t_bounds(panel, settings, log_ratios, point=log_ratios_of(found)[0]))
    method = interval_method(panel, settings)
    end_to_end = Estimate(float(found.ratio_end_to_end[0]), float(low[0]), float(high[0]), method)
    per_evaluation = Estimate(float(found.ratio[0]), float(low[1]), float(high[1]), method)
    return end_to_end, per_evaluation, found


def measure_c8(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    """Judged end to end: the real-data-guided search's seconds (with its calibration) over the GTN-guided
    search's (with the GTN's meta-training), one-off costs paid once; the per-evaluation ratio beside it."""
    inputs = _inputs(claim, records)
    if not isinstance(inputs, NasInputs):
        return inputs
    names = [inputs.judged, *inputs.real]
    if any(not (math.isfinite(inputs.cost(n)) and inputs.cost(n) > 0) for n in names):
        return Measurement(
            inputs.judged,
            Estimate(math.nan),
            "–",
            inputs.scale,
            missing="a proxy of the comparison has no measured cost",
        )
    panel = inputs.panel(names)
    e, per_evaluation, found = c8_estimate(inputs, panel, settings)
    meta, calibration = _mean(_meta_seconds(inputs)), _mean(_calibration_seconds(inputs))
    target = float(found.target[0])
    text = (
        f"{inputs.data}: searching a pool of {len(panel.pool)} cells ({settings.search_seeds} search seeds) to come within "
        f"{C8_WITHIN} points of the best real-data-guided search ({target + C8_WITHIN:.2f} %): "
        f"{found.best_real[0]}-guided search {found.real_end_to_end[0]:.3g} s (calibration "
        f"{calibration if math.isfinite(calibration) else 0:.3g} s included), {inputs.judged}-guided "
        f"{found.judged_end_to_end[0]:.3g} s (meta-training "
        f"{f'{meta:.3g} s' if math.isfinite(meta) else 'not in these runs'} included): end-to-end ratio "
        f"{interval_text(e, 1, 3, 'x')}; per evaluation, without one-off costs, "
        f"{interval_text(per_evaluation, 1, 3, 'x')}"
    )
    per_seed = _per_seed(inputs, lambda i, p, s: c8_estimate(i, p, s)[0], panel, settings)
    baselines = _search_baselines(inputs, target, float(found.real[0]), settings)
    return Measurement(inputs.judged, e, text, inputs.scale, baselines, per_seed=per_seed)


def _search_baselines(
    inputs: NasInputs, target: float, real_seconds: float, settings: Settings
) -> tuple[Baseline, ...]:
    """Each trivial baseline's search to the same target on the cells it shares with the compared proxies."""
    names = [inputs.judged, *inputs.real]
    shown = []
    for name in [] if settings.verdict_only else _trivial(inputs):
        if name in names:
            continue
        panel = inputs.panel([*names, name])
        whole = np.arange(len(panel.pool))[None]
        orders = search_orders(len(panel.pool), settings.search_seeds, settings.seed)
        seeds = np.arange(len(panel.seeds(name)))[None]
        curve = _seed_mean_curves(panel, name, whole, seeds, orders)[0]
        cells = float(cells_to_reach_rows(curve[None], np.array([target]))[0])
        seconds = cells * inputs.cost(name)
        shown.append(
            Baseline(
                f"{name} [{len(panel.pool)} cells]",
                f"{seconds:.3g} s ({cells:g} cell{'' if cells == 1 else 's'}) to reach {target:.2f} %; "
                f"picks {curve[-1]:.2f} % over the whole pool",
                ""
                if math.isinf(cells)
                else "free"
                if seconds <= 0
                else f"compute ratio real/it {real_seconds / seconds:.3g}x",
            )
        )
    return tuple(shown)
