"""Trials -> trial functions -> records appended to a run directory, with resume and progress."""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from gtnbench import __version__
from gtnbench.data.datasets import load_dataset
from gtnbench.data.names import LABELS
from gtnbench.data.sources import verification_enabled
from gtnbench.environment import code_version, device_name, library_versions
from gtnbench.errors import StoreError, TrialFailed
from gtnbench.methods import TRIAL_FUNCTIONS, TrialContext
from gtnbench.store import RunWriter, latest_run, new_run_path
from gtnbench.suite import Suite, SuiteConfig, Trial, expand

DEFAULT_RUNS_DIR = Path("runs")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass
class RunSummary:
    path: Path
    total: int
    done_before: int
    ok: int
    failed: int


def _manifest(suite: Suite, config: SuiteConfig, device: str, dataset_name: str, data_root: Path, trials: int) -> dict:
    return {
        "gtnbench": __version__,
        "suite": config.name,
        "suite_file": str(suite.path),
        "scale": config.scale,
        "config": config.model_dump(mode="json"),
        "config_hash": config.config_hash(),
        "trials": trials,
        "seeds": config.seeds,
        "dataset": dataset_name,
        "dataset_label": LABELS[dataset_name],
        "data_root": str(data_root),
        "data_verified": verification_enabled(),
        "device": device,
        "device_name": device_name(device),
        "code_version": code_version(),
        "versions": library_versions(),
        "command": sys.argv,
        "ground_truth": _ground_truth(config),
        "started": _now(),
        "finished": None,
        "status": "running",
    }


def _ground_truth(config: SuiteConfig) -> dict[str, str] | None:
    """For NAS-Bench-201 suites: the exact ground-truth column and the table's checksum."""
    if config.nb201 is None:
        return None
    from gtnbench.nas.table import describe_column, load_table

    column = config.nb201.ground_truth
    return {"column": column, "means": describe_column(column), "table_sha256": load_table().sha256}


def _record(trial: Trial, manifest: dict[str, Any]) -> dict[str, Any]:
    """The fields every record carries, whatever its outcome."""
    return {
        "trial": trial.id,
        "method": trial.method,
        "kind": trial.kind,
        "seed": trial.seed,
        "budget": dict(trial.budget),
        "variant": dict(trial.variant),
        "arch": trial.arch,
        "suite": manifest["suite"],
        "scale": manifest["scale"],
        "config_hash": manifest["config_hash"],
        "dataset": manifest["dataset"],
        "code_version": manifest["code_version"],
        "device": manifest["device"],
        "device_name": manifest["device_name"],
        "versions": manifest["versions"],
    }


def run_trial(trial: Trial, config: SuiteConfig, context: TrialContext, manifest: dict[str, Any]) -> dict[str, Any]:
    """Run one trial; any failure becomes a `failed` record with its reason, never an exception."""
    record = _record(trial, manifest)
    record["started"] = _now()
    start = time.perf_counter()
    try:
        result = TRIAL_FUNCTIONS[trial.kind](trial, config.methods[trial.method], context)
        record.update(status="ok", reason=None, metrics=result.metrics, details=result.details)
    except TrialFailed as failure:
        record.update(status="failed", reason=str(failure), metrics={}, details={})
    except (KeyboardInterrupt, StoreError):
        raise
    except Exception as error:  # a bug or a resource failure: keep going with the other trials
        record.update(status="failed", reason=f"{type(error).__name__}: {error}", metrics={}, details={},
                      traceback=traceback.format_exc())  # fmt: skip
    record["seconds"] = time.perf_counter() - start
    record["finished"] = _now()
    return record


def run_suite(
    suite: Suite,
    scale: str | None,
    device: str,
    data_root: Path,
    out: Path | None = None,
    resume: bool = False,
    console: Console | None = None,
) -> RunSummary:
    config = suite.at(scale)
    console = console or Console(stderr=True)
    trials = expand(config)
    dataset = load_dataset(config.dataset, data_root, device, config.split_seed)  # fail before writing anything

    if resume:
        path = out or latest_run(DEFAULT_RUNS_DIR, f"{config.name}-{config.scale}-")
        if path is None:
            raise StoreError(f"no earlier run of {config.name} at scale {config.scale} under {DEFAULT_RUNS_DIR}/ to resume")
        writer, contents = RunWriter.resume(path)
        manifest = contents.manifest
        if manifest.get("config_hash") != config.config_hash():
            writer.close()
            raise StoreError(f"{path}: was started with config hash {manifest.get('config_hash')}, the suite now hashes "
                             f"to {config.config_hash()}; the suite changed, start a new run")  # fmt: skip
        done = {record["trial"] for record in contents.records}
        failed_before = sum(record["status"] != "ok" for record in contents.records)
        manifest.update(status="running", finished=None, resumed=[*manifest.get("resumed", []), _now()])
        writer.write_manifest(manifest)
    else:
        path = out or new_run_path(DEFAULT_RUNS_DIR, config.name, config.scale)
        manifest = _manifest(suite, config, device, dataset.name, data_root, len(trials))
        writer, done, failed_before = RunWriter.create(path, manifest), set(), 0

    pending = [t for t in trials if t.id not in done]
    ok = failed = 0
    console.print(f"[bold]{config.name}[/] at scale [bold]{config.scale}[/] on {manifest['device_name']}, "
                  f"data {LABELS[dataset.name]}: {len(pending)} trials to run"
                  + (f" ({len(done)} already done)" if done else "") + f" -> {path}")  # fmt: skip
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("failed {task.fields[failed]}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())  # fmt: skip
    with writer, Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("trials", total=len(pending), failed=0)
        try:
            for trial in pending:
                progress.update(task, description=trial.id)
                context = TrialContext(config, dataset, device, path, lambda t=trial: writer.artifact_dir(t.id))
                record = run_trial(trial, config, context, manifest)
                writer.append(record)
                if record["status"] == "ok":
                    ok += 1
                else:
                    failed += 1
                    console.print(f"[red]failed[/] {trial.id}: {record['reason']}")
                progress.update(task, advance=1, failed=failed)
        except KeyboardInterrupt:
            manifest.update(status="interrupted", finished=_now())
            writer.write_manifest(manifest)
            raise
        status = "completed" if not (failed or failed_before) else "completed with failures"
        manifest.update(status=status, finished=_now())
        writer.write_manifest(manifest)
    return RunSummary(path, len(trials), len(done), ok, failed)
