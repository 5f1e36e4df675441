"""`gtnbench plan` estimates a suite from measured costs; `--budget` stops a run cleanly between trials."""

import json
from pathlib import Path

import pytest
from rich.console import Console

from gtnbench.cli import main
from gtnbench.errors import GtnbenchError
from gtnbench.perf import costs, plan
from gtnbench.run import runner
from gtnbench.run.budget import Budget, parse_duration
from gtnbench.store import read_run
from gtnbench.suite.files import bundled_suite_dir, load_suite, parse_suite
from gtnbench.suite.trials import expand
from tests.conftest import TINY_SUITE
from tests.test_nb201_suite import SUITE as NAS_SUITE
from tests.test_small_set_suites import BASE as SET_SUITE

QUIET = Console(quiet=True)
GTN_SUITE = TINY_SUITE.replace(
    "[scales.smoke]",
    """[methods.gtn]
kind = "gtn"
inner_steps = 2
batch_size = 8
outer_iterations = 3
meta_batch_size = 8
validate_every = 2
eval_learners = 1
generator = { noise_dim = 4, hidden = 8, channels = [4, 2] }

[scales.smoke]""",
)


def test_every_trial_of_the_bundled_kinds_is_counted_in_units(tmp_path):
    config = parse_suite(tmp_path / "s.toml", GTN_SUITE).at("smoke")
    sizes = plan.Sizes(100, 20, 40, (1, 28, 28))
    work = {t.id: plan.trial_work(config, t, sizes) for t in expand(config)}
    real = work["real-fewstep/steps=4/seed=0"].units
    assert real[next(k for k in real if k[0] == "plain")] == 2 * 4  # two lrs x 4 steps
    epochs = work["real-epochs/epochs=1/seed=0"].units
    assert epochs[next(k for k in epochs if k[0] == "plain")] == 4  # ceil(100 / 32)
    gtn = work["gtn/steps=2/seed=0"].units
    assert gtn[next(k for k in gtn if k[0] == "outer")] == 3 * 2  # outer iterations x T
    nas = parse_suite(tmp_path / "n.toml", NAS_SUITE).at("smoke")
    kinds = {t.kind: plan.trial_work(nas, t, sizes) for t in expand(nas)}
    assert all(not w.unmodelled for w in kinds.values()) and kinds["nb201-table"].units == {}
    trained = {t.method: plan.trial_work(nas, t, sizes) for t in expand(nas) if t.kind == "nb201-train"}
    assert {k[0] for w in trained.values() for k in w.units} == {"cell", "cell-eval", "generate", "augment"}
    taught = next(w.units for name, w in trained.items() if nas.methods[name].teacher == "gtn")
    assert next(k for k in taught if k[0] == "cell")[3] == nas.methods["gtn"].batch_size  # the GTN's batch


@pytest.mark.parametrize("path", sorted(bundled_suite_dir().glob("*.toml")), ids=lambda path: path.stem)
def test_every_trial_of_every_bundled_suite_has_an_estimate_at_every_scale(path):
    suite = load_suite(path)
    for scale in suite.scales:
        config = suite.at(scale)
        sizes = plan.Sizes(1000, 100, 100, (1, 28, 28) if config.dataset == "mnist" else (3, 32, 32))
        trials = expand(config)
        if len(trials) > 2000:  # the paper scales of the NAS suites: every architecture's trials are alike
            trials = list({(t.method, t.kind, t.budget): t for t in trials}.values())
        unmodelled = {t.id: w.unmodelled for t in trials if (w := plan.trial_work(config, t, sizes)).unmodelled}
        assert not unmodelled, (scale, unmodelled)


def test_a_small_set_is_made_once_and_each_protocol_pays_its_tuned_training(tmp_path):
    text = SET_SUITE.replace(
        "[methods.gtn]",
        """[methods.dc-1]
kind = "dc"
images_per_class = 1
iterations = 7

[methods.herding-2]
kind = "coreset"
images_per_class = 2
features = { steps = 5, batch_size = 16 }

[methods.gtn]""",
    )
    config = parse_suite(tmp_path / "s.toml", text + "[scales.smoke]\n").at("smoke")
    sizes = plan.Sizes(1000, 100, 100, (1, 28, 28))
    work = {t.id: plan.trial_work(config, t, sizes).units for t in expand(config)}
    making = {"dm", "dc", "embed", "select"}
    dm_made, dm_scored = work["dm-t/steps=4/seed=0"], work["dm-t/epochs=3/seed=0"]
    assert dm_made[next(k for k in dm_made if k[0] == "dm")] == 20_000 and not making & {k[0] for k in dm_scored}
    dm_key = next(k for k in dm_made if k[0] == "dm")
    assert dm_key[3] == 3  # T x B = 32 images over 10 classes: 3 learned images per class
    grid = 4 * 2 * 2  # equal_steps's default lr x momentum x schedule
    assert dm_made[next(k for k in dm_made if k[0] == "plain")] == grid * 4
    scored_plain = next(k for k in dm_scored if k[0] == "plain")
    assert dm_scored[scored_plain] == 3 and scored_plain[3] == 30  # 3 epochs of the whole 30-image set (batch 256)
    dc = work["dc-1/steps=4/seed=0"]
    assert next(k for k in dc if k[0] == "dc")[4:6] == (1, 1) and dc[next(k for k in dc if k[0] == "dc")] == 7
    herding = work["herding-2/steps=4/seed=0"]
    assert herding[next(k for k in herding if k[0] == "embed")] == 1000
    assert herding[next(k for k in herding if k[0] == "select")] == 10  # one selection per class
    assert not making & {k[0] for k in work["subset-2/steps=4/seed=0"]}


def test_sets_from_checkpoints_proxies_taught_by_sets_and_tuning_runs_are_counted_as_they_run(tmp_path):
    import torch

    from gtnbench.data.image_set import ImageSet, save_image_set

    saved = save_image_set(
        ImageSet(torch.zeros(6, 1, 28, 28), torch.tensor([0, 0, 1, 1, 2, 2]), "dm", "mnist", 0), tmp_path / "set.pt"
    )
    text = (
        SET_SUITE
        + f"""
[methods.loaded]
kind = "dm"
checkpoint = "{saved}"

[methods.lost]
kind = "subset"
checkpoint = "{tmp_path / "missing.pt"}"

[nb201]
architectures = {{ count = 3 }}

[methods.proxy]
kind = "nb201-train"
teacher = "set"
set = "subset-2"
steps = [2, 8]
batch_size = 64
lr = [0.05, 0.1]
schedule = ["constant", "cosine"]
calibration = {{ count = 2 }}

[methods.gtn-file]
kind = "nb201-train"
teacher = "gtn"
checkpoint = "{tmp_path / "gtn.pt"}"
steps = [4]
"""
    )
    config = parse_suite(tmp_path / "s.toml", text + "[scales.smoke]\n").at("smoke")
    sizes = plan.Sizes(1000, 100, 100, (1, 28, 28))
    work = {t.id: plan.trial_work(config, t, sizes) for t in expand(config)}
    loaded = work["loaded/steps=4/seed=0"]
    assert not loaded.unmodelled and next(k for k in loaded.units if k[0] == "plain")[3] == 6  # the file's 6 images
    assert not {"dm", "dc"} & {k[0] for k in loaded.units}  # a loaded set is not made again
    assert work["lost/steps=4/seed=0"].unmodelled
    taught = next(w for tid, w in work.items() if tid.startswith("gtn-file/"))
    assert taught.unmodelled and taught.units == {}
    calibration = next(w.units for tid, w in work.items() if tid.startswith("proxy/") and "calibrate" in tid)
    cell = next(k for k in calibration if k[0] == "cell")
    assert cell[3] == 20  # batch 64, but subset-2's set has 2 x 10 images: handed whole
    # per cell and (lr, momentum): the constant run once for 8 steps, the cosine one per budget (2 + 8)
    assert calibration[cell] == 2 * 2 * (8 + 10)


@pytest.mark.parametrize(
    "key",
    [
        ("dm", ("mnist-paper", (3, 6), True, False, None, None), (1, 28, 28), 2, 4, ("flip",), "real", "feature-map"),
        ("dm", ("convnet", (4, 4, 4), False, False, None, None), (3, 32, 32), 1, 4, (), "real", "penultimate"),
        ("plain", ("convnet", (4, 4, 4), False, False, None, None), (1, 28, 28), 8),
        ("reference-augment", "crop-scale-rotate", (), (1, 28, 28), 8),
        ("reference-augment", "dsa", ("color", "crop", "flip"), (3, 32, 32), 8),
        ("dc", ("mnist-paper", (3, 6), True, False, None, None), (1, 28, 28), 1, 2, 1, 4, 8, (), "noise"),
        ("embed", ("mnist-paper", (3, 6), True, False, None, None), (1, 28, 28)),
        ("select", "kmeans", ("mnist-paper", (3, 6), True, False, None, None), (1, 28, 28), 30, 3),
        ("select", "herding", ("mnist-paper", (3, 6), True, False, None, None), (1, 28, 28), 30, 3),
        ("generate", (8, 4, 8, (4, 2), "full", True), (1, 28, 28)),
        ("augment", (3, 32, 32), 8),
        ("cell", "macro", (("channels", 4), ("head_channels", 8)), 4, (3, 32, 32), "running"),
    ],
    ids=lambda key: key[0] + (f"-{key[1]}" if isinstance(key[1], str) else ""),
)
def test_each_unit_of_work_is_measured_at_its_sizes(key):
    seconds = costs.measure(key, "cpu")
    assert 0 < seconds < 10


def test_plan_prices_the_work_with_costs_measured_here_and_reuses_saved_costs(tmp_path, capsys):
    suite = tmp_path / "g.toml"
    suite.write_text(GTN_SUITE)
    costs_file = tmp_path / "costs.json"
    written = tmp_path / "plan.json"
    assert (
        main(
            [
                "plan",
                str(suite),
                "--scale",
                "smoke",
                "--device",
                "cpu",
                "--save-costs",
                str(costs_file),
                "--out",
                str(written),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "real-fewstep" in out and "gtn" in out and "all" in out
    as_data = json.loads(written.read_text())
    assert as_data["device"] == "cpu" and as_data["complete"] and as_data["scale"] == "smoke"
    assert as_data["seconds"] > 0 and as_data["seconds"] == pytest.approx(sum(m["seconds"] for m in as_data["methods"]))
    saved = costs.load_costs(costs_file)
    assert saved.device == "cpu" and len(saved.seconds) >= 4 and all(v > 0 for v in saved.seconds.values())
    assert json.loads(costs_file.read_text())["precision"]["policy"] == "ieee"
    config = load_suite(suite).at("smoke")
    sizes = plan.Sizes(50_000, 10_000, 10_000, (1, 28, 28))
    estimate = plan.make_plan(config, expand(config), sizes, "standard", saved)
    assert estimate.complete and estimate.seconds > 0
    assert main(["plan", str(suite), "--device", "cpu", "--costs", str(costs_file)]) == 0  # nothing left to measure
    assert "measured" not in capsys.readouterr().err


def test_a_plan_sets_what_a_finished_run_of_the_suite_took_beside_its_estimate(tmp_path, capsys):
    suite = tmp_path / "g.toml"
    suite.write_text(GTN_SUITE)
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"suite": "tiny", "scale": "smoke", "device_name": "a CPU"}))
    records = [
        {"trial": "gtn/steps=2/seed=0", "method": "gtn", "status": "failed", "seconds": 100.0},
        {"trial": "gtn/steps=2/seed=0", "method": "gtn", "status": "ok", "seconds": 3.0},
        {"trial": "real-fewstep/steps=4/seed=0", "method": "real-fewstep", "status": "ok", "seconds": 0.5},
    ]
    (run / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert plan.recorded_seconds(records) == {"gtn": 3.0, "real-fewstep": 0.5}  # the retried trial counts once
    out = tmp_path / "plan.json"
    assert main(["plan", str(suite), "--device", "cpu", "--against", str(run), "--out", str(out)]) == 0
    assert "recorded" in capsys.readouterr().out and json.loads(out.read_text())["recorded"]["seconds"]["gtn"] == 3.0
    (run / "manifest.json").write_text(json.dumps({"suite": "other", "scale": "smoke"}))
    assert main(["plan", str(suite), "--device", "cpu", "--against", str(run)]) == 2
    assert "a run of other at scale smoke, not of tiny" in capsys.readouterr().err


def test_a_bad_costs_file_or_duration_is_one_clear_line(tmp_path):
    bad = tmp_path / "bench.json"
    bad.write_text('{"results": []}')
    with pytest.raises(GtnbenchError, match="not a gtnbench costs file"):
        costs.load_costs(bad)
    assert parse_duration("10m") == 600 and parse_duration("1h30m") == 5400 and parse_duration("90") == 90
    for text in ("ten minutes", "0", "5x"):
        with pytest.raises(GtnbenchError, match="--budget"):
            parse_duration(text)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_admits_what_fits_and_learns_from_what_finished():
    trial = expand(parse_suite(Path("t.toml"), TINY_SUITE).at("smoke"))[0]
    clock = Clock()
    budget = Budget(100, estimate=lambda batch: 30.0, clock=clock)
    assert budget.admit([trial])
    budget.took([{"method": trial.method, "kind": trial.kind, "budget": dict(trial.budget), "seconds": 60.0}])
    clock.now = 50
    assert budget.expected([trial]) == 60.0 and not budget.admit([trial])  # 60 s needed, 50 left
    assert "would need about 60.0 s" in budget.stopped and not budget.admit([trial])
    spent = Budget(10, clock=clock)
    clock.now += 10
    assert not spent.admit([trial]) and "is spent" in spent.stopped


def test_a_run_stopped_by_its_budget_is_interrupted_and_resumes_to_the_same_records(tiny_suite, tiny_mnist, tmp_path):
    suite = load_suite(tiny_suite)
    clock = Clock()
    budget = Budget(10, estimate=lambda batch: 4.0, clock=clock)
    admitted = []

    def admit(batch):  # every admitted trial takes the estimated 4 s of the fake clock
        ok = Budget.admit(budget, batch)
        if ok:
            admitted.append(batch[0].id)
            clock.now += 4
        return ok

    budget.admit = admit
    first = runner.run_suite(suite, "smoke", "cpu", tiny_mnist, tmp_path / "run", console=QUIET, budget=budget)
    contents = read_run(first.path)
    assert first.stopped and len(admitted) == 2 and len(contents.records) == 2
    assert contents.manifest["status"] == "interrupted" and "--budget" in contents.manifest["stopped"]
    resumed = runner.run_suite(suite, "smoke", "cpu", tiny_mnist, tmp_path / "run", resume=True, console=QUIET)
    assert resumed.done_before == 2 and resumed.stopped is None
    records = read_run(tmp_path / "run").records
    whole = read_run(runner.run_suite(suite, "smoke", "cpu", tiny_mnist, tmp_path / "whole", console=QUIET).path)
    assert [r["trial"] for r in records] == [r["trial"] for r in whole.records]
    accuracies = [{k: v for k, v in r["metrics"].items() if k != "train_seconds"} for r in records]
    assert accuracies == [{k: v for k, v in r["metrics"].items() if k != "train_seconds"} for r in whole.records]
    assert "stopped" not in read_run(tmp_path / "run").manifest


def test_run_with_a_budget_from_the_command_line(tiny_suite, tiny_mnist, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "run",
            str(tiny_suite),
            "--scale",
            "smoke",
            "--device",
            "cpu",
            "--data-root",
            str(tiny_mnist),
            "--out",
            str(out),
            "--budget",
            "0.001s",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0 and "stopped at the budget" in err
    manifest = read_run(out).manifest
    assert manifest["status"] == "interrupted" and read_run(out).records == []
    assert (
        main(
            [
                "run",
                str(tiny_suite),
                "--scale",
                "smoke",
                "--device",
                "cpu",
                "--data-root",
                str(tiny_mnist),
                "--out",
                str(out),
                "--resume",
                "--budget",
                "1h",
            ]
        )
        == 0
    )
    assert read_run(out).manifest["status"] == "completed" and len(read_run(out).records) == 3
