"""The command line, driven as a user would: through a subprocess."""

import json
import os
import subprocess
import sys

import pytest


def gtnbench(*args, cwd, data=None, check=False):
    env = {**os.environ, "GTNBENCH_VERIFY": "0", "GTNBENCH_CACHE": str(cwd / "cache"), "COLUMNS": "200"}
    if data is not None:
        env["GTNBENCH_DATA"] = str(data)
    done = subprocess.run(
        [sys.executable, "-m", "gtnbench", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_help_teaches_the_workflow(tmp_path):
    done = gtnbench("--help", cwd=tmp_path, check=True)
    for word in ("run", "report", "check", "data fetch", "GTNBENCH_DATA"):
        assert word in done.stdout
    run_help = gtnbench("run", "--help", cwd=tmp_path, check=True).stdout
    assert "--resume" in run_help and "smoke" in run_help


def test_list_shows_bundled_suites(tmp_path):
    done = gtnbench("list", cwd=tmp_path, check=True)
    assert "smoke" in done.stdout


def test_run_report_check_round_trip(tiny_suite, tiny_mnist, tmp_path):
    run = tmp_path / "run"
    done = gtnbench(
        "run", str(tiny_suite), "--device", "cpu", "--out", str(run), cwd=tmp_path, data=tiny_mnist, check=True
    )
    assert done.stdout.strip() == str(run)
    assert len((run / "records.jsonl").read_text().splitlines()) == 3
    report = gtnbench("report", str(run), cwd=tmp_path, check=True)
    assert "real-fewstep" in report.stdout and (run / "report" / "accuracy_vs_steps.png").is_file()
    assert gtnbench("check", str(run), "--against", str(run), cwd=tmp_path).returncode == 0

    # a reference that differs by more than the tolerance makes the check fail
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "manifest.json").write_text((run / "manifest.json").read_text())
    records = [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]
    records[0]["metrics"]["test_acc"] += 0.5
    (reference / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    failed = gtnbench("check", str(run), "--against", str(reference), cwd=tmp_path)
    assert failed.returncode == 1 and "violations" in failed.stdout

    # the latest run is the default for report and check
    assert gtnbench("check", cwd=tmp_path).returncode == 2  # none under ./runs yet
    gtnbench("run", str(tiny_suite), "--device", "cpu", cwd=tmp_path, data=tiny_mnist, check=True)
    assert "using the latest run" in gtnbench("report", "--quiet", cwd=tmp_path, check=True).stderr

    # rerunning into the same directory is refused; --resume finds nothing left to do
    again = gtnbench("run", str(tiny_suite), "--out", str(run), cwd=tmp_path, data=tiny_mnist)
    assert again.returncode == 2 and "--resume" in again.stderr
    resumed = gtnbench("run", str(tiny_suite), "--out", str(run), "--resume", cwd=tmp_path, data=tiny_mnist, check=True)
    assert "0 trials to run" in resumed.stderr


@pytest.mark.parametrize(
    "text, fragment",
    [("name = [", "invalid TOML"), ('name = "x"\n', "dataset: required key is missing")],
)
def test_bad_suite_gives_one_line_error_and_exit_2(tmp_path, text, fragment):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n[scales.smoke]\n" if "[" not in text else text)
    done = gtnbench("run", str(path), cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and fragment in lines[0] and "Traceback" not in done.stderr


def test_missing_data_is_one_clear_error(tiny_suite, tmp_path):
    done = gtnbench("run", str(tiny_suite), cwd=tmp_path, data=tmp_path / "nowhere")
    assert done.returncode == 2 and "gtnbench data fetch mnist" in done.stderr and "Traceback" not in done.stderr


def test_data_verify_reports_mismatches(tiny_mnist, tmp_path):
    done = gtnbench("data", "verify", "--data-root", str(tiny_mnist), cwd=tmp_path)
    assert done.returncode == 1 and "MISMATCH" in done.stdout  # fixture files are not the real MNIST


def test_bench_streams_each_measurement_into_its_json(tmp_path):
    out = tmp_path / "bench.json"
    done = gtnbench(
        "bench",
        "learner",
        "--device",
        "cpu",
        "--steps",
        "1",
        "--repeats",
        "1",
        "--no-warmup",
        "--out",
        str(out),
        cwd=tmp_path,
        check=True,
    )
    assert "learner-train (learner=mnist-paper" in done.stderr  # printed as soon as measured
    payload = json.loads(out.read_text())
    ours = [r["learner"] for r in payload["results"] if r["benchmark"] == "learner-train"]
    assert payload["complete"] and ours == ["mnist-paper", "cifar10-paper"]
    assert payload["environment"]["device"] == "cpu" and all(r["seconds_median"] > 0 for r in payload["results"])
