"""NAS proxy methods: train-based (real data, tuned, or a GTN), training-free, and tabular, on the suite's
search space ([nas] space: NAS-Bench-201 or NAS-Bench-Macro; the kinds keep their nb201- names).

A real-data proxy with a grid of lr / momentum / schedule is tuned like the MNIST and CIFAR-10
baselines, never on the judged cells: its calibration trial trains a seeded sample of other cells
with every configuration at every budget, and keeps per budget the configuration with the best mean
validation accuracy; the judged cells then train with that choice.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gtnbench.data.image_set import ImageSet
from gtnbench.errors import TrialFailed
from gtnbench.meta import frozen, load_gtn
from gtnbench.methods.base import TrialContext, TrialResult
from gtnbench.methods.teachers import proxy_set
from gtnbench.nas.batched import train_based_batch
from gtnbench.nas.proxies import ProxyScores, train_based, training_free
from gtnbench.nas.spaces import SearchSpace, get_space
from gtnbench.store import artifact_path, write_json_atomic
from gtnbench.suite.methods import NB201Free, NB201Table, NB201Train
from gtnbench.suite.trials import Trial, calibration_architectures, prerequisites, sampled_architectures
from gtnbench.teachers.base import Teacher
from gtnbench.teachers.fixed_set import FixedSetTeacher
from gtnbench.teachers.real import RealDataTeacher

NB201_BATCH = 256  # the benchmark's own training batch size (for the cost of tabular proxies)
CALIBRATION_FILE = "calibration.json"
Config = tuple[float, float, str]  # lr, momentum, schedule


def _prerequisite_file(trial: Trial, ctx: TrialContext, kind: str, name: str) -> Path:
    """An artifact of the trial of `kind` this one needs (same run directory): it must have finished first."""
    source = next(t for t in prerequisites(ctx.config, trial) if t.kind == kind)
    path = artifact_path(ctx.run_dir, source.id) / name
    if not path.is_file():
        raise TrialFailed(f"{path} is missing: {source.id} must finish first, in this run directory")
    return path


def _gtn_checkpoint(trial: Trial, method: NB201Train, ctx: TrialContext) -> Path:
    """The GTN that teaches: a checkpoint file, or the one this run's gtn method trained with the same seed."""
    return Path(method.checkpoint) if method.checkpoint else _prerequisite_file(trial, ctx, "gtn", "gtn.pt")


def space_of(ctx: TrialContext) -> SearchSpace:
    return get_space(ctx.config.nas.space)


def network_details(method: NB201Train | NB201Free, space: SearchSpace) -> dict[str, Any]:
    """The network a proxy builds: every width option of the space (the benchmark's where unset) and bn_eval."""
    return {**space.widths, **method.network.widths(), "bn_eval": method.network.bn_eval}


def _ground_truth(ctx: TrialContext) -> dict[str, str]:
    return {"space": ctx.config.nas.space, "ground_truth": ctx.config.nas.ground_truth}


def _score(
    archs: list[int], teacher: Teacher, steps: list[int], method: NB201Train, ctx: TrialContext, seed: int
) -> list[ProxyScores]:
    """Train each network on the teacher (one at a time, or NAS-Bench-201 cells together through the vmapped
    super-network)."""
    space, net, size = space_of(ctx), method.network, method.batch_archs
    widths = {**space.widths, **net.widths()}
    if size == 1:
        return [
            train_based(
                space, arch, teacher, steps, ctx.dataset, widths, seed, ctx.device, method.eval_size, net.bn_eval
            )
            for arch in archs
        ]
    return [
        scores
        for start in range(0, len(archs), size)
        for scores in train_based_batch(
            archs[start : start + size],
            teacher,
            steps,
            ctx.dataset,
            widths["channels"],
            widths["cells"],
            seed,
            ctx.device,
            method.eval_size,
            net.bn_eval,
        )
    ]


def _real_teacher(method: NB201Train, ctx: TrialContext, config: Config, image_set: ImageSet | None = None) -> Teacher:
    """Real data, or with `image_set` a small set, in batches of the method's batch size under `config`."""
    lr, momentum, schedule = config
    if image_set is not None:
        return FixedSetTeacher.from_set(image_set, method.batch_size, lr, momentum, schedule, method.augment)
    return RealDataTeacher(ctx.dataset.train, method.batch_size, lr, momentum, schedule, method.augment)


def _runs(choice: dict[int, Config]) -> list[tuple[Config, list[int]]]:
    """Budgets grouped into training runs: one run per budget, except that budgets sharing a constant-lr
    configuration share one run read out at each of them (a decaying schedule ends at its own budget)."""
    runs: dict[tuple, list[int]] = {}
    for steps, config in sorted(choice.items()):
        key = (config,) if config[2] == "constant" else (config, steps)
        runs.setdefault(key, []).append(steps)
    return [(key[0], budgets) for key, budgets in runs.items()]


def _score_with(
    archs: list[int],
    choice: dict[int, Config],
    method: NB201Train,
    ctx: TrialContext,
    seed: int,
    image_set: ImageSet | None = None,
) -> list[ProxyScores]:
    """Scores at every budget of `choice`, each trained with its own configuration."""
    merged = [ProxyScores(arch, "") for arch in archs]
    for config, budgets in _runs(choice):
        teacher = _real_teacher(method, ctx, config, image_set)
        for result, scores in zip(merged, _score(archs, teacher, budgets, method, ctx, seed), strict=True):
            result.arch_str = scores.arch_str
            result.scores.update(scores.scores)
            result.seconds.update(scores.seconds)
    return merged


def _choice(calibration: dict[str, Any], method: NB201Train) -> dict[int, Config]:
    """The configuration chosen per budget, checked against the method's budgets and grid."""
    chosen = {int(k): (v["lr"], v["momentum"], v["schedule"]) for k, v in calibration["chosen"].items()}
    grid = set(method.grid())
    if sorted(chosen) != sorted(method.steps) or not set(chosen.values()) <= grid:
        raise TrialFailed(
            "the calibration was made for other budgets or another grid than this method's "
            f"(budgets {sorted(chosen)}, grid {sorted(grid)})"
        )
    return chosen


def _calibration(trial: Trial, method: NB201Train, ctx: TrialContext) -> dict[str, Any]:
    path = (
        Path(method.calibration.file)
        if method.calibration.file
        else _prerequisite_file(trial, ctx, "nb201-calibrate", CALIBRATION_FILE)
    )
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise TrialFailed(f"{path}: not a readable calibration file ({error})") from None


def run_nb201_calibrate(trial: Trial, method: NB201Train, ctx: TrialContext) -> TrialResult:
    """Tune a real-data proxy's grid per budget on the calibration cells (disjoint from the judged ones)."""
    archs = calibration_architectures(ctx.config, method)
    taught = proxy_set(trial, method, ctx)
    start = time.perf_counter()
    tried: list[dict[str, Any]] = []
    for config in method.grid():
        scores = _score_with(
            archs, {k: config for k in method.steps}, method, ctx, trial.seed, taught[0] if taught else None
        )
        for k in method.steps:
            accuracies = [s.scores[str(k)] for s in scores]
            tried.append(
                {
                    "steps": k,
                    "lr": config[0],
                    "momentum": config[1],
                    "schedule": config[2],
                    "val_acc": statistics.fmean(accuracies),
                    "per_cell": accuracies,
                }
            )
    chosen = {}
    for k in method.steps:
        best = max((t for t in tried if t["steps"] == k), key=lambda t: t["val_acc"])
        chosen[str(k)] = {key: best[key] for key in ("lr", "momentum", "schedule", "val_acc")}
    seconds = time.perf_counter() - start
    details = {
        "calibration_archs": archs,
        "grid": tried,
        "chosen": chosen,
        "tuned_on": "validation accuracy of the calibration architectures (mean)",
        "seconds": seconds,
        "network": network_details(method, space_of(ctx)),
        "space": ctx.config.nas.space,
    }
    write_json_atomic(ctx.artifact_dir() / CALIBRATION_FILE, details)
    return TrialResult({"calibration_seconds": seconds}, details)


def check_pairing(trials: list[Trial], results: list[ProxyScores], space: SearchSpace) -> None:
    """Every score belongs to the network of its trial's architecture (the official code's defect: two networks)."""
    table = space.table()
    for trial, result in zip(trials, results, strict=True):
        if result.arch != trial.arch or result.arch_str != table.arch(trial.arch):
            raise TrialFailed(
                f"a score of {result.arch_str} came back for architecture {trial.arch} "
                f"({table.arch(trial.arch)}); refusing to record it"
            )


def run_nb201_train(trial: Trial, method: NB201Train, ctx: TrialContext) -> TrialResult:
    return run_nb201_train_batch([trial], method, ctx)[0]


def run_nb201_train_batch(trials: list[Trial], method: NB201Train, ctx: TrialContext) -> list[TrialResult]:
    """Score cells (same method and seed) by training them on the method's teacher: one at a time, or
    several at once through the vmapped super-network (same results up to float rounding)."""
    seed, archs = trials[0].seed, [t.arch for t in trials]
    net = method.network
    if method.teacher in ("real", "set"):
        taught = proxy_set(trials[0], method, ctx)
        if method.calibration is not None:
            calibration = _calibration(trials[0], method, ctx)
            choice = _choice(calibration, method)
            source = {
                "tuned": True,
                "calibration_seconds": calibration["seconds"],
                "calibration_archs": calibration["calibration_archs"],
            }
        else:
            choice = {k: method.grid()[0] for k in method.steps}
            source = {"tuned": False}
        results = _score_with(archs, choice, method, ctx, seed, taught[0] if taught else None)
        source.update(
            teacher=method.teacher,
            batch_size=method.batch_size,
            augment=method.augment,
            chosen={str(k): dict(zip(("lr", "momentum", "schedule"), c)) for k, c in choice.items()},
        )
        if taught:
            source["set"] = taught[1]
    else:
        checkpoint = _gtn_checkpoint(trials[0], method, ctx)
        gtn, config = load_gtn(checkpoint, ctx.device)
        source = {"teacher": "gtn", "checkpoint": str(checkpoint), "gtn": config}
        with frozen(gtn):
            results = _score(archs, gtn, method.steps, method, ctx, seed)
    check_pairing(trials, results, space_of(ctx))
    largest = str(max(method.steps))
    common = {
        **source,
        "network": network_details(method, space_of(ctx)),
        "bn_eval": net.bn_eval,
        "steps": max(method.steps),
        "trained_together": len(archs) if method.batch_archs > 1 else 1,
        "eval_size": method.eval_size or len(ctx.dataset.val),
        **_ground_truth(ctx),
    }
    return [
        TrialResult({"score": r.scores[largest], "seconds": r.seconds[largest]}, {**asdict(r), **common})
        for r in results
    ]


def run_nb201_free(trial: Trial, method: NB201Free, ctx: TrialContext) -> TrialResult:
    space = space_of(ctx)
    scores = training_free(
        space,
        trial.arch,
        method.proxies,
        ctx.dataset,
        method.batch_size,
        {**space.widths, **method.network.widths()},
        trial.seed,
        ctx.device,
    )
    check_pairing([trial], [scores], space)
    details = {
        **asdict(scores),
        "network": network_details(method, space),
        "batch_size": method.batch_size,
        **_ground_truth(ctx),
    }
    return TrialResult({f"{k}_seconds": v for k, v in scores.seconds.items()}, details)


def run_nb201_table(trial: Trial, method: NB201Table, ctx: TrialContext) -> TrialResult:
    space = space_of(ctx)
    table = space.table()
    archs = sampled_architectures(ctx.config)
    steps = method.epochs * math.ceil(50_000 / NB201_BATCH)
    details = {
        "column": method.column,
        "column_means": space.describe_column(method.column),
        "steps": steps,
        "scores": {str(a): table.value(method.column, a) for a in archs},
        "table_sha256": table.sha256,
        **_ground_truth(ctx),
    }
    return TrialResult({}, details)
