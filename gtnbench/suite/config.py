"""One scale of a suite, resolved: the data set, learner, seeds, methods, the NAS sample, tolerances and
expectations; its configuration hash is the protocol the claims are judged under."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gtnbench.suite.fields import LearnerConfig, PositiveInt, Strict
from gtnbench.suite.methods import (
    SET_METHODS,
    GTNMethod,
    GTNSetMethod,
    Method,
    NB201Free,
    NB201Table,
    NB201Train,
    SetEvaluation,
    variants_of,
)

SCALES = ("smoke", "quick", "paper")
DATASETS = ("mnist", "cifar10", "cifar10-jpeg")
SCHEDULES = ("constant", "linear", "cosine", "onecycle")
CLAIM_IDS = ("C1", "C1b", "C2", "C3", "C3a", "C4", "C5", "C6", "C7", "C8")
# Published figures of the other small-set methods, judged like the claims (gtnbench/claims/anchors.py).
ANCHOR_IDS = (
    "DC-MNIST-1",
    "DC-MNIST-10",
    "DC-MNIST-50",
    "DC-CIFAR10-1",
    "DC-CIFAR10-10",
    "DC-CIFAR10-50",
    "DM-CIFAR10-1",
    "DM-CIFAR10-10",
    "DM-CIFAR10-50",
    "DCB-NAS-DC",
    "DCB-NAS-DSA",
    "DCB-NAS-DM",
    "DCB-NAS-RANDOM",
    "DCB-NAS-KMEANS",
)


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
            raise ValueError(
                f"{unknown[0]} is not an option of {space.title}'s sampling; its options: "
                f"{', '.join(space.sample_options)}"
            )
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
                    raise ValueError(
                        f"methods.{name}.network.{unknown[0]}: not a width of {space.title} networks; "
                        f"theirs: {', '.join(space.widths)}"
                    )
            if isinstance(method, NB201Train) and method.batch_archs > 1 and not space.batched:
                raise ValueError(
                    f"methods.{name}.batch_archs: the vmapped super-network (nas/batched.py) trains "
                    f"NAS-Bench-201 cells only; {space.title} networks train one at a time "
                    "(batch_archs = 1)"
                )
            if isinstance(method, NB201Table) and method.column not in space.columns():
                short = "" if space.short_column else " (it has no shorter schedule than its ground truth)"
                raise ValueError(
                    f"methods.{name}.column: {method.column!r} is not a column of {space.title}{short}; "
                    f"its columns: {', '.join(space.columns())}"
                )


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
        return {
            "test_acc": self.test_acc,
            "val_acc": self.val_acc,
            "spearman": self.spearman,
            **self.methods.get(method, {}),
        }


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
                if len(variants_of(source)) > 1:
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
            if len(variants_of(source)) > 1:
                raise ValueError(
                    f"methods.{name}.{field}: {source_name!r} has several variants; name a method with one"
                )
        return self

    def config_hash(self) -> str:
        """Hash of everything that determines the results (the description excluded)."""
        payload = self.model_dump(mode="json", exclude={"description"})
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def nas_table(config: dict[str, Any]) -> dict[str, Any] | None:
    """The [nas] table of a recorded configuration (a manifest's "config"; older ones call it "nb201")."""
    return config.get("nas") or config.get("nb201")
