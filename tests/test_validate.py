import hashlib
import json

import pytest

from gtnbench.analysis.validate import MAX_LINES_PER_CHECK, validate_run
from gtnbench.cli import main
from tests.runs import RUN_SUITE, make_run


def edit_manifest(run, **fields):
    manifest = json.loads((run / "manifest.json").read_text())
    manifest.update(fields)
    (run / "manifest.json").write_text(json.dumps(manifest))


def edit_records(run, change):
    records = [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]
    records = change(records)
    (run / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_a_complete_run_is_valid(tmp_path):
    assert validate_run(make_run(tmp_path / "run")) == []


@pytest.mark.parametrize(
    "fields, fragment",
    [
        ({"config_hash": "0123456789abcdef"}, "config_hash: 0123456789abcdef does not match the manifest's config"),
        ({"data_verified": False}, "data_verified: false"),
        ({"versions": {"python": "3.11"}}, "versions.torch: missing"),
        ({"device": "cuda", "precision": None}, "precision: missing on a GPU run"),
        ({"status": "running"}, "status: running"),
        ({"status": "completed with failures"}, "but every trial's latest record is ok"),
        ({"trials": 4}, "trials: 4, the suite has 9"),
        ({"code_version": 7}, "code_version: expected str, got 7"),
    ],
)
def test_manifest_problems_are_named_one_line_each(tmp_path, fields, fragment):
    run = make_run(tmp_path / "run")
    edit_manifest(run, **fields)
    problems = validate_run(run)
    assert any(fragment in p for p in problems), problems
    assert all("\n" not in p and p.startswith(str(run)) for p in problems)


def test_a_config_the_schema_grew_since_is_told_from_an_edited_one(tmp_path):
    run = make_run(tmp_path / "run")
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["config"]["learner"]["randomize_widths"]  # as if recorded before the field existed, and hashed so
    payload = {k: v for k, v in manifest["config"].items() if k != "description"}
    manifest["config_hash"] = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    (run / "manifest.json").write_text(json.dumps(manifest))
    edit_records(run, lambda records: [{**r, "config_hash": manifest["config_hash"]} for r in records])
    (problem,) = validate_run(run)
    assert "predates fields this gtnbench's schema added (learner.randomize_widths)" in problem
    manifest["config"]["learner"]["typo"] = 1
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert any("config.learner.typo: does not validate" in p for p in validate_run(run))


def test_missing_unexpected_and_mislabelled_trials(tmp_path):
    run = make_run(tmp_path / "run", drop=2)
    assert validate_run(run) == [
        (f"{run / 'records.jsonl'}: 2 of 9 trials have no record: gtn/steps=8/seed=1, gtn/steps=8/seed=2")
    ]

    def mislabel(records):
        records[0]["seed"] = 5
        records[1]["trial"] = "ghost/seed=0"
        return records

    edit_records(run, mislabel)
    problems = " | ".join(validate_run(run))
    assert "seed is 5, the suite says 0" in problems
    assert "records of trials the suite does not define: ghost/seed=0" in problems


def test_record_fields_and_statuses(tmp_path):
    run = make_run(tmp_path / "run")

    def damage(records):
        del records[0]["device_name"]
        records[1]["dataset"] = "cifar10"
        records[2].update(status="failed", reason=None, metrics={}, details={})
        records[3]["metrics"]["test_acc"] = "high"
        return records

    edit_records(run, damage)
    problems = " | ".join(validate_run(run))
    for fragment in (
        "line 1 (real-fewstep/steps=4/seed=0): device_name: missing",
        "line 2 (real-fewstep/steps=4/seed=1): dataset: 'cifar10' differs from the manifest's 'mnist'",
        "line 3 (real-fewstep/steps=4/seed=2): reason: a failed trial must say why",
        "line 4 (real-fewstep/steps=8/seed=0): metrics.test_acc: not a finite number",
        "status: completed, but 1 trial(s) failed",
    ):
        assert fragment in problems, fragment


def test_a_retried_failure_is_fine_but_a_rerun_ok_trial_is_not(tmp_path):
    run = make_run(tmp_path / "run")
    edit_records(run, lambda records: [{**records[0], "status": "failed", "reason": "OOM", "metrics": {}}, *records])
    assert validate_run(run) == []
    edit_records(run, lambda records: [*records, records[-1]])
    assert any("supersedes an ok record" in p for p in validate_run(run))


def test_an_interrupted_line_and_an_unreadable_run(tmp_path):
    run = make_run(tmp_path / "run")
    with open(run / "records.jsonl", "a") as handle:
        handle.write('{"trial": "gtn/st')
    assert any("ends in an interrupted line (17 bytes)" in p for p in validate_run(run))
    assert validate_run(tmp_path / "nothing") == [
        f"{tmp_path / 'nothing'}: not a gtnbench run directory (no manifest.json)"
    ]


def test_problems_of_one_kind_are_capped(tmp_path):
    run = make_run(
        tmp_path / "run", suite_text=RUN_SUITE.replace("seeds = [0, 1, 2]", "seeds = [0, 1, 2, 3, 4, 5, 6, 7]")
    )
    edit_records(run, lambda records: [{**r, "device": "gpu"} for r in records])
    problems = validate_run(run)
    assert len(problems) == MAX_LINES_PER_CHECK + 1 and problems[-1].startswith("... and ")


def test_validate_command_exits_1_on_problems(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    assert main(["validate", str(run)]) == 0
    edit_manifest(run, data_verified=False)
    assert main(["validate", str(run)]) == 1
    assert "data_verified: false" in capsys.readouterr().out


def test_report_validates_first_and_still_writes_the_report(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    edit_manifest(run, data_verified=False)
    assert main(["report", str(run), "--quiet"]) == 0
    problems = [line for line in capsys.readouterr().err.splitlines() if line.startswith("problem ")]
    assert len(problems) == 1 and "data_verified: false" in problems[0]
    assert (run / "report" / "index.html").is_file()
