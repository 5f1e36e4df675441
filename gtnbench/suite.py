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

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from gtnbench.errors import SuiteError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SCALES = ("smoke", "quick", "paper")
DATASETS = ("mnist", "cifar10", "cifar10-jpeg")
SCHEDULES = ("constant", "linear", "cosine", "onecycle")
CLAIM_IDS = ("C1", "C1b", "C2", "C3", "C3a", "C4", "C5", "C6", "C7", "C8")

T = TypeVar("T")


def _listify(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


# A field that takes one value or a list of them (a grid); always a non-empty list after validation.
OneOrMany = Annotated[list[T], BeforeValidator(_listify), Field(min_length=1)]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Momentum = Annotated[float, Field(ge=0, lt=1)]
Schedule = Literal["constant", "linear", "cosine", "onecycle"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LearnerConfig(Strict):
    """The learner: the paper's MNIST or CIFAR-10 learner (widths: conv..., fc / five convs), or a
    NAS-Bench-201 cell network (widths: [C, N]; `arch` fixes the cell, else one at random per learner)."""

    name: Literal["mnist-paper", "cifar10-paper", "nb201-cell"]
    widths: list[PositiveInt] | None = None
    weight_norm: bool = True
    randomize_widths: bool = False
    arch: str | None = None

    @model_validator(mode="after")
    def _cell_fields(self) -> LearnerConfig:
        if self.name == "nb201-cell" and self.widths is not None and len(self.widths) != 2:
            raise ValueError("nb201-cell widths are [C, N]: channels of the first stage and cells per stage")
        if self.arch is not None:
            if self.name != "nb201-cell":
                raise ValueError("`arch` only goes with learner nb201-cell")
            from gtnbench.models.nb201 import parse_arch

            parse_arch(self.arch)
        return self


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

    name: Literal["mnist-paper", "cifar10-paper", "nb201-cell"]
    widths: list[PositiveInt] | None = None
    arch: str | None = None


class GTNMethod(Strict):
    """Meta-train a GTN (or load one with `checkpoint`) and score learners trained on it.

    `curriculum` and `weight_norm` take one value or a list (an ablation: one trial per value)."""

    kind: Literal["gtn"]
    inner_steps: PositiveInt = 32
    batch_size: PositiveInt = 128
    curriculum: OneOrMany[Curriculum] = ["full"]
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
    eval_learners: PositiveInt = 5
    generator: GeneratorConfig = GeneratorConfig()
    transfer: list[TransferLearner] = []
    transfer_baseline_lr: OneOrMany[PositiveFloat] = [0.05, 0.1, 0.2]  # real-data grid for the same learners
    transfer_baseline_momentum: OneOrMany[Momentum] = [0.5, 0.9]
    checkpoint: str | None = None  # a trained GTN to evaluate instead of meta-training one


class CellNetworkConfig(Strict):
    """The NAS-Bench-201 network a proxy trains: C channels in the first stage, N cells per stage
    (the benchmark's is C=16, N=5; reduce them for cheaper proxies)."""

    channels: PositiveInt = 16
    cells: PositiveInt = 5


class NB201Train(Strict):
    """Train-based proxy: train each sampled cell network on a teacher and score validation accuracy
    after each number of `steps` (one run per architecture, read out along the way; constant lr)."""

    kind: Literal["nb201-train"]
    steps: Annotated[list[PositiveInt], Field(min_length=1)]
    teacher: Literal["real", "gtn"] = "real"
    gtn: str | None = None  # teacher "gtn": a gtn method of this suite (its trained GTN with the same seed) ...
    checkpoint: str | None = None  # ... or a GTN checkpoint file
    batch_size: PositiveInt = 128  # real data (a GTN teaches with its own batch size)
    lr: PositiveFloat = 0.05  # real data (a GTN teaches with its learned step sizes)
    momentum: Momentum = 0.9
    augment: bool = True
    network: CellNetworkConfig = CellNetworkConfig()
    eval_size: PositiveInt | None = None  # validation images scored (default: the whole held-out split)
    batch_archs: PositiveInt = 1  # train this many cells at once (vmapped super-network; pays on a GPU)

    @model_validator(mode="after")
    def _teacher_source(self) -> NB201Train:
        if self.teacher == "gtn" and (self.gtn is None) == (self.checkpoint is None):
            raise ValueError("teacher = 'gtn' needs exactly one of `gtn` (a method of this suite) or `checkpoint`")
        if self.teacher == "real" and (self.gtn or self.checkpoint):
            raise ValueError("`gtn` and `checkpoint` only go with teacher = 'gtn'")
        return self


class NB201Free(Strict):
    """Training-free proxies of each sampled architecture (one forward/backward of the untrained network)."""

    kind: Literal["nb201-free"]
    proxies: Annotated[list[Literal["params", "flops", "naswot", "synflow"]], Field(min_length=1)] = [
        "params", "flops", "naswot", "synflow"]  # fmt: skip
    batch_size: PositiveInt = 128
    network: CellNetworkConfig = CellNetworkConfig()


class NB201Table(Strict):
    """A tabular proxy: a column of the NAS-Bench-201 table (e.g. the separate 12-epoch schedule)."""

    kind: Literal["nb201-table"]
    column: str = "cifar10_test_acc_hp12"
    epochs: PositiveInt = 12  # the training it stands for, for its cost (epochs at batch 256)


class ArchitectureSample(Strict):
    count: PositiveInt
    seed: Annotated[int, Field(ge=0)] = 0
    one_per_iso_class: bool = True
    exclude_disconnected: bool = True


class NB201Config(Strict):
    """Which NAS-Bench-201 cells a suite scores, against which ground-truth column, and the search simulation."""

    architectures: ArchitectureSample
    ground_truth: str = "cifar10_test_acc_hp200_mean"
    search_seeds: Annotated[int, Field(ge=10)] = 10
    bootstrap: Annotated[int, Field(ge=100)] = 1000


Method = Annotated[Union[RealMethod, GTNMethod, NB201Train, NB201Free, NB201Table], Field(discriminator="kind")]


Tolerance = Annotated[float, Field(ge=0)]


class Tolerances(Strict):
    """Absolute tolerances of `gtnbench check --against`, per metric (accuracy as a fraction);
    `methods.NAME` overrides them for one method (meta-training amplifies float differences)."""

    test_acc: Tolerance = 0.02
    val_acc: Tolerance = 0.02
    methods: dict[str, dict[Literal["test_acc", "val_acc"], Tolerance]] = {}

    def for_method(self, method: str) -> dict[str, float]:
        return {"test_acc": self.test_acc, "val_acc": self.val_acc, **self.methods.get(method, {})}


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
    claims: list[Literal["C1", "C1b", "C2", "C3", "C3a", "C4", "C5", "C6", "C7", "C8"]] = []
    methods: Annotated[dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")], Method], Field(min_length=1)]
    nb201: NB201Config | None = None
    tolerances: Tolerances = Tolerances()
    expect: list[Expectation] = []
    scale: Literal["smoke", "quick", "paper"]

    @model_validator(mode="after")
    def _consistent(self) -> SuiteConfig:
        nas = [name for name, m in self.methods.items() if m.kind.startswith("nb201")]
        if nas and self.nb201 is None:
            raise ValueError(f"methods {', '.join(nas)} need an [nb201] table (architectures, ground truth)")
        for name, method in self.methods.items():
            if isinstance(method, NB201Train) and method.gtn is not None:
                source = self.methods.get(method.gtn)
                if not isinstance(source, GTNMethod):
                    raise ValueError(f"methods.{name}.gtn: {method.gtn!r} is not a gtn method of this suite")
                if list(self.methods).index(method.gtn) > list(self.methods).index(name):
                    raise ValueError(f"methods.{name}.gtn: {method.gtn!r} must come before {name!r} (it runs first)")
                if len(_variants(source)) > 1:
                    raise ValueError(f"methods.{name}.gtn: {method.gtn!r} has several variants; name a method with one")
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
    arch: int | None = None  # NAS-Bench-201 index of the architecture the trial scores

    @property
    def id(self) -> str:
        parts = [self.method, *(f"{k}={_text(v)}" for k, v in self.variant), *(f"{k}={v}" for k, v in self.budget)]
        if self.arch is not None:
            parts.append(f"arch={self.arch}")
        return "/".join([*parts, f"seed={self.seed}"])


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def expand(config: SuiteConfig) -> list[Trial]:
    """All trials of a resolved suite, in a stable order: method, variant, budget, seed (and architecture)."""
    trials = []
    for name, method in config.methods.items():
        if isinstance(method, NB201Table):  # a table lookup: one trial scores the whole sample
            trials.append(Trial(name, method.kind, config.seeds[0], ()))
            continue
        archs = sampled_architectures(config) if method.kind.startswith("nb201") else [None]
        for variant in _variants(method):
            for budget in _budgets(method):
                if archs == [None]:
                    trials += [Trial(name, method.kind, seed, budget, variant) for seed in config.seeds]
                else:  # seed outermost, so that cells of one seed are adjacent (and can train together)
                    trials += [Trial(name, method.kind, seed, budget, variant, arch) for seed in config.seeds
                               for arch in archs]  # fmt: skip
    return trials


def sampled_architectures(config: SuiteConfig) -> list[int]:
    from gtnbench.nas.sampling import sample_architectures

    sample = config.nb201.architectures
    return sample_architectures(sample.count, sample.seed, sample.one_per_iso_class, sample.exclude_disconnected)


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
            return SuiteConfig.model_validate(merged)
        except ValidationError as error:
            raise SuiteError(_describe(self.path, error, merged, override, scale)) from None


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
    elif "input" in first and first["type"] != "union_tag_invalid":
        message += f", got {first['input']!r}"[:200]
    more = len(error.errors()) - 1
    suffix = f" (+{more} more error{'s' if more > 1 else ''})" if more else ""
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
