"""Run directories: manifest.json plus append-only records.jsonl, safe against crashes and rivals.

- One writer: a run directory is locked (flock) while a process writes to it.
- Atomic records: each record is one line written with a single O_APPEND write and fsync'd;
  a crash leaves a valid prefix plus at most one incomplete last line, which readers skip and
  `resume` moves aside into a `.partial` file, so no byte is ever silently dropped.
- Atomic manifest: written to a temporary file and renamed over the old one.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gtnbench.errors import StoreError

MANIFEST = "manifest.json"
DEFAULT_RUNS_DIR = Path("runs")  # where `gtnbench run` writes when no --out is given
RECORDS = "records.jsonl"
LOCK = ".lock"
ARTIFACTS = "artifacts"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: fall back to an exclusive lock file
    fcntl = None


@dataclass
class RunContents:
    path: Path
    manifest: dict[str, Any]
    records: list[dict[str, Any]]
    partial_tail: bytes  # an incomplete last line, if a writer died mid-append


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON through a temporary file and a rename. Keys keep their order: a manifest's suite
    methods stay in the suite's order, which is the order they run in."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(partial, "w") as handle:
            json.dump(payload, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise StoreError(f"{path}: cannot write ({error.strerror}); the previous version is intact") from None


def save_json(path: Path, payload: dict[str, Any]) -> None:
    """A command's JSON output file (`--out`, costs): its folder made if need be, written atomically."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(path), payload)


def _split_records(data: bytes, path: Path) -> tuple[list[dict[str, Any]], bytes]:
    """Complete JSON lines, and the bytes after the last newline (an interrupted append)."""
    cut = data.rfind(b"\n") + 1
    records = []
    for number, line in enumerate(data[:cut].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise StoreError(
                f"{path}: line {number} is not valid JSON ({error.msg}); the file was edited by hand?"
            ) from None
    return records, data[cut:]


def read_run(path: Path) -> RunContents:
    """Read a run directory without modifying it."""
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise StoreError(f"{path}: not a gtnbench run directory (no {MANIFEST})")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as error:
        raise StoreError(f"{manifest_path}: not valid JSON ({error.msg})") from None
    records_path = path / RECORDS
    data = records_path.read_bytes() if records_path.exists() else b""
    records, tail = _split_records(data, records_path)
    return RunContents(path, manifest, records, tail)


class RunWriter:
    """The single writer of one run directory; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_fd: int | None = None
        self._records_fd: int | None = None

    # -- opening ---------------------------------------------------------
    @classmethod
    def create(cls, path: Path, manifest: dict[str, Any]) -> RunWriter:
        """Start a new run in `path`, which must not exist or be empty."""
        path = Path(path)
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            if not path.is_dir() or any(path.iterdir()):
                raise StoreError(
                    f"{path}: already exists and is not empty; pass --resume to continue that run, "
                    "or choose another --out"
                ) from None
        except OSError as error:
            raise StoreError(f"{path}: cannot create the run directory ({error.strerror})") from None
        writer = cls(path)
        writer._lock()
        writer.write_manifest(manifest)
        writer._open_records()
        return writer

    @classmethod
    def resume(
        cls, path: Path, accept: Callable[[dict[str, Any]], None] | None = None
    ) -> tuple[RunWriter, RunContents]:
        """Reopen an existing run; an interrupted last line is moved to records.jsonl.partial-<time>.
        `accept(manifest)` runs first, under the lock: if it raises (the run is not the one to continue),
        the directory is left exactly as it was."""
        contents = read_run(path)
        writer = cls(path)
        writer._lock()
        try:
            contents = read_run(path)  # re-read under the lock
            if accept is not None:
                accept(contents.manifest)
        except BaseException:
            writer.close()
            raise
        if contents.partial_tail:
            records_path = writer.path / RECORDS
            aside = writer.path / f"{RECORDS}.partial-{time.strftime('%Y%m%d-%H%M%S')}"
            aside.write_bytes(contents.partial_tail)
            with open(records_path, "r+b") as handle:
                handle.truncate(records_path.stat().st_size - len(contents.partial_tail))
                os.fsync(handle.fileno())
            contents.partial_tail = b""
        writer._open_records()
        return writer, contents

    def _lock(self) -> None:
        lock_path = self.path / LOCK
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise StoreError(f"{self.path}: cannot write to the run directory ({error.strerror})") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise StoreError(
                    f"{self.path}: in use by another gtnbench process (pid {holder}); "
                    "two runs never write the same directory"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def _open_records(self) -> None:
        try:
            self._records_fd = os.open(self.path / RECORDS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            raise StoreError(f"{self.path / RECORDS}: cannot open for appending ({error.strerror})") from None

    # -- writing ---------------------------------------------------------
    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json_atomic(self.path / MANIFEST, manifest)

    def append(self, record: dict[str, Any]) -> None:
        """Append one record as one line; on failure the file is rolled back to its previous size."""
        assert self._records_fd is not None, "writer is closed"
        line = (json.dumps(record, sort_keys=True, allow_nan=True) + "\n").encode()
        size = os.fstat(self._records_fd).st_size
        try:
            written = os.write(self._records_fd, line)
            if written != len(line):
                raise OSError(errno.ENOSPC, "short write")
            os.fsync(self._records_fd)
        except OSError as error:
            os.ftruncate(self._records_fd, size)
            raise StoreError(
                f"{self.path / RECORDS}: cannot append a record ({error.strerror}); "
                "earlier records are intact, rerun with --resume"
            ) from None

    def artifact_dir(self, trial_id: str) -> Path:
        folder = artifact_path(self.path, trial_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def close(self) -> None:
        for fd in (self._records_fd, self._lock_fd):
            if fd is not None:
                os.close(fd)
        self._records_fd = self._lock_fd = None

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def artifact_path(run: Path, trial_id: str) -> Path:
    """Where a trial's files (checkpoints, images) live inside its run directory."""
    return Path(run) / ARTIFACTS / trial_id.replace("/", "__")


def new_run_path(base: Path, suite: str, scale: str) -> Path:
    """A fresh, unused directory name under `base`: <suite>-<scale>-<date>-<time>[-n]."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        candidate = base / f"{suite}-{scale}-{stamp}" if attempt == 0 else base / f"{suite}-{scale}-{stamp}-{attempt}"
        if not candidate.exists():
            return candidate
    raise StoreError(f"{base}: cannot find a free run directory name")


def latest_run(base: Path, prefix: str = "") -> Path | None:
    """The most recently started run directory under `base` whose name starts with `prefix`."""
    if not base.is_dir():
        return None
    runs = [p for p in base.iterdir() if p.is_dir() and p.name.startswith(prefix) and (p / MANIFEST).is_file()]
    return max(runs, key=lambda p: (p / MANIFEST).stat().st_mtime, default=None) if runs else None
