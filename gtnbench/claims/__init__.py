"""Claims and their verdicts: measured vs claimed, with intervals, baselines and a three-way verdict.

A claim is judged only from records of its protocol: the paper scale of the bundled suite that
tests it, recognised by its configuration hash. Records of other scales, or of an edited or
user-written suite, show the measured value as a regression figure, with the verdict "not judged
at this scale" or "not judged (not the bundled protocol)".
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from gtnbench.claims.registry import CLAIMS
from gtnbench.claims.verdicts import (
    INCOMPLETE,
    INCONCLUSIVE,
    LEGEND,
    NOT_JUDGED,
    NOT_MEASURED,
    NOT_PROTOCOL,
    NOT_REPRODUCED,
    REPRODUCED,
    Baseline,
    Claim,
    Estimate,
    Settings,
    Verdict,
    judge,
)
from gtnbench.suite.config import nas_table

__all__ = [
    "CLAIMS",
    "INCOMPLETE",
    "INCONCLUSIVE",
    "LEGEND",
    "NOT_JUDGED",
    "NOT_MEASURED",
    "NOT_PROTOCOL",
    "NOT_REPRODUCED",
    "REPRODUCED",
    "Baseline",
    "Claim",
    "Estimate",
    "Settings",
    "Verdict",
    "judge_all",
    "protocol_hash",
    "settings_of",
    "verdicts_of",
]


@functools.cache
def protocol_hash(suite: str) -> str | None:
    """The configuration hash of the bundled suite's paper scale: the protocol its claims are judged under."""
    from gtnbench.suite.files import bundled_suite_dir, load_suite

    path = bundled_suite_dir() / f"{suite}.toml"
    return load_suite(path).at("paper").config_hash() if path.is_file() else None


def settings_of(configs: Iterable[dict[str, Any]]) -> Settings:
    """The statistics parameters the runs' suites set (nas.bootstrap, nas.search_seeds), else the defaults."""
    for config in configs:
        nas = nas_table(config or {})
        if nas:
            return Settings(
                resamples=nas.get("bootstrap", Settings.resamples),
                search_seeds=nas.get("search_seeds", Settings.search_seeds),
            )
    return Settings()


def verdicts_of(
    records: list[dict[str, Any]], configs: list[dict[str, Any]], relax: float | None = None
) -> list[Verdict]:
    """The verdicts `check` prints and `report` writes, one computation for both: the claims the runs' suites
    name (else every claim the records bear on), with the statistics settings the suites set."""
    claim_ids = list(dict.fromkeys(c for config in configs for c in (config or {}).get("claims", [])))
    return judge_all(records, claim_ids or None, settings_of(configs), relax)


def judge_all(
    records: list[dict[str, Any]],
    claim_ids: Iterable[str] | None = None,
    settings: Settings | None = None,
    relax: float | None = None,
) -> list[Verdict]:
    """Verdicts for the given claims (default: every claim the records can say something about)."""
    settings = settings or Settings()
    if claim_ids is not None:
        return [
            judge(CLAIMS[c], records, settings, protocol_hash(CLAIMS[c].suite), relax) for c in claim_ids if c in CLAIMS
        ]
    verdicts = [judge(claim, records, settings, protocol_hash(claim.suite), relax) for claim in CLAIMS.values()]
    return [v for v in verdicts if v.verdict != NOT_MEASURED]
