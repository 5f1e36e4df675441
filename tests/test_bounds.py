"""Bounded inputs: every size and count a suite sets is checked against what the data and the device can hold,
one line naming the file and key; a refused --resume changes nothing; data verify and check --against refuse
what they cannot do, in one line."""

from pathlib import Path

import pytest
from rich.console import Console

from gtnbench.cli import main
from gtnbench.errors import StoreError, SuiteError
from gtnbench.run import runner
from gtnbench.store import RunWriter
from gtnbench.suite import bounds
from gtnbench.suite.files import load_suite, parse_suite
from tests.conftest import TINY_SUITE
from tests.runs import RUN_SUITE, make_run

BASE = """
name = "b"
dataset = "mnist"
seeds = [0]

[learner]
name = "mnist-paper"

[methods.real]
kind = "real"
steps = [8]

[methods.gtn]
kind = "gtn"
inner_steps = 8

[methods.subset]
kind = "subset"
images_per_class = 10

[scales.smoke]
"""

NAS = """
name = "n"
dataset = "cifar10"
seeds = [0]

[learner]
name = "cifar10-paper"

[nb201]
architectures = { count = 8 }

[methods.hp12]
kind = "nb201-table"

[scales.smoke]
"""


def refusal(text: str) -> str:
    with pytest.raises(SuiteError) as error:
        parse_suite(Path("suites/x.toml"), text)
    line = str(error.value)
    assert "\n" not in line and line.startswith("suites/x.toml: ")
    return line


@pytest.mark.parametrize(
    "old, new, key, words",
    [
        (
            "steps = [8]",
            "steps = [8]\nbatch_size = 10000000000",
            "methods.real.batch_size",
            "50,000 (the images of mnist's training split)",
        ),
        ("steps = [8]", "steps = [100000000000]", "methods.real.steps", "bounds.MAX_LESSON_IMAGES"),
        ("steps = [8]", "epochs = [100000]", "methods.real.epochs", "bounds.MAX_EPOCHS"),
        (
            "steps = [8]",
            f"steps = [780000]\nlr = {[0.01 * i for i in range(1, 13)]}\nmomentum = [0, 0.5, 0.9]\n"
            'schedule = ["constant", "linear", "cosine"]',
            "methods.real.steps",
            "108 configurations x 780,000 steps x batch 128 = 10,782,720,000 images, more than 10,000,000,000",
        ),
        ("seeds = [0]", "seeds = [3, 3]", "seeds", "3 appears more than once"),
        ("seeds = [0]", "seeds = [18446744073709551617]", "seeds", "more than 2,147,483,647"),
        ("seeds = [0]", "seeds = [0]\nsplit_seed = 4294967296", "split_seed", "bounds.MAX_SEED"),
        (
            "seeds = [0]",
            "seeds = [0]\nscored_images = 20000",
            "scored_images",
            "10,000 (the images of mnist's validation",
        ),
        ("inner_steps = 8", "inner_steps = 100000", "methods.gtn.inner_steps", "bounds.MAX_GTN_LESSON_IMAGES"),
        (
            "inner_steps = 8",
            "inner_steps = 64\nouter_iterations = 10000000",
            "methods.gtn.outer_iterations",
            "bounds.MAX_TRIAL_IMAGES",
        ),
        (
            "inner_steps = 8",
            "inner_steps = 8\ngenerator = { hidden = 1000000 }",
            "methods.gtn.generator.hidden",
            "bounds.MAX_WIDTH",
        ),
        (
            "inner_steps = 8",
            "inner_steps = 8\neval_learners = 100000",
            "methods.gtn.eval_learners",
            "bounds.MAX_LEARNERS",
        ),
        ("images_per_class = 10", "images_per_class = 6000", "methods.subset.images_per_class", "a set's images"),
        (
            'name = "mnist-paper"',
            'name = "mnist-paper"\nwidths = [16, 100000, 64]',
            "learner.widths",
            "channels or units",
        ),
    ],
)
def test_each_size_beyond_its_bound_is_one_line_naming_the_key(old, new, key, words):
    line = refusal(BASE.replace(old, new))
    assert line.startswith(f"suites/x.toml: {key}: ") and words in line, line


@pytest.mark.parametrize(
    "old, new, key, words",
    [
        ("count = 8", "count = 1000000", "nb201.architectures.count", "15,625 (the architectures of nb201)"),
        ("count = 8", "count = 8, seed = -1", "nb201.architectures.seed", "greater than or equal to 0"),
        ("count = 8 }", "count = 8 }\nbootstrap = 1000000000", "nb201.bootstrap", "bounds.MAX_BOOTSTRAP"),
    ],
)
def test_nas_counts_are_bounded_by_the_search_space(old, new, key, words):
    line = refusal(NAS.replace(old, new))
    assert line.startswith(f"suites/x.toml: {key}: ") and words in line, line


def test_a_bound_broken_in_a_scale_names_the_scale():
    line = refusal(BASE + "[scales.smoke.methods.real]\nbatch_size = 60000\n")
    assert line.startswith("suites/x.toml: scales.smoke.methods.real.batch_size: 60,000 is more than 50,000")


def test_the_bounds_hold_room_for_the_paper_settings():
    paper = BASE.replace("steps = [8]", "epochs = [20]").replace(
        "inner_steps = 8", "inner_steps = 128\nouter_iterations = 2000"
    )
    config = parse_suite(Path("x.toml"), paper).at()
    assert bounds.violations(config) == []
    assert 128 * 128 * 16 == bounds.MAX_GTN_LESSON_IMAGES  # sixteen paper CIFAR-10 lessons


def test_a_refused_resume_changes_nothing(tiny_suite, tiny_mnist, tmp_path):
    other = make_run(tmp_path / "run", RUN_SUITE)  # another suite's run in the directory
    records = other / "records.jsonl"
    with open(records, "ab") as handle:
        handle.write(b'{"trial": "interrupted mid-line')
    before = {p.name: p.read_bytes() for p in other.iterdir() if p.is_file()}
    with pytest.raises(StoreError, match="it is a run of tiny-run at scale smoke, not of tiny at scale smoke"):
        runner.run_suite(
            load_suite(tiny_suite), "smoke", "cpu", tiny_mnist, other, resume=True, console=Console(quiet=True)
        )
    after = {p.name: p.read_bytes() for p in other.iterdir() if p.is_file() and p.name != ".lock"}
    assert after == {k: v for k, v in before.items() if k != ".lock"}  # the partial line is where it was

    # the writer's own hook: a refusal under the lock leaves the directory as it was, and unlocked
    def refuse(manifest):
        raise StoreError("not this one")

    with pytest.raises(StoreError, match="not this one"):
        RunWriter.resume(other, refuse)
    assert records.read_bytes() == before["records.jsonl"] and not list(other.glob("records.jsonl.partial-*"))
    writer, contents = RunWriter.resume(other)  # the lock was released
    writer.close()
    assert list(other.glob("records.jsonl.partial-*"))


def test_data_verify_of_a_missing_root_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["data", "verify", "--data-root", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "nowhere") in err and "--data-root" in err


def test_data_verify_of_a_root_without_data_fails(tmp_path, capsys):
    assert main(["data", "verify", "--data-root", str(tmp_path)]) == 1
    assert "no known data files" in capsys.readouterr().err


def test_check_against_a_reference_of_another_suite_names_it(tmp_path, capsys, monkeypatch):
    from tests.conftest import use_consoles

    use_consoles(monkeypatch, Console(width=300))
    run = make_run(tmp_path / "run")
    other_suite = TINY_SUITE.replace("[scales.quick]\n", "")
    reference = make_run(tmp_path / "reference", other_suite)
    assert main(["check", str(run), "--against", str(reference)]) == 1
    out = capsys.readouterr().out
    assert f"the run is suite tiny-run, the reference {reference} is suite tiny" in out
    assert "violations" not in out and "the suite changed" not in out
