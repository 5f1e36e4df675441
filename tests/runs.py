"""Tiny run directories written by the tests: a manifest and records with the fields real ones have.

The configuration comes from a real suite file (parsed and hashed by gtnbench.suite), one record
per trial of its expansion; the numbers are made up, deterministic, and shifted by `offset` so
that two runs differ by a known amount.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from gtnbench.suite.files import parse_suite
from gtnbench.suite.trials import expand

RUN_SUITE = """
name = "tiny-run"
dataset = "mnist"
seeds = [0, 1, 2]
claims = ["C1", "C2"]

[learner]
name = "mnist-paper"
widths = [4, 8, 16]

[methods.real-fewstep]
kind = "real"
steps = [4, 8]
lr = [0.05, 0.1]
momentum = 0.9

[methods.gtn]
kind = "gtn"
inner_steps = 8
outer_iterations = 10
validate_every = 5

[tolerances]
test_acc = 0.02

[scales.smoke]
"""

VERSIONS = {
    "python": "3.11.7",
    "torch": "2.14.1",
    "torchvision": "0.29.1",
    "numpy": "2.4.6",
    "scipy": "1.17.1",
    "cuda": "none",
}


def manifest_of(config, trials: int, **overrides: Any) -> dict[str, Any]:
    manifest = {
        "gtnbench": "0.1.0",
        "suite": config.name,
        "suite_file": "tiny.toml",
        "scale": config.scale,
        "config": config.model_dump(mode="json"),
        "config_hash": config.config_hash(),
        "shard": None,
        "trials": trials,
        "seeds": config.seeds,
        "dataset": config.dataset,
        "dataset_label": "MNIST",
        "data_root": "/data",
        "data_verified": True,
        "device": "cpu",
        "device_name": "CPU: test (2 threads)",
        "precision": "float32",
        "executor": "in-process",
        "code_version": "0.1.0+gabc",
        "versions": VERSIONS,
        "ground_truth": None,
        "command": ["gtnbench", "run"],
        "started": "2026-01-02T03:04:05+0000",
        "finished": "2026-01-02T03:05:05+0000",
        "status": "completed",
    }
    manifest.update(overrides)
    return manifest


def record_of(trial, manifest: dict[str, Any], offset: float = 0.0) -> dict[str, Any]:
    rng = np.random.default_rng([trial.seed, sum(map(ord, trial.id))])
    steps = dict(trial.budget).get("steps", 1)
    acc = float(min(0.99, 0.5 + 0.05 * np.log2(steps) + 0.01 * rng.standard_normal() + offset))
    record = {
        "trial": trial.id,
        **trial.identity(),
        "status": "ok",
        "reason": None,
        "seconds": 1.5,
        "started": "2026-01-02T03:04:05+0000",
        "finished": "2026-01-02T03:04:07+0000",
        **{
            k: manifest[k]
            for k in ("suite", "scale", "config_hash", "dataset", "code_version", "device", "device_name", "versions")
        },
    }
    if trial.kind == "real":
        record["metrics"] = {"test_acc": acc, "val_acc": acc - 0.01, "train_seconds": 0.1 * steps}
        record["details"] = {"steps": steps, "chosen": {"lr": 0.1, "momentum": 0.9}, "grid": [], "curve": []}
    else:
        folder = f"artifacts/{trial.id.replace('/', '__')}"
        record["metrics"] = {
            "test_acc": acc,
            "val_acc": acc - 0.01,
            "untrained_test_acc": 0.1,
            "gain_over_untrained": acc - 0.1,
            "learner_train_seconds": 0.05,
            "meta_seconds": 4.0,
            "outer_iteration_seconds": 0.4,
            "peak_memory_mb": 900.0,
            "final_meta_loss": 0.7,
        }
        record["details"] = {
            "inner_steps": steps,
            "curriculum": "full",
            "weight_norm": True,
            "meta_loss": "final",
            "transfer": [],
            "validation": [{"iteration": i, "val_acc": acc * i / 10 - 0.01} for i in (0, 5, 10)],
            "meta_losses": [2.3 - 0.15 * i for i in range(10)],
            "curve": [{"step": s, "test_acc": acc * s / steps, "val_acc": acc * s / steps} for s in (1, 2, 4, 8)],
            "samples": f"{folder}/samples.png",
            "checkpoint": f"{folder}/gtn.pt",
        }
    return record


def write_sample_grid(path: Path, seed: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, size=(40, 60), dtype=np.uint8)
    Image.fromarray(pixels).resize((120, 80)).save(path)


def make_run(
    path: Path,
    suite_text: str = RUN_SUITE,
    scale: str = "smoke",
    offset: float = 0.0,
    drop: int = 0,
    records: list[dict] | None = None,
    **manifest_fields: Any,
) -> Path:
    """Write a run directory; `drop` leaves out the last trials, `records` replaces the generated ones."""
    config = parse_suite(Path("tiny.toml"), suite_text).at(scale)
    trials = expand(config)
    manifest = manifest_of(config, len(trials), **manifest_fields)
    if records is None:
        records = [record_of(t, manifest, offset) for t in trials[: len(trials) - drop]]
    path.mkdir(parents=True, exist_ok=True)
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    (path / "records.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    for number, record in enumerate(records):
        samples = (record.get("details") or {}).get("samples")
        if samples:
            write_sample_grid(path / samples, number)
    return path
