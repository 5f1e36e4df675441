"""Suites are data: the TOML schema, its validation with clear errors, scales, and expansion to trials.

A suite file holds a base configuration and, under [scales.NAME], overrides that are
deep-merged into it (tables merge key by key; any other value replaces). Every scale is
validated when the file is loaded, so a mistake in the paper scale shows on a laptop.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gtnbench.errors import SuiteError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SCALES = ("smoke", "quick", "paper")
DATASETS = ("mnist", "cifar10", "cifar10-jpeg")
SCHEDULES = ("constant", "linear", "cosine", "onecycle")
CLAIM_IDS = ("C1", "C1b", "C2", "C3", "C3a", "C4", "C5", "C6", "C7", "C8")
# Published figures of the other small-set methods, judged like the claims (gtnbench/claims/anchors.py).
ANCHOR_IDS = ("DC-MNIST-1", "DC-MNIST-10", "DC-MNIST-50", "DC-CIFAR10-1", "DC-CIFAR10-10", "DC-CIFAR10-50",
              "DM-CIFAR10-1", "DM-CIFAR10-10", "DM-CIFAR10-50", "DCB-NAS-DC", "DCB-NAS-DSA", "DCB-NAS-DM",
              "DCB-NAS-RANDOM", "DCB-NAS-KMEANS")  # fmt: skip

T = TypeVar("T")


def _listify(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


# A field that takes one value or a list of them (a grid); always a non-empty list after validation.
OneOrMany = Annotated[list[T], BeforeValidator(_listify), Field(min_length=1)]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Momentum = Annotated[float, Field(ge=0, lt=1)]
Schedule = Literal["constant", "linear", "cosine", "onecycle"]
# Batch-norm evaluation protocol (gtnbench/models/norm.py); None: the learner's default.
BnEval = Literal["last-batch", "running", "batch"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


LearnerName = Literal["mnist-paper", "cifar10-paper", "nb201-cell", "macro-net", "convnet"]
# Learners that are a search space's network: widths they take, and how `arch` names one.
SPACE_LEARNERS = {"nb201-cell": "[C, N]: channels of the first stage and cells per stage",
                  "macro-net": "[channels, head_channels]: the stem's and the 1x1 head's"}  # fmt: skip


def _check_space_learner(name: str, widths: list[int] | None, arch: str | None) -> None:
    if name in SPACE_LEARNERS and widths is not None and len(widths) != 2:
        raise ValueError(f"{name} widths are {SPACE_LEARNERS[name]}")
    if arch is None:
        return
    if name not in SPACE_LEARNERS:
        raise ValueError(f"`arch` only goes with learners {', '.join(SPACE_LEARNERS)}")
    if name == "nb201-cell":
        from gtnbench.models.nb201 import parse_arch

        parse_arch(arch)
    else:
        from gtnbench.models.macro_codes import parse_code

        parse_code(arch)


# Each learner's batch-norm protocol when a suite names none (the learners' `default_bn_eval`): resolved into
# the configuration, so that the config hash, the protocol claims are judged under, pins it (review N13).
DEFAULT_BN_EVAL = {"mnist-paper": "last-batch", "cifar10-paper": "last-batch", "nb201-cell": "running",
                   "macro-net": "running", "convnet": "batch"}  # fmt: skip
M = TypeVar("M", bound=BaseModel)


def _resolve_bn_eval(learner: M) -> M:
    if learner.bn_eval is None:
        object.__setattr__(learner, "bn_eval", DEFAULT_BN_EVAL[learner.name])
    return learner


class LearnerConfig(Strict):
    """The learner: the paper's MNIST or CIFAR-10 learner (widths: conv..., fc / five convs), a
    NAS-Bench-201 cell network (widths: [C, N]) or a NAS-Bench-Macro network (widths: [channels,
    head_channels]); for the last two `arch` fixes the architecture, else one is drawn at random per
    learner. `bn_eval`: how its batch norm evaluates (default: "last-batch" for the paper's learners,
    the official GTN protocol; "running" for the search spaces' networks, as their benchmarks train
    them; "batch": transductive)."""

    name: LearnerName
    widths: list[PositiveInt] | None = None
    weight_norm: bool = True
    randomize_widths: bool = False
    arch: str | None = None
    bn_eval: BnEval | None = None

    @model_validator(mode="before")
    @classmethod
    def _convnet_is_plain(cls, data: Any) -> Any:
        """The reference ConvNet (`convnet`: widths one per block, default 128 x 3) is never weight-normalised."""
        if isinstance(data, dict) and data.get("name") == "convnet":
            if data.get("weight_norm", False):
                raise ValueError("the reference ConvNet (convnet) is not weight-normalised: weight_norm = false")
            return {**data, "weight_norm": False}
        return data

    @model_validator(mode="after")
    def _space_fields(self) -> LearnerConfig:
        _check_space_learner(self.name, self.widths, self.arch)
        return _resolve_bn_eval(self)


class RealMethod(Strict):
    """Real-data training: few-step (`steps`) or truncated (`epochs`), with lr/momentum/schedule
    tuned on the validation split when a field holds more than one value."""

    kind: Literal["real"]
    steps: list[PositiveInt] | None = None
    epochs: list[PositiveInt] | None = None
    batch_size: PositiveInt = 128
    lr: OneOrMany[PositiveFloat] = [0.1]
    momentum: OneOrMany[Momentum] = [0.9]
    schedule: OneOrMany[Schedule] = ["linear"]
    augment: bool = False
    curve: bool = False  # also record val/test accuracy at powers of two and at every epoch's end

    @model_validator(mode="after")
    def _has_budget(self) -> RealMethod:
        if not self.steps and not self.epochs:
            raise ValueError("give `steps` or `epochs`, a list of training budgets")
        return self


CURRICULA = ("full", "shuffled-batch", "all-shuffled", "none")
Curriculum = Literal["full", "shuffled-batch", "all-shuffled", "none"]
Fraction = Annotated[float, Field(ge=0, le=1)]


class GeneratorConfig(Strict):
    """Generator architecture; the defaults are the official code's."""

    noise_dim: PositiveInt = 128
    hidden: PositiveInt = 1024
    channels: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)] = [128, 64]


class TransferLearner(Strict):
    """A learner unlike the meta-training one, trained on the final GTN to measure transfer."""

    name: LearnerName
    widths: list[PositiveInt] | None = None
    arch: str | None = None
    bn_eval: BnEval | None = None

    @model_validator(mode="after")
    def _space_fields(self) -> TransferLearner:
        _check_space_learner(self.name, self.widths, self.arch)
        return _resolve_bn_eval(self)


class GTNMethod(Strict):
    """Meta-train a GTN (or load one with `checkpoint`) and score learners trained on it.

    `curriculum` and `weight_norm` take one value or a list (an ablation: one trial per value)."""

    kind: Literal["gtn"]
    inner_steps: PositiveInt = 32
    batch_size: PositiveInt = 128
    curriculum: OneOrMany[Curriculum] = ["full"]
    sampling: Literal["with-replacement", "permutation"] = "with-replacement"  # shuffled curricula (official: with)
    none_labels: Literal["random", "balanced"] = "random"  # the `none` curriculum's labels (official: random)
    labels: Literal["rotating", "fixed"] = "rotating"  # learned batches' labels across steps (official: rotating)
    weight_norm: OneOrMany[bool] = [True]  # generator and learners
    init_lr: PositiveFloat = 0.02
    init_momentum: PositiveFloat = 0.5
    outer_iterations: PositiveInt = 2000
    outer_lr: PositiveFloat = 0.02
    adam_betas: Annotated[list[Annotated[float, Field(ge=0, lt=1)]], Field(min_length=2, max_length=2)] = [0.9, 0.999]
    final_lr_fraction: Fraction = 0.1
    meta_batch_size: PositiveInt = 128
    step_loss_every: Annotated[int, Field(ge=0)] = 0
    block_size: Annotated[int, Field(ge=0)] = 0
    augment: bool = False
    grad_clip: Annotated[float, Field(ge=0)] = 0.0
    randomize_widths: bool = False  # a learner of random widths at every outer iteration
    learner: LearnerConfig | None = None  # meta-train with this learner instead of the suite's
    validate_every: PositiveInt = 100
    checkpoint_every: PositiveInt = 100
    collapse_fraction: Fraction = 0.5
    validation_learners: PositiveInt = 1  # fresh learners averaged at each meta-validation
    eval_learners: PositiveInt = 5
    # Also score the final GTN's evaluation learners under these batch-norm protocols (metrics
    # test_acc_bn_<protocol>): what a GTN meta-trained under one protocol does under another (review N7).
    evaluate_under: list[BnEval] = []
    generator: GeneratorConfig = GeneratorConfig()
    transfer: list[TransferLearner] = []
    transfer_baseline_lr: OneOrMany[PositiveFloat] = [0.05, 0.1, 0.2]  # real-data grid for the same learners
    transfer_baseline_momentum: OneOrMany[Momentum] = [0.5, 0.9]
    checkpoint: str | None = None  # a trained GTN to evaluate instead of meta-training one


SET_KINDS = ("subset", "coreset", "dm", "dc", "gtn-set", "file")  # methods that teach a fixed small image set
DSA_TRANSFORMS = ("color", "crop", "cutout", "flip", "scale", "rotate")  # as gtnbench.distill.siamese.TRANSFORMS
DC_REFERENCE_IPC = (1, 10, 20, 30, 40, 50)  # images per class the DC reference sets its loops for
NonNegative = Annotated[int, Field(ge=0)]


class EqualSteps(Strict):
    """Protocol (a): a learner trains on the set for as many steps, in batches as large, as on the GTN's
    lesson (its T and B); lr, momentum and schedule are tuned on the validation split."""

    steps: PositiveInt = 32
    batch_size: PositiveInt = 128
    lr: OneOrMany[PositiveFloat] = [0.02, 0.05, 0.1, 0.2]
    momentum: OneOrMany[Momentum] = [0.5, 0.9]
    schedule: OneOrMany[Schedule] = ["constant", "linear"]
    augment: bool = False


class OwnRecipe(Strict):
    """Protocol (b): the distillation papers' evaluation, `epochs` passes over the set in shuffled batches
    of `batch_size` (DC and DM: 300 or 1,000 epochs, batch 256, momentum 0.9, lr 0.01), tuned like (a)."""

    epochs: PositiveInt = 300
    batch_size: PositiveInt = 256
    lr: OneOrMany[PositiveFloat] = [0.01]
    momentum: OneOrMany[Momentum] = [0.9]
    schedule: OneOrMany[Schedule] = ["cosine"]
    augment: bool = False


ReferenceAugment = Literal["auto", "none", "dsa", "crop-scale-rotate"]
DSATransform = Literal["color", "crop", "cutout", "flip", "scale", "rotate"]


class Reference(Strict):
    """Protocol (b) `reference`: the DC/DM reference evaluation (VICO-UoE/DatasetCondensation, utils.py
    `evaluate_synset`; teachers/reference.py), nothing tuned: `learner` (the reference ConvNet), SGD with
    `momentum` and `weight_decay`, `lr` divided by 10 after half the epochs, batches of `batch_size` (the
    last of an epoch smaller), `epochs` ("auto": 1,000 with augmentation, 300 without, the reference's
    rule) and `augment` of every batch ("auto": the reference's per method and data set: DSA with the
    set's own transforms for DM and DSA sets, crop-scale-rotate on MNIST and none on CIFAR-10 for the
    others, as `get_daparam`; "dsa" uses the set's transforms, else `dsa`)."""

    epochs: PositiveInt | Literal["auto"] = "auto"
    batch_size: PositiveInt = 256
    lr: PositiveFloat = 0.01
    momentum: Momentum = 0.9
    weight_decay: Annotated[float, Field(ge=0)] = 5e-4
    augment: ReferenceAugment = "auto"
    dsa: Annotated[list[DSATransform], Field(min_length=1)] = ["color", "crop", "cutout", "flip", "scale", "rotate"]
    learner: LearnerConfig = LearnerConfig(name="convnet")


PROTOCOLS = ("equal-steps", "own-recipe", "reference")


class SetEvaluation(Strict):
    """How every small-set teacher of the suite is scored: one trial per protocol and seed; the trial of
    the first protocol makes (or loads) the set and saves it, the others load that one."""

    protocols: Annotated[list[Literal["equal-steps", "own-recipe", "reference"]], Field(min_length=1, max_length=3)] = [
        "equal-steps", "own-recipe"]  # fmt: skip
    equal_steps: EqualSteps = EqualSteps()
    own_recipe: OwnRecipe = OwnRecipe()
    reference: Reference = Reference()

    @model_validator(mode="after")
    def _distinct(self) -> SetEvaluation:
        if len(set(self.protocols)) != len(self.protocols):
            raise ValueError("`protocols` names a protocol twice")
        return self


class SizedSet(Strict):
    """What the subset, coreset, dm and dc teachers share: the set's size (`images_per_class`, or `total`
    images spread evenly over the classes, "equal-steps" for protocol (a)'s steps x batch size: the GTN's
    image count T x B, or `counts`, the images of each class in class order), the learner it is made
    with and scored on under protocols (a) and own-recipe (default: the suite's; `reference` scores on
    its own), or `checkpoint`, a saved set (set.pt) to load instead of making one."""

    images_per_class: PositiveInt | None = None
    total: PositiveInt | Literal["equal-steps"] | None = None
    counts: Annotated[list[PositiveInt], Field(min_length=1)] | None = None
    learner: LearnerConfig | None = None
    checkpoint: str | None = None

    @model_validator(mode="after")
    def _size(self) -> SizedSet:
        sizes = sum(v is not None for v in (self.images_per_class, self.total, self.counts))
        if self.checkpoint is not None:
            if sizes:
                raise ValueError("a `checkpoint` set has its own size: no `images_per_class`, `total` or `counts`")
        elif sizes != 1:
            raise ValueError("give exactly one of `images_per_class`, `total` and `counts` (or a saved set: "
                             "`checkpoint`)")  # fmt: skip
        return self


class SubsetMethod(SizedSet):
    """A class-balanced random subset of the real training split (seeded; its indices are recorded)."""

    kind: Literal["subset"]


class FeatureLearnerConfig(Strict):
    """The network a coreset is chosen in: the method's learner at initialisation (`steps = 0`) or after
    `steps` SGD steps on the real training split."""

    steps: NonNegative = 0
    batch_size: PositiveInt = 128
    lr: PositiveFloat = 0.1
    momentum: Momentum = 0.5


class CoresetMethod(SizedSet):
    """Real images chosen per class by herding or k-means in a learner's penultimate features."""

    kind: Literal["coreset"]
    selection: Literal["herding", "kmeans"] = "herding"
    features: FeatureLearnerConfig = FeatureLearnerConfig()


class DMMethod(SizedSet):
    """Distribution matching (Zhao & Bilen, WACV 2023); the defaults are the reference implementation's.
    `make_with`: the learner whose embedding is matched (default: `learner`, else the suite's; the claim
    suites: the reference ConvNet); `embedding`: "feature-map" (the reference's flattened last feature
    map) or "penultimate" (the pooled vector the classifier reads)."""

    kind: Literal["dm"]
    iterations: PositiveInt = 20_000
    lr_images: PositiveFloat = 1.0
    momentum: Momentum = 0.5
    real_per_class: PositiveInt = 256
    init: Literal["real", "noise"] = "real"
    dsa: list[DSATransform] = list(DSA_TRANSFORMS)
    embedding: Literal["feature-map", "penultimate"] = "feature-map"
    make_with: LearnerConfig | None = None


class DCMethod(SizedSet):
    """Gradient matching (Zhao, Mopuri & Bilen, ICLR 2021; with `dsa`, DSA: Zhao & Bilen, ICML 2021); the
    defaults are the reference implementation's. outer_loop = inner_loop = 0: the reference's loops, set
    for 1, 10, 20, 30, 40 and 50 images per class."""

    kind: Literal["dc"]
    iterations: PositiveInt = 1000
    outer_loop: NonNegative = 0
    inner_loop: NonNegative = 0
    lr_images: PositiveFloat = 0.1
    momentum: Momentum = 0.5
    lr_network: PositiveFloat = 0.01
    real_per_class: PositiveInt = 256
    batch_train: PositiveInt = 256
    init: Literal["real", "noise"] = "noise"
    dsa: list[DSATransform] = []
    match: Literal["weight", "direction"] = "weight"  # distill/dc.py: the reference's weight gradient
    bn_stats: Literal["running", "batch-mean"] = "running"  # distill/dc.py: the reference's running estimates
    make_with: LearnerConfig | None = None  # the network whose gradients are matched (default: `learner`)

    @model_validator(mode="after")
    def _loops(self) -> DCMethod:
        if bool(self.outer_loop) != bool(self.inner_loop):
            raise ValueError("give both `outer_loop` and `inner_loop`, or neither (the reference's)")
        if not self.outer_loop and self.checkpoint is None and self.images_per_class not in DC_REFERENCE_IPC:
            raise ValueError(f"the reference sets outer_loop and inner_loop only for {list(DC_REFERENCE_IPC)} images "
                             "per class; give both")  # fmt: skip
        return self


class GTNSetMethod(Strict):
    """A GTN's lesson as a fixed set: the T x B images of its curriculum, from `gtn` (a gtn method of this
    suite: its GTN of the same seed) or `gtn_checkpoint` (a gtn.pt), scored like the other sets (without
    the GTN's learned step sizes); or `checkpoint`, such a set saved before."""

    kind: Literal["gtn-set"]
    gtn: str | None = None
    gtn_checkpoint: str | None = None
    checkpoint: str | None = None
    learner: LearnerConfig | None = None

    @model_validator(mode="after")
    def _source(self) -> GTNSetMethod:
        if sum(v is not None for v in (self.gtn, self.gtn_checkpoint, self.checkpoint)) != 1:
            raise ValueError("give exactly one of `gtn` (a gtn method of this suite), `gtn_checkpoint` or `checkpoint`")
        return self


class FileSetMethod(Strict):
    """A set someone brings (`gtnbench score`): the file at `path` in gtnbench's documented set format
    (gtnbench/set_file.py: .pt or .npz), scored like the sets gtnbench makes. `dsa`: the DSA transforms it
    was made with (the reference protocol then evaluates it with DSA, as it does DM and DSA sets); `sha256`:
    the content it must have; `learner` as for the other sets."""

    kind: Literal["file"]
    path: str
    sha256: str | None = None  # the file's content, checked on reading (gtnbench score names it)
    dsa: list[DSATransform] = []
    learner: LearnerConfig | None = None


SET_METHODS = (SubsetMethod, CoresetMethod, DMMethod, DCMethod, GTNSetMethod, FileSetMethod)


class NetworkConfig(Strict):
    """The network a NAS proxy builds for each architecture: the width options of the suite's search
    space (NAS-Bench-201: `channels` C of the first stage and `cells` N per stage, the benchmark's
    C=16, N=5; NAS-Bench-Macro: `channels` of the stem and `head_channels` of the 1x1 head, the
    benchmark's 32 and 1280; unset: the benchmark's; reduce them for cheaper proxies), and how its
    batch norm evaluates ("running": the running averages, as the benchmarks train; "batch": transductive)."""

    channels: PositiveInt | None = None
    cells: PositiveInt | None = None
    head_channels: PositiveInt | None = None
    bn_eval: BnEval = "running"

    def widths(self) -> dict[str, int]:
        """The width options set (the space's benchmark widths stand for the others)."""
        return {k: v for k, v in self.model_dump(exclude={"bn_eval"}).items() if v is not None}


class Calibration(Strict):
    """Cells, disjoint from the judged sample, on which a real-data proxy's grid is tuned per step budget;
    or `file`: the calibration.json of an earlier calibration trial of the same grid (e.g. for shards)."""

    count: PositiveInt = 20
    seed: Annotated[int, Field(ge=0)] = 1
    file: str | None = None

    @property
    def in_run(self) -> bool:
        return self.file is None


class NB201Train(Strict):
    """Train-based proxy: train each sampled cell network on a teacher and score validation accuracy
    after each number of `steps`.

    Real data: `lr`, `momentum` and `schedule` take one value or a grid; with a grid, a calibration
    trial first trains the `calibration` cells (disjoint from the judged ones) with every
    configuration at every budget and keeps, per budget, the best mean validation accuracy; the
    judged cells then train with that choice (a decaying schedule reaches 0 at the budget's last
    step, so each budget is its own run). A GTN teaches with its learned step sizes. A small set
    (`teacher = "set"`) is cycled in batches of `batch_size` and tuned like real data."""

    kind: Literal["nb201-train"]
    steps: Annotated[list[PositiveInt], Field(min_length=1)]
    teacher: Literal["real", "gtn", "set"] = "real"
    gtn: str | None = None  # teacher "gtn": a gtn method of this suite (its trained GTN with the same seed) ...
    set: str | None = None  # teacher "set": a small-set method of this suite (its set with the same seed) ...
    checkpoint: str | None = None  # ... or a GTN checkpoint file (teacher "gtn") or a saved set.pt (teacher "set")
    batch_size: PositiveInt = 128  # real data and sets (a GTN teaches with its own batch size)
    lr: OneOrMany[PositiveFloat] = [0.05]  # real data
    momentum: OneOrMany[Momentum] = [0.9]
    schedule: OneOrMany[Schedule] = ["constant"]
    calibration: Calibration | None = None
    augment: bool = True
    network: NetworkConfig = NetworkConfig()
    eval_size: PositiveInt | None = None  # validation images scored (default: the whole held-out split)
    batch_archs: PositiveInt = 1  # train this many cells at once (vmapped super-network, NAS-Bench-201 only; pays on a GPU)

    @model_validator(mode="after")
    def _teacher_source(self) -> NB201Train:
        if self.teacher == "gtn" and (self.gtn is None) == (self.checkpoint is None):
            raise ValueError("teacher = 'gtn' needs exactly one of `gtn` (a method of this suite) or `checkpoint`")
        if self.teacher == "set" and (self.set is None) == (self.checkpoint is None):
            raise ValueError("teacher = 'set' needs exactly one of `set` (a method of this suite) or `checkpoint`")
        if self.teacher == "real" and (self.gtn or self.set or self.checkpoint):
            raise ValueError("`gtn`, `set` and `checkpoint` only go with teacher = 'gtn' or 'set'")
        for teacher, source in (("gtn", self.gtn), ("set", self.set)):
            if source is not None and self.teacher != teacher:
                raise ValueError(f"`{teacher}` only goes with teacher = '{teacher}'")
        if self.grid_size() > 1 and self.calibration is None:
            raise ValueError("a grid of lr / momentum / schedule needs `calibration = { count, seed }` to tune it on")
        if self.teacher == "gtn" and (self.grid_size() > 1 or self.calibration is not None):
            raise ValueError("a GTN teaches with its learned step sizes: no lr / momentum / schedule grid, no calibration")
        return self

    def grid_size(self) -> int:
        return len(self.lr) * len(self.momentum) * len(self.schedule)

    def grid(self) -> list[tuple[float, float, str]]:
        return [(lr, m, s) for lr in self.lr for m in self.momentum for s in self.schedule]


class NB201Free(Strict):
    """Training-free proxies of each sampled architecture (one forward/backward of the untrained network)."""

    kind: Literal["nb201-free"]
    proxies: Annotated[list[Literal["params", "flops", "naswot", "synflow"]], Field(min_length=1)] = [
        "params", "flops", "naswot", "synflow"]  # fmt: skip
    batch_size: PositiveInt = 128
    network: NetworkConfig = NetworkConfig()  # untrained: scored on batch statistics whatever bn_eval says


class NB201Table(Strict):
    """A tabular proxy: a column of the space's table (NAS-Bench-201's separate 12-epoch schedule;
    NAS-Bench-Macro has no shorter schedule than its ground truth)."""

    kind: Literal["nb201-table"]
    column: str = "cifar10_test_acc_hp12"
    epochs: PositiveInt = 12  # the training it stands for, for its cost (epochs at batch 256)


class ArchitectureSample(Strict):
    """A seeded sample of the space's architectures; by default one per isomorphism class (NAS-Bench-Macro:
    per trained network) and, on NAS-Bench-201 (its option only), without disconnected cells."""

    count: PositiveInt
    seed: Annotated[int, Field(ge=0)] = 0
    one_per_iso_class: bool = True
    exclude_disconnected: bool | None = None  # NAS-Bench-201 only; unset: true

    def options(self) -> dict[str, bool]:
        """The sampling options set, for SearchSpace.sample."""
        return {k: v for k, v in self.model_dump(exclude={"count", "seed"}).items() if v is not None}


NAS_SPACES = ("nb201", "macro")


class NASConfig(Strict):
    """Which architectures of which search space (`space`: "nb201" NAS-Bench-201, "macro" NAS-Bench-Macro)
    a suite scores, against which ground-truth column (default: the space's), and the search simulation.
    A suite file calls it [nas] (or [nb201], its older name)."""

    space: Literal["nb201", "macro"] = "nb201"
    architectures: ArchitectureSample
    ground_truth: str
    search_seeds: Annotated[int, Field(ge=10)] = 10
    bootstrap: Annotated[int, Field(ge=100)] = 1000

    @model_validator(mode="before")
    @classmethod
    def _default_ground_truth(cls, data: Any) -> Any:
        if isinstance(data, dict) and "ground_truth" not in data and data.get("space", "nb201") in NAS_SPACES:
            from gtnbench.nas.spaces import get_space

            return {**data, "ground_truth": get_space(data.get("space", "nb201")).default_column}
        return data

    @field_validator("architectures")
    @classmethod
    def _space_options(cls, sample: ArchitectureSample, info: ValidationInfo) -> ArchitectureSample:
        from gtnbench.nas.spaces import get_space

        space = get_space(info.data.get("space", "nb201"))
        unknown = [k for k in sample.options() if k not in space.sample_options]
        if unknown:
            raise ValueError(f"{unknown[0]} is not an option of {space.title}'s sampling; its options: "
                             f"{', '.join(space.sample_options)}")  # fmt: skip
        return sample

    @field_validator("ground_truth")
    @classmethod
    def _known_column(cls, column: str, info: ValidationInfo) -> str:
        from gtnbench.nas.spaces import get_space

        space = get_space(info.data.get("space", "nb201"))
        if column not in space.columns():
            raise ValueError(f"{column!r} is not a column of {space.title}; its columns: {', '.join(space.columns())}")
        return column

    def check_methods(self, methods: dict[str, Any]) -> None:
        """Each NAS method's options against the space: network widths, batched training, table columns."""
        from gtnbench.nas.spaces import get_space

        space = get_space(self.space)
        for name, method in methods.items():
            if isinstance(method, (NB201Train, NB201Free)):
                unknown = [k for k in method.network.widths() if k not in space.widths]
                if unknown:
                    raise ValueError(f"methods.{name}.network.{unknown[0]}: not a width of {space.title} networks; "
                                     f"theirs: {', '.join(space.widths)}")  # fmt: skip
            if isinstance(method, NB201Train) and method.batch_archs > 1 and not space.batched:
                raise ValueError(f"methods.{name}.batch_archs: the vmapped super-network (nas/batched.py) trains "
                                 f"NAS-Bench-201 cells only; {space.title} networks train one at a time "
                                 "(batch_archs = 1)")  # fmt: skip
            if isinstance(method, NB201Table) and method.column not in space.columns():
                short = "" if space.short_column else " (it has no shorter schedule than its ground truth)"
                raise ValueError(f"methods.{name}.column: {method.column!r} is not a column of {space.title}{short}; "
                                 f"its columns: {', '.join(space.columns())}")  # fmt: skip


Method = Annotated[Union[RealMethod, GTNMethod, NB201Train, NB201Free, NB201Table, SubsetMethod, CoresetMethod,
                         DMMethod, DCMethod, GTNSetMethod, FileSetMethod], Field(discriminator="kind")]  # fmt: skip


Tolerance = Annotated[float, Field(ge=0)]


class Tolerances(Strict):
    """Absolute tolerances of `gtnbench check --against`, per metric (accuracy as a fraction; `spearman`:
    a NAS proxy's rank correlation with the ground truth); `methods.NAME` overrides them for one method
    (meta-training amplifies float differences)."""

    test_acc: Tolerance = 0.02
    val_acc: Tolerance = 0.02
    spearman: Tolerance = 0.15
    methods: dict[str, dict[Literal["test_acc", "val_acc", "spearman"], Tolerance]] = {}

    def for_method(self, method: str) -> dict[str, float]:
        return {"test_acc": self.test_acc, "val_acc": self.val_acc, "spearman": self.spearman,
                **self.methods.get(method, {})}  # fmt: skip


class Expectation(Strict):
    """A bound every ok record of `method` must meet, checked by `gtnbench check` (exit 1 if not)."""

    method: str
    metric: str
    min: float | None = None
    max: float | None = None
    why: str = ""


class SuiteConfig(Strict):
    """One scale of a suite, fully resolved: what the runner executes."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
    description: str = ""
    dataset: Literal["mnist", "cifar10", "cifar10-jpeg"]
    learner: LearnerConfig
    seeds: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]
    split_seed: Annotated[int, Field(ge=0)] = 0
    # Score on the first N validation and N test images only (smoke scales: a regression check needs
    # no 10,000-image test split); recorded in the manifest and shown in every report header.
    scored_images: PositiveInt | None = None
    claims: list[Literal[CLAIM_IDS + ANCHOR_IDS]] = []
    methods: Annotated[dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")], Method], Field(min_length=1)]
    nas: NASConfig | None = Field(None, validation_alias=AliasChoices("nas", "nb201"))
    set_evaluation: SetEvaluation = SetEvaluation()  # how the small-set teachers are scored
    tolerances: Tolerances = Tolerances()
    expect: list[Expectation] = []
    scale: Literal["smoke", "quick", "paper"]

    @model_validator(mode="before")
    @classmethod
    def _one_nas_table(cls, data: Any) -> Any:
        if isinstance(data, dict) and "nas" in data and "nb201" in data:
            raise ValueError("give [nas] or its older name [nb201], not both")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> SuiteConfig:
        nas = {name: m for name, m in self.methods.items() if m.kind.startswith("nb201")}
        if nas and self.nas is None:
            raise ValueError(f"methods {', '.join(nas)} need a [nas] table (space, architectures, ground truth)")
        if self.nas is not None:
            self.nas.check_methods(nas)
        for name, method in self.methods.items():
            if isinstance(method, NB201Train) and method.gtn is not None:
                source = self.methods.get(method.gtn)
                if not isinstance(source, GTNMethod):
                    raise ValueError(f"methods.{name}.gtn: {method.gtn!r} is not a gtn method of this suite")
                if list(self.methods).index(method.gtn) > list(self.methods).index(name):
                    raise ValueError(f"methods.{name}.gtn: {method.gtn!r} must come before {name!r} (it runs first)")
                if len(_variants(source)) > 1:
                    raise ValueError(f"methods.{name}.gtn: {method.gtn!r} has several variants; name a method with one")
        for name, method in self.methods.items():
            source_name = method.set if isinstance(method, NB201Train) else getattr(method, "gtn", None)
            if not isinstance(method, (NB201Train, GTNSetMethod)) or source_name is None:
                continue
            field, wanted = ("set", SET_METHODS) if isinstance(method, NB201Train) else ("gtn", GTNMethod)
            source = self.methods.get(source_name)
            if not isinstance(source, wanted):
                what = "small-set" if field == "set" else "gtn"
                raise ValueError(f"methods.{name}.{field}: {source_name!r} is not a {what} method of this suite")
            if list(self.methods).index(source_name) > list(self.methods).index(name):
                raise ValueError(f"methods.{name}.{field}: {source_name!r} must come before {name!r} (it runs first)")
            if len(_variants(source)) > 1:
                raise ValueError(f"methods.{name}.{field}: {source_name!r} has several variants; "
                                 "name a method with one")  # fmt: skip
        return self

    def config_hash(self) -> str:
        """Hash of everything that determines the results (the description excluded)."""
        payload = self.model_dump(mode="json", exclude={"description"})
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


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


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


CALIBRATE = "nb201-calibrate"  # the kind of a train-based proxy's tuning trial


def expand(config: SuiteConfig) -> list[Trial]:
    """All trials of a resolved suite, in a stable order: method, variant, budget, seed (and architecture).
    A train-based proxy with a grid starts with one calibration trial per seed."""
    trials = []
    for name, method in config.methods.items():
        if isinstance(method, SET_METHODS):  # one trial per protocol and seed; the first protocol's makes the set
            trials += [Trial(name, method.kind, seed, budget) for budget in set_budgets(config, name)
                       for seed in config.seeds]  # fmt: skip
            continue
        if isinstance(method, NB201Table):  # a table lookup: one trial scores the whole sample
            trials.append(Trial(name, method.kind, config.seeds[0], ()))
            continue
        if isinstance(method, NB201Train) and method.calibration is not None and method.calibration.in_run:
            trials += [Trial(name, CALIBRATE, seed, (), (("calibrate", True),)) for seed in config.seeds]
        archs = sampled_architectures(config) if method.kind.startswith("nb201") else [None]
        for variant in _variants(method):
            for budget in _budgets(method):
                if archs == [None]:
                    trials += [Trial(name, method.kind, seed, budget, variant) for seed in config.seeds]
                else:  # seed outermost, so that cells of one seed are adjacent (and can train together)
                    trials += [Trial(name, method.kind, seed, budget, variant, arch) for seed in config.seeds
                               for arch in archs]  # fmt: skip
    return trials


def prerequisites(config: SuiteConfig, trial: Trial, trials: list[Trial] | None = None) -> list[Trial]:
    """The trials whose artifacts `trial` reads: the GTN meta-training that teaches a GTN proxy, and a
    tuned real-data proxy's calibration (same seed); the trial that makes a small set, for the set's
    other protocols and for a proxy it teaches; the GTN a gtn-set draws its images from. They must
    finish first, in the same run."""
    method = config.methods[trial.method]
    if not isinstance(method, (NB201Train, *SET_METHODS)):
        return []
    trials = expand(config) if trials is None else trials
    if isinstance(method, SET_METHODS):
        maker = set_maker(config, trial.method, trial.seed, trials)
        if trial != maker:
            return [maker]
        gtn = method.gtn if isinstance(method, GTNSetMethod) else None
        return [t for t in trials if t.method == gtn and t.seed == trial.seed] if gtn else []
    needed = [set_maker(config, method.set, trial.seed, trials)] if method.set else []
    if trial.kind == CALIBRATE:
        return needed
    if method.gtn:
        needed += [t for t in trials if t.method == method.gtn and t.seed == trial.seed]
    if method.calibration is not None and method.calibration.in_run:
        needed += [t for t in trials if t.method == trial.method and t.kind == CALIBRATE and t.seed == trial.seed]
    return needed


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
    budgets = {"equal-steps": lambda: (("steps", evaluation.equal_steps.steps),),
               "own-recipe": lambda: (("epochs", evaluation.own_recipe.epochs),),
               "reference": lambda: (("reference_epochs", reference_plan(config, method).epochs),)}  # fmt: skip
    return [budgets[protocol]() for protocol in evaluation.protocols]


def protocol_of(budget: tuple[tuple[str, int], ...] | dict[str, int]) -> str:
    """The protocol a small-set trial's budget stands for."""
    (key,) = dict(budget)
    return BUDGET_KEYS[key]


def set_maker(config: SuiteConfig, method: str, seed: int, trials: list[Trial]) -> Trial:
    """The trial that makes (or loads) a small-set method's set for `seed` and saves it: its first protocol's
    (expand lists a method's trials protocol by protocol)."""
    return next(t for t in trials if t.method == method and t.seed == seed)


def calibration_architectures(config: SuiteConfig, method: NB201Train) -> list[int]:
    """The architectures a proxy's grid is tuned on: a seeded sample (same pool) disjoint from the judged ones."""
    from gtnbench.nas.spaces import get_space

    sample = config.nas.architectures
    return get_space(config.nas.space).sample(method.calibration.count, method.calibration.seed,
                                              frozenset(sampled_architectures(config)), **sample.options())  # fmt: skip


def sampled_architectures(config: SuiteConfig) -> list[int]:
    """The judged architectures: the [nas] table's seeded sample of its space."""
    from gtnbench.nas.spaces import get_space

    sample = config.nas.architectures
    return get_space(config.nas.space).sample(sample.count, sample.seed, **sample.options())


def nas_table(config: dict[str, Any]) -> dict[str, Any] | None:
    """The [nas] table of a recorded configuration (a manifest's "config"; older ones call it "nb201")."""
    return config.get("nas") or config.get("nb201")


def _budgets(method) -> list[tuple[tuple[str, int], ...]]:
    if isinstance(method, GTNMethod):
        return [(("steps", method.inner_steps),)]
    if isinstance(method, RealMethod):
        return [(("steps", k),) for k in method.steps or []] + [(("epochs", n),) for n in method.epochs or []]
    return [()]  # NAS proxies score every budget of theirs in one run


def _variants(method) -> list[tuple[tuple[str, Any], ...]]:
    """The product of a method's ablation axes that hold more than one value."""
    if not isinstance(method, GTNMethod):
        return [()]
    axes = [(name, values) for name, values in (("curriculum", method.curriculum), ("weight_norm", method.weight_norm))
            if len(values) > 1]  # fmt: skip
    combos: list[tuple[tuple[str, Any], ...]] = [()]
    for name, values in axes:
        combos = [(*combo, (name, value)) for combo in combos for value in values]
    return combos


class Suite:
    """A suite file: its base table and the scales it defines, each validated on load."""

    def __init__(self, path: Path, raw: dict[str, Any]) -> None:
        self.path, self.raw = path, raw
        scales = raw.get("scales", {})
        if not isinstance(scales, dict) or not scales:
            raise SuiteError(f"{path}: scales: expected a table with at least one of {', '.join(SCALES)}")
        for scale, override in scales.items():
            if scale not in SCALES:
                raise SuiteError(f"{path}: scales.{_key_text(scale)}: unknown scale; expected one of {', '.join(SCALES)}")
            if not isinstance(override, dict):
                raise SuiteError(f"{path}: scales.{_key_text(scale)}: expected a table of overrides")
        self.scales = tuple(s for s in SCALES if s in scales)
        default = raw.get("default_scale", self.scales[0])
        if default not in self.scales:
            raise SuiteError(f"{path}: default_scale: expected one of the defined scales {self.scales}, got {default!r}")
        self.default_scale = default
        self._resolved = {scale: self._resolve(scale) for scale in self.scales}

    @property
    def name(self) -> str:
        return self._resolved[self.default_scale].name

    @property
    def description(self) -> str:
        return self._resolved[self.default_scale].description

    def at(self, scale: str | None = None) -> SuiteConfig:
        scale = scale or self.default_scale
        if scale not in self._resolved:
            raise SuiteError(f"{self.path}: scale {scale!r} is not defined; defined: {', '.join(self.scales)}")
        return self._resolved[scale]

    def _resolve(self, scale: str) -> SuiteConfig:
        base = {k: v for k, v in self.raw.items() if k not in ("scales", "default_scale")}
        override = self.raw["scales"][scale]
        merged = {**_deep_merge(base, override), "scale": scale}
        try:
            config = SuiteConfig.model_validate(merged)
        except ValidationError as error:
            raise SuiteError(_describe(self.path, error, merged, override, scale)) from None
        _check_bounds(self.path, config, merged, override, scale)
        return config


def _check_bounds(path: Path, config: SuiteConfig, merged: dict, override: dict, scale: str) -> None:
    """One line for the first bound (gtnbench/bounds.py) the scale breaks, naming the key where it is written."""
    from gtnbench.bounds import violations

    found = violations(config)
    if not found:
        return
    keys, message = found[0]
    if keys[0] == "nas" and "nas" not in merged and "nb201" in merged:
        keys = ("nb201", *keys[1:])  # the older name of the table, as the file writes it
    where = ".".join(_key_text(k) for k in keys)
    if len(_input_keys(keys, override)) == len(keys):
        where = f"scales.{scale}.{where}"
    more = len(found) - 1
    suffix = f" (+{more} more bound{'s' if more > 1 else ''} broken)" if more else ""
    raise SuiteError(f"{path}: {where}: {message}{suffix}")


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(path: Path, error: ValidationError, merged: dict, override: dict, scale: str) -> str:
    """One line: file, the key as written in the file, what was expected, what was found."""
    first = error.errors()[0]
    keys = _input_keys(first["loc"], merged)
    if first["type"] == "missing":
        keys.append(_key_text(first["loc"][-1]))
    where = ".".join(keys) or "(top level)"
    if keys and len(_input_keys(first["loc"], override)) == len(keys):
        where = f"scales.{scale}.{where}"
    message = first["msg"]
    if first["type"] == "missing":
        message = "required key is missing"
    elif first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "value_error":  # a validator's own words: they name what it expected
        message = message.removeprefix("Value error, ")
    elif "input" in first and first["type"] != "union_tag_invalid":
        message += f", got {first['input']!r}"[:200]
    more = len(error.errors()) - 1
    suffix = f" (+{more} more error{'s' if more > 1 else ''})" if more else ""
    if not keys:  # a check across keys (a model validator): its message names them
        return f"{path}: {message}{suffix}"
    return f"{path}: {where}: {message}{suffix}"


def _input_keys(loc: tuple, node: Any) -> list[str]:
    """The parts of a pydantic error location that are real keys or indices of the input
    (pydantic adds union tags and type names, which the file does not contain)."""
    keys = []
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            continue
        keys.append(_key_text(part))
    return keys


def _key_text(part: Any) -> str:
    """A key as it can be written in a one-line message (quoted when it is not a bare TOML key)."""
    text = str(part)
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else json.dumps(text)


def parse_suite(path: Path, text: bytes | str) -> Suite:
    """Parse and validate suite text; raise SuiteError naming the file and key on any problem."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        raw = tomllib.loads(text)
    except UnicodeDecodeError as error:
        raise SuiteError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except tomllib.TOMLDecodeError as error:
        raise SuiteError(f"{path}: invalid TOML: {error}") from None
    return Suite(path, raw)


def load_suite(path: Path) -> Suite:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SuiteError(f"{path}: cannot read suite file ({error.strerror})") from None
    return parse_suite(path, data)


def bundled_suite_dir() -> Path:
    """The suites shipped inside the installed package, or the checkout's suites/ (editable or PYTHONPATH=. use)."""
    package = Path(__file__).resolve().parent
    installed = package / "suites"
    return installed if installed.is_dir() else package.parent / "suites"


def suite_paths(extra: list[Path] | None = None) -> dict[str, Path]:
    """Suite name (file stem) -> file, from the bundled suites, then ./suites, then `extra` paths."""
    found: dict[str, Path] = {}
    folders = [bundled_suite_dir(), Path.cwd() / "suites", *(extra or [])]
    for folder in folders:
        if folder.is_file() and folder.suffix == ".toml":
            found[folder.stem] = folder
        elif folder.is_dir():
            for file in sorted(folder.glob("*.toml")):
                found[file.stem] = file
    return found


def find_suite(name_or_path: str) -> Suite:
    """A suite by file path, or by name among the known suites."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file():
        return load_suite(candidate)
    paths = suite_paths()
    if name_or_path not in paths:
        raise SuiteError(f"unknown suite {name_or_path!r}; known: {', '.join(sorted(paths))} (or give a .toml path)")
    return load_suite(paths[name_or_path])
