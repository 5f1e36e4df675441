"""Join the run directories of shards (or of any runs of one suite configuration) into one."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from gtnbench.errors import StoreError
from gtnbench.store import ARTIFACTS, RunWriter, read_run


@dataclass
class MergeSummary:
    path: Path
    records: int
    duplicates_dropped: int
    trials_expected: int | None


def merge_runs(paths: list[Path], out: Path) -> MergeSummary:
    """Refuses runs of different suites, scales or configurations, and a trial recorded differently twice;
    drops exact duplicates; copies every run's artifacts."""
    runs = [read_run(Path(p)) for p in paths]
    first = runs[0].manifest
    for run in runs[1:]:
        for key in ("suite", "scale", "config_hash"):
            if run.manifest.get(key) != first.get(key):
                raise StoreError(
                    f"{run.path}: {key} is {run.manifest.get(key)!r}, but {runs[0].path} has "
                    f"{first.get(key)!r}; only runs of one suite configuration merge"
                )
    kept: dict[str, tuple[dict, Path]] = {}
    duplicates = 0
    for run in runs:
        latest = {r["trial"]: r for r in run.records}  # within a run, a retried trial's last record counts
        for record in latest.values():
            earlier = kept.get(record["trial"])
            if earlier is None:
                kept[record["trial"]] = (record, run.path)
            elif _same(earlier[0], record):
                duplicates += 1
            else:
                raise StoreError(
                    f"trial {record['trial']} has different records in {earlier[1]} and {run.path}; "
                    "keep one of the runs out of the merge"
                )
    from gtnbench.suite.config import SuiteConfig
    from gtnbench.suite.trials import expand

    expected = len(expand(SuiteConfig.model_validate(first["config"])))
    statuses = [r["status"] for r, _ in kept.values()]
    status = (
        "incomplete"
        if len(kept) < expected
        else ("completed" if all(s == "ok" for s in statuses) else "completed with failures")
    )
    manifest = {
        **first,
        "shard": None,
        "trials": expected,
        "status": status,
        "merged_from": [{"path": str(r.path), "shard": r.manifest.get("shard")} for r in runs],
    }
    with RunWriter.create(out, manifest) as writer:
        for record, _ in kept.values():
            writer.append(record)
        for run in runs:
            if (run.path / ARTIFACTS).is_dir():
                shutil.copytree(run.path / ARTIFACTS, writer.path / ARTIFACTS, dirs_exist_ok=True)
    return MergeSummary(Path(out), len(kept), duplicates, expected)


def _same(a: dict, b: dict) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
