"""Every claim's measure on synthetic records: judged method, intervals, three-way verdicts, baselines."""

import math
import random

import numpy as np
import pytest

from gtnbench import claims
from gtnbench.claims import (
    CLAIMS,
    INCOMPLETE,
    INCONCLUSIVE,
    NOT_JUDGED,
    NOT_MEASURED,
    NOT_PROTOCOL,
    NOT_REPRODUCED,
    REPRODUCED,
    Settings,
    judge_all,
)
from gtnbench.claims.verdicts import Estimate, Measurement, Threshold, decide, judge
from gtnbench.nas.sampling import sample_architectures
from gtnbench.nas.search import cells_to_reach, mean_pick_curve, search_orders, simulate_search
from gtnbench.nas.table import load_table

SETTINGS = Settings(resamples=300, search_seeds=10)
TRUTH = "cifar10_test_acc_hp200_mean"


@pytest.fixture(autouse=True)
def bundled_protocols_hash_to_h(monkeypatch):
    """The records below stand for runs of the bundled suites' paper protocols (config hash "h")."""
    monkeypatch.setattr(claims, "protocol_hash", lambda suite: "h")


def verdict(claim_id, records, relax=None):
    return judge(CLAIMS[claim_id], records, SETTINGS, "h", relax)


def base(method, kind, seed, scale="paper", dataset="mnist", budget=None, variant=None):
    return {"trial": f"{method}/{variant or ''}/{budget}/seed={seed}", "method": method, "kind": kind, "seed": seed,
            "budget": budget or {}, "variant": variant or {}, "arch": None, "suite": "s", "scale": scale,
            "config_hash": "h", "dataset": dataset, "status": "ok", "device_name": "test device", "metrics": {},
            "details": {}}  # fmt: skip


def gtn(acc, seed=0, method="gtn", scale="paper", inner_steps=32, untrained=0.1, **details):
    r = base(method, "gtn", seed, scale, budget={"steps": inner_steps})
    r["metrics"] = {"test_acc": acc, "val_acc": acc, "untrained_test_acc": untrained, "learner_train_seconds": 0.2}
    r["details"] = {"inner_steps": inner_steps, "curriculum": "full", **details}
    return r


def real(acc, seed=0, steps=32, method="real-fewstep", scale="paper", dataset="mnist"):
    r = base(method, "real", seed, scale, dataset, budget={"steps": steps})
    r["metrics"] = {"test_acc": acc, "val_acc": acc, "train_seconds": 0.01 * steps}
    r["details"] = {"steps": steps}
    return r


def failed(record, reason="RuntimeError: boom"):
    return {**record, "status": "failed", "reason": reason, "metrics": {}, "details": {}}


def seeds(acc, spread=0.001, n=5, **kwargs):
    return [gtn(acc + spread * (s - (n - 1) / 2), seed=s, **kwargs) for s in range(n)]


# -- the verdict rule ----------------------------------------------------------------------------
def test_three_way_verdicts_from_the_interval():
    at_least = Threshold(1.0, ">=", 1.0, "")

    def of(value, low, high):
        return decide(Measurement("m", Estimate(value, low, high), "", "paper"), at_least)

    assert of(1.5, 1.1, 1.9) == REPRODUCED
    assert of(0.5, 0.2, 0.9) == NOT_REPRODUCED
    assert of(1.1, 0.9, 1.3) == INCONCLUSIVE
    assert of(1.5, math.nan, math.nan) == INCONCLUSIVE  # one seed: no interval
    assert of(math.nan, math.nan, math.nan) == INCOMPLETE
    at_most = Threshold(1.0, "<=", 1.0, "")
    assert decide(Measurement("m", Estimate(0.5, 0.4, 0.6), "", "paper"), at_most) == REPRODUCED


# -- C1, C1b, C2: the pre-registered GTN, the tuned learner beside it --------------------------------
def test_c1_judges_the_final_loss_gtn_with_an_interval_over_seeds():
    assert verdict("C1", seeds(0.990)).verdict == REPRODUCED
    assert verdict("C1", seeds(0.970)).verdict == NOT_REPRODUCED
    assert verdict("C1", seeds(0.986, spread=0.004)).verdict == INCONCLUSIVE
    assert verdict("C1", seeds(0.990, n=1)).verdict == INCONCLUSIVE
    assert verdict("C1", seeds(0.990, scale="smoke")).verdict == NOT_JUDGED
    assert verdict("C1", [real(0.99)]).verdict == NOT_MEASURED


def test_c1_never_picks_a_variant_by_test_accuracy():
    """The step-loss variant scores higher on test: C1 still judges `gtn` and shows the other beside it."""
    records = seeds(0.970) + seeds(0.995, method="gtn-steploss") + [real(0.97, s) for s in range(5)]
    v = verdict("C1", records)
    assert v.verdict == NOT_REPRODUCED and v.judged.startswith("gtn ") and "97.00" in v.measured
    names = [b.name for b in v.baselines]
    assert any(n.startswith("gtn-steploss") for n in names) and any(n.startswith("real-fewstep") for n in names)
    assert any(n.startswith("untrained generator") for n in names)
    steploss = next(b for b in v.baselines if b.name.startswith("gtn-steploss"))
    assert "99.50" in steploss.value and steploss.comparison.endswith("worse")


def test_c1_incomplete_when_the_judged_gtn_failed_or_is_missing():
    records = seeds(0.99, n=3)
    assert verdict("C1", records[:2] + [failed(records[2])]).verdict == INCOMPLETE
    only_steploss = seeds(0.995, method="gtn-steploss")
    v = verdict("C1", only_steploss)
    assert v.verdict == INCOMPLETE and "gtn is not in these runs" in v.measured


def test_c1b_judges_the_mean_of_each_trials_median_learner_time():
    records = seeds(0.99)
    assert verdict("C1b", records).verdict == REPRODUCED  # 0.2 s
    for r in records:
        r["metrics"]["learner_train_seconds"] = 0.9
    assert verdict("C1b", records).verdict == NOT_REPRODUCED


def test_c2_is_gtn_minus_the_tuned_learner_at_the_same_steps():
    reals = [real(0.970 + 0.001 * s, s) for s in range(5)]
    assert verdict("C2", seeds(0.99) + reals).verdict == REPRODUCED
    assert verdict("C2", seeds(0.95) + reals).verdict == NOT_REPRODUCED
    assert verdict("C2", seeds(0.972, spread=0.01) + reals).verdict == INCONCLUSIVE
    v = verdict("C2", seeds(0.99))
    assert v.verdict == INCOMPLETE and "real-fewstep at 32 steps" in v.measured
    other_budget = [real(0.99, s, steps=64) for s in range(3)]  # another budget is never pooled in
    assert verdict("C2", seeds(0.99) + other_budget).verdict == INCOMPLETE


def test_verdicts_do_not_depend_on_record_order():
    records = seeds(0.99) + seeds(0.995, method="gtn-steploss") + [real(0.97, s) for s in range(5)]
    shuffled = random.Random(0).sample(records, len(records))
    for claim in ("C1", "C1b", "C2"):
        a, b = verdict(claim, records), verdict(claim, shuffled)
        assert (a.verdict, a.measured) == (b.verdict, b.measured)


# -- C3, C3a, C4 ---------------------------------------------------------------------------------
def curriculum(c, acc, seed=0, history=(), scale="paper", inner_steps=32):
    r = gtn(acc, seed, scale=scale, inner_steps=inner_steps, validation=list(history))
    r["details"]["curriculum"] = c
    r["variant"] = {"curriculum": c}
    return r


PAPER_C3 = {"full": 0.985, "shuffled-batch": 0.974, "all-shuffled": 0.968, "none": 0.956}


def test_c3_orders_the_curricula_by_their_smallest_gap():
    records = [curriculum(c, a + 0.0005 * s, s) for c, a in PAPER_C3.items() for s in range(3)]
    assert verdict("C3", records).verdict == REPRODUCED
    swapped = [curriculum(c, PAPER_C3["full" if c == "none" else "none" if c == "full" else c] + 0.0005 * s, s)
               for c in PAPER_C3 for s in range(3)]  # fmt: skip
    assert verdict("C3", swapped).verdict == NOT_REPRODUCED
    v = verdict("C3", records[:6])
    assert v.verdict == INCOMPLETE and "missing all-shuffled, none" in v.measured
    below = [curriculum(c, 0.9, scale="smoke", inner_steps=16) for c in ("full", "none")]
    assert "missing shuffled-batch" in verdict("C3", below).measured


def test_c3a_uses_the_validation_learners_mean_and_its_interval():
    fast = [{"iteration": i, "val_acc": 0.9 + 0.0005 * i} for i in range(0, 2001, 50)]  # 95 % at 100
    slow = [{"iteration": i, "val_acc": 0.9 + 0.00004 * i} for i in range(0, 2001, 50)]  # 95 % at 1250
    records = [curriculum("full", 0.98, s, fast) for s in range(3)] + [curriculum("none", 0.96, s, slow) for s in range(3)]
    v = verdict("C3a", records)
    assert v.verdict == INCONCLUSIVE or v.verdict == REPRODUCED
    assert "full [100, 100, 100], none [1250, 1250, 1250]" in v.measured and "12.50x" in v.measured
    same = [curriculum(c, 0.97, s, fast) for c in ("full", "none") for s in range(3)]
    assert verdict("C3a", same).measured.endswith("1.00x (no interval)") or verdict("C3a", same).verdict == NOT_REPRODUCED
    never = [curriculum(c, 0.9, s, [{"iteration": 0, "val_acc": 0.5}]) for c in ("full", "none") for s in range(3)]
    assert verdict("C3a", never).verdict == NOT_REPRODUCED


def test_c4_counts_divergence_from_failed_records():
    on = [dict(gtn(0.98, s), variant={"weight_norm": True}) for s in range(3)]
    off = [failed(dict(gtn(0.0, s), variant={"weight_norm": False}), "diverged: meta-loss nan at outer iteration 7")
           for s in range(2)] + [dict(gtn(0.975, 2), variant={"weight_norm": False})]  # fmt: skip
    v = verdict("C4", on + off)
    assert v.verdict == REPRODUCED and "2/3 diverged" in v.measured
    stable = [dict(gtn(0.98 + 0.001 * s, s), variant={"weight_norm": False}) for s in range(3)]
    assert verdict("C4", on + stable).verdict == NOT_REPRODUCED
    crashed = [failed(r, "RuntimeError: CUDA out of memory") if r["status"] == "failed" else r for r in off]
    v = verdict("C4", on + crashed)
    assert v.verdict == INCOMPLETE and "0/3 diverged" in v.measured and "2 trial(s)" in v.measured


# -- C5 ------------------------------------------------------------------------------------------
def cifar_curve(accuracy_at, seeds_=3, method="real-fewstep"):
    return [real(acc + 0.001 * s, s, steps, method, dataset="cifar10-jpeg") for steps, acc in accuracy_at.items()
            for s in range(seeds_)]  # fmt: skip


def cifar_gtn(acc, n=3, inner=128):
    out = []
    for s in range(n):
        r = gtn(acc + 0.001 * s, s, inner_steps=inner)
        r["dataset"] = "cifar10-jpeg"
        out.append(r)
    return out


CURVE = {8: 0.20, 32: 0.35, 128: 0.50, 512: 0.60, 2048: 0.70}


def test_c5_reads_the_real_steps_needed_off_the_tuned_curve():
    v = verdict("C5", cifar_gtn(0.65) + cifar_curve(CURVE))  # reached between 512 and 2048: ~1024 steps = 8x T
    assert v.verdict == REPRODUCED and "CIFAR-10 (JPEG copy)" in v.measured
    assert verdict("C5", cifar_gtn(0.45) + cifar_curve(CURVE)).verdict == NOT_REPRODUCED  # < 128 steps
    assert verdict("C5", cifar_gtn(0.9) + cifar_curve(CURVE)).verdict == REPRODUCED  # beyond 2048 = 16x T


def test_c5_incomplete_on_a_nan_real_curve():
    curve = cifar_curve(CURVE)
    for r in curve:
        r["metrics"]["test_acc"] = math.nan
    assert verdict("C5", cifar_gtn(0.65) + curve).verdict == INCOMPLETE


# -- C6, C7, C8: named proxies on NAS-Bench-201 ---------------------------------------------------
ARCHS = sample_architectures(120, seed=0)


def proxy_records(method, teacher, steps, noise, seconds, rng, kind="nb201-train", seed=0, status="ok"):
    """One record per architecture: scores = ground truth + noise at each budget."""
    table = load_table()
    records = []
    for a in ARCHS:
        truth = table.value(TRUTH, a)
        r = base(method, kind, seed)
        r.update(arch=a, trial=f"{method}/arch={a}/seed={seed}", status=status)
        r["details"] = {"teacher": teacher, "ground_truth": TRUTH, "checkpoint": "artifacts/gtn-cells__seed=0/gtn.pt",
                        "scores": {str(k): truth + rng.normal(0, n) for k, n in zip(steps, noise)},
                        "seconds": {str(k): s for k, s in zip(steps, seconds)}}  # fmt: skip
        records.append(r)
    return records


def free_records(rng, noise=3.0, name="flops"):
    table = load_table()
    out = []
    for a in ARCHS:
        r = base("free", "nb201-free", 0)
        r.update(arch=a, trial=f"free/arch={a}/seed=0")
        r["details"] = {"scores": {name: table.value(TRUTH, a) + rng.normal(0, noise)}, "seconds": {name: 1e-4},
                        "ground_truth": TRUTH}  # fmt: skip
        out.append(r)
    return out


REAL_STEPS = [32, 64, 128, 256, 512, 1024, 2048]


def nas_run(gtn_noise=1.0, fixed_first=False, seed=0):
    rng = np.random.default_rng(seed)
    real = proxy_records("real", "real", REAL_STEPS, [12, 9, 6, 4, 2.5, 1.5, 1.0], [0.01 * k for k in REAL_STEPS], rng)
    main = proxy_records("gtn", "gtn", [32, 128], [4.0, gtn_noise], [0.3, 1.2], rng)
    ablation = proxy_records("gtn-fixed", "gtn", [128], [30.0], [1.2], rng)
    meta = base("gtn-cells", "gtn", 0)
    meta.update(trial="gtn-cells/seed=0", metrics={"meta_seconds": 100.0})
    records = real + (ablation + main if fixed_first else main + ablation) + [meta]
    return records


def test_c6_to_c8_judge_the_named_proxy_whatever_comes_first():
    for claim in ("C6", "C7", "C8"):
        a, b = verdict(claim, nas_run()), verdict(claim, nas_run(fixed_first=True))
        assert a.judged == b.judged == "gtn@128" and a.measured == b.measured and a.verdict == b.verdict


def test_c6_counts_real_steps_to_match_the_gtn_spearman():
    good = verdict("C6", nas_run(gtn_noise=0.8))  # better than real@2048 (noise 1.0): beyond the last budget
    assert good.verdict == REPRODUCED and "∞" in good.measured
    poor = verdict("C6", nas_run(gtn_noise=8.0))  # between real@32 and real@64
    assert poor.verdict == NOT_REPRODUCED
    assert any("tuned real data, about the same cost" in b.name for b in poor.baselines)


def test_c6_incomplete_when_the_main_gtn_failed_or_the_real_curve_is_nan():
    records = nas_run()
    broken = [failed(r, "the GTN of gtn-cells/seed=0 is not in this run directory") if r["method"] == "gtn" else r
              for r in records]  # fmt: skip
    v = verdict("C6", broken)
    assert v.verdict == INCOMPLETE and "of gtn failed" in v.measured
    nan_curve = [dict(r, details={**r["details"], "scores": {k: math.nan for k in r["details"]["scores"]}})
                 if r["method"] == "real" else r for r in records]  # fmt: skip
    assert verdict("C6", nan_curve).verdict == INCOMPLETE


def test_c7_states_the_trivial_baselines_on_the_same_cells():
    rng = np.random.default_rng(1)
    v = verdict("C7", nas_run() + free_records(rng))
    names = [b.name for b in v.baselines]
    assert any(n.startswith("free:flops") for n in names) and v.verdict in (REPRODUCED, INCONCLUSIVE)
    assert verdict("C7", nas_run(gtn_noise=30.0)).verdict in (NOT_REPRODUCED, INCONCLUSIVE)


def test_an_added_training_free_proxy_leaves_c6_c7_c8_unchanged():
    rng = np.random.default_rng(2)
    records = nas_run()
    extra = [r for r in free_records(rng) if r["arch"] != ARCHS[0]]  # and on fewer cells
    for claim in ("C6", "C7", "C8"):
        a, b = verdict(claim, records), verdict(claim, records + extra)
        assert a.measured == b.measured and a.verdict == b.verdict


def test_c8_budget_is_the_exact_number_of_cells_times_the_cost():
    rng = np.random.default_rng(3)
    truth = rng.normal(90, 3, 200)
    scores = truth + rng.normal(0, 1.0, 200)
    orders = search_orders(200, 10)
    curve = mean_pick_curve(scores, truth, orders)
    for n in (1, 2, 7, 50, 200):  # the curve is what simulate_search gives at n cells
        [at_n] = simulate_search(scores, truth, 1.0, [n], best_possible=100, n_seeds=10)
        assert curve[n - 1] == pytest.approx(at_n.accuracy.mean)
    target = curve[-1] - 0.5
    n = cells_to_reach(curve, target)
    assert curve[int(n) - 1] >= target and (n == 1 or curve[int(n) - 2] < target)
    assert cells_to_reach(curve, 1e9) == math.inf


def test_c8_counts_meta_training_end_to_end():
    v = verdict("C8", nas_run(gtn_noise=0.5))
    assert "end to end" in v.measured and "(100 s)" in v.measured
    assert not math.isnan(v.estimate.value)


def test_relaxing_the_thresholds_shows_which_verdicts_flip():
    v = verdict("C1", seeds(0.9852, spread=0.0002), relax=0.05)
    assert v.verdict == NOT_REPRODUCED
    assert v.relaxed == {"-5 %": REPRODUCED, "+5 %": NOT_REPRODUCED}


def test_judge_all_lists_only_what_was_measured_unless_asked():
    assert [v.claim.id for v in judge_all(seeds(0.99), settings=SETTINGS)] == ["C1", "C1b", "C2"]  # C2: incomplete
    assert [v.claim.id for v in judge_all(seeds(0.99), ["C1", "C7"], SETTINGS)] == ["C1", "C7"]


def test_claims_are_judged_only_under_the_bundled_protocol(monkeypatch):
    monkeypatch.undo()
    from gtnbench.suite import find_suite

    expected = find_suite("mnist-fewstep").at("paper").config_hash()
    assert claims.protocol_hash("mnist-fewstep") == expected
    custom = [dict(r, config_hash="a user's paper scale") for r in seeds(0.99)]
    v = judge(CLAIMS["C1"], custom, SETTINGS, expected)
    assert v.verdict == NOT_PROTOCOL and "99.00" in v.measured
    protocol = [dict(r, config_hash=expected) for r in seeds(0.97)]
    assert judge(CLAIMS["C1"], custom + protocol, SETTINGS, expected).verdict == NOT_REPRODUCED
