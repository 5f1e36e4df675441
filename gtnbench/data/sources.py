"""Readers for the raw data layouts under a data root. Each returns uint8 NHWC arrays and int64 labels."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gtnbench.data import checksums
from gtnbench.data.paths import cache_dir
from gtnbench.errors import DataError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no lock, each process may decode once
    fcntl = None

VERIFY_ENV = "GTNBENCH_VERIFY"


@dataclass(frozen=True)
class RawImages:
    """Train and test images of one data set, as stored on disk (uint8, N x H x W x C)."""

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def verification_enabled() -> bool:
    """Checksums are verified unless GTNBENCH_VERIFY=0 (for test fixtures and custom data)."""
    return os.environ.get(VERIFY_ENV, "1") != "0"


def _missing(name: str, root: Path, expected: Path) -> DataError:
    return DataError(
        f"{name} not found under data root {root} (looked for {expected}); "
        f"run `gtnbench data fetch {name} --data-root {root}`, or point --data-root / GTNBENCH_DATA "
        "at a folder that holds it"
    )


def mnist_present(root: Path) -> bool:
    return all((root / relative).is_file() for relative in checksums.MNIST_SHA256)


def read_mnist(root: Path) -> RawImages:
    from torchvision.datasets import MNIST

    if not mnist_present(root):
        absent = next(root / r for r in checksums.MNIST_SHA256 if not (root / r).is_file())
        raise _missing("mnist", root, absent)
    if verification_enabled():
        checksums.require_intact(root, checksums.MNIST_SHA256)
    try:
        train, test = MNIST(str(root), train=True), MNIST(str(root), train=False)
    except Exception as error:  # torchvision raises bare exceptions on malformed IDX headers
        raise DataError(f"{root / 'MNIST/raw'}: cannot read the IDX files ({error})") from error
    return RawImages(
        "mnist",
        train.data.numpy()[..., None],
        train.targets.numpy().astype(np.int64),
        test.data.numpy()[..., None],
        test.targets.numpy().astype(np.int64),
    )


def cifar10_official_present(root: Path) -> bool:
    return all((root / relative).is_file() for relative in checksums.CIFAR10_BATCHES_MD5)


def read_cifar10_official(root: Path) -> RawImages:
    from torchvision.datasets import CIFAR10

    if not cifar10_official_present(root):
        raise _missing("cifar10", root, root / "cifar-10-batches-py")
    if verification_enabled():
        checksums.require_intact(root, checksums.CIFAR10_BATCHES_MD5, "md5")
    train, test = CIFAR10(str(root), train=True), CIFAR10(str(root), train=False)
    return RawImages(
        "cifar10",
        train.data,
        np.asarray(train.targets, dtype=np.int64),
        test.data,
        np.asarray(test.targets, dtype=np.int64),
    )


JPEG_ARCHIVE = "cifar10-jpeg/cifar10_jpeg_train_test.tar.gz"
JPEG_INDEX = "cifar10-jpeg/cifar10_official_order_index.csv"


def cifar10_jpeg_present(root: Path) -> bool:
    return (root / JPEG_ARCHIVE).is_file() and (root / JPEG_INDEX).is_file()


def read_cifar10_jpeg(root: Path) -> RawImages:
    """The JPEG copy of CIFAR-10, in the official order; decoded once, then cached as a tensor file."""
    if not cifar10_jpeg_present(root):
        absent = root / (JPEG_ARCHIVE if not (root / JPEG_ARCHIVE).is_file() else JPEG_INDEX)
        raise _missing("cifar10-jpeg", root, absent)
    archive_digest = checksums.file_digest(root / JPEG_ARCHIVE)
    index_digest = checksums.file_digest(root / JPEG_INDEX)
    if verification_enabled():
        for relative, actual in ((JPEG_ARCHIVE, archive_digest), (JPEG_INDEX, index_digest)):
            expected = checksums.CIFAR10_JPEG_SHA256[relative]
            if actual != expected:
                raise DataError(
                    f"{root / relative}: sha256 is {actual}, expected {expected}; "
                    "the file is corrupted or truncated: copy it again"
                )
    cached = cache_dir() / f"cifar10-jpeg-decoded-{archive_digest[:12]}-{index_digest[:12]}.pt"
    with _decoding_lock(cached):  # processes starting together (workers, tests) decode once between them
        if cached.is_file():
            try:
                arrays = torch.load(cached, weights_only=True)
                return RawImages("cifar10-jpeg", *(arrays[k].numpy() for k in _ARRAY_KEYS))
            except Exception:
                cached.unlink(missing_ok=True)  # a damaged cache is rebuilt from the archive
        raw = _decode_cifar10_jpeg(root / JPEG_ARCHIVE, root / JPEG_INDEX)
        partial = cached.with_suffix(f".tmp{os.getpid()}")
        torch.save({k: torch.from_numpy(getattr(raw, k)) for k in _ARRAY_KEYS}, partial)
        os.replace(partial, cached)
        return raw


@contextlib.contextmanager
def _decoding_lock(cached: Path) -> Iterator[None]:
    """Holds an exclusive lock beside the cache file while one process reads or writes it."""
    cached.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(cached.with_suffix(".lock"), "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


_ARRAY_KEYS = ("train_images", "train_labels", "test_images", "test_labels")


def _decode_cifar10_jpeg(archive: Path, index: Path) -> RawImages:
    from PIL import Image

    with open(index, newline="") as handle:
        rows = list(csv.DictReader(handle))
    position = {row["jpeg_path"]: row for row in rows}
    splits = {"train": {}, "test": {}}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if not member.isfile() or not member.name.endswith(".jpg"):
                continue
            row = position.get(member.name)
            if row is None:
                continue
            with Image.open(io.BytesIO(tar.extractfile(member).read())) as image:
                pixels = np.asarray(image.convert("RGB"))
            if pixels.shape != (32, 32, 3):
                raise DataError(f"{archive}: {member.name} decodes to {pixels.shape}, expected 32x32 RGB")
            splits[row["split"]][int(row["index_in_split"])] = (pixels, int(row["label"]))
    arrays = {}
    for split in ("train", "test"):
        found = splits[split]
        expected = sum(row["split"] == split for row in rows)
        if expected == 0 or sorted(found) != list(range(expected)):
            raise DataError(f"{archive}: holds {len(found)} of the {expected} {split} images listed in {index}")
        arrays[f"{split}_images"] = np.stack([found[i][0] for i in range(expected)])
        arrays[f"{split}_labels"] = np.asarray([found[i][1] for i in range(expected)], dtype=np.int64)
    return RawImages("cifar10-jpeg", *(arrays[k] for k in _ARRAY_KEYS))
