"""How commands print: nothing a user may copy (a suite, method, metric or proxy name, an arch string, a
path, a number) is ever split across lines, and nothing read from disk is taken for markup.

Tables break a cell only at spaces. In a pipe (stdout not a terminal) a table is printed at its natural
width, every cell on one line per line of its text, so `gtnbench list | grep NAME` finds a suite; on a
terminal it is a table when the longest word of every column fits the width, and otherwise one block of
`column: value` lines per row (as psql's expanded display), so an 80-column terminal never cuts a name.
Plain lines are never wrapped in a pipe, and wrapped only at spaces on a terminal.
"""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

__all__ = ["escape", "plural", "print_line", "print_markup", "print_table"]


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 seed', '2 seeds', '0 trials' ('many' for irregular plurals)."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def print_line(console: Console, text: str, style: str | None = None) -> None:
    """One line of plain text: printed as it is (no markup, no highlighting), wrapped only on a terminal."""
    console.print(text, style=style, markup=False, highlight=False, soft_wrap=not console.is_terminal)


def print_markup(console: Console, text: str) -> None:
    """A line with gtnbench's own markup ([red]...[/]); user data in it must go through `escape` first."""
    console.print(text, highlight=False, soft_wrap=not console.is_terminal)


def _extra_width(table: Table) -> int:
    """Border characters of a row (as rich's Table counts them)."""
    if not table.box:
        return 0
    return (2 if table.show_edge else 0) + len(table.columns) - 1


def _column_ranges(console: Console, table: Table) -> list[tuple[int, int]]:
    """Per column, (its longest word, its longest line) in characters, padding included."""
    options = console.options.update_width(1_000_000)  # measured unclamped: the width is decided here
    _, right, _, left = table.padding
    ranges = []
    for column in table.columns:
        lowest = highest = 0
        for cell in (column.header, *column.cells):
            measured = Measurement.get(console, options, cell)
            lowest, highest = max(lowest, measured.minimum), max(highest, measured.maximum)
        ranges.append((lowest + left + right, highest + left + right))
    return ranges


def _share(ranges: list[tuple[int, int]], room: int) -> list[int]:
    """Widths from each column's minimum up toward its maximum, `room` characters shared in proportion."""
    widths = [low for low, _ in ranges]
    spare = room - sum(widths)
    want = [high - low for low, high in ranges]
    total = sum(want)
    if total:
        for i, extra in enumerate(want):
            widths[i] += spare * extra // total
    for i in sorted(range(len(widths)), key=lambda i: -want[i]):  # what rounding left, to the widest wishes
        if sum(widths) >= room:
            break
        if widths[i] < ranges[i][1]:
            widths[i] += 1
    return widths


def _as_text(console: Console, cell: RenderableType) -> Text | None:
    if isinstance(cell, Text):
        return cell
    if isinstance(cell, str):
        return console.render_str(cell, highlight=False)
    return None


def _print_expanded(console: Console, table: Table) -> None:
    """Each row as `header: value` lines (a table without headers: `first cell: second cell`); a row with an
    empty first cell continues the row above it. A line with a word wider than the terminal is not wrapped."""
    columns = [list(column.cells) for column in table.columns]
    keyed = not table.show_header and len(columns) == 2
    headers = [(_as_text(console, column.header) or Text(str(column.header))).plain for column in table.columns]
    for row in range(table.row_count):
        values = [_as_text(console, cells[row]) for cells in columns]
        fields = [(values[0].plain if values[0] else "", values[1])] if keyed else list(zip(headers, values))
        for index, (header, value) in enumerate(fields):
            if value is None or not value.plain.strip():
                continue
            indent = 2 if index and not keyed else 0
            line = Text.assemble((header, "bold"), ": ", value)
            if max((len(word) for word in line.plain.split()), default=0) > console.width - indent:
                console.print(Text(" " * indent) + line, soft_wrap=True, crop=False)
            else:
                console.print(Padding(line, (0, 0, 0, indent)))


def print_table(console: Console, table: Table) -> None:
    """Print `table` without ever splitting a word of a cell (see the module docstring)."""
    ranges = _column_ranges(console, table)
    extra = _extra_width(table)
    natural = sum(high for _, high in ranges) + extra
    if not console.is_terminal:
        if table.title:
            print_markup(console, str(table.title))
            table.title = None
        Console(file=console.file, width=natural, color_system=None, highlight=False).print(table)
        return
    if natural <= console.width:
        console.print(table)
        return
    if sum(low for low, _ in ranges) + extra <= console.width:
        _, right, _, left = table.padding
        for column, width in zip(table.columns, _share(ranges, console.width - extra)):
            column.width = width - left - right
        console.print(table)
        return
    if table.title:
        console.print(table.title, style="bold italic", highlight=False)
    _print_expanded(console, table)
