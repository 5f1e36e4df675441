"""Tables (Markdown, CSV, LaTeX) and plots from stored runs."""

from __future__ import annotations

import csv
import io
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from gtnbench.analysis.rankcorr import NasStudy, nas_study
from gtnbench.analysis.records import Cell, bn_text, cells, latest_records, scored_text
from gtnbench.claims import verdicts_of
from gtnbench.claims.render import verdict_markdown
from gtnbench.claims.verdicts import Verdict
from gtnbench.data.names import dataset_label
from gtnbench.plotting import pyplot, save, style_axis
from gtnbench.report.html import write_html_report
from gtnbench.report.nas import nas_markdown, write_nas_files
from gtnbench.report.teachers import small_sets_markdown, write_teachers_plots
from gtnbench.store import RunContents
from gtnbench.suite.config import nas_table
from gtnbench.suite.methods import SET_KINDS

METRIC_TITLES = {"test_acc": "test acc (%)", "val_acc": "val acc (%)", "train_seconds": "train time (s)"}


@dataclass
class Report:
    files: list[Path]
    markdown: str


def _group(table: list[Cell]) -> dict[tuple[str, str, str], list[Cell]]:
    groups: dict[tuple[str, str, str], list[Cell]] = defaultdict(list)
    for cell in table:
        groups[(cell.suite, cell.scale, cell.dataset)].append(cell)
    return groups


def mean_std_text(summary: tuple[float, float, int], scale: float = 100.0, digits: int = 2) -> str:
    """'98.12 ± 0.05' (accuracies in percent by default), or '98.12' for a single seed, or '–' for none."""
    mean, std, n = summary
    if n == 0 or math.isnan(mean):
        return "–"
    if n == 1:
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def _value(cell: Cell, metric: str) -> str:
    if metric.endswith("seconds"):
        return mean_std_text(cell.summary(metric), scale=1.0, digits=3)
    return mean_std_text(cell.summary(metric))


def markdown_tables(table: list[Cell]) -> str:
    """Per suite/scale/dataset: a long table (every cell) and a method x budget pivot of test accuracy."""
    out = io.StringIO()
    for (suite, scale, dataset), group in _group(table).items():
        out.write(f"## {suite} ({scale}) on {dataset_label(dataset)}\n\n")
        out.write("| method | budget | steps | seeds | failed | test acc (%) | val acc (%) | train time (s) |\n")
        out.write("|---|---|---:|---:|---:|---:|---:|---:|\n")
        for c in group:
            out.write(
                f"| {c.method} | {c.budget} | {c.steps} | {c.seeds} | {c.failed} | {_value(c, 'test_acc')} | "
                f"{_value(c, 'val_acc')} | {_value(c, 'train_seconds')} |\n"
            )
        pivot = [c for c in group if c.kind not in SET_KINDS]  # the small sets have a table of their own
        if not pivot:
            out.write("\n")
            continue
        steps = sorted({c.steps for c in pivot})
        methods = list(dict.fromkeys(c.method for c in pivot))
        by_key = {(c.method, c.steps): c for c in pivot}
        out.write("\nTest accuracy (%), mean ± std over seeds, by training steps:\n\n")
        out.write("| method | " + " | ".join(str(s) for s in steps) + " |\n")
        out.write("|---|" + "---:|" * len(steps) + "\n")
        for method in methods:
            row = [_value(by_key[(method, s)], "test_acc") if (method, s) in by_key else "" for s in steps]
            out.write(f"| {method} | " + " | ".join(row) + " |\n")
        out.write("\n")
    return out.getvalue()


def csv_table(table: list[Cell]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    metrics = sorted({m for c in table for m in c.values})
    writer.writerow(
        [
            "suite",
            "scale",
            "dataset",
            "dataset_label",
            "method",
            "kind",
            "budget",
            "steps",
            "seeds",
            "failed",
            *(f"{m}_{s}" for m in metrics for s in ("mean", "std")),
        ]
    )
    for c in table:
        writer.writerow(
            [
                c.suite,
                c.scale,
                c.dataset,
                dataset_label(c.dataset),
                c.method,
                c.kind,
                c.budget,
                c.steps,
                c.seeds,
                c.failed,
                *(f"{v:.6g}" for m in metrics for v in (c.mean(m), c.std(m))),
            ]
        )
    return out.getvalue()


def latex_table(table: list[Cell]) -> str:
    """A booktabs table of test accuracy, method x steps, one per suite/scale/dataset."""
    out = io.StringIO()
    for (suite, scale, dataset), group in _group(table).items():
        steps = sorted({c.steps for c in group})
        by_key = {(c.method, c.steps): c for c in group}
        out.write(f"% {suite} ({scale}) on {dataset_label(dataset)}: test accuracy (%), mean $\\pm$ std over seeds\n")
        out.write("\\begin{tabular}{l" + "r" * len(steps) + "}\n\\toprule\n")
        out.write("method & " + " & ".join(str(s) for s in steps) + " \\\\\n\\midrule\n")
        for method in dict.fromkeys(c.method for c in group):
            row = [
                _value(by_key[(method, s)], "test_acc").replace("±", "$\\pm$") if (method, s) in by_key else ""
                for s in steps
            ]
            out.write(method.replace("_", "\\_") + " & " + " & ".join(row) + " \\\\\n")
        out.write("\\bottomrule\n\\end{tabular}\n\n")
    return out.getvalue()


def plot_accuracy_vs_steps(table: list[Cell], path: Path) -> None:
    """Final test accuracy vs training steps per method (markers, mean ± std over seeds), and within-run
    curves (dashed: accuracy after t steps of one training run, e.g. of a GTN-taught learner)."""
    plt = pyplot()
    groups = _group(table)
    fig, axes = plt.subplots(1, len(groups), figsize=(6.4 * len(groups), 4.4), squeeze=False)
    for axis, ((suite, scale, dataset), group) in zip(axes[0], groups.items()):
        for method in dict.fromkeys(c.method for c in group):
            members = [c for c in group if c.method == method]
            points = [c for c in members if c.values.get("test_acc")]
            if points:
                line = axis.errorbar(
                    [c.steps for c in points],
                    [100 * c.mean("test_acc") for c in points],
                    yerr=[100 * c.std("test_acc") for c in points],
                    marker="o",
                    capsize=3,
                    label=method,
                )
                colour = line[0].get_color()
            for cell in members:
                if len(cell.curve) > 1:
                    axis.plot(
                        [p[0] for p in cell.curve],
                        [100 * p[1] for p in cell.curve],
                        "--",
                        alpha=0.6,
                        color=colour if points else None,
                    )
        axis.set_title(f"{suite} ({scale}), {dataset_label(dataset)}")
        style_axis(axis, "training steps (dashed: within one run)", "test accuracy (%)", log_x=2)
    save(fig, path)


def plot_meta_training(table: list[Cell], path: Path) -> None:
    """GTN meta-training: validation accuracy of fresh learners trained on the GTN vs outer iteration."""
    plt = pyplot()
    groups = {k: [c for c in g if c.meta_curve] for k, g in _group(table).items()}
    groups = {k: g for k, g in groups.items() if g}
    fig, axes = plt.subplots(1, len(groups), figsize=(6.4 * len(groups), 4.4), squeeze=False)
    for axis, ((suite, scale, dataset), group) in zip(axes[0], groups.items()):
        for cell in group:
            xs = [p[0] for p in cell.meta_curve]
            ys = [100 * p[1] for p in cell.meta_curve]
            sd = [100 * p[2] for p in cell.meta_curve]
            axis.plot(xs, ys, label=f"{cell.method} (n={cell.seeds})")
            axis.fill_between(xs, [y - e for y, e in zip(ys, sd)], [y + e for y, e in zip(ys, sd)], alpha=0.2)
        axis.set_title(f"{suite} ({scale}), {dataset_label(dataset)}: meta-training")
        style_axis(axis, "outer iteration", "validation accuracy after T inner steps (%)")
    save(fig, path)


GTN_COLUMNS = (
    ("untrained_test_acc", "untrained GTN test (%)", 100.0, 2),
    ("outer_iteration_seconds", "outer iteration (ms)", 1000.0, 1),
    ("meta_seconds", "meta-training (s)", 1.0, 1),
    ("learner_train_seconds", "learner training (ms)", 1000.0, 1),
    ("peak_memory_mb", "peak memory (MiB)", 1.0, 0),
)


def gtn_markdown(table: list[Cell], records: list[dict]) -> str:
    """Meta-training costs per GTN method, and transfer to other learners."""
    gtn = [c for c in table if c.kind == "gtn"]
    if not gtn:
        return ""
    out = io.StringIO()
    out.write("## GTN meta-training\n\n| method | steps | test (%) | " + " | ".join(t for _, t, _, _ in GTN_COLUMNS))
    out.write(" |\n|---|---:|---:|" + "---:|" * len(GTN_COLUMNS) + "\n")
    for c in gtn:
        row = [mean_std_text(c.summary(m), scale, digits) for m, _, scale, digits in GTN_COLUMNS]
        out.write(f"| {c.method} | {c.steps} | {_value(c, 'test_acc')} | " + " | ".join(row) + " |\n")
    transfer = [(r, t) for r in records if r["status"] == "ok" for t in r.get("details", {}).get("transfer", [])]
    if transfer:
        out.write("\n### Transfer to other learners (test accuracy after T steps, %)\n\n")
        out.write("| method | seed | learner widths | on GTN data | on real data (tuned) |\n|---|---:|---|---:|---:|\n")
        for r, t in transfer:
            out.write(
                f"| {r['method']} | {r['seed']} | {t['widths']} | {100 * t['gtn_test_acc']:.2f} | "
                f"{100 * t['real_test_acc']:.2f} |\n"
            )
    return out.getvalue() + "\n"


def samples_markdown(runs: list[RunContents], out: Path) -> str:
    """Links to each GTN trial's sample grid (stored in the run directory, relative to it)."""
    lines = []
    for run in runs:
        for record in run.records:
            image = record.get("details", {}).get("samples") if record["status"] == "ok" else None
            if image:
                lines.append(f"![{record['trial']}]({os.path.relpath(run.path / image, out)})")
    return "## What the teachers teach\n\n" + "\n\n".join(lines) + "\n\n" if lines else ""


def runs_header(runs: list[RunContents]) -> str:
    lines = [
        "# gtnbench report\n",
        "| run | suite | scale | data | scored on | device | code | torch | batch-norm evaluation | status |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        m = run.manifest
        lines.append(
            f"| {run.path.name} | {m['suite']} | {m['scale']} | {dataset_label(m['dataset'])} | "
            f"{scored_text(m)} | {m['device_name']} | {m['code_version']} | {m['versions']['torch']} | {bn_text(m)} | "
            f"{m['status']} |"
        )
    return "\n".join(lines) + "\n\n"


@dataclass(frozen=True)
class ReportText:
    """A report's tables as text, computed from the runs (no file written): what `write_report` writes, and what
    tests/test_committed.py compares with the committed reports byte for byte."""

    markdown: str  # summary.md
    csv: str  # summary.csv
    tex: str  # summary.tex
    table: list[Cell]
    verdicts: list[Verdict]
    teachers: str
    nas: str
    study: NasStudy | None


def report_text(runs: list[RunContents], out: Path) -> ReportText:
    """Everything textual of a report written to `out` (its image links are relative to it)."""
    records = latest_records(runs)
    table = cells(r for r in records if not r["kind"].startswith("nb201"))
    verdicts = verdicts_of(records, [run.manifest["config"] for run in runs])
    nas = next((nas_table(run.manifest["config"]) for run in runs if nas_table(run.manifest["config"])), None)
    study = nas_study(records, nas["ground_truth"], nas["search_seeds"], nas["bootstrap"]) if nas else None
    nas_text = nas_markdown(study, records)
    teachers = gtn_markdown(table, records) + small_sets_markdown(records)
    markdown = (
        runs_header(runs)
        + markdown_tables(table)
        + teachers
        + samples_markdown(runs, out)
        + nas_text
        + verdict_markdown(verdicts)
    )
    return ReportText(markdown, csv_table(table), latex_table(table), table, verdicts, teachers, nas_text, study)


def write_report(runs: list[RunContents], out: Path) -> Report:
    out.mkdir(parents=True, exist_ok=True)
    text = report_text(runs, out)
    written = write_nas_files(text.study, out)
    for name, content in (("summary.md", text.markdown), ("summary.csv", text.csv), ("summary.tex", text.tex)):
        (out / name).write_text(content)
        written.append(out / name)
    if any(c.values.get("test_acc") for c in text.table):
        plot_accuracy_vs_steps(text.table, out / "accuracy_vs_steps.png")
        written.append(out / "accuracy_vs_steps.png")
    if any(c.meta_curve for c in text.table):
        plot_meta_training(text.table, out / "meta_training.png")
        written.append(out / "meta_training.png")
    written += write_teachers_plots(latest_records(runs), out)
    pages = markdown_tables(text.table) + text.teachers + text.nas
    written.append(write_html_report(runs, text.verdicts, pages, written, out))
    return Report(written, text.markdown)
