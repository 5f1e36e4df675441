"""Small-set teachers end to end on fixture data: every kind makes, saves and draws its set in the first
protocol's trial, both protocols score it through the shared inner loop tuned on validation, a saved set
loads by path, the report shows the sets side by side, and a set teaches a NAS-Bench-201 proxy."""

import json
import math

import torch
from rich.console import Console

from gtnbench.analysis.rankcorr import collect
from gtnbench.data.image_set import load_image_set
from gtnbench.report.summary import write_report
from gtnbench.run import runner
from gtnbench.store import read_run
from tests.conftest import make_cifar10_jpeg

QUIET = Console(quiet=True)

SUITE = """
name = "tiny-sets"
dataset = "mnist"
seeds = [0]

[learner]
name = "mnist-paper"
widths = [3, 6]

[set_evaluation]
equal_steps = { steps = 3, batch_size = 8, lr = [0.05, 0.1], momentum = 0.5, schedule = "constant" }
own_recipe = { epochs = 2, batch_size = 16, lr = 0.05 }

[methods.gtn]
kind = "gtn"
inner_steps = 3
batch_size = 8
outer_iterations = 1
meta_batch_size = 8
validate_every = 1
eval_learners = 1
generator = { noise_dim = 4, hidden = 8, channels = [4, 2] }

[methods.gtn-set]
kind = "gtn-set"
gtn = "gtn"

[methods.subset-2]
kind = "subset"
images_per_class = 2

[methods.subset-t]
kind = "subset"
total = "equal-steps"

[methods.herding-2]
kind = "coreset"
images_per_class = 2
features = { steps = 2, batch_size = 8 }

[methods.dm-2]
kind = "dm"
images_per_class = 2
iterations = 2
real_per_class = 4
lr_images = 0.3

[methods.dc-1]
kind = "dc"
images_per_class = 1
iterations = 1
real_per_class = 4
dsa = ["crop", "scale"]

[scales.smoke]
"""


def run(tmp_path, root, text=SUITE, name="run"):
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    from gtnbench.suite.files import load_suite

    summary = runner.run_suite(load_suite(path), "smoke", "cpu", root, tmp_path / name, console=QUIET)
    return summary.path, {r["trial"]: r for r in read_run(summary.path).records}


def test_every_kind_makes_saves_and_scores_its_set_under_both_protocols(tmp_path, tiny_mnist):
    out, records = run(tmp_path, tiny_mnist)
    assert all(r["status"] == "ok" for r in records.values()), [r["reason"] for r in records.values()]
    for method in ("gtn-set", "subset-2", "subset-t", "herding-2", "dm-2", "dc-1"):
        made, other = records[f"{method}/steps=3/seed=0"], records[f"{method}/epochs=2/seed=0"]
        assert "make_seconds" in made["metrics"] and "make_seconds" not in other["metrics"]
        assert (out / made["details"]["samples"]).is_file() and "samples" not in other["details"]
        assert other["details"]["set"]["file"] == made["details"]["set"]["file"]  # (b) trains on the set (a) made
        assert other["details"]["set"]["made_by"] == made["trial"]
        image_set = load_image_set(out / made["details"]["set"]["file"])
        assert image_set.per_class() == made["details"]["set"]["per_class"]
        assert made["details"]["protocol"] == "equal-steps" and made["details"]["steps"] == 3
        size = len(image_set)
        assert other["details"]["protocol"] == "own-recipe" and other["details"]["steps"] == math.ceil(
            2 * size / min(16, size)
        )
        for record in (made, other):  # tuned on validation: the chosen configuration is the best one there
            best = max(record["details"]["grid"], key=lambda g: g["val_acc"])
            assert record["details"]["chosen"]["lr"] == best["lr"] and record["details"]["tuned_on"] == "val"
            assert record["metrics"]["val_acc"] == best["val_acc"] and record["details"]["bn_eval"] == "last-batch"
    assert records["subset-t/steps=3/seed=0"]["details"]["set"]["images"] == 3 * 8  # T x B
    assert records["gtn-set/steps=3/seed=0"]["details"]["set"]["images"] == 3 * 8
    subset = records["subset-2/steps=3/seed=0"]["details"]
    assert subset["made"]["indices"] == load_image_set(out / subset["set"]["file"]).indices.tolist()
    assert len(records["dm-2/steps=3/seed=0"]["details"]["made"]["loss_curve"]) == 2
    assert records["dc-1/steps=3/seed=0"]["details"]["set_config"]["dsa"] == ["crop", "scale"]

    report = write_report([read_run(out)], out / "report")
    assert "## Small-set teachers: tiny-sets (smoke) on MNIST" in report.markdown
    assert "| herding-2 | coreset | herding | hard | 20 (2/class) |" in report.markdown
    assert (out / "report" / "teachers_cost_accuracy.png").is_file()
    for method in ("subset-2", "herding-2", "dm-2", "dc-1"):  # every making record: its cost and label regime
        made = records[f"{method}/steps=3/seed=0"]["details"]
        assert made["cost"]["source"] == "made here" and made["cost"]["device"] == "cpu"
        assert made["set"]["labels"] == "hard" and made["cost"]["seconds"] >= 0
    assert records["subset-2/steps=3/seed=0"]["details"]["cost"]["flops"] == 0
    assert records["dm-2/steps=3/seed=0"]["metrics"]["make_flops"] > 0
    assert report.markdown.count("/set.png)") == 6 and "## What the teachers teach" in report.markdown
    html = (out / "report" / "index.html").read_text()
    assert html.count("<img src='data:image/png;base64,") >= 7  # the plots, the GTN's samples and the six sets


def test_a_saved_set_loads_by_path_and_teaches_alike_and_a_foreign_one_is_refused(tmp_path, tiny_mnist):
    first, records = run(
        tmp_path,
        tiny_mnist,
        SUITE.split("[methods.gtn]")[0] + '[methods.subset-2]\nkind = "subset"\n'
        "images_per_class = 2\n\n[scales.smoke]\n",
        "first",
    )
    saved = first / records["subset-2/steps=3/seed=0"]["details"]["set"]["file"]
    text = (
        SUITE.split("[methods.gtn]")[0] + f'[methods.again]\nkind = "subset"\ncheckpoint = "{saved}"\n\n'
        f'[methods.wrong]\nkind = "dc"\ncheckpoint = "{saved}"\n\n[scales.smoke]\n'
    )
    _, again = run(tmp_path, tiny_mnist, text, "again")
    loaded = again["again/steps=3/seed=0"]
    assert loaded["details"]["source"] == "checkpoint" and loaded["details"]["checkpoint"] == str(saved)
    assert loaded["metrics"]["test_acc"] == records["subset-2/steps=3/seed=0"]["metrics"]["test_acc"]
    assert loaded["details"]["grid"] == records["subset-2/steps=3/seed=0"]["details"]["grid"]
    wrong = again["wrong/steps=3/seed=0"]
    assert wrong["status"] == "failed" and "a subset set, not one a dc method makes" in wrong["reason"]
    assert again["wrong/epochs=2/seed=0"]["status"] == "failed"  # its set was never saved


NAS_SUITE = """
name = "tiny-set-proxy"
dataset = "cifar10"
seeds = [0]

[learner]
name = "nb201-cell"
widths = [2, 1]

[nb201]
architectures = { count = 3, seed = 3 }
search_seeds = 10
bootstrap = 100

[set_evaluation]
protocols = ["equal-steps"]
equal_steps = { steps = 2, batch_size = 8, lr = 0.05, momentum = 0.5, schedule = "constant" }

[methods.subset-2]
kind = "subset"
images_per_class = 2
learner = { name = "cifar10-paper", widths = [2, 2, 2, 2, 2] }

[methods.proxy]
kind = "nb201-train"
teacher = "set"
set = "subset-2"
steps = [1, 2]
batch_size = 8
lr = [0.05, 0.1]
calibration = { count = 2, seed = 1 }
network = { channels = 2, cells = 1 }

[scales.smoke]
"""


def test_a_set_teaches_a_nas_proxy_tuned_on_calibration_cells(tmp_path, fixture_env):
    root = make_cifar10_jpeg(tmp_path / "data", train=120, test=20)
    out, records = run(tmp_path, root, NAS_SUITE, "nas")
    assert all(r["status"] == "ok" for r in records.values()), [r["reason"] for r in records.values()]
    made = records["subset-2/steps=2/seed=0"]
    scored = [r for r in records.values() if r["kind"] == "nb201-train"]
    assert len(scored) == 3 and all(r["details"]["teacher"] == "set" and r["details"]["tuned"] for r in scored)
    assert all(r["details"]["set"]["made_by"] == made["trial"] and r["details"]["set"]["images"] == 20 for r in scored)
    proxies = collect(records.values())
    assert {"proxy@1", "proxy@2"} <= set(proxies) and proxies["proxy@2"].teacher == "set"
    calibration = json.loads((out / "artifacts" / "proxy__calibrate=true__seed=0" / "calibration.json").read_text())
    assert set(calibration["chosen"]) == {"1", "2"}


def test_the_coresets_of_one_seed_share_their_features(tmp_path, tiny_mnist):
    from gtnbench.data.datasets import load_dataset
    from gtnbench.distill.coreset import FeatureLearner, training_split_features
    from gtnbench.models.learners import LearnerSpec

    dataset = load_dataset("mnist", tiny_mnist)
    learner = FeatureLearner(LearnerSpec("mnist-paper", (3, 6)), steps=1, batch_size=8)
    first, flops = training_split_features(dataset, learner, 0)
    assert training_split_features(dataset, learner, 0)[0] is first
    other, other_flops = training_split_features(dataset, learner, 1)
    assert other is not first and not torch.equal(other, first)
    assert flops == other_flops > 0  # one step and the embedding of the split: the same work for every seed
    assert torch.equal(training_split_features(dataset, learner, 0)[0], first)  # recomputed alike
