"""NAS-Bench-Macro architecture codes, without torch (the table and suite validation read them).

A code is eight digits, one per searchable layer in network order: 0 = identity, 1 = inverted
residual with kernel 3 and expansion 3, 2 = inverted residual with kernel 5 and expansion 6.
The layers form three stages of 2, 3 and 3; the first layer of a stage downsamples.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from functools import cache

OPS = ("identity", "ir_k3_e3", "ir_k5_e6")
# digit -> (kernel, expansion) of the inverted residual it names.
BLOCKS = {1: (3, 3), 2: (5, 6)}
STAGES = (2, 3, 3)
NUM_LAYERS = sum(STAGES)


def parse_code(code: str) -> tuple[int, ...]:
    """The eight layer digits of a code such as "02012100" (layer order, first layer first)."""
    if not isinstance(code, str) or len(code) != NUM_LAYERS or any(c not in "012" for c in code):
        raise ValueError(f"architecture code {code!r}: expected {NUM_LAYERS} digits from 0, 1, 2 (e.g. '02012100')")
    return tuple(int(c) for c in code)


def check_digits(digits: Sequence[int]) -> tuple[int, ...]:
    """`digits` as a tuple, after checking that it is eight digits from 0, 1, 2."""
    digits = tuple(int(d) for d in digits)
    if len(digits) != NUM_LAYERS or any(d not in (0, 1, 2) for d in digits):
        raise ValueError(f"expected {NUM_LAYERS} layer digits from 0, 1, 2; got {digits!r}")
    return digits


def code_str(digits: Sequence[int]) -> str:
    """The code of eight layer digits (the inverse of parse_code)."""
    return "".join(str(d) for d in check_digits(digits))


def canonical_code(code: str) -> str:
    """The code with each stage's non-first layers' identities moved to the end.

    A true identity (stride 1) is a no-op, so its position among a stage's later layers does
    not change the network: "00120000" and "00102000" build the same function class.
    """
    digits = parse_code(code)
    out: list[int] = []
    start = 0
    for length in STAGES:
        first, rest = digits[start], digits[start + 1 : start + length]
        blocks = [d for d in rest if d]
        out += [first, *blocks, *[0] * (len(rest) - len(blocks))]
        start += length
    return code_str(out)


@cache
def canonical_codes() -> tuple[str, ...]:
    """The 3,969 canonical codes, sorted: one per distinct network (the ones the benchmark trained)."""
    codes = ("".join(digits) for digits in itertools.product("012", repeat=NUM_LAYERS))
    return tuple(code for code in codes if canonical_code(code) == code)


def random_code(seed: int) -> str:
    """A canonical code drawn uniformly (seeded): a random network of the space, each trained one equally likely."""
    return random.Random(seed).choice(canonical_codes())
