"""Where data and caches live: --data-root, else $GTNBENCH_DATA, else a user cache folder."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "GTNBENCH_DATA"
CACHE_ENV = "GTNBENCH_CACHE"


def cache_dir() -> Path:
    """The user cache folder: $GTNBENCH_CACHE, else $XDG_CACHE_HOME/gtnbench, else ~/.cache/gtnbench."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "gtnbench"


def resolve_data_root(explicit: str | os.PathLike | None = None) -> Path:
    """The data root to use, in order of precedence: the argument, $GTNBENCH_DATA, the cache."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser().resolve()
    return (cache_dir() / "data").resolve()
