"""Verdicts as a terminal table (`gtnbench check`) and as Markdown (`gtnbench report`); the calibration table."""

from __future__ import annotations

import math

from rich.table import Table
from rich.text import Text

from gtnbench.claims.calibration import PROMISED, CalibrationRow
from gtnbench.claims.verdicts import LEGEND, NOT_REPRODUCED, REPRODUCED, Verdict

COLOURS = {REPRODUCED: "green", NOT_REPRODUCED: "red"}
INTERVALS = (
    "95 % intervals: t over seeds for a mean, Welch for a difference (C1-C5, accuracy anchors); t with a "
    "seed jackknife and a bootstrap over architectures (C6-C8, NAS anchors)"
)


def _relaxed(v: Verdict) -> str:
    if not v.relaxed:
        return ""
    moves = ", ".join(f"{k}: {verdict}" for k, verdict in v.relaxed.items())
    return moves + (" (flips)" if any(verdict != v.verdict for verdict in v.relaxed.values()) else "")


def _measured(v: Verdict) -> str:
    method = v.estimate.method if v.estimate is not None and v.estimate.has_interval else ""
    return f"{v.measured} ({method})" if method else v.measured


def _agreement(v: Verdict) -> str:
    return "the seeds agree" if v.seeds_agree else "the seeds disagree"


def verdict_table(verdicts: list[Verdict], relax: float | None = None) -> Table:
    """One row per claim (judged method, measured value with its interval, the paper's value, the
    threshold, scale, verdict), then one row per seed's own verdict (NAS claims) and per baseline."""
    table = Table(title=f"claims (GTN_FACTS.md) and anchors, each judged under its protocol; {INTERVALS}")
    columns = ["claim", "judged", "measured", "paper", "threshold", "scale", "verdict"]
    if relax:
        columns.append(f"threshold moved ±{100 * relax:g} %")
    for column in columns:
        table.add_column(column)
    for v in verdicts:
        colour = COLOURS.get(v.verdict, "yellow")
        row = [
            Text(v.claim.id, style="bold"),
            Text(v.judged),
            Text(_measured(v)),
            Text(v.claimed),
            Text(v.threshold),
            Text(v.scale or "–"),
            Text(v.verdict, style=colour),
        ]
        extra = [*v.per_seed, *v.baselines]
        table.add_row(*row, *([Text(_relaxed(v))] if relax else []), end_section=not extra)
        for i, s in enumerate(v.per_seed):
            cells = [
                Text(""),
                Text(f"{s.label} alone"),
                Text(s.estimate.method or ""),
                Text(""),
                Text(_agreement(v) if i == 0 else ""),
                Text(""),
                Text(s.verdict, style=COLOURS.get(s.verdict, "yellow")),
            ]
            table.add_row(*cells, *([Text("")] if relax else []), end_section=i == len(extra) - 1)
        for i, b in enumerate(v.baselines):
            cells = [
                Text(""),
                Text.assemble(("beside: ", "dim"), b.name),
                Text(b.value),
                Text(""),
                Text(b.comparison),
                Text(""),
                Text(""),
            ]
            table.add_row(*cells, *([Text("")] if relax else []), end_section=i == len(v.baselines) - 1)
    return table


def legend_lines() -> list[str]:
    return [f"{verdict}: {meaning}" for verdict, meaning in LEGEND.items()]


def verdict_markdown(verdicts: list[Verdict]) -> str:
    if not verdicts:
        return ""
    lines = [
        "## Claims\n",
        f"Each claim judges one named method (or proxy); {INTERVALS}. The baselines are shown "
        "beside it, and, for the NAS claims, each seed's own verdict.\n",
        "| claim | judged | measured | paper | threshold | scale | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        lines.append(
            f"| {v.claim.id} | {v.judged} | {_measured(v)} | {v.claimed} | {v.threshold} | {v.scale or '–'} | "
            f"**{v.verdict}** |"
        )
        for i, s in enumerate(v.per_seed):
            lines.append(
                f"| | {s.label} alone | {s.estimate.method} | | {_agreement(v) if i == 0 else ''} | | {s.verdict} |"
            )
        for b in v.baselines:
            lines.append(f"| | beside: {b.name} | {b.value} | | {b.comparison} | | |")
    lines += ["", "Verdicts: " + "; ".join(f"*{line}*" for line in legend_lines()), ""]
    return "\n".join(lines) + "\n"


def _rate(row: CalibrationRow) -> str:
    return f"{100 * row.reproduced:.1f} ± {100 * row.error:.1f} %"


def _truth(row: CalibrationRow) -> str:
    """The simulated truth; "–" where the paper's scenario is not one number (C4: every run stable)."""
    return "–" if math.isnan(row.truth) else f"{row.truth:.4g}"


def calibration_table(rows: list[CalibrationRow]) -> Table:
    """Per claim: the rate of "reproduced" with the truth on the threshold (false "reproduced": at most
    2.5 % promised) and at the paper's value (power), with Monte-Carlo errors."""
    table = Table(
        title=f'calibration: how often each rule says "reproduced" on simulated runs (a 95 % interval '
        f"promises at most {100 * PROMISED:g} % at the threshold)"
    )
    for column in ("claim", "seeds", "truth at", "value", "runs", "reproduced", "not reproduced", "inconclusive"):
        table.add_column(column)
    for row in rows:
        over = row.where.startswith("threshold") and row.reproduced - 2 * row.error > PROMISED
        table.add_row(
            Text(row.claim, style="bold"),
            str(row.seeds),
            row.where,
            _truth(row),
            str(row.reps),
            Text(_rate(row), style="red" if over else ""),
            f"{100 * row.rate(NOT_REPRODUCED):.1f} %",
            f"{100 * (1 - row.reproduced - row.rate(NOT_REPRODUCED)):.1f} %",
        )
    return table


def calibration_markdown(rows: list[CalibrationRow]) -> str:
    """The calibration table as Markdown (the README's and results/cpu/calibration.md)."""
    lines = [
        "| claim | seeds | truth at | value | runs | reproduced | not reproduced |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.claim} | {row.seeds} | {row.where} | {_truth(row)} | {row.reps} | {_rate(row)} | "
            f"{100 * row.rate(NOT_REPRODUCED):.1f} % |"
        )
    return "\n".join(lines) + "\n"
