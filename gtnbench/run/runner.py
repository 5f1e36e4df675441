"""Trials -> an executor -> records appended to a run directory, with resume, shards and progress."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from gtnbench import __version__
from gtnbench.data.datasets import load_dataset
from gtnbench.data.names import LABELS
from gtnbench.data.sources import verification_enabled
from gtnbench.device import check_device
from gtnbench.environment import code_version, device_name, library_versions
from gtnbench.errors import StoreError, SuiteError
from gtnbench.output import escape, plural, print_markup
from gtnbench.run.batch import Job, Record, gtnbench_environment, now, plan_batches
from gtnbench.run.budget import Budget
from gtnbench.run.executors import Executor, InProcess
from gtnbench.run.options import ExecutionOptions
from gtnbench.store import DEFAULT_RUNS_DIR, RunWriter, latest_run, new_run_path
from gtnbench.suite.config import SuiteConfig
from gtnbench.suite.files import Suite
from gtnbench.suite.methods import SET_KINDS
from gtnbench.suite.trials import Trial, expand, prerequisites


@dataclass
class RunSummary:
    path: Path
    total: int
    done_before: int
    ok: int
    failed: int
    stopped: str | None = None  # why a --budget run stopped before its last trial (status `interrupted`)


def _ground_truth(config: SuiteConfig) -> dict[str, str] | None:
    """For NAS suites: the search space, the table in use (the shipped one, or the imported one `--nb201-table`
    names, by its absolute path), the exact ground-truth column and the table's checksum."""
    if config.nas is None:
        return None
    from gtnbench.nas.spaces import get_space

    space, column = get_space(config.nas.space), config.nas.ground_truth
    table = space.table()
    return {
        "space": space.name,
        "benchmark": space.title,
        "table": table.source,
        "column": column,
        "means": space.describe_column(column),
        "table_sha256": table.sha256,
    }


def bn_protocols(config: SuiteConfig) -> dict[str, str]:
    """The batch-norm evaluation protocol (models/norm.py) each method's learners run under."""
    from gtnbench.methods.base import learner_spec

    protocols = {}
    for name, method in config.methods.items():
        if hasattr(method, "network"):
            protocols[name] = method.network.bn_eval
        elif not method.kind.startswith(("nb201", "nas")):  # the suite's learner, or the method's own
            protocols[name] = learner_spec(getattr(method, "learner", None) or config.learner).protocol()
    return protocols


def _manifest(
    suite: Suite,
    config: SuiteConfig,
    device: str,
    dataset_name: str,
    data_root: Path,
    trials: int,
    shard: tuple[int, int] | None,
    executor: str,
    options: ExecutionOptions,
    precision: dict[str, Any],
) -> dict:
    return {
        "gtnbench": __version__,
        "suite": config.name,
        "suite_file": str(suite.path),
        "scale": config.scale,
        "config": config.model_dump(mode="json"),
        "config_hash": config.config_hash(),
        "shard": f"{shard[0]}/{shard[1]}" if shard else None,
        "trials": trials,
        "seeds": config.seeds,
        "dataset": dataset_name,
        "dataset_label": LABELS[dataset_name],
        "data_root": str(data_root),
        "data_verified": verification_enabled(),
        "scored_images": config.scored_images,
        "device": device,
        "device_name": device_name(device),
        "precision": precision,  # read back from torch in the driver (each record: its worker's)
        "execution": options.to_dict(),
        "executor": executor,
        "code_version": code_version(),
        "versions": library_versions(),
        "ground_truth": _ground_truth(config),
        "bn_eval": bn_protocols(config),
        "command": sys.argv,
        "started": now(),
        "finished": None,
        "status": "running",
    }


def shard_of(trials: list[Trial], shard: tuple[int, int] | None) -> list[Trial]:
    """Shard I of N: every N-th trial of the suite's order, starting at I (deterministic)."""
    if shard is None:
        return trials
    index, count = shard
    return trials[index::count]


def _check_shard_dependencies(config: SuiteConfig, mine: list[Trial], shard: tuple[int, int] | None) -> None:
    if shard is None:
        return
    ids = {t.id for t in mine}
    for trial in mine:
        for source in prerequisites(config, trial):
            if source.id not in ids:
                escape = (
                    "meta-train it first and name it with `checkpoint = PATH`"
                    if source.kind == "gtn"
                    else "make the set first and name its set.pt with `checkpoint = PATH`"
                    if source.kind in SET_KINDS
                    else "calibrate first and name its calibration.json with `calibration = { file = PATH }`"
                )
                raise SuiteError(
                    f"shard {shard[0]}/{shard[1]}: {trial.id} needs the artifact of {source.id}, which "
                    f"another shard runs; {escape} in the suite"
                )


def _check_resumable(
    path: Path, manifest: dict[str, Any], config: SuiteConfig, shard: tuple[int, int] | None, options: ExecutionOptions
) -> None:
    """Refuse to continue a run of another configuration, shard or precision (before anything is touched)."""
    if manifest.get("config_hash") != config.config_hash():
        made = (manifest.get("suite"), manifest.get("scale"))
        what = (
            "the suite changed, start a new run"
            if made == (config.name, config.scale)
            else f"it is a run of {made[0]} at scale {made[1]}, not of {config.name} at scale {config.scale}"
        )
        raise StoreError(
            f"{path}: was started with config hash {manifest.get('config_hash')}, the suite now hashes "
            f"to {config.config_hash()}; {what}"
        )
    if manifest.get("shard") != (f"{shard[0]}/{shard[1]}" if shard else None):
        raise StoreError(f"{path}: holds shard {manifest.get('shard')}, not {shard}; resume it with the same --shard")
    started_at = (manifest.get("execution") or {}).get("precision", "ieee")
    if started_at != options.precision:
        raise StoreError(f"{path}: was started with --precision {started_at}; resume it with the same precision")
    truth, now_truth = manifest.get("ground_truth"), _ground_truth(config)
    if truth and now_truth and truth.get("table_sha256") != now_truth["table_sha256"]:
        raise StoreError(
            f"{path}: was started with the {truth.get('space')} table {truth.get('table')} (sha256 "
            f"{str(truth.get('table_sha256'))[:16]}…), not {now_truth['table']}; resume it with the "
            "same table (--nb201-table)"
        )


def _open_run(suite, config, trials, device, data_root, dataset_name, out, resume, shard, executor, options, precision):
    """A writer for a new run, or for the run to resume, and the ids of the trials it already holds."""
    if resume:
        prefix = f"{config.name}-{config.scale}-" + (f"shard{shard[0]}of{shard[1]}-" if shard else "")
        path = out or latest_run(DEFAULT_RUNS_DIR, prefix)
        if path is None:
            raise StoreError(
                f"no earlier run of {config.name} at scale {config.scale} under {DEFAULT_RUNS_DIR}/ to resume"
            )
        writer, contents = RunWriter.resume(path, lambda made: _check_resumable(path, made, config, shard, options))
        manifest = contents.manifest
        manifest.update(status="running", finished=None, resumed=[*manifest.get("resumed", []), now()])
        manifest.pop("stopped", None)
        writer.write_manifest(manifest)
        return writer, manifest, contents.records
    name = f"{config.scale}-shard{shard[0]}of{shard[1]}" if shard else config.scale
    path = out or new_run_path(DEFAULT_RUNS_DIR, config.name, name)
    manifest = _manifest(
        suite, config, device, dataset_name, data_root, len(trials), shard, executor, options, precision
    )
    return RunWriter.create(path, manifest), manifest, []


def run_suite(
    suite: Suite,
    scale: str | None,
    device: str,
    data_root: Path,
    out: Path | None = None,
    resume: bool = False,
    console: Console | None = None,
    executor: Executor | None = None,
    shard: tuple[int, int] | None = None,
    retry_failed: bool = False,
    on_record: Callable[[Record], None] | None = None,
    options: ExecutionOptions | None = None,
    budget: Budget | None = None,
) -> RunSummary:
    """Run the suite's pending trials; `on_record` is called with each record once it is on disk.
    `options`: precision, CUDA graphs, batched grids. `budget`: start a trial only while it fits
    (plan.Budget); a run it stops is `interrupted`, and --resume continues it."""
    config = suite.at(scale)
    console = console or Console(stderr=True)
    executor = executor or InProcess()
    options = options or ExecutionOptions()
    device = check_device(device)
    options.check(config, device)
    precision = options.apply()
    trials = shard_of(expand(config), shard)
    _check_shard_dependencies(config, trials, shard)
    dataset = load_dataset(config.dataset, data_root, device, config.split_seed)  # fail before writing anything
    writer, manifest, earlier = _open_run(
        suite, config, trials, device, data_root, dataset.name, out, resume, shard, executor.name, options, precision
    )
    latest = {r["trial"]: r["status"] for r in earlier}  # a later record of a trial supersedes an earlier one
    done = {trial for trial, status in latest.items() if status == "ok" or not retry_failed}
    failed_before = sum(latest[trial] != "ok" for trial in done)
    pending = [t for t in trials if t.id not in done]
    job = Job(
        config,
        {
            k: manifest.get(k)
            for k in (
                "suite",
                "scale",
                "config_hash",
                "dataset",
                "code_version",
                "device",
                "device_name",
                "versions",
                "precision",
            )
        },
        device,
        data_root,
        writer.path,
        gtnbench_environment(),
        options,
    )
    print_markup(
        console,
        f"[bold]{config.name}[/] at scale [bold]{config.scale}[/]"
        + (f" shard {shard[0]}/{shard[1]}" if shard else "")
        + escape(
            f" on {manifest['device_name']} ({executor.name}), data {LABELS[dataset.name]}: "
            f"{plural(len(pending), 'trial')} to run"
            + (f" ({len(done)} already done)" if done else "")
            + f" -> {writer.path}"
        ),
    )
    ok = failed = running = 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("running {task.fields[running]} failed {task.fields[failed]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with writer, Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("trials", total=len(pending), failed=0, running=0)

        def started(batch: list[Trial]) -> None:
            nonlocal running
            running += len(batch)
            progress.update(task, description=batch[0].id, running=running)

        try:
            admit = budget.admit if budget is not None else None
            for records in executor.run(job, plan_batches(config, pending), started, admit):
                if budget is not None:
                    budget.took(records)
                for record in records:
                    writer.append(record)
                    if on_record is not None:
                        on_record(record)
                    if record["status"] == "ok":
                        ok += 1
                    else:
                        failed += 1
                        why = escape(f"{record['trial']}: {record['reason']}")
                        print_markup(console, f"[red]failed[/] {why}")
                running -= len(records)
                progress.update(task, advance=len(records), failed=failed, running=running)
        except KeyboardInterrupt:
            manifest.update(status="interrupted", finished=now())
            writer.write_manifest(manifest)
            raise
        stopped = budget.stopped if budget is not None else None
        status = "completed" if not (failed or failed_before) else "completed with failures"
        if stopped is not None:
            status = "interrupted"
            manifest["stopped"] = f"--budget: {stopped}; {len(pending) - ok - failed} trials left"
        manifest.update(status=status, finished=now())
        writer.write_manifest(manifest)
    return RunSummary(writer.path, len(trials), len(done), ok, failed, stopped)
