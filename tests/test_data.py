import hashlib

import pytest
import torch

from gtnbench.data import checksums, datasets, sources
from gtnbench.data.augment import random_crop_flip
from gtnbench.data.datasets import load_dataset, resolve_dataset_name, split_indices
from gtnbench.errors import DataError
from tests.conftest import make_mnist


def test_mnist_fixture_loads_with_paper_split(tiny_mnist):
    ds = load_dataset("mnist", tiny_mnist)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (100, 20, 40)  # 1/6 held out, as 10k of 60k
    assert ds.image_shape == (1, 28, 28) and ds.train.x.dtype == torch.float32
    assert ds.label == "MNIST"
    # normalised with the MNIST constants: a 0 pixel maps to -0.1307/0.3081
    assert ds.test.x.min().item() == pytest.approx(-0.1307 / 0.3081, abs=1e-5)


def test_splits_are_seeded_disjoint_and_complete():
    a_train, a_val = split_indices(60, 1 / 6, seed=0)
    b_train, b_val = split_indices(60, 1 / 6, seed=0)
    c_train, c_val = split_indices(60, 1 / 6, seed=1)
    assert torch.equal(a_val, b_val) and not torch.equal(a_val, c_val)
    assert len(a_val) == 10 and sorted(torch.cat([a_train, a_val]).tolist()) == list(range(60))


def test_missing_data_says_how_to_get_it(tmp_path, fixture_env):
    with pytest.raises(DataError, match="gtnbench data fetch mnist"):
        load_dataset("mnist", tmp_path)


def test_corrupted_file_names_file_and_expected_checksum(tmp_path, monkeypatch, fixture_env):
    root = make_mnist(tmp_path)
    monkeypatch.setenv("GTNBENCH_VERIFY", "1")
    good = {r: checksums.file_digest(root / r) for r in checksums.MNIST_SHA256}
    monkeypatch.setattr(checksums, "MNIST_SHA256", good)
    load_dataset("mnist", root)  # intact: loads
    target = root / "MNIST/raw/train-labels-idx1-ubyte"
    target.write_bytes(target.read_bytes()[:-3])
    datasets.load_dataset.cache_clear()
    with pytest.raises(DataError) as error:
        load_dataset("mnist", root)
    assert str(target) in str(error.value) and good["MNIST/raw/train-labels-idx1-ubyte"] in str(error.value)


def test_unknown_dataset_is_rejected(tmp_path):
    with pytest.raises(DataError, match="unknown dataset 'svhn'"):
        resolve_dataset_name("svhn", tmp_path)


def test_cifar10_jpeg_copy_loads_in_official_order_and_is_labelled(tiny_cifar):
    assert resolve_dataset_name("cifar10", tiny_cifar) == "cifar10-jpeg"
    ds = load_dataset("cifar10", tiny_cifar)
    assert ds.name == "cifar10-jpeg" and ds.label == "CIFAR-10 (JPEG copy)"
    assert (len(ds.train), len(ds.val), len(ds.test)) == (27, 3, 10)
    raw = sources.read_cifar10_jpeg(tiny_cifar)  # second read comes from the decoded cache
    # each fixture image is a flat colour 25 * label: decoding must keep the order of the index
    assert [int(round(img.mean() / 25)) for img in raw.test_images] == raw.test_labels.tolist()


def test_a_damaged_jpeg_cache_is_rebuilt_from_the_archive(tiny_cifar):
    first = sources.read_cifar10_jpeg(tiny_cifar)
    [cached] = sources.cache_dir().glob("cifar10-jpeg-decoded-*.pt")
    cached.write_bytes(cached.read_bytes()[:100])
    again = sources.read_cifar10_jpeg(tiny_cifar)
    assert again.test_labels.tolist() == first.test_labels.tolist() and cached.stat().st_size > 100


def test_random_crop_flip_is_seeded_and_keeps_shape():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    a = random_crop_flip(x, torch.Generator().manual_seed(0), padding=2)
    b = random_crop_flip(x, torch.Generator().manual_seed(0), padding=2)
    assert a.shape == x.shape and torch.equal(a, b)
    no_pad = random_crop_flip(x, torch.Generator().manual_seed(3), padding=0)
    assert all(torch.equal(no_pad[i], x[i]) or torch.equal(no_pad[i], x[i].flip(-1)) for i in range(2))


def test_known_checksums_match_the_shared_files():
    """The checksums shipped in the package are those of ../shared/data's SHA256SUMS files."""
    from tests.conftest import real_data_root

    root = real_data_root()
    if root is None:
        pytest.skip("real data absent")
    listed = {}
    for sums, prefix in (
        (root / "MNIST/raw/SHA256SUMS", "MNIST/raw/"),
        (root / "cifar10-jpeg/SHA256SUMS", "cifar10-jpeg/"),
    ):
        for line in sums.read_text().splitlines():
            digest, name = line.split()
            listed[prefix + name] = digest
    assert {**checksums.MNIST_SHA256, **checksums.CIFAR10_JPEG_SHA256} == listed


@pytest.mark.realdata
def test_real_mnist_has_paper_splits(real_root):
    ds = load_dataset("mnist", real_root)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (50_000, 10_000, 10_000)
    counts = torch.bincount(torch.cat([ds.train.y, ds.val.y]), minlength=10).tolist()
    assert counts == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    digest = hashlib.sha256(ds.val.y.numpy().tobytes()).hexdigest()
    assert digest == hashlib.sha256(load_dataset("mnist", real_root, "cpu", 0).val.y.numpy().tobytes()).hexdigest()


@pytest.mark.realdata
def test_real_cifar10_jpeg_has_paper_splits(real_root):
    """Through the user's cache, as the suites load it (the end-to-end runs share its one decoding; the decoding
    order and a damaged cache are tested on a tiny archive)."""
    ds = load_dataset("cifar10-jpeg", real_root)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (45_000, 5_000, 10_000)
    assert ds.test.y[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]  # the official test order
    datasets.load_dataset.cache_clear()
