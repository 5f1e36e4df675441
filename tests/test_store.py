import errno
import json
import os

import pytest

from gtnbench import store
from gtnbench.errors import StoreError
from gtnbench.store import RunWriter, read_run


def test_create_append_read(tmp_path):
    run = tmp_path / "run"
    with RunWriter.create(run, {"suite": "x"}) as writer:
        writer.append({"trial": "a", "value": 1})
        writer.append({"trial": "b", "value": 2})
    contents = read_run(run)
    assert contents.manifest == {"suite": "x"}
    assert [r["trial"] for r in contents.records] == ["a", "b"] and contents.partial_tail == b""


def test_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="already exists and is not empty"):
        RunWriter.create(tmp_path / "run", {})
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"


def test_two_writers_never_share_a_directory(tmp_path):
    with RunWriter.create(tmp_path / "run", {}):
        with pytest.raises(StoreError, match="in use by another gtnbench process"):
            RunWriter.resume(tmp_path / "run")


def test_a_crash_mid_append_leaves_a_valid_prefix_and_resume_keeps_the_fragment(tmp_path):
    run = tmp_path / "run"
    with RunWriter.create(run, {}) as writer:
        writer.append({"trial": "a"})
    with open(run / "records.jsonl", "ab") as handle:  # what a kill in the middle of a write leaves
        handle.write(b'{"trial": "b", "val')
    contents = read_run(run)
    assert [r["trial"] for r in contents.records] == ["a"] and contents.partial_tail == b'{"trial": "b", "val'
    writer, contents = RunWriter.resume(run)
    with writer:
        writer.append({"trial": "b"})
    assert [r["trial"] for r in read_run(run).records] == ["a", "b"]
    aside = list(run.glob("records.jsonl.partial-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b'{"trial": "b", "val'


def test_a_failed_append_rolls_back_and_keeps_earlier_records(tmp_path, monkeypatch):
    run = tmp_path / "run"
    writer = RunWriter.create(run, {})
    writer.append({"trial": "a"})
    real_write = os.write

    def half_write(fd, data):
        real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.os, "write", half_write)
    with pytest.raises(StoreError, match="No space left on device"):
        writer.append({"trial": "b", "payload": "x" * 100})
    monkeypatch.setattr(store.os, "write", real_write)
    writer.append({"trial": "c"})
    writer.close()
    assert [r["trial"] for r in read_run(run).records] == ["a", "c"]


def test_manifest_updates_are_atomic(tmp_path, monkeypatch):
    run = tmp_path / "run"
    writer = RunWriter.create(run, {"status": "running"})

    def broken_replace(src, dst):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(store.os, "replace", broken_replace)
    with pytest.raises(StoreError, match="previous version is intact"):
        writer.write_manifest({"status": "completed"})
    writer.close()
    assert json.loads((run / "manifest.json").read_text()) == {"status": "running"}
    assert not list(run.glob(".manifest.json.*"))


def test_hand_edited_garbage_line_is_reported_with_its_number(tmp_path):
    run = tmp_path / "run"
    with RunWriter.create(run, {}) as writer:
        writer.append({"trial": "a"})
    with open(run / "records.jsonl", "ab") as handle:
        handle.write(b"not json\n")
    with pytest.raises(StoreError, match="line 2 is not valid JSON"):
        read_run(run)


def test_not_a_run_directory(tmp_path):
    with pytest.raises(StoreError, match="not a gtnbench run directory"):
        read_run(tmp_path)


def test_unwritable_directory(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    with pytest.raises(StoreError, match="cannot"):
        RunWriter.create(locked / "run", {})


def test_new_run_paths_are_unique(tmp_path):
    first = store.new_run_path(tmp_path, "s", "smoke")
    first.mkdir()
    assert store.new_run_path(tmp_path, "s", "smoke") != first
