"""The claims registry: GTN's claims (GTN_FACTS.md, C1..C8) and the anchors (published figures of DC, DM
and DC-BENCH, judged by claims/anchors.py) as data.

Each claim names the suite whose paper scale is its protocol, the method or proxy it judges, the
baselines shown beside it, and the threshold its measured quantity must clear. The thresholds are
those of the reproduction: the paper's value less a stated tolerance where the paper gives a
number (C1, C7), the paper's own criterion otherwise.
"""

from __future__ import annotations

from gtnbench.claims import anchors, gtn, nas, simulate
from gtnbench.claims.simulate import Simulation
from gtnbench.claims.verdicts import Claim, ProtocolField, Threshold

ACCURACY_UNIT = 0.1  # --relax r moves accuracy thresholds by r x 10 points
C1_TARGET, C1_TOLERANCE = 0.989, 0.003
C7_TARGET, C7_TOLERANCE = 0.5582, 0.05
# C1-C4 judge the official MNIST configuration's GTN: a real-data loss after every inner step
# (experiments/cgtn.json, use_intermediate_losses; review N8); the final-loss GTN is shown beside it.
MNIST_JUDGED = "gtn-steploss"
MNIST_BASELINES = ("real-fewstep", "gtn", "untrained generator")
REAL_32_STEPS = 0.9688  # the tuned real-data MNIST learner at 32 steps (results/cpu/mnist-real32-run)
# A factor or time the paper states approximately ("~4x", "about 0.5 s", "as well as 1,200 steps") is reproduced
# within 25 % of it: a threshold at the paper's figure itself says "reproduced" only for a truth beyond the
# paper's (a faithful reproduction would read "inconclusive" 95 % of the time).
APPROXIMATE = 0.25


def _official_gtn(step_loss_every: int, method: str | None = None) -> tuple[ProtocolField, ...]:
    """The recorded protocol of a GTN meta-trained as the official code does (GTN_FACTS.md)."""
    return (
        ProtocolField("bn_eval", "last-batch", method),
        ProtocolField("meta.step_loss_every", step_loss_every, method),
        ProtocolField("sampling", "with-replacement", method),
        ProtocolField("none_labels", "random", method),
        ProtocolField("labels", "rotating", method),
    )


MNIST_PROTOCOL = _official_gtn(1)
# NB201: the GTN proxies train cells with running batch-norm averages, as the benchmark trains them (the
# official GTN search used last-batch statistics: a listed deviation, with a last-batch ablation in nb201-gtn).
NAS_PROTOCOL = (
    ProtocolField("network.bn_eval", "running"),
    *(f for f in _official_gtn(16, "gtn-cells") if f.path != "bn_eval"),
)

GTN_CLAIMS = (
    Claim(
        "C1",
        "MNIST learner trained only on GTN data (32 steps x 128, full curriculum)",
        "98.9 % test accuracy",
        "paper",
        "mnist-fewstep",
        MNIST_JUDGED,
        MNIST_BASELINES,
        Threshold(C1_TARGET - C1_TOLERANCE, ">=", ACCURACY_UNIT, f"≥ {100 * (C1_TARGET - C1_TOLERANCE):.1f} %"),
        gtn.measure_c1,
        protocol=MNIST_PROTOCOL,
        paper_value=C1_TARGET,
        simulation=Simulation(simulate.accuracy_of_judged, ("mnist_sd",)),
    ),
    Claim(
        "C1b",
        "time to train that learner for 32 steps",
        "about 0.5 s",
        "paper",
        "mnist-fewstep",
        MNIST_JUDGED,
        (),
        Threshold(0.5 * (1 + APPROXIMATE), "<=", 0.5, "≤ 0.625 s (about 0.5 s)"),
        gtn.measure_c1b,
        protocol=MNIST_PROTOCOL,
        paper_value=0.5,
        simulation=Simulation(simulate.learner_time, ("time_relative_sd",)),
    ),
    Claim(
        "C2",
        "a real-data learner at the same 32 steps is worse than GTN",
        "real < GTN",
        "paper",
        "mnist-fewstep",
        MNIST_JUDGED,
        MNIST_BASELINES,
        Threshold(0.0, ">=", ACCURACY_UNIT, "GTN minus tuned real ≥ 0 points"),
        gtn.measure_c2,
        protocol=MNIST_PROTOCOL,
        paper_value=C1_TARGET - REAL_32_STEPS,
        simulation=Simulation(simulate.gtn_minus_real, ("mnist_sd",)),
    ),
    Claim(
        "C3",
        "curriculum ablation after 2,000 outer iterations",
        "full 98.5 > shuffled batch 97.4 > all shuffled 96.8 > none 95.6 %",
        "fig",
        "mnist-curriculum",
        "gtn",
        (),
        Threshold(0.0, ">=", ACCURACY_UNIT, "every adjacent gap ≥ 0 points"),
        gtn.measure_c3,
        protocol=MNIST_PROTOCOL,
        paper_value=min(simulate.C3_PAPER_GAPS),
        simulation=Simulation(simulate.curriculum_gaps, ("mnist_sd",)),
    ),
    Claim(
        "C3a",
        "full curriculum reaches 95 % by ~150 outer iterations; none needs ~1,100-1,400",
        "~150 vs ~1,100-1,400 iterations",
        "fig",
        "mnist-curriculum",
        "gtn",
        (),
        Threshold(4.0, ">=", 4.0, "none needs ≥ 4x the iterations of full"),
        gtn.measure_c3a,
        protocol=MNIST_PROTOCOL,
        paper_value=1250 / 150,
        simulation=Simulation(simulate.iterations_ratio, ("c3a_log_sd",)),
    ),
    Claim(
        "C4",
        "weight normalisation greatly stabilises meta-training",
        "qualitative",
        "paper",
        "mnist-weightnorm",
        "gtn",
        (),
        Threshold(0.01, ">=", ACCURACY_UNIT, "more divergence without (Fisher exact), or on minus off ≥ 1 point"),
        gtn.measure_c4,
        protocol=MNIST_PROTOCOL,
        simulation=Simulation(simulate.weight_norm, ("mnist_sd", "divergence"), simulate.weight_norm_paper),
    ),
    Claim(
        "C5",
        "CIFAR-10 learners reach a given accuracy ~4x faster on GTN data",
        "4x",
        "blog",
        "cifar10-fewstep",
        "gtn",
        ("real-fewstep",),
        Threshold(4.0 * (1 - APPROXIMATE), ">=", 4.0, "real-data steps to reach it ≥ 3x T (~4x)"),
        gtn.measure_c5,
        protocol=_official_gtn(16),
        paper_value=4.0,
        simulation=Simulation(simulate.cifar_speedup, ("cifar_sd",)),
    ),
)

NAS_CLAIMS = (
    Claim(
        "C6",
        "a 128-step GTN proxy ranks architectures as well as 1,200 real-data steps",
        "9x (1200/128)",
        "paper",
        "nb201-gtn",
        "gtn@128",
        ("real",),
        Threshold(
            1200.0 * (1 - APPROXIMATE),
            ">=",
            1200.0,
            "tuned real data needs ≥ 900 steps to match gtn@128's Spearman (paper: 1,200)",
        ),
        nas.measure_c6,
        protocol=NAS_PROTOCOL,
        paper_value=1200.0,
        simulation=Simulation(simulate.real_steps_needed, ("gtn_seed_r_sd",)),
    ),
    Claim(
        "C7",
        "Spearman of the GTN proxy over the top 50 % by GTN score",
        f"{C7_TARGET}",
        "blog",
        "nb201-gtn",
        "gtn@128",
        ("real",),
        Threshold(C7_TARGET - C7_TOLERANCE, ">=", 1.0, f"≥ {C7_TARGET - C7_TOLERANCE:.4f} (paper {C7_TARGET})"),
        nas.measure_c7,
        protocol=NAS_PROTOCOL,
        paper_value=C7_TARGET,
        simulation=Simulation(simulate.top_half, ("gtn_seed_r_sd",)),
    ),
    Claim(
        "C8",
        "GTN-guided random search over the suite's pool of cells is competitive at far less compute, "
        "end to end (the GTN's meta-training and the real proxy's calibration paid once)",
        "orders of magnitude less compute",
        "paper",
        "nb201-gtn",
        "gtn@128",
        ("real",),
        Threshold(
            10.0, ">=", 10.0, "real/GTN compute, end to end, to come within 0.5 points of the best real search ≥ 10x"
        ),
        nas.measure_c8,
        protocol=NAS_PROTOCOL,
        paper_value=100.0,
        simulation=Simulation(simulate.search_ratio, ("gtn_seed_r_sd",)),
    ),
)

# Anchors: the published figures of the other small-set methods, judged at their own protocol (claims/anchors.py).
ANCHOR_TOLERANCE = 0.02  # accuracy anchors: the published mean less 2 points (one network per set and seed)
SPEARMAN_TOLERANCE = 0.15  # NAS anchors: within 0.15 of the published Spearman (at ~1,000 cells about 2x its interval)
DC_SOURCE = "Zhao, Mopuri & Bilen, ICLR 2021, Table 1 (ConvNet; README of VICO-UoE/DatasetCondensation)"
DM_SOURCE = "Zhao & Bilen, WACV 2023, Table 1 (ConvNet)"
DCB_SOURCE = "DC-BENCH (Cui et al., 2022) leaderboard, NAS-Bench-201 on CIFAR-10 at 50 images/class (GTN_FACTS.md)"
ACCURACY_ANCHORS = (  # id, method, judged method, images per class, published accuracy, source, suite, data sets
    ("DC-MNIST-1", "DC", "dc-1", 1, 0.917, DC_SOURCE, "mnist-teachers", ("mnist",)),
    ("DC-MNIST-10", "DC", "dc-10", 10, 0.974, DC_SOURCE, "mnist-teachers", ("mnist",)),
    ("DC-MNIST-50", "DC", "dc-50", 50, 0.988, DC_SOURCE, "mnist-teachers", ("mnist",)),
    ("DC-CIFAR10-1", "DC", "dc-1", 1, 0.283, DC_SOURCE, "cifar10-teachers", ("cifar10", "cifar10-jpeg")),
    ("DC-CIFAR10-10", "DC", "dc-10", 10, 0.449, DC_SOURCE, "cifar10-teachers", ("cifar10", "cifar10-jpeg")),
    ("DC-CIFAR10-50", "DC", "dc-50", 50, 0.539, DC_SOURCE, "cifar10-teachers", ("cifar10", "cifar10-jpeg")),
    ("DM-CIFAR10-1", "DM", "dm-1", 1, 0.260, DM_SOURCE, "cifar10-teachers", ("cifar10", "cifar10-jpeg")),
    ("DM-CIFAR10-10", "DM", "dm-10", 10, 0.489, DM_SOURCE, "cifar10-teachers", ("cifar10", "cifar10-jpeg")),
    ("DM-CIFAR10-50", "DM", "dm-50", 50, 0.630, DM_SOURCE, "cifar10-teachers", ("cifar10", "cifar10-jpeg")),
)
# The published spread over runs (Table 1 of each paper: mean ± s.d.), the noise of the anchors' calibration.
PUBLISHED_SD = {
    "DC-MNIST-1": 0.005,
    "DC-MNIST-10": 0.002,
    "DC-MNIST-50": 0.002,
    "DC-CIFAR10-1": 0.005,
    "DC-CIFAR10-10": 0.005,
    "DC-CIFAR10-50": 0.005,
    "DM-CIFAR10-1": 0.008,
    "DM-CIFAR10-10": 0.006,
    "DM-CIFAR10-50": 0.004,
}
NAS_ANCHORS = (  # id, what teaches, judged proxy, published Spearman
    ("DCB-NAS-DC", "DC-condensed", "dc-proxy@1000", -0.19),
    ("DCB-NAS-DSA", "DSA-condensed", "dsa-proxy@1000", -0.37),
    ("DCB-NAS-DM", "DM-condensed", "dm-proxy@1000", -0.37),
    ("DCB-NAS-RANDOM", "a random real subset of", "subset-proxy@1000", -0.06),
    ("DCB-NAS-KMEANS", "a k-means coreset of", "kmeans-proxy@1000", 0.11),
)


def _accuracy_anchor(
    claim_id: str, method: str, judged: str, ipc: int, target: float, source: str, suite: str, datasets: tuple[str, ...]
) -> Claim:
    data = "MNIST" if datasets == ("mnist",) else "CIFAR-10"
    floor = target - ANCHOR_TOLERANCE
    threshold = Threshold(
        floor, ">=", ACCURACY_UNIT, f"≥ {100 * floor:.1f} % (published less {100 * ANCHOR_TOLERANCE:g} points)"
    )
    simulation = Simulation(simulate.set_accuracy(PUBLISHED_SD[claim_id]), ())
    return Claim(
        claim_id,
        f"{data}: the reference ConvNet trained from scratch on {ipc} {method} image(s) per class "
        "under the reference recipe",
        f"{100 * target:.1f} %",
        source,
        suite,
        judged,
        (f"subset-{ipc}", "real-fewstep"),
        threshold,
        anchors.accuracy_measure(datasets),
        paper_value=target,
        simulation=simulation,
    )


def _nas_anchor(claim_id: str, what: str, judged: str, target: float) -> Claim:
    """Two-sided (review N10: a one-sided "ranks no better than published" was reproduced by any failure),
    and judged only for a set that clears the sanity floor (claims/anchors.py)."""
    threshold = Threshold(target, "within", 1.0, f"within ±{SPEARMAN_TOLERANCE:g} of {target:+.2f}", SPEARMAN_TOLERANCE)
    return Claim(
        claim_id,
        f"NAS-Bench-201 cells trained on {what} CIFAR-10 (50 images/class) rank as published",
        f"Spearman {target:+.2f}",
        DCB_SOURCE,
        "nb201-teachers",
        judged,
        ("subset-proxy", "real"),
        threshold,
        anchors.measure_nas,
        paper_value=target,
        simulation=Simulation(simulate.set_proxy, ()),
    )


ANCHOR_CLAIMS = tuple(_accuracy_anchor(*a) for a in ACCURACY_ANCHORS) + tuple(_nas_anchor(*a) for a in NAS_ANCHORS)

CLAIMS: dict[str, Claim] = {c.id: c for c in (*GTN_CLAIMS, *NAS_CLAIMS, *ANCHOR_CLAIMS)}
