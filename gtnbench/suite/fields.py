"""The field types every part of a suite file is built from: one value or a grid, positive numbers, the
batch-norm rule, the learner (and the default batch-norm rule each learner resolves to)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

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
SPACE_LEARNERS = {
    "nb201-cell": "[C, N]: channels of the first stage and cells per stage",
    "macro-net": "[channels, head_channels]: the stem's and the 1x1 head's",
}


def check_space_learner(name: str, widths: list[int] | None, arch: str | None) -> None:
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
DEFAULT_BN_EVAL = {
    "mnist-paper": "last-batch",
    "cifar10-paper": "last-batch",
    "nb201-cell": "running",
    "macro-net": "running",
    "convnet": "batch",
}
M = TypeVar("M", bound=BaseModel)


def resolve_bn_eval(learner: M) -> M:
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
        check_space_learner(self.name, self.widths, self.arch)
        return resolve_bn_eval(self)
