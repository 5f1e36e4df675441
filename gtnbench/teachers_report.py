"""The small-set teachers side by side (pure; no torch): per method, what its set is and its test accuracy
under protocol (a), equal steps with the GTN, and (b), the method's own recipe, beside the GTN and the
tuned real-data learner at the same steps."""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any, Iterable

from gtnbench.data.names import dataset_label
from gtnbench.metrics import format_mean_std
from gtnbench.suite import SET_KINDS

Record = dict[str, Any]


def _accuracy(records: list[Record]) -> str:
    return format_mean_std([r["metrics"]["test_acc"] for r in records if "test_acc" in r["metrics"]])


def _chosen(records: list[Record]) -> str:
    chosen = sorted({(c["lr"], c["momentum"], c["schedule"]) for c in
                     (r["details"]["chosen"] for r in records if "chosen" in r.get("details", {}))})  # fmt: skip
    return "; ".join(f"lr {lr:g}, m {m:g}, {s}" for lr, m, s in chosen) or "–"


def _set_text(records: list[Record]) -> tuple[str, str]:
    """What the set is (its making method) and its size (images, per class)."""
    sets = [r["details"]["set"] for r in records if "set" in r.get("details", {})]
    if not sets:
        return "–", "–"
    counts = sorted({c for s in sets for c in s["per_class"]})
    per_class = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    dsa = any(r["details"].get("set_config", {}).get("dsa") for r in records if r["kind"] == "dc")
    return sets[0]["method"] + (" (DSA)" if dsa else ""), f"{sets[0]['images']} ({per_class}/class)"


def _made_in(records: list[Record]) -> str:
    seconds = [r["metrics"]["make_seconds"] for r in records if "make_seconds" in r["metrics"]]
    sources = {r["details"].get("source") for r in records if "make_seconds" in r["metrics"]}
    if sources == {"checkpoint"}:
        return "loaded"
    return format_mean_std(seconds, scale=1.0, digits=1)


def _references(group: list[Record], steps: set[int]) -> list[str]:
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
        rows.append(f"| {method} | {kind} | {what} | – | – | {_accuracy(records)} ({label}) | – | {_chosen(records)} "
                    "| – |")  # fmt: skip
    return rows


def protocol_text(details: dict[str, Any]) -> str:
    """The protocol as configured (the batch of a set smaller than it is the whole set)."""
    config = details.get("protocol_config", {})
    if details["protocol"] == "equal-steps":
        return (f"(a) equal steps: {config.get('steps')} steps in batches of {config.get('batch_size')}, as on the "
                "GTN's lesson")  # fmt: skip
    return f"(b) own recipe: {config.get('epochs')} epochs over the set in batches of {config.get('batch_size')}"


def small_sets_markdown(records: Iterable[Record]) -> str:
    """Per suite, scale and data set: one row per small-set method, the equal-steps references below."""
    ok = [r for r in records if r["status"] == "ok"]
    groups: dict[tuple[str, str, str], list[Record]] = defaultdict(list)
    for r in ok:
        groups[(r["suite"], r["scale"], r["dataset"])].append(r)
    out = io.StringIO()
    for (suite, scale, dataset), group in groups.items():
        sets = [r for r in group if r["kind"] in SET_KINDS]
        if not sets:
            continue
        by_method: dict[str, list[Record]] = defaultdict(list)
        for r in sets:
            by_method[r["method"]].append(r)
        labels = {r["details"]["protocol"]: protocol_text(r["details"]) for r in sets}
        out.write(f"## Small-set teachers: {suite} ({scale}) on {dataset_label(dataset)}\n\n")
        out.write("Test accuracy (%), mean ± std over seeds; every configuration tuned on the validation split. "
                  + " ".join(f"{label}." for label in labels.values()) + "\n\n")  # fmt: skip
        out.write("| method | kind | set | images | made in (s) | (a) equal steps | (b) own recipe | chosen (a) | "
                  "chosen (b) |\n|---|---|---|---:|---:|---:|---:|---|---|\n")  # fmt: skip
        for method, records in by_method.items():
            a = [r for r in records if r["details"].get("protocol") == "equal-steps"]
            b = [r for r in records if r["details"].get("protocol") == "own-recipe"]
            made, size = _set_text(records)
            scores = f"{_accuracy(a) if a else '–'} | {_accuracy(b) if b else '–'} | {_chosen(a)} | {_chosen(b)}"
            out.write(f"| {method} | {records[0]['kind']} | {made} | {size} | {_made_in(records)} | {scores} |\n")
        steps = {r["budget"]["steps"] for r in sets if "steps" in r["budget"]}
        for row in _references(group, steps):
            out.write(row + "\n")
        out.write("\n")
    return out.getvalue()
