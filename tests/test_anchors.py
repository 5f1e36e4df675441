"""The anchors (published figures of DC, DM and DC-BENCH) judged on synthetic records: the named method
under its own recipe, the baselines beside it, and the three-way verdict at each anchor's threshold."""

import numpy as np
import pytest
from scipy import stats

from gtnbench import claims
from gtnbench.claims import (
    CLAIMS,
    INCOMPLETE,
    INCONCLUSIVE,
    NOT_JUDGED,
    NOT_MEASURED,
    NOT_REPRODUCED,
    REPRODUCED,
    Settings,
    judge_all,
)
from gtnbench.claims.verdicts import judge
from gtnbench.nas.sampling import sample_architectures
from gtnbench.nas.table import load_table

SETTINGS = Settings(resamples=300)
TRUTH = "cifar10_test_acc_hp200_mean"


@pytest.fixture(autouse=True)
def bundled_protocols_hash_to_h(monkeypatch):
    monkeypatch.setattr(claims, "protocol_hash", lambda suite: "h")


def record(
    method, kind, seed, budget, metrics, details, scale="paper", dataset="mnist", arch=None, status="ok", suite="s"
):
    return {
        "trial": f"{method}/{budget}/{arch}/seed={seed}",
        "method": method,
        "kind": kind,
        "seed": seed,
        "budget": budget,
        "variant": {},
        "arch": arch,
        "suite": suite,
        "scale": scale,
        "config_hash": "h",
        "dataset": dataset,
        "status": status,
        "device_name": "test",
        "metrics": metrics,
        "details": details,
    }


def small_set(method, accuracies, protocol="reference", kind="dc", ipc=10, **where):
    budget = {"reference": {"reference_epochs": 1000}, "own-recipe": {"epochs": 300}}.get(protocol, {"steps": 32})
    details = {
        "protocol": protocol,
        "epochs": budget.get("reference_epochs", 300),
        "augment": "crop-scale-rotate",
        "reference_learner": {"name": "convnet", "widths": None},
        "set": {"images": 10 * ipc, "per_class": [ipc] * 10},
    }
    return [
        record(method, kind, seed, budget, {"test_acc": acc}, details, **where) for seed, acc in enumerate(accuracies)
    ]


def real(accuracies, steps=32, **where):
    return [
        record("real-fewstep", "real", seed, {"steps": steps}, {"test_acc": acc}, {"steps": steps}, **where)
        for seed, acc in enumerate(accuracies)
    ]


def test_dc_on_mnist_reproduces_above_the_published_figure_less_its_tolerance():
    records = (
        small_set("dc-10", [0.970, 0.968, 0.972])
        + small_set("dc-10", [0.91, 0.92, 0.915], "equal-steps")
        + small_set("dc-10", [0.96, 0.95, 0.955], "own-recipe")
        + small_set("subset-10", [0.80, 0.81, 0.79], kind="subset")
        + small_set("subset-10", [0.85, 0.86, 0.84], "own-recipe", kind="subset")
        + real([0.95, 0.955, 0.96])
    )
    v = judge(CLAIMS["DC-MNIST-10"], records, SETTINGS, "h")
    assert v.verdict == REPRODUCED and v.judged == "dc-10 (b, reference)" and "97.00 %" in v.measured
    assert "100 images, 10/class" in v.measured and "1000 epochs, crop-scale-rotate, on convnet" in v.measured
    assert v.threshold.startswith("≥ 95.4 %")
    names = [b.name for b in v.baselines]
    assert names == [
        "subset-10 (random real subset, reference recipe)",
        "dc-10 under the tuned recipe (protocol b, tuned on validation)",
        "dc-10 at equal steps (protocol a, 32 steps)",
        "real-fewstep (tuned real data, 32 steps)",
    ]
    assert v.baselines[0].value.startswith("80.00 %")  # the subset under the same recipe, not the tuned one
    assert v.baselines[0].comparison.endswith("better") and v.baselines[1].value.startswith("95.50 %")
    assert v.baselines[3].value.startswith("95.50 %")
    low = small_set("dc-10", [0.90, 0.91, 0.905])
    assert judge(CLAIMS["DC-MNIST-10"], low, SETTINGS, "h").verdict == NOT_REPRODUCED


def test_anchors_are_judged_only_at_the_paper_scale_and_on_their_data_set():
    smoke = small_set("dc-10", [0.5, 0.6], scale="smoke")
    assert judge(CLAIMS["DC-MNIST-10"], smoke, SETTINGS, "h").verdict == NOT_JUDGED
    cifar = small_set("dm-50", [0.629, 0.631, 0.630], kind="dm", ipc=50, dataset="cifar10-jpeg")
    v = judge(CLAIMS["DM-CIFAR10-50"], cifar, SETTINGS, "h")
    assert v.measured.startswith("CIFAR-10 (JPEG copy): dm-50") and v.verdict == REPRODUCED  # ≥ 61.0 %
    assert {v.claim.id for v in judge_all(cifar, settings=SETTINGS)} == {
        "DM-CIFAR10-50"
    }  # the others' methods are absent
    from_suite = [{**r, "suite": "cifar10-teachers"} for r in cifar]  # ... but a run of their suite lacks them
    judged = {v.claim.id: v.verdict for v in judge_all(from_suite, settings=SETTINGS)}
    assert judged["DC-CIFAR10-10"] == INCOMPLETE and not any(c.startswith("DC-MNIST") for c in judged)


def test_a_missing_or_failed_judged_method_is_incomplete():
    only_a = small_set("dc-10", [0.9, 0.9], "equal-steps", suite="mnist-teachers")
    v = judge(CLAIMS["DC-MNIST-10"], only_a, SETTINGS, "h")
    assert v.verdict == INCOMPLETE and "reference recipe" in v.measured
    elsewhere = [{**r, "suite": "nb201-teachers"} for r in only_a]  # a method of the same name, scored at (a) only
    assert judge(CLAIMS["DC-MNIST-10"], elsewhere, SETTINGS, "h").verdict == NOT_MEASURED
    failed = small_set("dc-10", [0.97]) + [
        record("dc-10", "dc", 1, {"reference_epochs": 1000}, {}, {}, status="failed")
    ]
    assert judge(CLAIMS["DC-MNIST-10"], failed, SETTINGS, "h").verdict == INCOMPLETE


def proxy(method, scores, steps=1000, teacher="set", suite="nb201-teachers", made_by=None):
    details = {
        "teacher": teacher,
        "seconds": {str(steps): 1.0},
        "ground_truth": TRUTH,
        "space": "nb201",
        **({"set": {"method": made_by}} if made_by else {}),
    }
    return [
        record(
            method,
            "nb201-train",
            0,
            {},
            {},
            {**details, "scores": {str(steps): s}},
            dataset="cifar10",
            arch=a,
            suite=suite,
        )
        for a, s in scores.items()
    ]


def set_accuracy(method, acc, kind="dc"):
    details = {"protocol": "equal-steps", "set": {"method": method}}
    return [
        record(method, kind, 0, {"steps": 128}, {"test_acc": acc}, details, dataset="cifar10", suite="nb201-teachers")
    ]


def ranking(archs, spearman_, seed):
    """Scores whose population Spearman with the ground truth of `archs` is `spearman_`."""
    from gtnbench.claims.simulate import latent_r, proxy_scores

    table = load_table()
    truth = np.array([table.value(TRUTH, a) for a in archs])
    z = stats.norm.ppf((stats.rankdata(truth) - 0.5) / len(truth))
    return dict(zip(archs, proxy_scores(z, latent_r(spearman_), np.random.default_rng(seed)).tolist()))


def dc_bench(dc_spearman, dc_accuracy, archs):
    return (
        proxy("dc-proxy", ranking(archs, dc_spearman, 0), made_by="dc-50")
        + proxy("subset-proxy", ranking(archs, -0.06, 1), made_by="subset-50")
        + proxy("real", ranking(archs, 0.8, 2), teacher="real")
        + set_accuracy("dc-50", dc_accuracy)
        + set_accuracy("subset-50", 0.35, "subset")
    )


def test_n10_dc_bench_correlations_are_judged_two_sided_for_sets_above_the_random_subset():
    archs = sample_architectures(800, seed=4)
    v = judge(CLAIMS["DCB-NAS-DC"], dc_bench(-0.19, 0.45, archs), SETTINGS, "h")
    assert v.judged == "dc-proxy@1000" and v.verdict == REPRODUCED, v.measured  # within ±0.15 of -0.19
    assert "its set dc-50: 45.00 % under protocol a, above the random subset subset-50 (35.00 %)" in v.measured
    assert [b.name.split(" [")[0] for b in v.baselines] == ["subset-proxy@1000", "real@1000"]
    assert v.threshold == "within ±0.15 of -0.19"
    assert judge(CLAIMS["DCB-NAS-DC"], dc_bench(0.6, 0.45, archs), SETTINGS, "h").verdict == NOT_REPRODUCED
    broken = judge(CLAIMS["DCB-NAS-DC"], dc_bench(-0.19, 0.20, archs), SETTINGS, "h")  # a set worse than random
    assert broken.verdict == INCONCLUSIVE and "not judged" in broken.measured and "sanity floor" in broken.measured
    unscored = [r for r in dc_bench(-0.19, 0.45, archs) if r["method"] != "dc-50"]
    assert judge(CLAIMS["DCB-NAS-DC"], unscored, SETTINGS, "h").verdict == INCOMPLETE
    random_subset = judge(CLAIMS["DCB-NAS-RANDOM"], dc_bench(-0.19, 0.45, archs), SETTINGS, "h")
    assert "above chance" in random_subset.measured and random_subset.verdict == REPRODUCED


def test_nas_anchors_elsewhere():
    table = load_table()
    archs = sample_architectures(60, seed=4)
    truth = {a: table.value(TRUTH, a) for a in archs}
    smaller = proxy("dc-proxy", {a: -truth[a] for a in archs}, steps=16, made_by="dc-50")
    smoke = [
        {**r, "scale": "smoke"} for r in smaller + set_accuracy("dc-50", 0.4) + set_accuracy("subset-50", 0.3, "subset")
    ]
    below = judge(CLAIMS["DCB-NAS-DC"], smoke, SETTINGS, "h")
    assert below.judged == "dc-proxy@16" and below.verdict == NOT_JUDGED  # the largest budget below the paper scale
    records = dc_bench(-0.19, 0.45, archs)
    assert judge(CLAIMS["DCB-NAS-DSA"], records, SETTINGS, "h").verdict == INCOMPLETE  # its suite's run lacks dsa-proxy
    other = proxy("real", truth, teacher="real", suite="nb201-gtn")
    assert judge(CLAIMS["DCB-NAS-DC"], other, SETTINGS, "h").verdict == NOT_MEASURED
