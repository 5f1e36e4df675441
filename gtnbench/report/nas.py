"""The NAS part of a report: proxy table, scatter plots, the cost/quality frontier, search regret.

Titled with the benchmark the records scored (NAS-Bench-201 or NAS-Bench-Macro), its table and column;
the files are named after its space (nb201_*, macro_*).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from gtnbench.analysis.rankcorr import (
    NasStudy,
    ProxyRow,
    Speedup,
    mean_scores,
    truth_of,
)
from gtnbench.data.names import data_label
from gtnbench.nas.search import BudgetResult
from gtnbench.nas.spaces import SearchSpace, get_space
from gtnbench.nas.table import GroundTruth
from gtnbench.plotting import pyplot, save, style_axis

KS = (5, 10, 20, 50)


def _fmt(value: float, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _seconds(row: ProxyRow) -> str:
    text = "–" if math.isnan(row.seconds) else f"{row.seconds:.3g}"
    return text + (" (est.)" if row.estimated_cost else "")


def proxy_markdown(rows: list[ProxyRow], column: str, table: GroundTruth, space: SearchSpace, dataset: str) -> str:
    out = io.StringIO()
    out.write(
        f"## {space.title} proxies\n\nProxies trained and scored on {dataset}. Ground truth: `{column}` = "
        f"{space.describe_column(column)}; table `{table.source}`, sha256 `{table.sha256[:16]}…`. Scores are "
        "averaged over seeds; intervals are 95 % paired bootstrap over architectures. Spearman top-50 % by "
        "proxy is the statistic of claim C7, whose own figure (each seed's, averaged) is in the Claims "
        "section.\n\n"
    )
    out.write(
        "| proxy | n | Spearman [95 % CI] | over seeds | Kendall | P@10 % | Spearman top-50 % by proxy [CI] | "
        "top-10 % by truth | seconds / arch |\n|---|---:|---|---|---:|---:|---|---:|---:|\n"
    )
    for r in rows:
        m = r.metrics
        out.write(
            f"| {r.name} | {r.n} | {_fmt(m['spearman'])} [{_fmt(r.spearman_ci[0])}, {_fmt(r.spearman_ci[1])}] | "
            f"{_fmt(r.spearman_seeds[0])} ± {_fmt(r.spearman_seeds[1])} | {_fmt(m['kendall'])} | "
            f"{_fmt(m['precision_at_10'])} | {_fmt(m['spearman_top50_by_proxy'])} [{_fmt(r.c7_ci[0])}, "
            f"{_fmt(r.c7_ci[1])}] | {_fmt(m['spearman_top10_by_truth'])} | {_seconds(r)} |\n"
        )
    return out.getvalue() + "\n"


def _needed(value: float, digits: int) -> str:
    return "incomplete" if math.isnan(value) else "∞" if math.isinf(value) else f"{value:.{digits}f}"


def speedup_markdown(found: list[Speedup]) -> str:
    if not found:
        return ""
    out = io.StringIO()
    out.write(
        "### Speed-up against real-data proxies (descriptive)\n\nReal-data steps needed to reach each "
        "proxy's Spearman (of its seed-averaged scores), interpolated in log(steps) on the real-data curve; ∞: "
        "never reached within the measured budgets; incomplete: a NaN on the curve. Point estimates: the "
        "claims (C6-C8) are judged, with intervals, in the Claims section.\n\n| proxy | steps | Spearman | "
        "real steps needed | speed-up (steps) | speed-up (seconds, per evaluation) |\n"
        "|---|---:|---:|---:|---:|---:|\n"
    )
    for s in found:
        out.write(
            f"| {s.proxy} | {s.steps} | {_fmt(s.spearman)} | {_needed(s.real_steps_needed, 0)} | "
            f"{_needed(s.factor, 2)} | {_needed(s.seconds_factor, 2)} |\n"
        )
    return out.getvalue() + "\n"


def rows_csv(rows: list[ProxyRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    keys = sorted(rows[0].metrics) if rows else []
    writer.writerow(
        [
            "proxy",
            "method",
            "teacher",
            "steps",
            "n",
            *keys,
            "spearman_ci_low",
            "spearman_ci_high",
            "c7_ci_low",
            "c7_ci_high",
            "seconds_per_arch",
            "cost_estimated",
        ]
    )
    for r in rows:
        writer.writerow(
            [
                r.name,
                r.method,
                r.teacher or "",
                r.steps or "",
                r.n,
                *(f"{r.metrics[k]:.6g}" for k in keys),
                *(f"{v:.6g}" for v in (*r.spearman_ci, *r.c7_ci, r.seconds)),
                r.estimated_cost,
            ]
        )
    return out.getvalue()


def plot_scatter(proxies, rows: list[ProxyRow], table: GroundTruth, column: str, path: Path) -> None:
    """Proxy score vs ground truth, one panel per proxy (train-based proxies at their largest budget)."""
    plt = pyplot()
    largest = {}
    for r in rows:
        key = r.method if r.teacher else r.name
        if key not in largest or (r.steps or 0) > (largest[key].steps or 0):
            largest[key] = r
    shown = list(largest.values())
    cols = min(4, len(shown))
    lines = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(lines, cols, figsize=(3.6 * cols, 3.2 * lines), squeeze=False)
    for axis, row in zip(axes.flat, shown):
        scores = mean_scores(proxies[row.name])
        archs = list(scores)
        axis.scatter(truth_of(table, column, archs), [scores[a] for a in archs], s=6, alpha=0.6)
        axis.set_title(f"{row.name}: ρ={_fmt(row.metrics['spearman'], 2)}", fontsize=9)
        axis.set_xlabel("ground truth (%)", fontsize=8)
        axis.set_ylabel("proxy score", fontsize=8)
        if row.name.endswith(("synflow", "params", "flops")):
            axis.set_yscale("log")
    for axis in list(axes.flat)[len(shown) :]:
        axis.axis("off")
    save(fig, path, dpi=110)


def plot_frontier(rows: list[ProxyRow], path: Path) -> None:
    """Spearman (95 % CI) against seconds per architecture: the speed/quality frontier."""
    plt = pyplot()
    fig, axis = plt.subplots(figsize=(6.8, 4.6))
    by_method: dict[str, list[ProxyRow]] = {}
    for r in rows:
        by_method.setdefault(r.method if r.teacher else r.name, []).append(r)
    for label, members in by_method.items():
        members = [m for m in sorted(members, key=lambda m: m.steps or 0) if not math.isnan(m.seconds)]
        if not members:
            continue
        xs = [m.seconds for m in members]
        ys = [m.metrics["spearman"] for m in members]
        err = np.array([[y - m.spearman_ci[0], m.spearman_ci[1] - y] for y, m in zip(ys, members)]).T
        axis.errorbar(
            xs,
            ys,
            yerr=err,
            marker="o",
            capsize=3,
            label=label + (" (est. cost)" if members[0].estimated_cost else ""),
            linestyle="-" if len(members) > 1 else "none",
        )
        for m in members:
            if m.steps and m.teacher:
                axis.annotate(
                    str(m.steps),
                    (m.seconds, m.metrics["spearman"]),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
    style_axis(axis, "seconds per architecture", "Spearman with ground truth", log_x=True, legend_size=7)
    save(fig, path)


def plot_search(budgets: list[float], results: dict[str, list[BudgetResult]], path: Path) -> None:
    """Regret (best architecture minus the chosen one's ground truth) of proxy-guided random search vs budget."""
    plt = pyplot()
    fig, axis = plt.subplots(figsize=(6.8, 4.6))
    for name, curve in results.items():
        points = [(b.budget_seconds, b.regret.mean, b.regret.std) for b in curve if b.n_evaluated > 0]
        if points:
            xs, ys, sd = zip(*points)
            axis.plot(xs, ys, marker=".", label=name)
            axis.fill_between(xs, np.array(ys) - sd, np.array(ys) + sd, alpha=0.12)
    style_axis(
        axis, "search budget (seconds of proxy evaluation)", "regret (percentage points)", log_x=True, legend_size=7
    )
    save(fig, path)


def search_markdown(budgets: list[float], results: dict[str, list[BudgetResult]]) -> str:
    if not results:
        return ""
    shown = [0, len(budgets) // 2, len(budgets) - 1]
    out = io.StringIO()
    out.write(
        "### Proxy-guided random search at equal budgets (descriptive)\n\nMean ground truth of the chosen "
        "architecture (regret) at equal budgets of proxy evaluation, over the search seeds, meta-training not "
        "counted. Claim C8 (the compute to come within 0.5 points of the best real-data-guided search, end to "
        "end) is judged in the Claims section.\n\n| proxy | "
        + " | ".join(f"{budgets[i]:.3g} s" for i in shown)
        + " |\n|---|"
        + "---:|" * len(shown)
        + "\n"
    )
    for name, curve in results.items():
        cells = [f"{_fmt(curve[i].accuracy.mean, 2)} ({_fmt(curve[i].regret.mean, 2)})" for i in shown]
        out.write(f"| {name} | " + " | ".join(cells) + " |\n")
    return out.getvalue() + "\n"


def nas_markdown(study: NasStudy | None, records: list[dict]) -> str:
    """The NAS part of a report's Markdown (empty when the records have none), on the table of the records'
    search space (its best architecture is search regret's zero)."""
    if study is None:
        return ""
    nas = [r for r in records if r["kind"].startswith("nb201")]
    return (
        proxy_markdown(study.rows, study.column, study.table, get_space(study.space), data_label(nas))
        + speedup_markdown(study.speedups)
        + search_markdown(study.budgets, study.searches)
    )


def write_nas_files(study: NasStudy | None, out: Path) -> list[Path]:
    """The NAS part's table (CSV) and plots, named after the search space (nb201_*, macro_*)."""
    if study is None:
        return []
    prefix = get_space(study.space).name
    files = [out / f"{prefix}_proxies.csv", out / f"{prefix}_scatter.png", out / f"{prefix}_frontier.png"]
    files[0].write_text(rows_csv(study.rows))
    plot_scatter(study.proxies, study.rows, study.table, study.column, files[1])
    plot_frontier(study.rows, files[2])
    if study.searches:
        files.append(out / f"{prefix}_search.png")
        plot_search(study.budgets, study.searches, files[-1])
    return files
