"""Search spaces behind one interface, so the NAS code (proxies, rank correlation, search) is written once.

A space gives its table (ground truth and cost columns), its default ground-truth column,
seeded samples of architecture indices, the network of an index at given widths, its
encoding (arch string and integer vector) and the inputs of its training-free proxies.
SPACES holds NAS-Bench-201 ("nb201", wrapping models.nb201, nas.table and nas.sampling
unchanged) and NAS-Bench-Macro ("macro", models.macro and nas.macro_table).

Importing this module loads no torch (the networks' modules are imported when a network is
built), so that suite validation can read a space's options, columns and defaults cheaply.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gtnbench.errors import DataError, GtnbenchError, TrialFailed
from gtnbench.models import macro_codes
from gtnbench.nas import macro_table
from gtnbench.nas import table as nb201_table

if TYPE_CHECKING:
    import torch
    from torch import nn

    from gtnbench.models.nb201 import Device


@dataclass(frozen=True)
class Task:
    """What a column's networks classify: its data set, input shape (C, H, W) and number of classes."""

    dataset: str
    image_shape: tuple[int, int, int]
    num_classes: int


class SearchSpace(ABC):
    """One tabular NAS benchmark. Architectures are named by their table index."""

    name: str
    title: str
    default_column: str  # the ground truth a rank correlation uses unless told otherwise
    flops_column: str  # cost baselines, on the default column's data set
    params_column: str
    widths: Mapping[str, int]  # network width options and their benchmark values
    sample_options: Mapping[str, bool]  # options of sample() and their defaults
    short_column: str | None  # a cheaper schedule's column (a tabular proxy), if the benchmark has one
    batched: bool  # whether nas.batched's vmapped super-network can train its networks together

    @abstractmethod
    def table(self) -> nb201_table.GroundTruth:
        """The ground truth in use (cached): the shipped one, or for NAS-Bench-201 an imported one
        (nas.table.load_table: $GTNBENCH_NB201_TABLE, `--nb201-table`)."""

    @abstractmethod
    def describe_column(self, name: str) -> str:
        """One line naming exactly what a column holds."""

    @abstractmethod
    def columns(self) -> tuple[str, ...]:
        """Every column of the table."""

    @abstractmethod
    def task(self, column: str | None = None) -> Task:
        """The data set, input shape and classes of a column's networks (default: default_column)."""

    @abstractmethod
    def encoding(self, index: int) -> tuple[int, ...]:
        """The architecture as a vector of small integers (op or block ids, in the arch string's order)."""

    @abstractmethod
    def _sample(self, count: int, seed: int, options: Mapping[str, bool], exclude: frozenset[int]) -> list[int]:
        """sample() once its options are checked and completed with the defaults."""

    @abstractmethod
    def _network(
        self,
        arch: str,
        width: Mapping[str, int],
        num_classes: int,
        in_channels: int,
        device: Device,
        generator: torch.Generator | None,
        bn_eval: str,
    ) -> nn.Module:
        """The network of arch string `arch`."""

    @abstractmethod
    def arch_of(self, net: nn.Module) -> str:
        """The arch string a built network actually implements."""

    def arch(self, index: int) -> str:
        """The arch string (NAS-Bench-201) or code (NAS-Bench-Macro) of `index`."""
        return self.table().arch(index)

    def index_of(self, arch: str) -> int:
        return self.table().index_of(arch)

    def resolve(self, text: str) -> int:
        """An index from the command line: an index or an arch string/code, checked against the table."""
        index = int(text) if text.isdigit() else self.index_of(text)
        self.table().row(index)
        return index

    def sample(self, count: int, seed: int = 0, exclude: frozenset[int] = frozenset(), **options: bool) -> list[int]:
        """`count` distinct indices drawn uniformly without replacement (seeded) from the pool `options` select,
        less `exclude` (e.g. the judged sample, when drawing calibration architectures)."""
        unknown = sorted(set(options) - set(self.sample_options))
        if unknown:
            raise GtnbenchError(
                f"{self.name}: unknown sampling option {unknown[0]!r}; known: {', '.join(self.sample_options)}"
            )
        return self._sample(count, seed, {**self.sample_options, **options}, frozenset(exclude))

    def build(
        self,
        index: int,
        num_classes: int | None = None,
        in_channels: int | None = None,
        device: Device = None,
        generator: torch.Generator | None = None,
        bn_eval: str = "running",
        **width: int,
    ) -> nn.Module:
        """The network of architecture `index` (classes and channels default to the default column's task;
        widths to the benchmark's; `bn_eval` is its batch norm's protocol, models.norm), after checking
        that it implements the arch the table names."""
        unknown = sorted(set(width) - set(self.widths))
        if unknown:
            raise GtnbenchError(f"{self.name}: unknown width option {unknown[0]!r}; known: {', '.join(self.widths)}")
        task = self.task()
        expected = self.arch(index)
        classes = task.num_classes if num_classes is None else num_classes
        channels = task.image_shape[0] if in_channels is None else in_channels
        net = self._network(expected, {**self.widths, **width}, classes, channels, device, generator, bn_eval)
        if self.arch_of(net) != expected:
            raise TrialFailed(
                f"the network built for {self.name} architecture {index} is not {expected}; "
                "refusing to attach its score"
            )
        return net


class NB201Space(SearchSpace):
    name = "nb201"
    title = "NAS-Bench-201 (NATS-Bench tss)"
    default_column = "cifar10_test_acc_hp200_mean"
    flops_column = "cifar10_flops_M"
    params_column = "cifar10_params_M"
    widths = {"channels": 16, "cells": 5}
    sample_options = {"one_per_iso_class": True, "exclude_disconnected": True}
    short_column = "cifar10_test_acc_hp12"
    batched = True
    _SHAPES = {"cifar10": ((3, 32, 32), 10), "cifar100": ((3, 32, 32), 100), "ImageNet16-120": ((3, 16, 16), 120)}

    def table(self) -> nb201_table.GroundTruth:
        return nb201_table.load_table()

    def describe_column(self, name: str) -> str:
        return nb201_table.describe_column(name)

    def columns(self) -> tuple[str, ...]:
        return tuple(nb201_table.COLUMNS)

    def task(self, column: str | None = None) -> Task:
        dataset = nb201_table.column_info(column or self.default_column).dataset
        shape, classes = self._SHAPES[dataset]
        return Task(dataset, shape, classes)

    def encoding(self, index: int) -> tuple[int, ...]:
        from gtnbench.models import nb201

        return tuple(nb201.OPS.index(op) for op in nb201.parse_arch(self.arch(index)))

    def _sample(self, count: int, seed: int, options: Mapping[str, bool], exclude: frozenset[int]) -> list[int]:
        """nas.sampling.sample_architectures: by default one per isomorphism class, no disconnected cell."""
        from gtnbench.nas.sampling import sample_architectures

        return sample_architectures(count, seed, **options, exclude=exclude)

    def _network(
        self,
        arch: str,
        width: Mapping[str, int],
        num_classes: int,
        in_channels: int,
        device: Device,
        generator: torch.Generator | None,
        bn_eval: str,
    ) -> nn.Module:
        from gtnbench.models import nb201

        return nb201.CellNetwork(
            arch, width["channels"], width["cells"], num_classes, in_channels, device, generator, bn_eval=bn_eval
        )

    def arch_of(self, net: nn.Module) -> str:
        from gtnbench.models import nb201

        return nb201.arch_str(net.ops)


class MacroSpace(SearchSpace):
    name = "macro"
    title = "NAS-Bench-Macro (CIFAR-10)"
    default_column = "cifar10_test_acc_mean"
    flops_column = "cifar10_flops_M"
    params_column = "cifar10_params_M"
    widths = {"channels": 32, "head_channels": 1280}
    # One per class by default, as for NAS-Bench-201: the benchmark's rows of one class are copies.
    sample_options = {"one_per_iso_class": True}
    short_column = None  # the benchmark trained one 50-epoch schedule only
    batched = False

    def table(self) -> nb201_table.GroundTruth:
        return macro_table.load_table()

    def describe_column(self, name: str) -> str:
        return macro_table.describe_column(name)

    def columns(self) -> tuple[str, ...]:
        return tuple(macro_table.COLUMNS)

    def task(self, column: str | None = None) -> Task:
        macro_table.column_info(column or self.default_column)
        return Task("cifar10", (3, 32, 32), 10)

    def encoding(self, index: int) -> tuple[int, ...]:
        return macro_codes.parse_code(self.arch(index))

    def resolve(self, text: str) -> int:
        """Eight digits from 0-2 are a code ("00000012" is index 5); other digit strings are indices."""
        if len(text) == macro_codes.NUM_LAYERS and set(text) <= set("012"):
            return self.index_of(text)
        if not text.isdigit():
            raise DataError(
                f"macro: {text!r} is neither an index (0-{macro_table.NUM_ARCHS - 1}) nor a code "
                "of 8 digits from 0, 1, 2"
            )
        return super().resolve(text)

    def _sample(self, count: int, seed: int, options: Mapping[str, bool], exclude: frozenset[int]) -> list[int]:
        """Drawn like nas.sampling's (numpy default_rng(seed).choice without replacement from the pool)."""
        t = self.table()
        pool = t.indices[t.iso_class == t.indices] if options["one_per_iso_class"] else t.indices
        if exclude:
            pool = pool[~np.isin(pool, list(exclude))]
        if count > len(pool):
            raise GtnbenchError(
                f"macro.architectures.count: {count} is more than the {len(pool)} architectures in the pool"
            )
        return [int(i) for i in np.random.default_rng(seed).choice(pool, size=count, replace=False)]

    def _network(
        self,
        arch: str,
        width: Mapping[str, int],
        num_classes: int,
        in_channels: int,
        device: Device,
        generator: torch.Generator | None,
        bn_eval: str,
    ) -> nn.Module:
        from gtnbench.models import macro

        return macro.MacroNetwork(
            arch, width["channels"], width["head_channels"], num_classes, in_channels, device, generator, bn_eval
        )

    def arch_of(self, net: nn.Module) -> str:
        return net.code


SPACES: dict[str, SearchSpace] = {"nb201": NB201Space(), "macro": MacroSpace()}


def get_space(name: str) -> SearchSpace:
    if name not in SPACES:
        raise GtnbenchError(f"unknown search space {name!r}; known: {', '.join(SPACES)}")
    return SPACES[name]
