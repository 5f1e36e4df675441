"""The `[methods.NAME]` tables: one schema per method kind (real data, GTN, the small-set teachers, the NAS
proxies), the small sets' `[set_evaluation]`, and a method's ablation axes and budgets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    model_validator,
)

from gtnbench.data.names import DSA_TRANSFORMS
from gtnbench.suite.fields import (
    BnEval,
    LearnerConfig,
    LearnerName,
    Momentum,
    OneOrMany,
    PositiveFloat,
    PositiveInt,
    Schedule,
    Strict,
    check_space_learner,
    resolve_bn_eval,
)


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
        check_space_learner(self.name, self.widths, self.arch)
        return resolve_bn_eval(self)


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
DSATransform = Literal[DSA_TRANSFORMS]  # type: ignore[valid-type]


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
    dsa: Annotated[list[DSATransform], Field(min_length=1)] = list(DSA_TRANSFORMS)
    learner: LearnerConfig = LearnerConfig(name="convnet")


PROTOCOLS = ("equal-steps", "own-recipe", "reference")


class SetEvaluation(Strict):
    """How every small-set teacher of the suite is scored: one trial per protocol and seed; the trial of
    the first protocol makes (or loads) the set and saves it, the others load that one."""

    protocols: Annotated[list[Literal["equal-steps", "own-recipe", "reference"]], Field(min_length=1, max_length=3)] = [
        "equal-steps",
        "own-recipe",
    ]
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
            raise ValueError(
                "give exactly one of `images_per_class`, `total` and `counts` (or a saved set: `checkpoint`)"
            )
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
            raise ValueError(
                f"the reference sets outer_loop and inner_loop only for {list(DC_REFERENCE_IPC)} images "
                "per class; give both"
            )
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
    (gtnbench/data/set_file.py: .pt or .npz), scored like the sets gtnbench makes. `dsa`: the DSA transforms it
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
    batch_archs: PositiveInt = (
        1  # train this many cells at once (vmapped super-network, NAS-Bench-201 only; pays on a GPU)
    )

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
            raise ValueError(
                "a GTN teaches with its learned step sizes: no lr / momentum / schedule grid, no calibration"
            )
        return self

    def grid_size(self) -> int:
        return len(self.lr) * len(self.momentum) * len(self.schedule)

    def grid(self) -> list[tuple[float, float, str]]:
        return [(lr, m, s) for lr in self.lr for m in self.momentum for s in self.schedule]


class NB201Free(Strict):
    """Training-free proxies of each sampled architecture (one forward/backward of the untrained network)."""

    kind: Literal["nb201-free"]
    proxies: Annotated[list[Literal["params", "flops", "naswot", "synflow"]], Field(min_length=1)] = [
        "params",
        "flops",
        "naswot",
        "synflow",
    ]
    batch_size: PositiveInt = 128
    network: NetworkConfig = NetworkConfig()  # untrained: scored on batch statistics whatever bn_eval says


class NB201Table(Strict):
    """A tabular proxy: a column of the space's table (NAS-Bench-201's separate 12-epoch schedule;
    NAS-Bench-Macro has no shorter schedule than its ground truth)."""

    kind: Literal["nb201-table"]
    column: str = "cifar10_test_acc_hp12"
    epochs: PositiveInt = 12  # the training it stands for, for its cost (epochs at batch 256)


Method = Annotated[
    RealMethod
    | GTNMethod
    | NB201Train
    | NB201Free
    | NB201Table
    | SubsetMethod
    | CoresetMethod
    | DMMethod
    | DCMethod
    | GTNSetMethod
    | FileSetMethod,
    Field(discriminator="kind"),
]


def budgets_of(method) -> list[tuple[tuple[str, int], ...]]:
    if isinstance(method, GTNMethod):
        return [(("steps", method.inner_steps),)]
    if isinstance(method, RealMethod):
        return [(("steps", k),) for k in method.steps or []] + [(("epochs", n),) for n in method.epochs or []]
    return [()]  # NAS proxies score every budget of theirs in one run


def variants_of(method) -> list[tuple[tuple[str, Any], ...]]:
    """The product of a method's ablation axes that hold more than one value."""
    if not isinstance(method, GTNMethod):
        return [()]
    axes = [
        (name, values)
        for name, values in (("curriculum", method.curriculum), ("weight_norm", method.weight_norm))
        if len(values) > 1
    ]
    combos: list[tuple[tuple[str, Any], ...]] = [()]
    for name, values in axes:
        combos = [(*combo, (name, value)) for combo in combos for value in values]
    return combos
