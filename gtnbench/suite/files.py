"""Suite files: TOML with a base configuration and `[scales.NAME]` overrides deep-merged into it (tables
merge key by key; any other value replaces); every scale validated when the file is loaded, so a mistake in
the paper scale shows on a laptop; errors name the file and the key as written. Bundled suites and their
lookup by name."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import (
    ValidationError,
)

from gtnbench.errors import SuiteError
from gtnbench.suite.bounds import violations
from gtnbench.suite.config import SCALES, SuiteConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class Suite:
    """A suite file: its base table and the scales it defines, each validated on load."""

    def __init__(self, path: Path, raw: dict[str, Any]) -> None:
        self.path, self.raw = path, raw
        scales = raw.get("scales", {})
        if not isinstance(scales, dict) or not scales:
            raise SuiteError(f"{path}: scales: expected a table with at least one of {', '.join(SCALES)}")
        for scale, override in scales.items():
            if scale not in SCALES:
                raise SuiteError(
                    f"{path}: scales.{_key_text(scale)}: unknown scale; expected one of {', '.join(SCALES)}"
                )
            if not isinstance(override, dict):
                raise SuiteError(f"{path}: scales.{_key_text(scale)}: expected a table of overrides")
        self.scales = tuple(s for s in SCALES if s in scales)
        default = raw.get("default_scale", self.scales[0])
        if default not in self.scales:
            raise SuiteError(
                f"{path}: default_scale: expected one of the defined scales {self.scales}, got {default!r}"
            )
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
    """One line for the first bound (suite/bounds.py) the scale breaks, naming the key where it is written."""

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
    package = Path(__file__).resolve().parent.parent  # gtnbench/
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
