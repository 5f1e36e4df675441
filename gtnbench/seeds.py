"""Seeds for the learners of one trial, in disjoint spaces per role (no torch)."""

from __future__ import annotations

import hashlib


def role_seed(role: str, seed: int, index: int) -> int:
    """A 63-bit seed determined by (role, trial seed, index): learners of different roles (meta-training,
    validation, evaluation, ...) never share one, whatever the seed and index."""
    digest = hashlib.sha256(f"gtnbench/{role}/{seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
