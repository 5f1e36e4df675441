"""Shared fixtures: tiny data sets in the real on-disk layouts, written by the tests themselves."""

from __future__ import annotations

import csv
import io
import os
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from gtnbench.data import datasets

REPO = Path(__file__).resolve().parent.parent


def write_idx_images(path: Path, images: np.ndarray) -> None:
    n, h, w = images.shape
    path.write_bytes(struct.pack(">IIII", 0x00000803, n, h, w) + images.astype(np.uint8).tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    path.write_bytes(struct.pack(">II", 0x00000801, len(labels)) + labels.astype(np.uint8).tobytes())


def make_mnist(root: Path, train: int = 120, test: int = 40, seed: int = 0) -> Path:
    """A tiny MNIST in torchvision's raw layout: class-dependent blobs, so a learner can learn them."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", train), ("t10k", test)):
        labels = np.arange(count) % 10
        images = rng.integers(0, 40, size=(count, 28, 28))
        for i, label in enumerate(labels):
            row, col = 2 + (label // 5) * 12, 2 + (label % 5) * 5
            images[i, row : row + 10, col : col + 4] = 255
        write_idx_images(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx_labels(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


def make_cifar10_jpeg(root: Path, train: int = 30, test: int = 10, seed: int = 0) -> Path:
    """A tiny CIFAR-10 JPEG copy: tar.gz of class folders plus the official-order index CSV."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    folder = root / "cifar10-jpeg"
    folder.mkdir(parents=True, exist_ok=True)
    rows, buffer = [], io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for split, count in (("train", train), ("test", test)):
            labels = rng.permutation(np.arange(count) % 10)
            per_class: dict[int, int] = {}
            for i, label in enumerate(labels):
                number = per_class.setdefault(int(label), 0)
                per_class[int(label)] += 1
                image = np.full((32, 32, 3), 25 * int(label), dtype=np.uint8)
                data = io.BytesIO()
                Image.fromarray(image).save(data, format="JPEG", quality=95)
                name = f"{split}/{names[label]}/{number:04d}.jpg"
                info = tarfile.TarInfo(name)
                info.size = len(data.getvalue())
                tar.addfile(info, io.BytesIO(data.getvalue()))
                rows.append([split, "b", i, i, int(label), names[label], name])
    (folder / "cifar10_jpeg_train_test.tar.gz").write_bytes(buffer.getvalue())
    with open(folder / "cifar10_official_order_index.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["split", "batch", "index_in_batch", "index_in_split", "label", "label_name", "jpeg_path"])
        writer.writerows(rows)
    return root


@pytest.fixture
def fixture_env(monkeypatch, tmp_path):
    """Fixture data has other checksums than the real files: switch verification off, isolate caches."""
    monkeypatch.setenv("GTNBENCH_VERIFY", "0")
    monkeypatch.setenv("GTNBENCH_CACHE", str(tmp_path / "cache"))
    datasets.load_dataset.cache_clear()
    yield
    datasets.load_dataset.cache_clear()


@pytest.fixture
def tiny_mnist(tmp_path, fixture_env) -> Path:
    return make_mnist(tmp_path / "data")


@pytest.fixture
def tiny_cifar(tmp_path, fixture_env) -> Path:
    return make_cifar10_jpeg(tmp_path / "data")


def real_data_root() -> Path | None:
    value = os.environ.get("GTNBENCH_DATA")
    return Path(value).resolve() if value and Path(value).is_dir() else None


@pytest.fixture
def real_root() -> Path:
    root = real_data_root()
    if root is None:
        pytest.skip("real data absent: set GTNBENCH_DATA to a data root (e.g. ../shared/data)")
    return root


TINY_SUITE = """
name = "tiny"
description = "a test suite on fixture data"
dataset = "mnist"
seeds = [0, 1]
claims = ["C2"]

[learner]
name = "mnist-paper"
widths = [4, 8, 16]

[methods.real-fewstep]
kind = "real"
steps = [2, 4]
batch_size = 16
lr = [0.05, 0.1]
momentum = 0.9

[methods.real-epochs]
kind = "real"
epochs = [1]
batch_size = 32
lr = 0.05
schedule = "cosine"
curve = true

[scales.smoke]
seeds = [0]

[scales.quick]
"""


@pytest.fixture
def tiny_suite(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SUITE)
    return path


def use_consoles(monkeypatch, out, err=None) -> None:
    """Make every command of the command line print through these consoles (each cli module holds its own
    reference to the shared ones)."""
    from gtnbench.cli import assets, common, perf, results, run, sets

    for module in (common, assets, perf, results, run, sets):
        if hasattr(module, "console"):
            monkeypatch.setattr(module, "console", out)
        if err is not None and hasattr(module, "err_console"):
            monkeypatch.setattr(module, "err_console", err)


def pytest_collection_modifyitems(items):
    """The end-to-end suite runs (marked slow, minutes each) first: `-n 2 --dist loadscope` hands them out
    before the short tests, so the short ones fill in around them instead of a long one running alone at
    the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
