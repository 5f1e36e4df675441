"""What a claim is, what a measurement of it says, and the verdict they give (pure; no torch).

A claim names the method (or proxy) it judges, the baselines shown beside it and a threshold on
one measured quantity. A measurement gives that quantity with a 95 % interval (analysis/intervals.py:
t and Welch intervals over seeds; for the NAS claims t intervals whose variance adds a jackknife over
seeds to a bootstrap over architectures), and the verdict is three-way: `reproduced` when the whole interval clears the threshold,
`not reproduced` when it lies wholly on the other side, `inconclusive` when it straddles it. A
two-sided threshold ("within") asks the interval to lie inside a band around the published value.
A NaN input, or a judged method that is missing or failed, gives `incomplete`. Claims are judged
only from records of their protocol (the paper scale of the bundled suite, and the recorded
protocol fields the claim names); other records show the measurement as a regression figure.
Each rule's error rate is measured by claims/calibration.py (`gtnbench check --calibration`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

Record = dict[str, Any]

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
INCOMPLETE = "incomplete"
NOT_JUDGED = "not judged at this scale"
NOT_PROTOCOL = "not judged (not the bundled protocol)"
PROTOCOL_DIFFERS = "not judged (protocol differs)"
NOT_MEASURED = "not measured"

LEGEND = {
    REPRODUCED: "the 95 % interval of the measured value clears the claim's threshold",
    NOT_REPRODUCED: "the 95 % interval lies wholly on the wrong side of the threshold",
    INCONCLUSIVE: "the interval straddles the threshold (or there is none: a single seed, or a run too short to tell)",
    INCOMPLETE: "the judged method is missing or failed, or an input is NaN: rerun what is missing",
    NOT_JUDGED: "measured below the claim's scale: a regression figure, not a test of the claim",
    NOT_PROTOCOL: "the paper scale of an edited or user-written suite: not the bundled protocol",
    PROTOCOL_DIFFERS: "the judged records were made under another protocol than the claim's (a recorded field differs)",
    NOT_MEASURED: "these runs hold nothing the claim is about",
}


@dataclass(frozen=True)
class Estimate:
    """A measured value and its 95 % interval (NaN bounds: no interval), and how the interval was made."""

    value: float
    low: float = math.nan
    high: float = math.nan
    method: str = ""

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))


@dataclass(frozen=True)
class Threshold:
    """`value` the measured quantity must reach (">="), stay under ("<="), or stay within `tolerance` of
    ("within": a two-sided band around a published value). `--relax r` moves it by r x `relax_unit` in
    the claim's favour (AlgoPerf-style target relaxation; a band widens on both sides)."""

    value: float
    direction: str  # ">=", "<=" or "within"
    relax_unit: float
    text: str  # e.g. "≥ 98.6 % test accuracy"
    tolerance: float = 0.0  # "within": the half-width of the band

    def moved(self, r: float) -> Threshold:
        if self.direction == "within":
            return replace(self, tolerance=max(0.0, self.tolerance + r * self.relax_unit))
        shift = r * self.relax_unit * (-1 if self.direction == ">=" else 1)
        return replace(self, value=self.value + shift)

    def edges(self) -> tuple[float, ...]:
        """The values at which the claim's truth sits exactly on the threshold (calibration)."""
        if self.direction == "within":
            return (self.value - self.tolerance, self.value + self.tolerance)
        return (self.value,)


@dataclass(frozen=True)
class Baseline:
    """A figure shown beside the judged one: the same quantity for a baseline, and how the judged method compares."""

    name: str
    value: str
    comparison: str = ""


@dataclass(frozen=True)
class SeedMeasurement:
    """The claim's quantity from one seed's records alone (NAS claims: one GTN meta-training and one
    training of every proxy), with its interval over architectures."""

    label: str
    estimate: Estimate


@dataclass(frozen=True)
class Measurement:
    judged: str  # the method or proxy whose figure is judged, as found in the records
    estimate: Estimate
    text: str  # the measurement in words and numbers (with its interval)
    scale: str
    baselines: tuple[Baseline, ...] = ()
    missing: str | None = None  # why the verdict is incomplete
    # A pre-stated criterion of the claim decided it whatever the interval (C4: a one-sided Fisher exact test
    # of the divergence counts; C3a: the full curriculum never reaches the accuracy).
    settled: bool | None = None
    per_seed: tuple[SeedMeasurement, ...] = ()


@dataclass(frozen=True)
class ProtocolField:
    """A recorded detail the claim's protocol fixes: `path` (dotted, under a record's `details`) must equal
    `expected` in every ok record of `method` (default: the claim's judged method)."""

    path: str
    expected: Any
    method: str | None = None

    def value_in(self, record: Record) -> Any:
        node: Any = record.get("details") or {}
        for part in self.path.split("."):
            if not isinstance(node, dict) or part not in node:
                return MISSING
            node = node[part]
        return node


MISSING = object()


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    claimed: str  # the paper's value
    source: str  # paper, blog, figure (GTN_FACTS.md tags) or a publication for anchors
    suite: str  # the bundled suite whose paper scale is the claim's protocol
    judged: str  # the method (or proxy, method@steps) the claim judges
    baselines: tuple[str, ...]  # what is shown beside it
    threshold: Threshold
    measure: Callable[[Claim, list[Record], Settings], Measurement | None]
    scale: str = "paper"
    protocol: tuple[ProtocolField, ...] = ()  # recorded fields the judged records must hold
    paper_value: float | None = None  # the paper's figure in the measured quantity's units (calibration's power)
    simulation: Any = None  # claims.simulate.Simulation: records of a known truth (calibration)

    @property
    def judged_method(self) -> str:
        return self.judged.partition("@")[0]


@dataclass(frozen=True)
class Settings:
    """Statistics parameters, from the suite (nb201.bootstrap, nb201.search_seeds) where it sets them."""

    resamples: int = 1000
    search_seeds: int = 20
    seed: int = 0
    verdict_only: bool = False  # skip what does not change the verdict (baselines, per-seed figures): calibration


@dataclass(frozen=True)
class SeedVerdict:
    label: str
    estimate: Estimate
    verdict: str


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    judged: str
    measured: str
    claimed: str
    threshold: str
    scale: str | None
    verdict: str
    baselines: tuple[Baseline, ...] = ()
    relaxed: dict[str, str] = field(default_factory=dict)  # "-5 %" / "+5 %" -> the verdict at a moved threshold
    estimate: Estimate | None = None
    per_seed: tuple[SeedVerdict, ...] = ()

    @property
    def seeds_agree(self) -> bool | None:
        """Whether every seed's own verdict is the same (None: no per-seed verdicts)."""
        return len({s.verdict for s in self.per_seed}) == 1 if self.per_seed else None


def decide_estimate(estimate: Estimate, threshold: Threshold) -> str:
    """The three-way verdict of an interval at `threshold` (NaN value: incomplete; no interval: inconclusive)."""
    if math.isnan(estimate.value):
        return INCOMPLETE
    if not estimate.has_interval:
        return INCONCLUSIVE
    low, high, t = estimate.low, estimate.high, threshold.value
    if threshold.direction == ">=":
        return REPRODUCED if low >= t else NOT_REPRODUCED if high < t else INCONCLUSIVE
    if threshold.direction == "<=":
        return REPRODUCED if high <= t else NOT_REPRODUCED if low > t else INCONCLUSIVE
    below, above = t - threshold.tolerance, t + threshold.tolerance
    if below <= low and high <= above:
        return REPRODUCED
    return NOT_REPRODUCED if high < below or low > above else INCONCLUSIVE


def decide(measurement: Measurement, threshold: Threshold) -> str:
    """The three-way verdict of a complete measurement at `threshold`."""
    if measurement.settled is not None:
        return REPRODUCED if measurement.settled else NOT_REPRODUCED
    return decide_estimate(measurement.estimate, threshold)


def protocol_records(claim: Claim, records: list[Record], protocol_hash: str | None) -> list[Record]:
    return [r for r in records if protocol_hash is not None and r.get("config_hash") == protocol_hash]


def protocol_differences(claim: Claim, records: list[Record]) -> list[str]:
    """How the judged records depart from the claim's protocol fields: one phrase per field and value."""
    found: dict[str, set[str]] = {}
    for want in claim.protocol:
        method = want.method or claim.judged_method
        for record in records:
            if record["method"] != method or record["status"] != "ok":
                continue
            got = want.value_in(record)
            if got != want.expected:
                shown = "not recorded" if got is MISSING else repr(got)
                found.setdefault(f"{method}: details.{want.path}", set()).add(
                    f"{shown} (the claim's: {want.expected!r})"
                )
    return [f"{where} {', '.join(sorted(values))}" for where, values in found.items()]


def judge(
    claim: Claim, records: list[Record], settings: Settings, protocol_hash: str | None, relax: float | None = None
) -> Verdict:
    """The claim's verdict from these records: measured under its protocol, else as a regression figure."""
    protocol = protocol_records(claim, records, protocol_hash)
    measurement = claim.measure(claim, protocol or records, settings)
    if measurement is None:
        return Verdict(claim, claim.judged, "–", claim.claimed, claim.threshold.text, None, NOT_MEASURED)
    relaxed: dict[str, str] = {}
    differences = protocol_differences(claim, protocol) if protocol else []
    per_seed: tuple[SeedVerdict, ...] = ()
    if measurement.missing:
        verdict = INCOMPLETE
    elif measurement.scale != claim.scale:
        verdict = NOT_JUDGED
    elif not protocol:
        verdict = NOT_PROTOCOL
    elif differences:
        verdict = PROTOCOL_DIFFERS
    else:
        verdict = decide(measurement, claim.threshold)
        per_seed = tuple(
            SeedVerdict(s.label, s.estimate, decide_estimate(s.estimate, claim.threshold)) for s in measurement.per_seed
        )
        if relax:
            relaxed = {
                f"-{100 * relax:g} %": decide(measurement, claim.threshold.moved(relax)),
                f"+{100 * relax:g} %": decide(measurement, claim.threshold.moved(-relax)),
            }
    text = measurement.text + (f" [incomplete: {measurement.missing}]" if measurement.missing else "")
    if differences:
        text += f" [protocol differs: {'; '.join(differences)}]"
    return Verdict(
        claim,
        measurement.judged,
        text,
        claim.claimed,
        claim.threshold.text,
        measurement.scale,
        verdict,
        measurement.baselines,
        relaxed,
        measurement.estimate,
        per_seed,
    )
