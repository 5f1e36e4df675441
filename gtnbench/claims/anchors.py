"""Measures of the anchors: published figures of the other ways to make a small training set (DC, DM,
DC-BENCH), judged like C1..C8 under their own protocol, the paper scale of the bundled suite that
measures them (mnist-teachers, cifar10-teachers, nb201-teachers). Pure functions of records.

- Accuracy anchors judge one named set method's mean test accuracy under protocol (b) `reference`,
  the DC/DM reference evaluation as it is (its ConvNet, epochs, augmentation, weight decay and step
  decay; teachers/reference.py), with an interval over seeds. Beside it: the random real subset of the
  same size under the same recipe, the same set under the tuned recipe (b) and at equal steps with the
  GTN (protocol (a)), and the tuned real-data learner at those steps.
- NAS anchors judge one named set-taught NAS-Bench-201 proxy: its Spearman correlation with the
  suite's ground truth at the proxy's largest budget, with a paired bootstrap interval over
  architectures. Beside it, each on the cells it shares with the judged proxy: the random-subset
  proxy, the training-free and tabular proxies, and the tuned real-data proxy nearest in steps.

The accuracy anchors' sets are made and scored as the reference makes and scores them (the claim
suites make DM and DC sets with the reference ConvNet); what remains different is one network per
set and seed where the reference averages 20 (DC) or 5 (DM) networks per set, and gtnbench's seeded
data split (a validation split held out of the training images). DC-BENCH ranks architectures
against its own full-data training, gtnbench against the NAS-Bench-201 table.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from gtnbench.analysis.rankcorr import collect, ground_truth_of
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
from gtnbench.claims.panel import SPEARMAN_GAP_LIMITS, SPEARMAN_LIMITS, panel_of, seed_t_estimate, two_stage
from gtnbench.claims.verdicts import Baseline, Claim, Estimate, Measurement, Record, Settings
from gtnbench.data.names import data_label
from gtnbench.metrics import spearman_rows
from gtnbench.suite.methods import SET_KINDS

Measure = Callable[[Claim, list[Record], Settings], Measurement | None]


def _bears_on(claim: Claim, records: list[Record], reference: bool = False) -> bool:
    """The records say something about the anchor: they come from its suite (where a missing judged
    method makes the verdict incomplete rather than not measured) or hold its judged method (with
    `reference`, a trial of it under the reference recipe, whose budget is in reference_epochs)."""
    method = claim.judged.partition("@")[0]
    return any(
        r["suite"] == claim.suite or (r["method"] == method and (not reference or "reference_epochs" in r["budget"]))
        for r in records
    )


def _protocol(records: list[Record], protocol: str) -> list[Record]:
    return [r for r in records if r.get("details", {}).get("protocol") == protocol]


def _size(records: list[Record]) -> str:
    sizes = sorted(
        {
            (r["details"]["set"]["images"], min(r["details"]["set"]["per_class"]))
            for r in records
            if "set" in r.get("details", {})
        }
    )
    return ", ".join(f"{n} images, {c}/class" for n, c in sizes) or "size not recorded"


def _recipe_text(record: Record) -> str:
    """The reference recipe a record ran: '1000 epochs with DSA on convnet 128-128-128'."""
    details = record["details"]
    augment = {"dsa": "DSA", "crop-scale-rotate": "crop-scale-rotate", "none": "no augmentation"}.get(
        details.get("augment"), str(details.get("augment"))
    )
    learner = details.get("reference_learner") or {}
    widths = "-".join(str(w) for w in learner.get("widths") or ()) or "reference widths"
    return f"{details.get('epochs')} epochs, {augment}, on {learner.get('name', '?')} {widths}"


def accuracy_measure(datasets: tuple[str, ...]) -> Measure:
    """The measure of an accuracy anchor on these data sets: the claim's judged method under the reference
    recipe; its baselines: claim.baselines[0] a random subset of the same size, [1] the tuned real-data
    learner."""

    def measure(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
        data = [r for r in records if r["dataset"] in datasets]
        if not _bears_on(claim, [r for r in data if r["kind"] in SET_KINDS], reference=True):
            return None
        g = group(data, claim.judged)
        judged_records = _protocol(g.ok, "reference")
        scale = scale_of(judged_records or g.ok or data)
        if g.missing or not judged_records:
            why = g.missing or f"{claim.judged} under the reference recipe (protocol b) is not in these runs"
            return Measurement(claim.judged, Estimate(math.nan), "–", scale, missing=why)
        judged = values(judged_records, "test_acc")
        e = estimate([judged], mean, settings)
        where = data_label(judged_records)
        text = (
            f"{where}: {claim.judged} ({_size(judged_records)}): {pct(e)} test accuracy under the reference "
            f"recipe ({_recipe_text(judged_records[0])}; nothing tuned), mean over {len(judged_records)} "
            f"seed{'' if len(judged_records) == 1 else 's'}"
        )
        return Measurement(
            f"{claim.judged} (b, reference)", e, text, scale, _accuracy_baselines(claim, data, g.ok, judged, settings)
        )

    return measure


def _accuracy_baselines(
    claim: Claim, data: list[Record], judged_records: list[Record], judged: list[float], settings: Settings
) -> tuple[Baseline, ...]:
    subset_name, real_name = claim.baselines
    subset = _protocol(ok(data, method=subset_name), "reference")
    tuned = _protocol(judged_records, "own-recipe")
    equal = _protocol(judged_records, "equal-steps")
    steps = equal[0]["budget"]["steps"] if equal else None
    real = [r for r in ok(data, method=real_name) if steps is not None and r["budget"].get("steps") == steps]
    what = f"{claim.judged} (b, reference)"
    return (
        baseline_accuracy(
            subset_name,
            judged,
            values(subset, "test_acc"),
            settings,
            what,
            f"{subset_name} (random real subset, reference recipe)",
        ),
        baseline_accuracy(
            claim.judged,
            judged,
            values(tuned, "test_acc"),
            settings,
            what,
            f"{claim.judged} under the tuned recipe (protocol b, tuned on validation)",
        ),
        baseline_accuracy(
            claim.judged,
            judged,
            values(equal, "test_acc"),
            settings,
            what,
            f"{claim.judged} at equal steps (protocol a{f', {steps} steps' if steps else ''})",
        ),
        baseline_accuracy(
            real_name,
            judged,
            values(real, "test_acc"),
            settings,
            what,
            f"{real_name} (tuned real data, {steps} steps)" if steps else real_name,
        ),
    )


def _nas_records(records: list[Record]) -> list[Record]:
    """The NAS-Bench-201 proxy records (the anchors are NAS-Bench-201 figures)."""
    return [
        r
        for r in records
        if r["kind"].startswith("nb201") and ((r.get("details") or {}).get("space") or "nb201") == "nb201"
    ]


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


SANITY_MARGIN = 0.05  # a random subset must beat chance by 5 points before its proxy is judged


def sanity_floor(records: list[Record], judged_method: str) -> tuple[bool | None, str]:
    """Whether the set that teaches the judged proxy clears the sanity floor (review N10: a broken or
    unconverged distillation ranks poorly too, so it must not "reproduce" a published poor ranking): its
    mean test accuracy under protocol (a) must exceed the random subset's (the subset itself: chance plus
    5 points). None: the accuracies are not in these runs."""
    found = {
        (r.get("details") or {}).get("set", {}).get("method")
        for r in records
        if r["method"] == judged_method and r["status"] == "ok"
    }
    found.discard(None)
    own_set = found.pop() if len(found) == 1 else None
    own = _protocol(ok(records, method=own_set), "equal-steps") if own_set else []
    if not own:
        return None, f"the accuracy of its set{f' {own_set}' if own_set else ''} under protocol a is not in these runs"
    accuracy = float(np.mean(values(own, "test_acc")))
    if own[0]["kind"] == "subset":
        floor, what = 1 / 10 + SANITY_MARGIN, f"chance (10 %) plus {100 * SANITY_MARGIN:g} points"
    else:
        subsets = [r for r in _protocol(records, "equal-steps") if r["kind"] == "subset" and r["status"] == "ok"]
        if not subsets:
            return None, "the random subset's accuracy under protocol a (the sanity floor) is not in these runs"
        floor = float(np.mean(values(subsets, "test_acc")))
        what = f"the random subset {subsets[0]['method']} ({100 * floor:.2f} %)"
    passed = accuracy > floor
    return (
        passed,
        f"its set {own_set}: {100 * accuracy:.2f} % under protocol a, {'above' if passed else 'not above'} {what}",
    )


def measure_nas(claim: Claim, records: list[Record], settings: Settings) -> Measurement | None:
    """Spearman of the claim's set-taught proxy with the ground truth (mean over seeds, t interval: seed jackknife
    and cell bootstrap), the baselines beside it; judged only when its set clears the sanity floor."""
    nas = _nas_records(records)
    if not _bears_on(claim, nas):
        return None
    proxies, scale = collect(nas), scale_of(nas)
    method = claim.judged_method
    failed = sum(r["status"] != "ok" for r in nas if r["method"] == method)
    judged = _judged_proxy(claim, proxies, scale)
    if failed or judged is None:
        why = f"{failed} trial(s) of {method} failed" if failed else f"{claim.judged} is not in these runs"
        return Measurement(claim.judged, Estimate(math.nan), "–", scale, missing=why)
    table, column = ground_truth_of(nas)
    truth = {a: table.value(column, a) for p in proxies.values() for s in p.scores.values() for a in s}
    panel = panel_of(proxies, truth, [judged])
    e = seed_t_estimate(panel, settings, lambda d: two_stage(panel, d, judged, spearman_rows), SPEARMAN_LIMITS)
    text = f"{data_label(nas)}: {judged}: Spearman {interval_text(e, 1, 3)} with {column} over {len(panel.pool)} cells"
    passed, floor = sanity_floor(records, method)
    beside = [] if settings.verdict_only else _beside(proxies, judged, claim.baselines)
    shown = tuple(_beside_baseline(proxies, truth, judged, name, settings) for name in beside)
    if passed is None:
        return Measurement(judged, Estimate(math.nan), f"{text}; {floor}", scale, shown, missing=floor)
    if not passed:
        return Measurement(judged, Estimate(e.value), f"{text}; not judged: {floor} (the sanity floor)", scale, shown)
    return Measurement(judged, e, f"{text}; {floor}", scale, shown)


def _beside_baseline(proxies: dict, truth: dict[int, float], judged: str, name: str, settings: Settings) -> Baseline:
    """A baseline proxy's Spearman on the cells it shares with the judged one, and judged minus it (paired)."""
    panel = panel_of(proxies, truth, [judged, name])
    if len(panel.pool) < 3:
        return Baseline(f"{name} [{len(panel.pool)} cells]", "too few shared cells")
    own = seed_t_estimate(panel, settings, lambda d: two_stage(panel, d, name, spearman_rows), SPEARMAN_LIMITS)
    diff = seed_t_estimate(
        panel,
        settings,
        lambda d: two_stage(panel, d, judged, spearman_rows) - two_stage(panel, d, name, spearman_rows),
        SPEARMAN_GAP_LIMITS,
    )
    return Baseline(
        f"{name} [{len(panel.pool)} cells]", interval_text(own, 1, 3), comparison(diff, f"{judged} minus it", 1, "", 3)
    )
