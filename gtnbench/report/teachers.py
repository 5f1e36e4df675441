"""The small-set teachers side by side (pure rows; the plot renders them apart): per method, what its set is,
its label regime, what making it cost (seconds on the device it was made on, FLOPs where torch counted
them) and its test accuracy with an interval over seeds under each protocol of [set_evaluation]: (a)
equal steps with the GTN, (b) the tuned recipe, (b) the reference recipe; beside the GTN and the tuned
real-data learner at the same steps. A random real subset costs nothing: it is the zero-cost reference,
and a set whose mean accuracy is below the random subset of the same size under a protocol is flagged
in its row and in a column of its own. The plot shows accuracy against construction cost."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gtnbench.analysis.intervals import mean_interval
from gtnbench.data.names import dataset_label
from gtnbench.suite.methods import SET_KINDS

Record = dict[str, Any]
PROTOCOLS = ("equal-steps", "own-recipe", "reference")
PROTOCOL_HEADERS = {"equal-steps": "(a) equal steps", "own-recipe": "(b) tuned", "reference": "(b) reference"}
BELOW = "▼"  # marks an accuracy below the random subset of the same size under the same protocol
PLOT_FILE = "teachers_cost_accuracy.png"


@dataclass
class SetRow:
    """One small-set method of one run group: what its set is and its accuracies per protocol."""

    method: str
    kind: str
    what: str
    images: int | None
    per_class: str
    classes: int
    labels: str
    seconds: list[float] = field(default_factory=list)  # construction seconds per seed (None: not known)
    flops: list[float] = field(default_factory=list)
    cost_note: str = ""
    accuracy: dict[str, list[float]] = field(default_factory=dict)  # protocol -> test accuracy per seed
    chosen: dict[str, str] = field(default_factory=dict)
    below: list[str] = field(default_factory=list)  # protocols where it is below its random subset
    subset: str | None = None  # the random subset of the same size


def _test_accuracies(records: list[Record]) -> list[float]:
    return [r["metrics"]["test_acc"] for r in records if "test_acc" in r["metrics"]]


def mean_text(values: list[float], scale: float = 100.0, digits: int = 2) -> str:
    """'97.12 [96.80, 97.44]' (a t interval over seeds), '97.12 (1 seed)', or '–'."""
    if not values:
        return "–"
    interval = mean_interval(values)
    head = f"{scale * interval.value:.{digits}f}"
    if math.isnan(interval.low):
        return f"{head} (1 seed)"
    return f"{head} [{scale * interval.low:.{digits}f}, {scale * interval.high:.{digits}f}]"


def _chosen(records: list[Record]) -> str:
    chosen = sorted(
        {
            (c["lr"], c["momentum"], c["schedule"])
            for c in (r["details"]["chosen"] for r in records if "chosen" in r.get("details", {}))
        }
    )
    return "; ".join(f"lr {lr:g}, m {m:g}, {s}" for lr, m, s in chosen) or "–"


def _set_text(records: list[Record]) -> tuple[str, int | None, str, int, str]:
    """What the set is (its making method), its images, per class, its classes and its label regime."""
    sets = [r["details"]["set"] for r in records if "set" in r.get("details", {})]
    if not sets:
        return "–", None, "–", 0, "–"
    counts = sorted({c for s in sets for c in s["per_class"]})
    per_class = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    dsa = any(r["details"].get("set_config", {}).get("dsa") for r in records if r["kind"] == "dc")
    made = next((r for r in records if "made" in r.get("details", {})), None)
    declared = ((made or {}).get("details", {}).get("made", {}) or {}).get("declared", {})
    what = sets[0]["method"] + (" (DSA)" if dsa else "") + (f": {declared['method']}" if declared.get("method") else "")
    return what, sets[0]["images"], per_class, len(sets[0]["per_class"]), sets[0].get("labels", "hard")


def _gtn_meta_seconds(group: list[Record], record: Record) -> float | None:
    """A gtn-set's GTN's meta-training seconds (its gtn trial of the same seed), if in the group."""
    gtn = record["details"].get("set_config", {}).get("gtn")
    found = [
        r["metrics"].get("meta_seconds")
        for r in group
        if r["method"] == gtn and r["seed"] == record["seed"] and r["kind"] == "gtn"
    ]
    return found[0] if found and found[0] is not None else None


def _costs(group: list[Record], records: list[Record]) -> tuple[list[float], list[float], str]:
    """Construction seconds and FLOPs per seed, and a note on what they count."""
    seconds, flops, notes = [], [], set()
    for r in records:
        cost = r.get("details", {}).get("cost")
        if cost is None and "make_seconds" in r.get("metrics", {}):  # recorded before costs were: seconds only
            cost = {"source": "made here", "seconds": r["metrics"]["make_seconds"], "flops": None}
        if cost is None:
            continue
        value = cost.get("seconds")
        if r["kind"] == "gtn-set" and value is not None:
            meta = _gtn_meta_seconds(group, r)
            value = value + meta if meta is not None else None
            notes.add("with the GTN's meta-training" if meta is not None else "GTN's meta-training not in these runs")
        if cost.get("source") != "made here":
            notes.add(cost.get("source", ""))
        if value is not None:
            seconds.append(value)
        if cost.get("flops") is not None:
            flops.append(cost["flops"])
    return seconds, flops, "; ".join(sorted(n for n in notes if n))


def set_rows(group: list[Record]) -> list[SetRow]:
    """The small-set methods of one suite/scale/data set group, with the random subset of the same size
    beside each (the nearest in images, at most one per class apart: a learned set has as many images in
    every class, a subset of the same total may not) and the protocols where they fall below it (by mean)."""
    by_method: dict[str, list[Record]] = defaultdict(list)
    for r in group:
        if r["kind"] in SET_KINDS:
            by_method[r["method"]].append(r)
    rows = []
    for method, records in by_method.items():
        what, images, per_class, classes, labels = _set_text(records)
        seconds, flops, note = _costs(group, records)
        row = SetRow(method, records[0]["kind"], what, images, per_class, classes, labels, seconds, flops, note)
        for protocol in PROTOCOLS:
            chosen = [r for r in records if r["details"].get("protocol") == protocol]
            if chosen:
                row.accuracy[protocol] = _test_accuracies(chosen)
                row.chosen[protocol] = _chosen(chosen)
        rows.append(row)
    subsets = [row for row in rows if row.kind == "subset" and row.images is not None]
    for row in rows:
        if row.kind == "subset" or row.images is None:
            continue
        distances = [(abs(s.images - row.images), s.method) for s in subsets]
        same = sorted(d for d in distances if d[0] <= row.classes)
        if not same:
            continue
        row.subset = same[0][1]
        same = [s for s in subsets if s.method == row.subset]
        for protocol, values in row.accuracy.items():
            reference = same[0].accuracy.get(protocol)
            if values and reference and sum(values) / len(values) < sum(reference) / len(reference):
                row.below.append(protocol)
    return rows


def _references(group: list[Record], steps: set[int], columns: list[str]) -> list[str]:
    """Rows for the GTN and the tuned real-data learner at the equal-steps budget."""
    rows = []
    by_method: dict[str, list[Record]] = defaultdict(list)
    for r in group:
        if r["kind"] in ("gtn", "real") and r["budget"].get("steps") in steps:
            by_method[r["method"]].append(r)
    for method, records in by_method.items():
        kind = records[0]["kind"]
        what = "its own lesson, learned step sizes" if kind == "gtn" else "real data, tuned"
        label = f"{records[0]['budget']['steps']} steps"
        scores = [f"{mean_text(_test_accuracies(records))} ({label})" if c == "equal-steps" else "–" for c in columns]
        cost = mean_text([r["metrics"]["meta_seconds"] for r in records if "meta_seconds" in r["metrics"]], 1.0, 1)
        rows.append(
            f"| {method} | {kind} | {what} | hard | – | {cost if kind == 'gtn' else '0'} | – | "
            f"{' | '.join(scores)} | – | {_chosen(records)} |"
        )
    return rows


def protocol_text(details: dict[str, Any]) -> str:
    """The protocol as configured (the batch of a set smaller than it is the whole set)."""
    config = details.get("protocol_config", {})
    if details["protocol"] == "equal-steps":
        return (
            f"(a) equal steps: {config.get('steps')} steps in batches of {config.get('batch_size')}, as on the "
            "GTN's lesson"
        )
    if details["protocol"] == "reference":
        learner = config.get("learner", {})
        widths = "-".join(str(w) for w in learner.get("widths") or ()) or "reference widths"
        augment = config.get("augment")
        augment = (
            "the reference's per set: DSA for DM and DSA sets, else crop-scale-rotate on MNIST and none on CIFAR-10"
            if augment == "auto"
            else augment
        )
        epochs = "1,000 with augmentation, 300 without" if config.get("epochs") == "auto" else config.get("epochs")
        return (
            f"(b) reference: the DC/DM reference evaluation, nothing tuned (its {learner.get('name', 'convnet')} "
            f"at {widths}; epochs {epochs}; augmentation {augment}; weight decay {config.get('weight_decay')}; "
            f"lr {config.get('lr')} / 10 at half)"
        )
    return f"(b) tuned: {config.get('epochs')} epochs over the set in batches of {config.get('batch_size')}"


def _flops_text(values: list[float]) -> str:
    if not values:
        return "–"
    mean = sum(values) / len(values)
    return "0" if mean == 0 else f"{mean:.2e}"


def _groups(records: Iterable[Record]) -> dict[tuple[str, str, str], list[Record]]:
    groups: dict[tuple[str, str, str], list[Record]] = defaultdict(list)
    for r in records:
        if r["status"] == "ok":
            groups[(r["suite"], r["scale"], r["dataset"])].append(r)
    return groups


def small_sets_markdown(records: Iterable[Record]) -> str:
    """Per suite, scale and data set: one row per small-set method, the equal-steps references below."""
    out = io.StringIO()
    for (suite, scale, dataset), group in _groups(records).items():
        rows = set_rows(group)
        if not rows:
            continue
        sets = [r for r in group if r["kind"] in SET_KINDS]
        labels = {r["details"]["protocol"]: protocol_text(r["details"]) for r in sets}
        columns = [p for p in PROTOCOLS if p in labels]
        out.write(f"## Small-set teachers: {suite} ({scale}) on {dataset_label(dataset)}\n\n")
        out.write(
            "Test accuracy (%), mean [95 % t interval over seeds]. "
            + " ".join(f"{labels[c]}." for c in columns)
            + " Made in: construction seconds on the recorded device (and FLOPs counted by torch); a random "
            f"subset is the zero-cost reference, and {BELOW} marks a set below the random subset of the same "
            "size under that protocol.\n\n"
        )
        headers = [PROTOCOL_HEADERS[c] for c in columns]
        out.write(
            f"| method | kind | set | labels | images | made in (s) | FLOPs | {' | '.join(headers)} | "
            f"below random | chosen |\n|---|---|---|---|---:|---:|---:|{'---:|' * len(columns)}---|---|\n"
        )
        for row in rows:
            size = f"{row.images} ({row.per_class}/class)" if row.images is not None else "–"
            made = mean_text(row.seconds, 1.0, 1) if row.seconds else ("0" if row.kind == "subset" else "–")
            if row.cost_note:
                made += f" ({row.cost_note})"
            scores = [mean_text(row.accuracy.get(c, [])) + (f" {BELOW}" if c in row.below else "") for c in columns]
            below = (
                f"{BELOW} {', '.join(PROTOCOL_HEADERS[c] for c in row.below)} (vs {row.subset})"
                if row.below
                else ("no" if row.subset else "–")
            )
            chosen = "; ".join(
                f"{PROTOCOL_HEADERS[c][:3]} {row.chosen[c]}" for c in columns if c != "reference" and c in row.chosen
            )
            out.write(
                f"| {row.method} | {row.kind} | {row.what} | {row.labels} | {size} | {made} | "
                f"{_flops_text(row.flops)} | {' | '.join(scores)} | {below} | {chosen or '–'} |\n"
            )
        steps = {r["budget"]["steps"] for r in sets if "steps" in r["budget"]}
        for line in _references(group, steps, columns):
            out.write(line + "\n")
        out.write("\n")
    return out.getvalue()


def plot_cost_accuracy(records: Iterable[Record], path: Path) -> bool:
    """Test accuracy against construction seconds, one panel per protocol (and per run group), random subsets
    at zero cost with a dashed line at their accuracy; False (nothing written) when there are no sets."""
    from gtnbench.plotting import pyplot, save

    panels = []
    for (suite, scale, dataset), group in _groups(records).items():
        rows = set_rows(group)
        for protocol in PROTOCOLS:
            points = [(row, row.accuracy[protocol]) for row in rows if row.accuracy.get(protocol)]
            if points:
                title = f"{suite} ({scale}), {dataset_label(dataset)}: {PROTOCOL_HEADERS[protocol]}"
                panels.append((title, protocol, points))
    if not panels:
        return False
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.5), squeeze=False)
    markers = {"subset": "s", "coreset": "D", "dm": "o", "dc": "^", "gtn-set": "*", "file": "P"}
    for axis, (title, protocol, points) in zip(axes[0], panels):
        for row, values in points:
            interval = mean_interval(values)
            seconds = 0.0 if row.kind == "subset" else (sum(row.seconds) / len(row.seconds) if row.seconds else None)
            if seconds is None:
                continue
            low = 0.0 if math.isnan(interval.low) else interval.value - interval.low
            high = 0.0 if math.isnan(interval.high) else interval.high - interval.value
            drawn = axis.errorbar(
                [seconds],
                [100 * interval.value],
                yerr=[[100 * low], [100 * high]],
                marker=markers.get(row.kind, "o"),
                linestyle="none",
                capsize=3,
                label=f"{row.method}{' ' + BELOW if protocol in row.below else ''}",
            )
            if row.kind == "subset":
                axis.axhline(100 * interval.value, color=drawn[0].get_color(), linestyle="--", linewidth=0.8, alpha=0.6)
        axis.set_xscale("symlog", linthresh=1.0)
        axis.set_title(title, fontsize=9)
        axis.set_xlabel("construction cost (s; random subsets: 0)")
        axis.set_ylabel("test accuracy (%)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=6, ncol=2)
    save(fig, path)
    return True


def write_teachers_plots(records: list[Record], out: Path) -> list[Path]:
    """The accuracy-against-cost plot in `out`, if the records hold small sets."""
    path = Path(out) / PLOT_FILE
    return [path] if plot_cost_accuracy(records, path) else []
