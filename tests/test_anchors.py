"""The anchors (published figures of DC, DM and DC-BENCH) judged on synthetic records: the named method
under its own recipe, the baselines beside it, and the three-way verdict at each anchor's threshold."""

import numpy as np
import pytest

from gtnbench import claims
from gtnbench.claims import (
    CLAIMS,
    INCOMPLETE,
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


def record(method, kind, seed, budget, metrics, details, scale="paper", dataset="mnist", arch=None, status="ok",
           suite="s"):  # fmt: skip
    return {"trial": f"{method}/{budget}/{arch}/seed={seed}", "method": method, "kind": kind, "seed": seed,
            "budget": budget, "variant": {}, "arch": arch, "suite": suite, "scale": scale, "config_hash": "h",
            "dataset": dataset, "status": status, "device_name": "test", "metrics": metrics, "details": details}  # fmt: skip


def small_set(method, accuracies, protocol="own-recipe", kind="dc", ipc=10, **where):
    budget = {"epochs": 300} if protocol == "own-recipe" else {"steps": 32}
    details = {"protocol": protocol, "epochs": 300, "set": {"images": 10 * ipc, "per_class": [ipc] * 10}}
    return [record(method, kind, seed, budget, {"test_acc": acc}, details, **where) for seed, acc in enumerate(accuracies)]


def real(accuracies, steps=32, **where):
    return [record("real-fewstep", "real", seed, {"steps": steps}, {"test_acc": acc}, {"steps": steps}, **where)
            for seed, acc in enumerate(accuracies)]  # fmt: skip


def test_dc_on_mnist_reproduces_above_the_published_figure_less_its_tolerance():
    records = (small_set("dc-10", [0.970, 0.968, 0.972]) + small_set("dc-10", [0.91, 0.92, 0.915], "equal-steps")
               + small_set("subset-10", [0.80, 0.81, 0.79], kind="subset") + real([0.95, 0.955, 0.96]))  # fmt: skip
    v = judge(CLAIMS["DC-MNIST-10"], records, SETTINGS, "h")
    assert v.verdict == REPRODUCED and v.judged == "dc-10 (b)" and "97.00 %" in v.measured
    assert "100 images, 10/class" in v.measured and "300 epochs" in v.measured and v.threshold.startswith("≥ 95.4 %")
    names = [b.name for b in v.baselines]
    assert names == ["subset-10 (random real subset, protocol b)", "dc-10 at equal steps (protocol a, 32 steps)",
                     "real-fewstep (tuned real data, 32 steps)"]  # fmt: skip
    assert v.baselines[0].comparison.endswith("better") and v.baselines[2].value.startswith("95.50 %")
    low = small_set("dc-10", [0.90, 0.91, 0.905])
    assert judge(CLAIMS["DC-MNIST-10"], low, SETTINGS, "h").verdict == NOT_REPRODUCED


def test_anchors_are_judged_only_at_the_paper_scale_and_on_their_data_set():
    smoke = small_set("dc-10", [0.5, 0.6], scale="smoke")
    assert judge(CLAIMS["DC-MNIST-10"], smoke, SETTINGS, "h").verdict == NOT_JUDGED
    cifar = small_set("dm-50", [0.62, 0.64, 0.63], kind="dm", ipc=50, dataset="cifar10-jpeg")
    v = judge(CLAIMS["DM-CIFAR10-50"], cifar, SETTINGS, "h")
    assert v.measured.startswith("CIFAR-10 (JPEG copy): dm-50") and v.verdict == REPRODUCED  # ≥ 61.0 %
    assert {v.claim.id for v in judge_all(cifar, settings=SETTINGS)} == {"DM-CIFAR10-50"}  # the others' methods are absent
    from_suite = [{**r, "suite": "cifar10-teachers"} for r in cifar]  # ... but a run of their suite lacks them
    judged = {v.claim.id: v.verdict for v in judge_all(from_suite, settings=SETTINGS)}
    assert judged["DC-CIFAR10-10"] == INCOMPLETE and not any(c.startswith("DC-MNIST") for c in judged)


def test_a_missing_or_failed_judged_method_is_incomplete():
    only_a = small_set("dc-10", [0.9, 0.9], "equal-steps", suite="mnist-teachers")
    v = judge(CLAIMS["DC-MNIST-10"], only_a, SETTINGS, "h")
    assert v.verdict == INCOMPLETE and "own recipe" in v.measured
    elsewhere = [{**r, "suite": "nb201-teachers"} for r in only_a]  # a method of the same name, scored at (a) only
    assert judge(CLAIMS["DC-MNIST-10"], elsewhere, SETTINGS, "h").verdict == NOT_MEASURED
    failed = small_set("dc-10", [0.97]) + [record("dc-10", "dc", 1, {"epochs": 300}, {}, {}, status="failed")]
    assert judge(CLAIMS["DC-MNIST-10"], failed, SETTINGS, "h").verdict == INCOMPLETE


def proxy(method, scores, steps=1000, teacher="set", suite="nb201-teachers"):
    return [record(method, "nb201-train", 0, {}, {}, {"teacher": teacher, "scores": {str(steps): s},
                                                        "seconds": {str(steps): 1.0}, "ground_truth": TRUTH,
                                                        "space": "nb201"}, dataset="cifar10", arch=a, suite=suite)
            for a, s in scores.items()]  # fmt: skip


def test_dc_bench_correlations_reproduce_when_the_set_proxy_ranks_no_better():
    table = load_table()
    archs = sample_architectures(60, seed=4)
    truth = {a: table.value(TRUTH, a) for a in archs}
    rng = np.random.default_rng(0)
    noise = {a: float(rng.normal()) for a in archs}
    records = (proxy("dc-proxy", {a: -truth[a] + 5 * noise[a] for a in archs})
               + proxy("subset-proxy", {a: noise[a] for a in archs})
               + proxy("real", {a: truth[a] for a in archs}, teacher="real"))  # fmt: skip
    v = judge(CLAIMS["DCB-NAS-DC"], records, SETTINGS, "h")
    assert v.judged == "dc-proxy@1000" and v.verdict == REPRODUCED, v.measured  # its interval is under -0.04
    assert [b.name.split(" [")[0] for b in v.baselines] == ["subset-proxy@1000", "real@1000"]
    assert v.baselines[1].value.startswith("1.000") and v.baselines[1].comparison.endswith("worse")
    good = proxy("dc-proxy", truth)
    assert judge(CLAIMS["DCB-NAS-DC"], good, SETTINGS, "h").verdict == NOT_REPRODUCED
    smaller = proxy("dc-proxy", {a: -truth[a] for a in archs}, steps=16)
    smoke = [{**r, "scale": "smoke"} for r in smaller]
    below = judge(CLAIMS["DCB-NAS-DC"], smoke, SETTINGS, "h")
    assert below.judged == "dc-proxy@16" and below.verdict == NOT_JUDGED  # the largest budget below the paper scale
    assert judge(CLAIMS["DCB-NAS-DSA"], records, SETTINGS, "h").verdict == INCOMPLETE  # its suite's run lacks dsa-proxy
    other = proxy("real", truth, teacher="real", suite="nb201-gtn")
    assert judge(CLAIMS["DCB-NAS-DC"], other, SETTINGS, "h").verdict == NOT_MEASURED
