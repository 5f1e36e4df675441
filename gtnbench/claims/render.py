"""Verdicts as a terminal table (`gtnbench check`) and as Markdown (`gtnbench report`)."""

from __future__ import annotations

from rich.table import Table

from gtnbench.claims.verdicts import LEGEND, NOT_REPRODUCED, REPRODUCED, Verdict

COLOURS = {REPRODUCED: "green", NOT_REPRODUCED: "red"}


def _relaxed(v: Verdict) -> str:
    if not v.relaxed:
        return ""
    moves = ", ".join(f"{k}: {verdict}" for k, verdict in v.relaxed.items())
    return moves + (" (flips)" if any(verdict != v.verdict for verdict in v.relaxed.values()) else "")


def verdict_table(verdicts: list[Verdict], relax: float | None = None) -> Table:
    """One row per claim (judged method, measured value with its interval, the paper's value, the
    threshold, scale, verdict), then one row per baseline shown beside it."""
    table = Table(title="claims (GTN_FACTS.md): judged under each claim's protocol; 95 % bootstrap intervals")
    columns = ["claim", "judged", "measured", "paper", "threshold", "scale", "verdict"]
    if relax:
        columns.append(f"threshold moved ±{100 * relax:g} %")
    for column in columns:
        table.add_column(column, overflow="fold")
    for v in verdicts:
        colour = COLOURS.get(v.verdict, "yellow")
        row = [f"[bold]{v.claim.id}[/]", v.judged, v.measured, v.claimed, v.threshold, v.scale or "–",
               f"[{colour}]{v.verdict}[/]"]  # fmt: skip
        table.add_row(*row, *([_relaxed(v)] if relax else []), end_section=not v.baselines)
        for i, b in enumerate(v.baselines):
            cells = ["", f"[dim]beside:[/] {b.name}", b.value, "", b.comparison, "", ""]
            table.add_row(*cells, *([""] if relax else []), end_section=i == len(v.baselines) - 1)
    return table


def legend_lines() -> list[str]:
    return [f"{verdict}: {meaning}" for verdict, meaning in LEGEND.items()]


def verdict_markdown(verdicts: list[Verdict]) -> str:
    if not verdicts:
        return ""
    lines = ["## Claims\n", "Each claim judges one named method (or proxy) with a 95 % bootstrap interval; the "
             "baselines are shown beside it.\n", "| claim | judged | measured | paper | threshold | scale | verdict |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for v in verdicts:
        lines.append(f"| {v.claim.id} | {v.judged} | {v.measured} | {v.claimed} | {v.threshold} | {v.scale or '–'} | "
                     f"**{v.verdict}** |")  # fmt: skip
        for b in v.baselines:
            lines.append(f"| | beside: {b.name} | {b.value} | | {b.comparison} | | |")
    lines += ["", "Verdicts: " + "; ".join(f"*{line}*" for line in legend_lines()), ""]
    return "\n".join(lines) + "\n"
