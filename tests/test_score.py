"""`gtnbench score`: the set file format (its checks, one line each; .pt and .npz alike), the generated suite, and
a set exported from a teachers run and scored from its file giving the teachers run's very numbers."""

import json

import numpy as np
import pytest
import torch
from rich.console import Console

from gtnbench.cli.sets import export_set
from gtnbench.data.datasets import ImageDataset, Split
from gtnbench.data.image_set import ImageSet
from gtnbench.data.set_file import brought_counts, read_set_file, write_set_file
from gtnbench.errors import DataError, StoreError
from gtnbench.run import runner
from gtnbench.store import read_run
from gtnbench.suite.files import find_suite, load_suite
from gtnbench.suite.score import score_suite

QUIET = Console(quiet=True)


def dataset() -> ImageDataset:
    g = torch.Generator().manual_seed(0)
    split = Split(torch.randn(40, 1, 28, 28, generator=g), torch.arange(40) % 10)
    return ImageDataset("mnist", split, split, split, 10, 0)


def fields(count=20, **changes):
    g = torch.Generator().manual_seed(1)
    out = {
        "images": torch.randn(count, 1, 28, 28, generator=g),
        "labels": torch.arange(count) % 10,
        "method": "dm",
        "dsa": ["crop", "scale"],
        "seconds": 12.5,
        "flops": 10**9,
    }
    out.update(changes)
    return {k: v for k, v in out.items() if v is not None}


def saved(tmp_path, suffix=".pt", **changes):
    path = tmp_path / f"set{suffix}"
    values = fields(**changes)
    if suffix == ".npz":
        np.savez(path, **{k: v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v) for k, v in values.items()})
    else:
        torch.save(values, path)
    return path


@pytest.mark.parametrize("suffix", [".pt", ".npz"])
def test_a_set_file_reads_alike_from_pt_and_npz_with_what_it_declares(tmp_path, suffix):
    brought = read_set_file(saved(tmp_path, suffix), dataset())
    image_set = brought.image_set
    assert torch.equal(image_set.images, fields()["images"]) and image_set.per_class() == [2] * 10
    assert image_set.label_regime == "hard" and image_set.method == "file"
    assert brought.declared == {"method": "dm", "dsa": ["crop", "scale"], "seconds": 12.5, "flops": 10**9}
    assert len(image_set.provenance["sha256"]) == 64 and brought_counts(tmp_path / f"set{suffix}") == [2] * 10


def test_soft_labels_and_per_image_learning_rates_are_read_and_written_back(tmp_path):
    soft = torch.full((20, 10), 0.05)
    soft[torch.arange(20), torch.arange(20) % 10] = 0.55
    brought = read_set_file(saved(tmp_path, labels=soft, lrs=torch.linspace(0.5, 1.5, 20)), dataset())
    assert brought.image_set.label_regime == "soft + per-image lr" and brought.image_set.per_class() == [2] * 10
    for suffix in (".npz", ".pt"):
        again = read_set_file(write_set_file(brought.image_set, tmp_path / f"back{suffix}"), dataset()).image_set
        assert torch.equal(again.soft_labels, brought.image_set.soft_labels)
        assert torch.equal(again.lrs, brought.image_set.lrs) and torch.equal(again.images, brought.image_set.images)


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"images": torch.randn(20, 28, 28, 1)},
            r"images: shape \[20, 28, 28, 1\], expected \[N, 1, 28, 28\] for MNIST "
            r"\(channels last",
        ),
        ({"images": torch.randn(20, 784)}, r"images: 2-d \[20, 784\], expected \[N, 1, 28, 28\] \(NCHW\)"),
        ({"images": torch.randint(0, 255, (20, 1, 28, 28), dtype=torch.uint8)}, "uint8 values; a set file holds float"),
        ({"images": torch.full((20, 1, 28, 28), float("nan"))}, r"images: NaN or infinite values \(first in image 0\)"),
        (
            {"images": 255 * torch.rand(20, 1, 28, 28)},
            r"not normalised pixels \(0-255 values\?\).*mean 0.1307, std 0.3081",
        ),
        ({"images": torch.rand(20, 1, 28, 28)}, r"every value lies in \[0, 1\]"),
        ({"images": torch.rand(20, 1, 28, 28) + 0.5, "pixels": "unit"}, r"pixels = 'unit' means \[0, 1\]"),
        ({"labels": torch.arange(19) % 10}, "labels: 19 label.s. for 20 images"),
        ({"labels": torch.full((20, 9), 1 / 9)}, "soft labels over 9 classes; the data set has 10"),
        ({"labels": torch.full((20, 10), 0.2)}, "rows must sum to 1; row 0 sums to 2"),
        ({"labels": torch.arange(20) % 9}, r"class\(es\) 9 have no image"),
        ({"labels": torch.arange(20) % 10 + 1}, "class indices from 1 to 10; the data set has classes 0..9"),
        (
            {"images": torch.randn(41, 1, 28, 28), "labels": torch.arange(41) % 10},
            "41 images, more than the 40 of MNIST's training split",
        ),
        ({"lrs": torch.zeros(20)}, "lrs: learning rates must be finite and positive"),
        ({"dsa": ["twirl"]}, "dsa: a list of DSA transforms"),
        ({"colour": "red"}, r"unknown field\(s\) colour"),
        ({"dataset": "cifar10"}, "made on cifar10, not on MNIST"),
    ],
)
def test_a_bad_set_file_is_refused_in_one_line_naming_the_file_and_the_problem(tmp_path, changes, message):
    path = saved(tmp_path, **changes)
    with pytest.raises(DataError, match=message) as error:
        read_set_file(path, dataset())
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)


def test_unreadable_files_and_other_suffixes_are_refused(tmp_path):
    (tmp_path / "set.pt").write_text("not a tensor")
    (tmp_path / "set.h5").write_text("")
    with pytest.raises(DataError, match="not a readable .pt set file"):
        read_set_file(tmp_path / "set.pt", dataset())
    with pytest.raises(DataError, match="ends in .pt or .npz"):
        read_set_file(tmp_path / "set.h5", dataset())
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(DataError, match="holds a dict of named fields"):
        read_set_file(tmp_path / "list.pt", dataset())


def test_score_refuses_a_bad_file_in_one_line_and_writes_nothing(tmp_path, tiny_mnist, monkeypatch, capsys):
    from gtnbench.cli import main

    monkeypatch.chdir(tmp_path)
    path = saved(tmp_path, images=torch.randn(20, 28, 28, 1))
    code = main(["score", str(path), "--dataset", "mnist", "--data-root", str(tiny_mnist)])
    err = capsys.readouterr().err
    assert code == 2 and err.strip().count("\n") == 0, err
    assert str(path) in err and "channels last" in err and not (tmp_path / "runs").exists()


def test_the_generated_suite_scores_the_set_beside_its_baselines_and_as_a_nas_proxy_on_cifar10(tmp_path):
    image_set = ImageSet(torch.randn(30, 3, 32, 32), torch.arange(30) % 10, "dm", "cifar10", 0)
    g = torch.Generator().manual_seed(0)
    cifar = ImageDataset(
        "cifar10", *(Split(torch.randn(50, 3, 32, 32, generator=g), torch.arange(50) % 10),) * 3, 10, 0
    )
    path = write_set_file(image_set, tmp_path / "dm.npz", {"method": "dm", "dsa": ["color", "crop"]})
    suite = score_suite(path, read_set_file(path, cifar), "cifar10", "smoke")
    config = suite.at("smoke")
    assert config.name == "score-dm" and config.set_evaluation.protocols == ["equal-steps", "own-recipe", "reference"]
    assert config.methods["set"].dsa == ["color", "crop"] and config.methods["subset"].counts == [3] * 10
    assert config.methods["kmeans"].counts == [3] * 10 and config.methods["kmeans"].features.steps == 5
    assert {"real-fewstep", "set-proxy", "subset-proxy", "kmeans-proxy", "real", "free", "hp12"} <= set(config.methods)
    assert config.methods["set-proxy"].set == "set" and config.nas is not None
    teachers = find_suite("cifar10-teachers").at("smoke")
    assert config.learner == teachers.learner and config.seeds == teachers.seeds
    no_nas = score_suite(path, read_set_file(path, cifar), "cifar10", "smoke", nas=False).at("smoke")
    assert no_nas.nas is None and "set-proxy" not in no_nas.methods


TEACHERS = """
name = "tiny-teachers"
dataset = "mnist"
seeds = [0, 1]

[learner]
name = "mnist-paper"
widths = [3, 6]

[set_evaluation]
protocols = ["equal-steps", "own-recipe", "reference"]
equal_steps = { steps = 3, batch_size = 8, lr = [0.05, 0.1], momentum = 0.5, schedule = "constant" }
own_recipe = { epochs = 2, batch_size = 16, lr = 0.05 }
reference = { epochs = 1, batch_size = 16, learner = { name = "convnet", widths = [2, 2, 2] } }

[methods.real-fewstep]
kind = "real"
steps = [3]
batch_size = 8
lr = [0.1]

[methods.kmeans-2]
kind = "coreset"
selection = "kmeans"
images_per_class = 2

[methods.dm-2]
kind = "dm"
images_per_class = 2
iterations = 2
real_per_class = 4
lr_images = 0.3
dsa = ["crop", "scale"]
make_with = { name = "convnet", widths = [2, 2, 2] }

[scales.smoke]
"""


def test_a_set_exported_and_scored_from_its_file_gets_the_teachers_runs_numbers(tmp_path, tiny_mnist):
    """The held-out test of the file path: the built-in path and `gtnbench score` are one protocol."""
    suite_path = tmp_path / "tiny-teachers.toml"
    suite_path.write_text(TEACHERS)
    teachers = runner.run_suite(
        load_suite(suite_path), "smoke", "cpu", tiny_mnist, tmp_path / "teachers", console=QUIET
    )
    records = {r["trial"]: r for r in read_run(teachers.path).records}
    assert all(r["status"] == "ok" for r in records.values()), [r["reason"] for r in records.values()]
    assert records["dm-2/reference_epochs=1/seed=0"]["details"]["augment"] == "dsa"  # a DM set: DSA

    exported = export_set(teachers.path, "dm-2", 1, tmp_path / "dm-2.npz")
    with pytest.raises(StoreError, match="no set made by 'real-fewstep'; the sets of this run: dm-2, kmeans-2"):
        export_set(teachers.path, "real-fewstep", None, tmp_path / "x.pt")
    with pytest.raises(StoreError, match="made no set with seed 7; its seeds: 0, 1"):
        export_set(teachers.path, "dm-2", 7, tmp_path / "x.pt")
    from gtnbench.data.datasets import load_dataset

    brought = read_set_file(exported, load_dataset("mnist", tiny_mnist))
    assert brought.declared["method"] == "dm" and brought.declared["dsa"] == ["crop", "scale"]
    assert brought.declared["flops"] == records["dm-2/steps=3/seed=1"]["metrics"]["make_flops"]
    scored = runner.run_suite(
        score_suite(exported, brought, "mnist", "smoke", str(suite_path), seeds=[1]),
        "smoke",
        "cpu",
        tiny_mnist,
        tmp_path / "scored",
        console=QUIET,
    )
    again = {r["trial"]: r for r in read_run(scored.path).records}
    assert all(r["status"] == "ok" for r in again.values()), [r["reason"] for r in again.values()]
    for budget in ("steps=3", "epochs=2", "reference_epochs=1"):
        ours, theirs = again[f"set/{budget}/seed=1"], records[f"dm-2/{budget}/seed=1"]
        assert ours["metrics"]["test_acc"] == theirs["metrics"]["test_acc"], budget
        assert ours["metrics"]["val_acc"] == theirs["metrics"]["val_acc"], budget
    assert again["set/steps=3/seed=1"]["details"]["cost"]["source"] == "declared by the file"
    assert {"subset/steps=3/seed=1", "kmeans/reference_epochs=1/seed=1", "real-fewstep/steps=3/seed=1"} <= set(again)

    from gtnbench.cli import main

    assert main(["report", str(scored.path)]) == 0
    summary = (scored.path / "report" / "summary.md").read_text()
    assert "| set | file | file: dm |" in summary and "(b) reference" in summary
    assert (scored.path / "report" / "teachers_cost_accuracy.png").is_file()
    from gtnbench.analysis.validate import validate_run

    problems = validate_run(scored.path)
    assert all("data_verified" in line for line in problems), problems  # fixture data: checksums off
    manifest = json.loads((scored.path / "manifest.json").read_text())
    assert manifest["config"]["methods"]["set"]["sha256"] == brought.image_set.provenance["sha256"]
