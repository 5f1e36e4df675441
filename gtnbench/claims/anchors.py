"""Measures of the anchors: published figures of the other ways to make a small training set (DC, DM,
DC-BENCH), judged like C1..C8 under their own protocol, the paper scale of the bundled suite that
measures them (mnist-teachers, cifar10-teachers, nb201-teachers). Pure functions of records.

- Accuracy anchors judge one named set method's mean test accuracy under protocol (b), the method's
  own recipe (the papers train a fresh network for hundreds of epochs on the set), with a bootstrap
  interval over seeds. Beside it: the random real subset of the same size under (b), the same set at
  equal steps with the GTN (protocol (a)), and the tuned real-data learner at those steps.
- NAS anchors judge one named set-taught NAS-Bench-201 proxy: its Spearman correlation with the
  suite's ground truth at the proxy's largest budget, with a paired bootstrap interval over
  architectures. Beside it, each on the cells it shares with the judged proxy: the random-subset
  proxy, the training-free and tabular proxies, and the tuned real-data proxy nearest in steps.

The published figures come from other networks and protocols: the reference ConvNet (three blocks
of 128-channel conv, instance norm, ReLU, average pooling; SGD with weight decay 5e-4 and a step
decay) where gtnbench trains the suite's learner (the paper GTN learners: mean-only batch norm,
weight normalisation, leaky ReLU) in its shared inner loop (no weight decay; constant, linear or
cosine schedules); DC-BENCH ranks architectures against its own full-data training, gtnbench
against the NAS-Bench-201 table. A verdict says whether the figure holds for gtnbench's learner and
protocol, not whether the reference code reproduces.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from gtnbench.claims.common import (
    baseline_accuracy,
    comparison,
    estimate,
    group,
    interval_text,
    mean,
    ok,
    pct,
    scale_of,
    values,
)
from gtnbench.claims.verdicts import Baseline, Claim, Estimate, Measurement, Record, Settings
from gtnbench.data.names import dataset_label
from gtnbench.metrics import interval_of, resampled_indices, spearman, spearman_rows
from gtnbench.suite import SET_KINDS

Measure = Callable[[Claim, list[Record], Settings], Measurement | None]


def _bears_on(claim: Claim, records: list[Record], own_recipe: bool = False) -> bool:
    """The records say something about the anchor: they come from its suite (where a missing judged
    method makes the verdict incomplete rather than not measured) or hold its judged method (with
    `own_recipe`, a trial of it under protocol b, whose budget is in epochs)."""
    method = claim.judged.partition("@")[0]
    return any(r["suite"] == claim.suite or (r["method"] == method and (not own_recipe or "epochs" in r["budget"]))
               for r in records)  # fmt: skip


def _protocol(records: list[Record], protocol: str) -> list[Record]:
    return [r for r in records if r.get("details", {}).get("protocol") == protocol]


def _size(records: list[Record]) -> str:
    sizes = sorted({(r["details"]["set"]["images"], min(r["details"]["set"]["per_class"])) for r in records
                    if "set" in r.get("details", {})})  # fmt: skip
    return ", ".join(f"{n} images, {c}/class" for n, c in sizes) or "size not recorded"


def accuracy_measure(datasets: tuple[str, ...]) -> Measure:
    """The measure of an accuracy anchor on these data sets: the claim's judged method under (b); its
    baselines: claim.baselines[0] a random subset of the same size, [1] the tuned real-data learner."""

    def measure(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
        data = [r for r in records if r["dataset"] in datasets]
        if not _bears_on(claim, [r for r in data if r["kind"] in SET_KINDS], own_recipe=True):
            return None
        g = group(data, claim.judged)
        own = _protocol(g.ok, "own-recipe")
        scale = scale_of(own or g.ok or data)
        if g.missing or not own:
            why = g.missing or f"{claim.judged} under its own recipe (protocol b) is not in these runs"
            return Measurement(claim.judged, Estimate(math.nan), "–", scale, missing=why)
        judged = values(own, "test_acc")
        e = estimate([judged], mean, settings)
        epochs = own[0]["details"].get("epochs")
        where = ", ".join(sorted({dataset_label(r["dataset"]) for r in own}))
        text = (f"{where}: {claim.judged} ({_size(own)}): {pct(e)} test accuracy after {epochs} epochs on the set "
                f"(protocol b, lr tuned on validation), mean over {len(own)} seeds")  # fmt: skip
        return Measurement(f"{claim.judged} (b)", e, text, scale, _accuracy_baselines(claim, data, g.ok, judged,
                                                                                       settings))  # fmt: skip

    return measure


def _accuracy_baselines(claim: Claim, data: list[Record], judged_records: list[Record], judged: list[float],
                        settings: Settings) -> tuple[Baseline, ...]:  # fmt: skip
    subset_name, real_name = claim.baselines
    subset = _protocol(ok(data, method=subset_name), "own-recipe")
    equal = _protocol(judged_records, "equal-steps")
    steps = equal[0]["budget"]["steps"] if equal else None
    real = [r for r in ok(data, method=real_name) if steps is not None and r["budget"].get("steps") == steps]
    what = f"{claim.judged} (b)"
    return (baseline_accuracy(subset_name, judged, values(subset, "test_acc"), settings, what,
                              f"{subset_name} (random real subset, protocol b)"),
            baseline_accuracy(claim.judged, judged, values(equal, "test_acc"), settings, what,
                              f"{claim.judged} at equal steps (protocol a{f', {steps} steps' if steps else ''})"),
            baseline_accuracy(real_name, judged, values(real, "test_acc"), settings, what,
                              f"{real_name} (tuned real data, {steps} steps)" if steps else real_name))  # fmt: skip


def _nas_records(records: list[Record]) -> list[Record]:
    """The NAS-Bench-201 proxy records (the anchors are NAS-Bench-201 figures)."""
    return [r for r in records if r["kind"].startswith("nb201")
            and ((r.get("details") or {}).get("space") or "nb201") == "nb201"]  # fmt: skip


def _judged_proxy(claim: Claim, proxies: dict, scale: str) -> str | None:
    """The claim's proxy (method@steps), or below the paper scale its method's largest budget."""
    if claim.judged in proxies:
        return claim.judged
    method = claim.judged.partition("@")[0]
    own = [p for p in proxies.values() if p.method == method and p.kind == "nb201-train"]
    return max(own, key=lambda p: p.steps).name if own and scale != claim.scale else None


def _beside(proxies: dict, judged: str, baselines: tuple[str, ...]) -> list[str]:
    """The named baseline methods' proxies at the judged budget (else the nearest in log steps), then the
    training-free and tabular proxies."""
    steps = proxies[judged].steps
    shown = []
    for method in baselines:
        own = [p for p in proxies.values() if p.method == method and p.kind == "nb201-train"]
        if own:
            shown.append(min(own, key=lambda p: abs(math.log(p.steps / steps))).name)
    return shown + [n for n, p in proxies.items() if p.kind in ("nb201-free", "nb201-table")]


def _spearman_on(scores: dict[int, float], truth: dict[int, float], pool: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([scores[a] for a in pool]), np.array([truth[a] for a in pool])


def measure_nas(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    """Spearman of the claim's set-taught proxy with the ground truth, the baselines beside it."""
    from gtnbench.rankcorr import collect, ground_truth_of, mean_scores

    nas = _nas_records(records)
    if not _bears_on(claim, nas):
        return None
    proxies, scale = collect(nas), scale_of(nas)
    method = claim.judged.partition("@")[0]
    failed = sum(r["status"] != "ok" for r in nas if r["method"] == method)
    judged = _judged_proxy(claim, proxies, scale)
    if failed or judged is None:
        why = f"{failed} trial(s) of {method} failed" if failed else f"{claim.judged} is not in these runs"
        return Measurement(claim.judged, Estimate(math.nan), "–", scale, missing=why)
    table, column = ground_truth_of(nas)
    scores = {name: mean_scores(p) for name, p in proxies.items()}
    truth = {a: table.value(column, a) for s in scores.values() for a in s}
    pool = sorted(scores[judged])
    x, y = _spearman_on(scores[judged], truth, pool)
    draws = resampled_indices(len(pool), settings.resamples, settings.seed)
    rho = spearman(x, y)
    e = Estimate(rho, *interval_of(spearman_rows(x[draws], y[draws]))) if len(pool) >= 3 else Estimate(rho)
    text = f"{judged}: Spearman {interval_text(e, 1, 3)} with {column} over {len(pool)} cells"
    shown = []
    for name in _beside(proxies, judged, claim.baselines):
        shared = sorted(set(pool) & set(scores[name]))
        if len(shared) < 3:
            shown.append(Baseline(f"{name} [{len(shared)} cells]", "too few shared cells"))
            continue
        (a, t), (b, _) = _spearman_on(scores[judged], truth, shared), _spearman_on(scores[name], truth, shared)
        paired = resampled_indices(len(shared), settings.resamples, settings.seed)
        own_rows, judged_rows = spearman_rows(b[paired], t[paired]), spearman_rows(a[paired], t[paired])
        own = Estimate(spearman(b, t), *interval_of(own_rows))
        diff = Estimate(spearman(a, t) - own.value, *interval_of(judged_rows - own_rows))
        shown.append(Baseline(f"{name} [{len(shared)} cells]", interval_text(own, 1, 3),
                              comparison(diff, f"{judged} minus it", 1, "", 3)))  # fmt: skip
    return Measurement(judged, e, text, scale, tuple(shown))
