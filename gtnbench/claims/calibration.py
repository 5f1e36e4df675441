"""The error rate of every claim's verdict rule, measured: a Monte-Carlo calibration over simulated records.

For each claim of the registry, its `simulation` (claims/simulate.py) writes the records of many
simulated runs whose truth sits exactly on the claim's threshold (both edges of a two-sided band), and
many whose truth is the paper's value; the claim's own measure and verdict rule judge each, exactly as
`gtnbench check` judges real runs. The rate of "reproduced" at the threshold is the rule's false
"reproduced" rate (a 95 % interval promises at most 2.5 %); at the paper's value it is the power, the
chance that a faithful reproduction comes out "reproduced" at the suite's seed count. A claim added to
the registry with a simulation is calibrated by the same code (and the same test).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np

from gtnbench.claims.simulate import CALIBRATION_HASH
from gtnbench.claims.verdicts import (
    INCOMPLETE,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    Claim,
    Settings,
    judge,
)

PROMISED = 0.025  # the one-sided error a 95 % interval promises


@dataclass(frozen=True)
class CalibrationRow:
    claim: str
    where: str  # "threshold", "threshold (lower edge)", "threshold (upper edge)" or "paper's value"
    truth: float
    seeds: int
    reps: int
    counts: dict[str, int]

    def rate(self, verdict: str) -> float:
        return self.counts.get(verdict, 0) / self.reps

    @property
    def reproduced(self) -> float:
        return self.rate(REPRODUCED)

    @property
    def error(self) -> float:
        """The Monte-Carlo standard error of the rate of "reproduced"."""
        p = max(self.reproduced, 1 / self.reps)
        return math.sqrt(p * (1 - p) / self.reps)


def suite_seeds(claim: Claim) -> int:
    """How many seeds the claim's bundled suite runs at its paper scale."""
    from gtnbench.suite.files import bundled_suite_dir, load_suite

    return len(load_suite(bundled_suite_dir() / f"{claim.suite}.toml").at("paper").seeds)


def suite_settings(claim: Claim) -> Settings:
    """The statistics settings of the claim's bundled suite (resamples, search seeds)."""
    from gtnbench.claims import settings_of
    from gtnbench.suite.files import bundled_suite_dir, load_suite

    config = load_suite(bundled_suite_dir() / f"{claim.suite}.toml").at("paper")
    return settings_of([config.model_dump(mode="json")])


def _rng(claim: Claim, where: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(claim.id.encode()), zlib.crc32(where.encode())])


def _run(
    claim: Claim,
    where: str,
    truth: float,
    seeds: int,
    reps: int,
    settings: Settings,
    seed: int,
    cells: int | None,
    paper_scenario: bool = False,
    on_run: Callable[[], None] | None = None,
) -> CalibrationRow:
    rng = _rng(claim, where, seed)
    counts: dict[str, int] = {}
    simulation = claim.simulation
    for _ in range(reps):
        if paper_scenario and simulation.paper is not None:
            records = simulation.paper(claim, seeds, rng, cells)
        else:
            records = simulation.make(claim, truth, seeds, rng, cells)
        verdict = judge(claim, records, settings, CALIBRATION_HASH).verdict
        counts[verdict] = counts.get(verdict, 0) + 1
        if on_run is not None:
            on_run()
    return CalibrationRow(claim.id, where, truth, seeds, reps, counts)


def calibrate_claim(
    claim: Claim,
    reps: int,
    seeds: int | None = None,
    settings: Settings | None = None,
    seed: int = 0,
    paper: bool = True,
    cells: int | None = None,
    on_run: Callable[[], None] | None = None,
) -> list[CalibrationRow]:
    """Rows at the threshold (each edge of a band) and, with `paper`, at the paper's value. `cells`: the cells
    of a simulated NAS run (default: the suite's); `on_run` is called after each simulated run (progress)."""
    if claim.simulation is None:
        raise ValueError(f"claim {claim.id} has no simulation: calibration needs one (claims/simulate.py)")
    seeds = seeds or suite_seeds(claim)
    settings = replace(settings or suite_settings(claim), verdict_only=True)
    edges = claim.threshold.edges()
    names = ["threshold"] if len(edges) == 1 else ["threshold (lower edge)", "threshold (upper edge)"]
    rows = [
        _run(claim, name, edge, seeds, reps, settings, seed, cells, on_run=on_run) for name, edge in zip(names, edges)
    ]
    if paper and (claim.paper_value is not None or claim.simulation.paper is not None):
        value = claim.paper_value if claim.paper_value is not None else math.nan
        rows.append(_run(claim, "paper's value", value, seeds, reps, settings, seed, cells, True, on_run))
    return rows


def rows_of(claim: Claim) -> int:
    """How many rows calibrate_claim writes for the claim (for progress)."""
    paper = claim.paper_value is not None or (claim.simulation is not None and claim.simulation.paper is not None)
    return len(claim.threshold.edges()) + int(paper)


def calibrate(
    claims: Iterable[Claim],
    reps: int,
    seeds: int | None = None,
    settings: Settings | None = None,
    seed: int = 0,
    cells: int | None = None,
    on_run: Callable[[], None] | None = None,
) -> list[CalibrationRow]:
    return [
        row
        for claim in claims
        for row in calibrate_claim(claim, reps, seeds, settings, seed, cells=cells, on_run=on_run)
    ]


OUTCOMES = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, INCOMPLETE)
