"""A resolved suite as trials: expansion in a stable order, what each trial needs first (prerequisites),
the small sets' protocols and the NAS architectures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gtnbench.suite.config import SuiteConfig
from gtnbench.suite.methods import SET_METHODS, GTNSetMethod, NB201Table, NB201Train, budgets_of, variants_of


@dataclass(frozen=True)
class Trial:
    """One unit of work: a method (in one variant of its ablation axes) at one budget, with one seed."""

    method: str
    kind: str
    seed: int
    budget: tuple[tuple[str, int], ...]  # e.g. (("steps", 32),)
    variant: tuple[tuple[str, Any], ...] = ()  # e.g. (("curriculum", "none"),)
    arch: int | None = None  # table index (in the suite's search space) of the architecture the trial scores

    @property
    def id(self) -> str:
        parts = [self.method, *(f"{k}={_text(v)}" for k, v in self.variant), *(f"{k}={v}" for k, v in self.budget)]
        if self.arch is not None:
            parts.append(f"arch={self.arch}")
        return "/".join([*parts, f"seed={self.seed}"])

    def identity(self) -> dict[str, Any]:
        """The fields of every record of this trial that say which trial it is (as JSON has them)."""
        return {
            "method": self.method,
            "kind": self.kind,
            "seed": self.seed,
            "budget": dict(self.budget),
            "variant": dict(self.variant),
            "arch": self.arch,
        }


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


CALIBRATE = "nb201-calibrate"  # the kind of a train-based proxy's tuning trial


def expand(config: SuiteConfig) -> list[Trial]:
    """All trials of a resolved suite, in a stable order: method, variant, budget, seed (and architecture).
    A train-based proxy with a grid starts with one calibration trial per seed."""
    trials = []
    for name, method in config.methods.items():
        if isinstance(method, SET_METHODS):  # one trial per protocol and seed; the first protocol's makes the set
            trials += [
                Trial(name, method.kind, seed, budget) for budget in set_budgets(config, name) for seed in config.seeds
            ]
            continue
        if isinstance(method, NB201Table):  # a table lookup: one trial scores the whole sample
            trials.append(Trial(name, method.kind, config.seeds[0], ()))
            continue
        if isinstance(method, NB201Train) and method.calibration is not None and method.calibration.in_run:
            trials += [_calibration_trial(name, seed) for seed in config.seeds]
        archs = sampled_architectures(config) if method.kind.startswith("nb201") else [None]
        for variant in variants_of(method):
            for budget in budgets_of(method):
                if archs == [None]:
                    trials += [Trial(name, method.kind, seed, budget, variant) for seed in config.seeds]
                else:  # seed outermost, so that cells of one seed are adjacent (and can train together)
                    trials += [
                        Trial(name, method.kind, seed, budget, variant, arch) for seed in config.seeds for arch in archs
                    ]
    return trials


def prerequisites(config: SuiteConfig, trial: Trial) -> list[Trial]:
    """The trials whose artifacts `trial` reads: the GTN meta-training that teaches a GTN proxy, and a
    tuned real-data proxy's calibration (same seed); the trial that makes a small set, for the set's
    other protocols and for a proxy it teaches; the GTN a gtn-set draws its images from. They must
    finish first, in the same run. Each is built from the configuration (as `expand` builds it), so that
    asking costs no expansion of the suite."""
    method = config.methods[trial.method]
    if not isinstance(method, (NB201Train, *SET_METHODS)):
        return []
    if isinstance(method, SET_METHODS):
        maker = set_maker(config, trial.method, trial.seed)
        if trial != maker:
            return [maker]
        return _gtn_trials(config, method.gtn, trial.seed) if isinstance(method, GTNSetMethod) and method.gtn else []
    needed = [set_maker(config, method.set, trial.seed)] if method.set else []
    if trial.kind == CALIBRATE:
        return needed
    if method.gtn:
        needed += _gtn_trials(config, method.gtn, trial.seed)
    if method.calibration is not None and method.calibration.in_run:
        needed.append(_calibration_trial(trial.method, trial.seed))
    return needed


def _gtn_trials(config: SuiteConfig, name: str, seed: int) -> list[Trial]:
    method = config.methods[name]
    return [
        Trial(name, method.kind, seed, budget, variant)
        for variant in variants_of(method)
        for budget in budgets_of(method)
    ]


def _calibration_trial(name: str, seed: int) -> Trial:
    return Trial(name, CALIBRATE, seed, (), (("calibrate", True),))


@dataclass(frozen=True)
class ReferencePlan:
    """The reference protocol resolved for one set method: epochs, augmentation and its DSA transforms."""

    epochs: int
    augment: Literal["none", "dsa", "crop-scale-rotate"]
    dsa: tuple[str, ...] = ()


def reference_plan(config: SuiteConfig, method: str) -> ReferencePlan:
    """How `reference` evaluates the sets of `method`: `augment = "auto"` is the reference's choice, DSA with
    the set's transforms for a DM or DSA set (a dm or dc method, or a brought file, with `dsa`), else the
    data set's (get_daparam: crop-scale-rotate on MNIST, none on CIFAR-10); `epochs = "auto"` is 1,000 with
    augmentation and 300 without."""
    reference, chosen = config.set_evaluation.reference, config.methods[method]
    own = tuple(getattr(chosen, "dsa", ()) or ())
    augment = reference.augment
    if augment == "auto":
        augment = "dsa" if own else ("crop-scale-rotate" if config.dataset == "mnist" else "none")
    dsa = (own or tuple(reference.dsa)) if augment == "dsa" else ()
    epochs = reference.epochs if reference.epochs != "auto" else (300 if augment == "none" else 1000)
    return ReferencePlan(epochs, augment, dsa)


# A small-set trial's budget names its protocol: (a) ("steps", T), (b) ("epochs", E), reference
# ("reference_epochs", E).
BUDGET_KEYS = {"steps": "equal-steps", "epochs": "own-recipe", "reference_epochs": "reference"}


def set_budgets(config: SuiteConfig, method: str) -> list[tuple[tuple[str, int], ...]]:
    """The budget of each protocol of [set_evaluation] for the sets of `method`, in the protocols' order."""
    evaluation = config.set_evaluation
    budgets = {
        "equal-steps": lambda: (("steps", evaluation.equal_steps.steps),),
        "own-recipe": lambda: (("epochs", evaluation.own_recipe.epochs),),
        "reference": lambda: (("reference_epochs", reference_plan(config, method).epochs),),
    }
    return [budgets[protocol]() for protocol in evaluation.protocols]


def protocol_of(budget: tuple[tuple[str, int], ...] | dict[str, int]) -> str:
    """The protocol a small-set trial's budget stands for."""
    (key,) = dict(budget)
    return BUDGET_KEYS[key]


def set_maker(config: SuiteConfig, method: str, seed: int) -> Trial:
    """The trial that makes (or loads) a small-set method's set for `seed` and saves it: its first protocol's."""
    return Trial(method, config.methods[method].kind, seed, set_budgets(config, method)[0])


def calibration_architectures(config: SuiteConfig, method: NB201Train) -> list[int]:
    """The architectures a proxy's grid is tuned on: a seeded sample (same pool) disjoint from the judged ones."""
    from gtnbench.nas.spaces import get_space

    sample = config.nas.architectures
    return get_space(config.nas.space).sample(
        method.calibration.count, method.calibration.seed, frozenset(sampled_architectures(config)), **sample.options()
    )


def sampled_architectures(config: SuiteConfig) -> list[int]:
    """The judged architectures: the [nas] table's seeded sample of its space."""
    from gtnbench.nas.spaces import get_space

    sample = config.nas.architectures
    return get_space(config.nas.space).sample(sample.count, sample.seed, **sample.options())
