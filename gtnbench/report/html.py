"""`report/index.html`: one self-contained page per report, to browse or share a run without network.

Everything is inline: the style sheet, a few lines of script (sortable tables; a check that
every image decoded, left on <body> as data-images-ok for tests), and the plots and the
teachers' sample grids as base64 data URIs. The header names what a reader needs to trust the numbers
(suite, scale, data set, device, libraries, precision, code version, config hash); then the
claim verdicts with the legend of their words (gtnbench.claims.LEGEND), the tables of
summary.md (converted from the Markdown report.py writes, so the two never disagree), the
plots, the sample grids, and relative links to the raw records and the CSV.
"""

from __future__ import annotations

import base64
import html
import io
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from gtnbench import __version__
from gtnbench.analysis.records import bn_text, scored_text
from gtnbench.claims import LEGEND
from gtnbench.data.names import dataset_label
from gtnbench.store import RECORDS, RunContents

PLOT_TITLES = {
    "accuracy_vs_steps.png": "Test accuracy against training steps",
    "meta_training.png": "GTN meta-training: a fresh learner's accuracy against outer iteration",
    "nb201_scatter.png": "NAS-Bench-201: proxy score against ground truth",
    "nb201_frontier.png": "NAS-Bench-201: Spearman against seconds per architecture",
    "nb201_search.png": "NAS-Bench-201: regret of proxy-guided random search",
    "macro_scatter.png": "NAS-Bench-Macro: proxy score against ground truth",
    "macro_frontier.png": "NAS-Bench-Macro: Spearman against seconds per architecture",
    "macro_search.png": "NAS-Bench-Macro: regret of proxy-guided random search",
    "teachers_cost_accuracy.png": "Small sets: test accuracy against construction cost (random subsets: zero cost)",
}

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1280px;
       padding: 1em 2em 3em; color: #1d2430; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #d8dde6; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 13px; }
th, td { border: 1px solid #d8dde6; padding: 3px 8px; vertical-align: top; }
th { background: #eef1f6; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.sortable th { cursor: pointer; user-select: none; white-space: nowrap; }
table.sortable th::after { content: " \\2195"; color: #99a; }
table.sortable th[data-order=asc]::after { content: " \\2191"; }
table.sortable th[data-order=desc]::after { content: " \\2193"; }
table.provenance th { width: 11em; }
.verdict { font-weight: 600; white-space: nowrap; padding: 1px 6px; border-radius: 3px; }
.v-reproduced { background: #d6f2dc; color: #14532d; } .v-not-reproduced { background: #fadad7; color: #7f1d1d; }
.v-inconclusive, .v-incomplete { background: #fdf0c4; color: #713f12; }
.v-other { background: #e8ebf0; color: #374151; }
dl.legend { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; font-size: 13px; }
dl.legend dd { margin: 0; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #e2e6ee; }
figcaption { color: #4b5563; font-size: 13px; }
.samples { display: flex; flex-wrap: wrap; gap: 1em; } .samples figure { max-width: 420px; }
code { background: #f2f4f8; padding: 0 3px; border-radius: 3px; } footer { color: #6b7280; margin-top: 3em; }
"""

SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (header, column) {
    header.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var ascending = header.dataset.order !== "asc";
      table.querySelectorAll("thead th").forEach(function (h) { delete h.dataset.order; });
      header.dataset.order = ascending ? "asc" : "desc";
      function key(row) {
        var text = row.cells[column] ? row.cells[column].textContent.trim() : "", number = parseFloat(text);
        return isNaN(number) ? text : number;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var order = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (image) { return image.complete && image.naturalWidth > 0; }).length;
  document.body.dataset.imagesLoaded = loaded + "/" + images.length;
  document.body.dataset.imagesOk = String(loaded === images.length);
});
"""


def esc(value: Any) -> str:
    return html.escape("–" if value is None else str(value))


def _inline(text: str) -> str:
    """Escaped text with Markdown `code` spans."""
    parts = text.split("`")
    return "".join(f"<code>{esc(p)}</code>" if i % 2 else esc(p) for i, p in enumerate(parts))


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table(lines: list[str]) -> str:
    header, rows = _cells(lines[0]), [_cells(line) for line in lines[2:]]
    right = [cell.endswith(":") for cell in _cells(lines[1])] if len(lines) > 1 else []
    out = ["<table class=sortable><thead><tr>", *(f"<th>{_inline(h)}</th>" for h in header), "</tr></thead><tbody>"]
    for row in rows:
        cells = (
            f"<td class=num>{_inline(c)}</td>" if i < len(right) and right[i] else f"<td>{_inline(c)}</td>"
            for i, c in enumerate(row)
        )
        out += ["<tr>", *cells, "</tr>"]
    return "".join(out) + "</tbody></table>"


def markdown_to_html(text: str) -> str:
    """The Markdown subset report.py writes: headings, pipe tables, paragraphs with `code` (images are
    embedded separately)."""
    out, table, paragraph = [], [], []

    def flush() -> None:
        if table:
            out.append(_table(table))
            table.clear()
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|"):
            if paragraph:
                flush()
            table.append(stripped)
            continue
        flush()
        if stripped.startswith("#"):
            level = min(4, len(stripped) - len(stripped.lstrip("#")) + 1)
            out.append(f"<h{level}>{_inline(stripped.lstrip('#').strip())}</h{level}>")
        elif stripped and not stripped.startswith("!["):
            paragraph.append(stripped)
    flush()
    return "\n".join(out)


EMBED_AS_PNG = 150_000  # bytes; a larger picture (a grid of noisy images) is embedded as a JPEG


def data_uri(path: Path) -> str:
    """The picture as a data URI: PNG as it is, or, above EMBED_AS_PNG bytes, re-encoded as a JPEG
    where that is smaller (the page stays a few MB; the PNG beside the records keeps every pixel)."""
    data = Path(path).read_bytes()
    if len(data) <= EMBED_AS_PNG:
        return "data:image/png;base64," + base64.b64encode(data).decode()
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(out, format="JPEG", quality=85)
    if out.tell() >= len(data):  # a plot of flat colours: the PNG is the smaller
        return "data:image/png;base64," + base64.b64encode(data).decode()
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


def _versions(versions: dict[str, str] | None) -> str:
    return ", ".join(f"{name} {value}" for name, value in (versions or {}).items()) or "–"


def _precision(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return "not recorded" if value is None else str(value)


def _data_set(manifest: dict[str, Any]) -> str:
    return manifest.get("dataset_label") or dataset_label(manifest.get("dataset", "–"))


PROVENANCE = (
    ("suite", lambda m: m.get("suite")),
    ("scale", lambda m: m.get("scale")),
    ("data set", _data_set),
    ("device", lambda m: m.get("device_name")),
    ("libraries", lambda m: _versions(m.get("versions"))),
    ("precision", lambda m: _precision(m.get("precision"))),
    ("batch-norm evaluation", bn_text),
    ("scored on", scored_text),
    ("code version", lambda m: m.get("code_version")),
    ("config hash", lambda m: m.get("config_hash")),
    ("data verified", lambda m: {True: "yes", False: "no (GTNBENCH_VERIFY=0)"}.get(m.get("data_verified"), "–")),
    ("executor", lambda m: m.get("executor")),
    ("status", lambda m: m.get("status")),
    ("started / finished", lambda m: f"{m.get('started') or '–'} / {m.get('finished') or '–'}"),
)


def provenance_html(runs: Sequence[RunContents]) -> str:
    out = ["<table class=provenance><tbody><tr><th>run</th>", *(f"<td>{esc(r.path.name)}</td>" for r in runs), "</tr>"]
    for label, value in PROVENANCE:
        out += [f"<tr><th>{esc(label)}</th>", *(f"<td>{esc(value(r.manifest))}</td>" for r in runs), "</tr>"]
    return "".join(out) + "</tbody></table>"


def _verdict_class(verdict: str) -> str:
    known = {
        "reproduced": "v-reproduced",
        "not reproduced": "v-not-reproduced",
        "inconclusive": "v-inconclusive",
        "incomplete": "v-incomplete",
    }
    return known.get(verdict, "v-other")


def _baselines(verdict: Any) -> str:
    items = getattr(verdict, "baselines", None) or ()
    lines = []
    for b in items:
        text = f"{getattr(b, 'name', '?')}: {getattr(b, 'value', '–')}"
        comparison = getattr(b, "comparison", "")
        lines.append(esc(text + (f" ({comparison})" if comparison else "")))
    return "<br>".join(lines) or "–"


def verdicts_html(verdicts: Sequence[Any]) -> str:
    """The verdict table; attributes newer than the Verdict contract (judged, threshold, baselines) are optional."""
    if not verdicts:
        return "<p>No claim of the paper bears on these records.</p>"
    columns = [("claim", lambda v: esc(v.claim.id)), ("statement", lambda v: esc(v.claim.statement))]
    if any(getattr(v, "judged", None) for v in verdicts):
        columns.append(("judged", lambda v: esc(getattr(v, "judged", None))))
    columns += [("measured", lambda v: esc(v.measured)), ("claimed", lambda v: esc(v.claimed))]
    if any(getattr(v, "threshold", None) for v in verdicts):
        columns.append(("threshold", lambda v: esc(getattr(v, "threshold", None))))
    if any(getattr(v, "baselines", None) for v in verdicts):
        columns.append(("trivial baselines", _baselines))
    columns += [("scale", lambda v: esc(v.scale)), ("verdict", lambda v: _verdict_span(v.verdict))]
    out = [
        "<table id=verdicts class=sortable><thead><tr>",
        *(f"<th>{name}</th>" for name, _ in columns),
        "</tr></thead><tbody>",
    ]
    for v in verdicts:
        out += ["<tr>", *(f"<td>{cell(v)}</td>" for _, cell in columns), "</tr>"]
    return "".join(out) + "</tbody></table>"


def _verdict_span(word: str) -> str:
    return f"<span class='verdict {_verdict_class(word)}'>{esc(word)}</span>"


def legend_html() -> str:
    items = "".join(f"<dt>{_verdict_span(word)}</dt><dd>{esc(meaning)}</dd>" for word, meaning in LEGEND.items())
    return f"<dl class=legend id=legend>{items}</dl>"


def figure(path: Path, caption: str) -> str:
    return f"<figure><img src='{data_uri(path)}' alt='{esc(caption)}'><figcaption>{esc(caption)}</figcaption></figure>"


def plots_html(files: Iterable[Path]) -> str:
    plots = [Path(f) for f in files if Path(f).suffix == ".png" and Path(f).is_file()]
    return "\n".join(figure(p, PLOT_TITLES.get(p.name, p.stem.replace("_", " "))) for p in plots)


def samples_html(runs: Sequence[RunContents]) -> str:
    figures = []
    for run in runs:
        latest = {r["trial"]: r for r in run.records}.values()
        for record in latest:
            image = (record.get("details") or {}).get("samples") if record.get("status") == "ok" else None
            if image and (run.path / image).is_file():
                figures.append(figure(run.path / image, f"{record['trial']} ({run.path.name})"))
    return f"<div class=samples>{''.join(figures)}</div>" if figures else ""


def links_html(runs: Sequence[RunContents], files: Iterable[Path], out: Path) -> str:
    links = []
    for run in runs:
        for name in (RECORDS, "manifest.json"):
            if (run.path / name).is_file():
                target = os.path.relpath(run.path / name, out)
                links.append(f"<li><a href='{esc(target)}'>{esc(run.path.name)}/{name}</a></li>")
    for file in files:
        file = Path(file)
        if file.suffix in (".csv", ".md", ".tex") and file.is_file():
            links.append(f"<li><a href='{esc(os.path.relpath(file, out))}'>{esc(file.name)}</a></li>")
    return f"<ul>{''.join(links)}</ul>"


def _title(runs: Sequence[RunContents]) -> str:
    parts = dict.fromkeys(f"{m.get('suite')} ({m.get('scale')}) on {_data_set(m)}" for m in (r.manifest for r in runs))
    return "gtnbench report: " + "; ".join(parts)


def render_html(
    runs: Sequence[RunContents], verdicts: Sequence[Any], tables_markdown: str, files: Sequence[Path], out: Path
) -> str:
    sections = [
        f"<header><h1>{esc(_title(runs))}</h1>{provenance_html(runs)}</header>",
        f"<section><h2>Claims</h2>{verdicts_html(verdicts)}{legend_html()}</section>",
        (
            f"<section id=tables><h2>Tables</h2><p>Click a column's header to sort by it.</p>"
            f"{markdown_to_html(tables_markdown)}</section>"
        ),
    ]
    plots = plots_html(files)
    if plots:
        sections.append(f"<section id=plots><h2>Plots</h2>{plots}</section>")
    samples = samples_html(runs)
    if samples:
        sections.append(f"<section id=samples><h2>What the teachers teach</h2>{samples}</section>")
    sections.append(f"<section id=raw><h2>Raw data</h2>{links_html(runs, files, out)}</section>")
    footer = f"<footer>gtnbench {esc(__version__)}, report written {esc(time.strftime('%Y-%m-%d %H:%M %Z'))}</footer>"
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>{esc(_title(runs))}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(sections)
        + footer
        + f"\n<script>{SCRIPT}</script>\n</body></html>\n"
    )


def write_html_report(
    runs: Sequence[RunContents], verdicts: Sequence[Any], tables_markdown: str, files: Sequence[Path], out: Path
) -> Path:
    """Write out/index.html from the report's runs, verdicts, Markdown tables and written files."""
    path = Path(out) / "index.html"
    path.write_text(render_html(runs, verdicts, tables_markdown, files, Path(out)), encoding="utf-8")
    return path
