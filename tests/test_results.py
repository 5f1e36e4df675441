import json
import subprocess
import sys

import pandas as pd
import pytest

import gtnbench
from gtnbench.analysis.frames import RESULT_COLUMNS, load_curves, load_results, load_trials
from gtnbench.cli import main
from tests.runs import make_run


def test_import_gtnbench_stays_light():
    code = "import sys, gtnbench; assert 'pandas' not in sys.modules and 'torch' not in sys.modules; print('ok')"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False).stdout.strip() == "ok"
    )
    assert gtnbench.load_results is load_results


def test_one_row_per_trial_and_metric_with_provenance(tmp_path):
    run = make_run(tmp_path / "run")
    frame = load_results(run)
    assert tuple(frame.columns) == RESULT_COLUMNS
    records = [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]
    assert len(frame) == sum(len(r["metrics"]) for r in records)
    row = frame[(frame.trial == "real-fewstep/steps=8/seed=1") & (frame.metric == "test_acc")].iloc[0]
    record = next(r for r in records if r["trial"] == "real-fewstep/steps=8/seed=1")
    assert row.value == record["metrics"]["test_acc"]
    assert (row.suite, row.scale, row.method, row.kind, row.seed, row.budget, row.steps) == (
        "tiny-run",
        "smoke",
        "real-fewstep",
        "real",
        1,
        "steps=8",
        8,
    )
    assert (row.code_version, row.config_hash, row.device, row.dataset_label) == (
        "0.1.0+gabc",
        record["config_hash"],
        "cpu",
        "MNIST",
    )
    means = frame[frame.metric == "test_acc"].groupby(["method_label", "steps"])["value"].mean()
    assert set(means.index) == {("real-fewstep", 4), ("real-fewstep", 8), ("gtn", 8)}


def test_failed_trials_keep_one_row_and_a_retry_supersedes_them(tmp_path):
    run = make_run(tmp_path / "run")
    lines = (run / "records.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    failed = {**first, "status": "failed", "reason": "diverged: NaN meta-loss", "metrics": {}, "details": {}}
    (run / "records.jsonl").write_text("\n".join([json.dumps(failed), *lines[1:]]) + "\n")
    frame = load_results(run)
    row = frame[frame.trial == first["trial"]]
    assert len(row) == 1 and row.iloc[0].status == "failed" and pd.isna(row.iloc[0].metric)
    assert row.iloc[0].reason == "diverged: NaN meta-loss"
    with open(run / "records.jsonl", "a") as handle:  # --retry-failed appends the new record
        handle.write(json.dumps(first) + "\n")
    assert set(load_results(run)[lambda f: f.trial == first["trial"]].status) == {"ok"}


def test_nas_proxies_become_one_row_per_proxy(tmp_path):
    run = make_run(tmp_path / "run")
    base = json.loads((run / "records.jsonl").read_text().splitlines()[0])
    nas = [
        {
            **base,
            "trial": "real/arch=5/seed=0",
            "method": "real",
            "kind": "nb201-train",
            "arch": 5,
            "budget": {},
            "metrics": {"score": 0.3, "seconds": 2.0},
            "details": {"scores": {"8": 0.2, "16": 0.3}, "seconds": {"8": 1.0, "16": 2.0}, "teacher": "real"},
        },
        {
            **base,
            "trial": "free/arch=5/seed=0",
            "method": "free",
            "kind": "nb201-free",
            "arch": 5,
            "budget": {},
            "metrics": {"naswot_seconds": 0.1},
            "details": {"scores": {"naswot": 310.0}, "seconds": {"naswot": 0.1}},
        },
        {
            **base,
            "trial": "hp12/seed=0",
            "method": "hp12",
            "kind": "nb201-table",
            "arch": None,
            "budget": {},
            "metrics": {},
            "details": {"scores": {"5": 81.5, "9": 70.1}, "steps": 2352},
        },
    ]
    (run / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in nas))
    frame = load_results(run)
    scores = frame[frame.metric == "score"].set_index(["proxy", "arch"])["value"]
    assert scores.to_dict() == {
        ("real@8", 5): 0.2,
        ("real@16", 5): 0.3,
        ("free:naswot", 5): 310.0,
        ("hp12", 5): 81.5,
        ("hp12", 9): 70.1,
    }
    assert frame[frame.metric == "seconds"].set_index("proxy")["value"].to_dict() == {
        "real@8": 1.0,
        "real@16": 2.0,
        "free:naswot": 0.1,
    }


def test_curves_and_trials_are_companion_frames(tmp_path):
    run = make_run(tmp_path / "run")
    curves = load_curves(run)
    gtn = curves[curves.trial == "gtn/steps=8/seed=0"]
    assert set(gtn.curve) == {"training", "meta_validation", "meta_loss"}
    assert gtn[(gtn.curve == "meta_validation") & (gtn.metric == "val_acc")].x.tolist() == [0, 5, 10]
    assert gtn[gtn.curve == "meta_loss"].x.tolist() == list(range(1, 11))
    trials = load_trials(run)
    assert len(trials) == 9 and trials.set_index("trial").loc["gtn/steps=8/seed=0", "details"]["curriculum"] == "full"


def test_several_runs_are_told_apart_by_run(tmp_path):
    a, b = make_run(tmp_path / "a"), make_run(tmp_path / "b", offset=0.1)
    frame = load_results(a, b)
    assert set(frame.run) == {str(a), str(b)}
    means = frame[frame.metric == "test_acc"].groupby("run")["value"].mean()
    assert means[str(b)] > means[str(a)] + 0.05


def test_export_writes_csv_and_parquet(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    out = tmp_path / "results.csv"
    assert main(["export", str(run), "--out", str(out)]) == 0
    assert pd.read_csv(out).shape == load_results(run).shape
    pytest.importorskip("pyarrow")
    out = tmp_path / "results.parquet"
    assert main(["export", str(run), "--format", "parquet", "--out", str(out)]) == 0
    frame = pd.read_parquet(out)
    assert frame.shape == load_results(run).shape and frame.value.tolist() == load_results(run).value.tolist()
    assert main(["export", str(run), "--curves", "--out", str(tmp_path / "curves.csv")]) == 0
    assert set(pd.read_csv(tmp_path / "curves.csv").curve) == {"training", "meta_validation", "meta_loss"}


def test_parquet_without_pyarrow_is_one_clear_error(tmp_path, monkeypatch, capsys):
    import importlib.util

    run = make_run(tmp_path / "run")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    assert main(["export", str(run), "--format", "parquet", "--out", str(tmp_path / "x.parquet")]) == 2
    assert 'pip install "gtnbench[parquet]"' in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()
