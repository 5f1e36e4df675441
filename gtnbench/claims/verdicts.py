"""What a claim is, what a measurement of it says, and the verdict they give (pure; no torch).

A claim names the method (or proxy) it judges, the baselines shown beside it and a threshold on
one measured quantity. A measurement gives that quantity with a 95 % bootstrap interval, and the
verdict is three-way: `reproduced` when the whole interval clears the threshold, `not reproduced`
when it lies wholly on the other side, `inconclusive` when it straddles it. A NaN input, or a
judged method that is missing or failed, gives `incomplete`. Claims are judged only from records
of their protocol (the paper scale of the bundled suite); other records show the measurement as
a regression figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

Record = dict[str, Any]

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
INCOMPLETE = "incomplete"
NOT_JUDGED = "not judged at this scale"
NOT_PROTOCOL = "not judged (not the bundled protocol)"
NOT_MEASURED = "not measured"

LEGEND = {
    REPRODUCED: "the 95 % interval of the measured value clears the claim's threshold",
    NOT_REPRODUCED: "the 95 % interval lies wholly on the wrong side of the threshold",
    INCONCLUSIVE: "the interval straddles the threshold (or there is no interval: a single seed)",
    INCOMPLETE: "the judged method is missing or failed, or an input is NaN: rerun what is missing",
    NOT_JUDGED: "measured below the claim's scale: a regression figure, not a test of the claim",
    NOT_PROTOCOL: "the paper scale of an edited or user-written suite: not the bundled protocol",
    NOT_MEASURED: "these runs hold nothing the claim is about",
}


@dataclass(frozen=True)
class Estimate:
    """A measured value and its 95 % interval (NaN bounds: no interval)."""

    value: float
    low: float = math.nan
    high: float = math.nan

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))


@dataclass(frozen=True)
class Threshold:
    """`value` the measured quantity must reach (">=") or stay under ("<="). `--relax r` moves it by
    r x `relax_unit` in the claim's favour (AlgoPerf-style target relaxation)."""

    value: float
    direction: str  # ">=" or "<="
    relax_unit: float
    text: str  # e.g. "≥ 98.6 % test accuracy"

    def moved(self, r: float) -> Threshold:
        shift = r * self.relax_unit * (-1 if self.direction == ">=" else 1)
        return Threshold(self.value + shift, self.direction, self.relax_unit, self.text)


@dataclass(frozen=True)
class Baseline:
    """A figure shown beside the judged one: the same quantity for a baseline, and how the judged method compares."""

    name: str
    value: str
    comparison: str = ""


@dataclass(frozen=True)
class Measurement:
    judged: str  # the method or proxy whose figure is judged, as found in the records
    estimate: Estimate
    text: str  # the measurement in words and numbers (with its interval)
    scale: str
    baselines: tuple[Baseline, ...] = ()
    missing: str | None = None  # why the verdict is incomplete
    settled: bool | None = None  # a criterion of the claim decided it whatever the interval (e.g. C4's divergence)


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


@dataclass(frozen=True)
class Settings:
    """Statistics parameters, from the suite (nb201.bootstrap, nb201.search_seeds) where it sets them."""

    resamples: int = 1000
    search_seeds: int = 20
    seed: int = 0


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


def decide(measurement: Measurement, threshold: Threshold) -> str:
    """The three-way verdict of a complete measurement at `threshold`."""
    if measurement.settled is not None:
        return REPRODUCED if measurement.settled else NOT_REPRODUCED
    estimate = measurement.estimate
    if math.isnan(estimate.value):
        return INCOMPLETE
    if not estimate.has_interval:
        return INCONCLUSIVE
    low, high, t = estimate.low, estimate.high, threshold.value
    if threshold.direction == ">=":
        return REPRODUCED if low >= t else NOT_REPRODUCED if high < t else INCONCLUSIVE
    return REPRODUCED if high <= t else NOT_REPRODUCED if low > t else INCONCLUSIVE


def protocol_records(claim: Claim, records: list[Record], protocol_hash: str | None) -> list[Record]:
    return [r for r in records if protocol_hash is not None and r.get("config_hash") == protocol_hash]


def judge(claim: Claim, records: list[Record], settings: Settings, protocol_hash: str | None,
          relax: float | None = None) -> Verdict:  # fmt: skip
    """The claim's verdict from these records: measured under its protocol, else as a regression figure."""
    protocol = protocol_records(claim, records, protocol_hash)
    measurement = claim.measure(claim, protocol or records, settings)
    if measurement is None:
        return Verdict(claim, claim.judged, "–", claim.claimed, claim.threshold.text, None, NOT_MEASURED)
    relaxed: dict[str, str] = {}
    if measurement.missing:
        verdict = INCOMPLETE
    elif measurement.scale != claim.scale:
        verdict = NOT_JUDGED
    elif not protocol:
        verdict = NOT_PROTOCOL
    else:
        verdict = decide(measurement, claim.threshold)
        if relax:
            relaxed = {f"-{100 * relax:g} %": decide(measurement, claim.threshold.moved(relax)),
                       f"+{100 * relax:g} %": decide(measurement, claim.threshold.moved(-relax))}  # fmt: skip
    text = measurement.text + (f" [incomplete: {measurement.missing}]" if measurement.missing else "")
    return Verdict(claim, measurement.judged, text, claim.claimed, claim.threshold.text, measurement.scale, verdict,
                   measurement.baselines, relaxed, measurement.estimate)  # fmt: skip
