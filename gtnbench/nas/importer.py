"""Rebuild the ground-truth table from an official benchmark file, through the official APIs.

Sources: a NATS-Bench tss archive folder (`NATS-tss-v1_0-3ffb9-simple`, read lazily per
architecture) or file (`NATS-tss-v1_0-3ffb9.pickle.pbz2`), via the `nats_bench` package; or
a NAS-Bench-201 file (`NAS-Bench-201-v1_*.pth`), via `nas_201_api`. Both are pickles, and
unpickling runs code: import only the official files. The output has the shipped table's
format; its `*_hp200_oneseed` cells stay empty, because the seed the shipped column drew at
random was not recorded.
"""

from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from gtnbench.errors import DataError, GtnbenchError
from gtnbench.models.nb201 import EDGES, parse_arch
from gtnbench.nas.table import COLUMNS, NUM_ARCHS, ColumnInfo, iso_classes, write_table

INSTALL_HINT = 'pip install "gtnbench[nb201]"'
ZERO = "#"


def unique_str(arch: str) -> str:
    """The official isomorphism key of a cell (NATS-Bench's `get_unique_str`), 6,466 distinct values.

    Node 0 is "0". Each edge into a node gives a term: "#" (zero) for `none` or when the
    source's key is exactly "#"; the source's key for `skip_connect`; "(key)@op" otherwise.
    A node's key is its terms, sorted as strings and joined with "+". The key is finer than
    functional equivalence: zero terms stay in sums ("#+X" is not "X"), a node whose terms
    are all zero ("#+#") is not treated as zero downstream, and a skip edge inserts its
    source's sum as one term without re-sorting. (Dropping zeros and flattening sums gives
    4,930 classes instead.)
    """
    ops = parse_arch(arch)
    keys = {0: "0"}
    for node in (1, 2, 3):
        terms = []
        for (target, source), op in zip(EDGES, ops):
            if target != node:
                continue
            if op == "none" or keys[source] == ZERO:
                terms.append(ZERO)
            elif op == "skip_connect":
                terms.append(keys[source])
            else:
                terms.append(f"({keys[source]})@{op}")
        keys[node] = "+".join(sorted(terms))
    return keys[3]


def require(module: str) -> ModuleType:
    """Import an optional dependency of the importer, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise GtnbenchError(f"reading official NAS-Bench-201 files needs the {module} package: {INSTALL_HINT}") from err


def open_benchmark(path: Path, indices: list[int] | None = None) -> Any:
    """The official API object for `path`. For a .pth, only the records of `indices` (None: all) are kept."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: not found; expected a NATS-Bench tss folder or .pickle.pbz2, or a NAS-Bench-201 .pth")
    if path.suffix == ".pth":
        api = require("nas_201_api")
        try:
            data = torch.load(path, map_location="cpu", weights_only=False)
            if indices is not None:  # the API deep-copies what it is given
                wanted = set(indices)
                data = {**data, "arch2infos": {i: r for i, r in data["arch2infos"].items() if i in wanted}}
            return api.NASBench201API(data, verbose=False)
        except Exception as err:  # any unpickling or format error: the file is not what it claims to be
            raise DataError(f"{path}: not a readable NAS-Bench-201 file ({type(err).__name__}: {err})") from err
    nats_bench = require("nats_bench")
    try:
        return nats_bench.create(str(path), "tss", fast_mode=path.is_dir(), verbose=False)
    except Exception as err:
        raise DataError(f"{path}: not a readable NATS-Bench tss archive ({type(err).__name__}: {err})") from err


def measure(api: Any, index: int, info: ColumnInfo) -> str:
    """One cell of the table as text with 6 decimals; empty where the API cannot give it back."""
    if not info.importable:
        return ""
    if info.metric == "test accuracy":
        value = api.get_more_info(index, info.dataset, hp=info.hp, is_random=False).get("test-accuracy")
    else:
        value = api.get_cost_info(index, info.dataset, hp="200")["flops" if info.metric == "FLOPs" else "params"]
    if value is None:
        raise KeyError(f"no {info.metric} for {info.dataset}")
    return f"{float(value):.6f}"


def import_official(path: Path, out: Path, indices: list[int] | None = None) -> int:
    """Write the table of `indices` (None: all 15,625) from an official benchmark file to `out`; returns the rows.

    Accuracies: get_more_info(i, dataset, hp='200' or '12', is_random=False)['test-accuracy'],
    the mean over the seeds the file holds (one for hp='12'). Costs: get_cost_info(i,
    dataset, hp='200'). iso_class: the smallest index with the same unique_str(), over all
    15,625 arch strings.
    """
    if indices is not None:
        outside = sorted({i for i in indices if not 0 <= i < NUM_ARCHS})
        repeated = sorted(i for i, n in Counter(indices).items() if n > 1)
        if outside or repeated:
            raise DataError(
                f"indices: expected distinct integers in 0..{NUM_ARCHS - 1}; "
                f"out of range: {outside[:10]}, repeated: {repeated[:10]}"
            )
    api = open_benchmark(path, indices)
    arch_strs = list(api.meta_archs)
    if len(arch_strs) != NUM_ARCHS:
        raise DataError(f"{path}: {len(arch_strs)} architectures, expected {NUM_ARCHS} (is it the topology space?)")
    iso = iso_classes([unique_str(arch) for arch in arch_strs])
    rows = []
    for index in sorted(indices) if indices is not None else range(NUM_ARCHS):
        try:
            values = [measure(api, index, info) for info in COLUMNS.values()]
        except (AssertionError, ValueError, KeyError) as err:
            raise DataError(f"{path}: no usable record for architecture {index} ({type(err).__name__}: {err})") from err
        rows.append([str(index), arch_strs[index], str(iso[index]), *values])
    return write_table(Path(out), rows)
