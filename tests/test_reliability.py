"""The reliability battery: fuzzed suite files, kill-and-resume, and faults around the run store.

The default test run uses a fast subset. The full battery (the figures of the README):

    GTNBENCH_FUZZ_EXAMPLES=1000 GTNBENCH_KILLS=20 pytest tests/test_reliability.py
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtnbench.errors import GtnbenchError
from gtnbench.store import read_run
from gtnbench.suite.files import parse_suite
from tests.conftest import REPO, TINY_SUITE, make_mnist

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FUZZ_EXAMPLES = int(os.environ.get("GTNBENCH_FUZZ_EXAMPLES", "150"))
KILLS = int(os.environ.get("GTNBENCH_KILLS", "2"))
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
SUITE_FILE = Path("suites/fuzzed.toml")


def loads_cleanly(data: bytes | str) -> None:
    """The property: a valid suite, or one GtnbenchError whose one-line message names the file."""
    try:
        suite = parse_suite(SUITE_FILE, data)
    except GtnbenchError as error:
        message = str(error)
        assert "\n" not in message and message.startswith(str(SUITE_FILE)), message
        return
    for scale in suite.scales:
        suite.at(scale).config_hash()


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_load_cleanly(data):
    loads_cleanly(data)


KEYS = [
    "name",
    "dataset",
    "seeds",
    "learner",
    "methods",
    "scales",
    "smoke",
    "quick",
    "paper",
    "kind",
    "steps",
    "lr",
    "momentum",
    "schedule",
    "widths",
    "inner_steps",
    "curriculum",
    "nb201",
    "architectures",
    "count",
    "epochs",
    "expect",
    "tolerances",
    "real",
    "gtn",
    "nb201-train",
    "claims",
    "default_scale",
    "weight_norm",
    "a\nb",
    "",
]
SCALARS = st.one_of(
    st.integers(-5, 10**6),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["mnist", "cifar10", "real", "gtn", "full", "none", "smoke", "linear", "C1"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=20,
)


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), VALUES, max_size=8))
def test_any_toml_document_loads_cleanly(document):
    try:
        text = tomli_w.dumps(document)
    except (TypeError, ValueError):  # not representable in TOML (e.g. a list of mixed tables)
        return
    loads_cleanly(text)


def _mutations(node, path=()):
    """Every (path, container) of a parsed TOML document."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _mutations(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _mutations(value, (*path, index))


BUNDLED = sorted((REPO / "suites").glob("*.toml"))


@FUZZ
@given(st.sampled_from(BUNDLED), st.randoms(use_true_random=False), SCALARS)
def test_mutated_bundled_suites_load_cleanly(path, rng, replacement):
    document = tomllib.loads(path.read_text())
    places = list(_mutations(document))
    target_path, target = rng.choice(places)
    if isinstance(target, dict) and target and rng.random() < 0.5:
        key = rng.choice(list(target))
        if rng.random() < 0.5:
            del target[key]
        else:
            target[key] = replacement
    elif isinstance(target, dict):
        target[rng.choice(KEYS) or "x"] = replacement
    elif isinstance(target, list) and target:
        target[rng.randrange(len(target))] = replacement
    else:
        return
    try:
        text = tomli_w.dumps(document)
    except (TypeError, ValueError):
        return
    loads_cleanly(text)


# -- kill and resume -------------------------------------------------------------------------------
def _gtnbench(*args, cwd, env, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "gtnbench", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_kill_at_random_moments_then_resume_loses_and_duplicates_nothing(tmp_path):
    root = make_mnist(tmp_path / "data", train=300, test=60)
    suite = tmp_path / "tiny.toml"
    suite.write_text(
        TINY_SUITE.replace("seeds = [0, 1]", "seeds = [0, 1, 2]").replace("steps = [2, 4]", "steps = [2, 4, 8]")
    )
    env = {
        **os.environ,
        "GTNBENCH_VERIFY": "0",
        "GTNBENCH_DATA": str(root),
        "GTNBENCH_CACHE": str(tmp_path / "c"),
        "OMP_NUM_THREADS": "1",
    }
    reference = tmp_path / "reference"
    start = time.monotonic()  # how long a whole run takes, to spread the kills over it
    assert _gtnbench("run", str(suite), "--scale", "quick", "--out", str(reference), cwd=tmp_path, env=env).wait() == 0
    duration = time.monotonic() - start
    expected = {r["trial"]: r["metrics"]["test_acc"] for r in read_run(reference).records}

    rng = random.Random(0)
    kills = lost = duplicated = 0
    for attempt in range(KILLS):
        out = tmp_path / f"killed-{attempt}"
        args = ["run", str(suite), "--scale", "quick", "--out", str(out)]
        for _ in range(5):  # a run that finishes before its kill (a busy machine timed it slow) is retried sooner
            process = _gtnbench(*args, cwd=tmp_path, env=env)
            time.sleep(rng.uniform(0.3, 0.95) * duration)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
                process.wait()
                break
            process.wait()
            shutil.rmtree(out)
            duration /= 2
        if not (out / "manifest.json").exists():  # killed before the run directory was written: start again
            assert _gtnbench(*args, cwd=tmp_path, env=env).wait() == 0
        else:
            resumed = _gtnbench(*args, "--resume", cwd=tmp_path, env=env)
            assert resumed.wait() == 0, resumed.stderr.read()
        records = read_run(out).records
        ids = [r["trial"] for r in records]
        lost += len(set(expected) - set(ids))
        duplicated += len(ids) - len(set(ids))
        assert {r["trial"]: r["metrics"]["test_acc"] for r in records} == expected
    print(json.dumps({"kills": kills, "attempts": KILLS, "records_lost": lost, "records_duplicated": duplicated}))
    assert lost == 0 and duplicated == 0 and kills >= 1


# -- faults around the store ---------------------------------------------------------------------
def test_run_refuses_a_directory_another_run_holds(tmp_path):
    from gtnbench.store import RunWriter

    root = make_mnist(tmp_path / "data")
    suite = tmp_path / "tiny.toml"
    suite.write_text(TINY_SUITE)
    env = {**os.environ, "GTNBENCH_VERIFY": "0", "GTNBENCH_DATA": str(root), "GTNBENCH_CACHE": str(tmp_path / "c")}
    assert _gtnbench("run", str(suite), "--out", str(tmp_path / "run"), cwd=tmp_path, env=env).wait() == 0
    before = (tmp_path / "run" / "records.jsonl").read_bytes()
    writer, _ = RunWriter.resume(tmp_path / "run")  # another process writing: holds the lock
    with writer:
        second = _gtnbench("run", str(suite), "--out", str(tmp_path / "run"), "--resume", cwd=tmp_path, env=env)
        message = second.communicate()[1]
    assert second.returncode == 2 and "in use by another gtnbench process" in message
    assert (tmp_path / "run" / "records.jsonl").read_bytes() == before


def test_unwritable_output_is_one_clear_error(tmp_path):
    root = make_mnist(tmp_path / "data")
    suite = tmp_path / "tiny.toml"
    suite.write_text(TINY_SUITE)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = {**os.environ, "GTNBENCH_VERIFY": "0", "GTNBENCH_DATA": str(root), "GTNBENCH_CACHE": str(tmp_path / "c")}
    done = _gtnbench("run", str(suite), "--out", str(blocker / "run"), cwd=tmp_path, env=env)
    message = done.communicate()[1]
    assert (
        done.returncode == 2 and "cannot create the run directory" in message and len(message.strip().splitlines()) == 1
    )
    assert blocker.read_text() == "not a folder"
