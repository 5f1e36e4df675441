"""The small-set teachers table on synthetic records: cost and label regime beside every accuracy, intervals over
seeds, and a set below its random subset flagged where it is, not buried."""

from gtnbench.report.teachers import BELOW, plot_cost_accuracy, set_rows, small_sets_markdown


def record(method, kind, seed, protocol, acc, images=100, cost=None, labels="hard"):
    budget = {"equal-steps": {"steps": 32}, "own-recipe": {"epochs": 300}, "reference": {"reference_epochs": 1000}}[
        protocol
    ]
    details = {
        "protocol": protocol,
        "protocol_config": {"steps": 32, "batch_size": 128, "epochs": 300},
        "set": {"method": kind, "images": images, "per_class": [images // 10] * 10, "labels": labels},
        "chosen": {"lr": 0.1, "momentum": 0.9, "schedule": "constant"},
    }
    metrics = {"test_acc": acc}
    if cost is not None:
        details["cost"] = cost
        metrics["make_seconds"] = cost["seconds"]
    return {
        "trial": f"{method}/{budget}/seed={seed}",
        "method": method,
        "kind": kind,
        "seed": seed,
        "budget": budget,
        "suite": "s",
        "scale": "paper",
        "dataset": "mnist",
        "status": "ok",
        "metrics": metrics,
        "details": details,
    }


def records():
    out = []
    for seed in (0, 1, 2):
        made = {"source": "made here", "seconds": 100.0 + seed, "flops": 2e12, "device": "cuda"}
        free = {"source": "made here", "seconds": 0.0, "flops": 0, "device": "cuda"}
        for protocol, (subset, dm, herding) in {
            "equal-steps": (0.80, 0.70, 0.85),
            "reference": (0.85, 0.90, 0.86),
        }.items():
            first = protocol == "equal-steps"
            out += [
                record("subset-10", "subset", seed, protocol, subset + 0.01 * seed, cost=free if first else None),
                record("dm-10", "dm", seed, protocol, dm + 0.01 * seed, cost=made if first else None, labels="soft"),
                record("herding-10", "coreset", seed, protocol, herding + 0.01 * seed),
            ]
    return out


def test_a_set_below_its_random_subset_is_flagged_under_that_protocol_only():
    rows = {row.method: row for row in set_rows(records())}
    assert rows["dm-10"].subset == "subset-10" and rows["dm-10"].below == ["equal-steps"]
    assert rows["herding-10"].below == [] and rows["subset-10"].subset is None
    text = small_sets_markdown(records())
    dm = next(line for line in text.splitlines() if line.startswith("| dm-10 |"))
    cells = [c.strip() for c in dm.split("|")[1:-1]]
    assert cells[3] == "soft" and cells[5].startswith("101.0 [") and cells[6] == "2.00e+12"
    assert cells[7].startswith("71.00 [") and cells[7].endswith(BELOW)  # (a): below subset-10's 81.00
    assert not cells[8].endswith(BELOW) and cells[9] == f"{BELOW} (a) equal steps (vs subset-10)"
    subset = next(line for line in text.splitlines() if line.startswith("| subset-10 |"))
    assert "| 0.0 [" in subset and "| 0 |" in subset  # the zero-cost reference
    assert "| herding-10 | coreset | coreset | hard | 100 (10/class) | – | – |" in text  # no cost recorded: a dash


def test_the_cost_plot_has_a_panel_per_protocol(tmp_path):
    assert plot_cost_accuracy(records(), tmp_path / "plot.png") and (tmp_path / "plot.png").stat().st_size > 1000
    assert not plot_cost_accuracy([], tmp_path / "none.png") and not (tmp_path / "none.png").exists()
