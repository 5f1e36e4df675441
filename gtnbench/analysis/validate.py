"""Compliance of a run directory before its numbers are trusted (`gtnbench validate RUN`).

One line per problem, naming the file and field: the manifest's fields and types, the suite
configuration (it must validate under this gtnbench and hash to the recorded config hash),
every record's fields and their agreement with the manifest, every trial of the suite (or of
the run's shard) recorded exactly as the suite defines it, statuses that agree with the
records, provenance (code version, library versions, device, precision on a GPU), data that
was verified, and for NAS-Bench-201 suites the ground-truth table the run used.

A code version that cannot be checked out (`.dirty`, or no commit) is a warning, not a problem: the
numbers may be right, but no commit holds the code that made them; `gtnbench validate --strict`
fails on warnings too (for runs to be published).

Failed trials are results (a diverged meta-training is what claim C4 counts), not problems;
a run whose status hides them, or that stopped before all trials finished, is a problem.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from gtnbench.errors import GtnbenchError
from gtnbench.store import MANIFEST, RECORDS, RunContents, read_run

STATUSES = ("running", "completed", "completed with failures", "interrupted", "incomplete")
MAX_LINES_PER_CHECK = 10  # a run with every record wrong gives a readable report, not thousands of lines

MANIFEST_FIELDS: dict[str, tuple[type, ...]] = {
    "gtnbench": (str,),
    "suite": (str,),
    "scale": (str,),
    "config": (dict,),
    "config_hash": (str,),
    "trials": (int,),
    "seeds": (list,),
    "dataset": (str,),
    "data_verified": (bool,),
    "device": (str,),
    "device_name": (str,),
    "code_version": (str,),
    "versions": (dict,),
    "started": (str,),
    "status": (str,),
}
RECORD_FIELDS: dict[str, tuple[type, ...]] = {
    "trial": (str,),
    "method": (str,),
    "kind": (str,),
    "seed": (int,),
    "budget": (dict,),
    "variant": (dict,),
    "arch": (int, type(None)),
    "suite": (str,),
    "scale": (str,),
    "config_hash": (str,),
    "dataset": (str,),
    "code_version": (str,),
    "device": (str,),
    "device_name": (str,),
    "versions": (dict,),
    "status": (str,),
    "reason": (str, type(None)),
    "metrics": (dict,),
    "details": (dict,),
    "seconds": (int, float),
    "started": (str,),
    "finished": (str,),
}
SHARED_FIELDS = ("suite", "scale", "config_hash", "dataset", "code_version", "device", "device_name", "versions")
LIBRARIES = ("python", "torch", "numpy")


class Problems:
    """Collects one-line problems, at most MAX_LINES_PER_CHECK per check, then a count of the rest."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._counts: dict[str, int] = {}

    def add(self, check: str, line: str) -> None:
        self._counts[check] = self._counts.get(check, 0) + 1
        if self._counts[check] <= MAX_LINES_PER_CHECK:
            self.lines.append(line)

    def done(self) -> list[str]:
        for check, count in self._counts.items():
            if count > MAX_LINES_PER_CHECK:
                self.lines.append(f"... and {count - MAX_LINES_PER_CHECK} more problems of the kind '{check}'")
        return self.lines


def _type_name(types: tuple[type, ...]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def _check_fields(
    value: dict[str, Any], fields: dict[str, tuple[type, ...]], where: str, problems: Problems, check: str
) -> None:
    for name, types in fields.items():
        if name not in value:
            problems.add(check, f"{where}: {name}: missing")
        elif not isinstance(value[name], types) or (isinstance(value[name], bool) and bool not in types):
            problems.add(check, f"{where}: {name}: expected {_type_name(types)}, got {value[name]!r:.60}")


def _added_fields(original: Any, dumped: Any, prefix: str = "") -> list[str]:
    """Keys the current schema adds to a recorded configuration (fields with defaults added since)."""
    if not isinstance(original, dict) or not isinstance(dumped, dict):
        return []
    added = []
    for key, value in dumped.items():
        if key not in original:
            added.append(f"{prefix}{key}")
        else:
            added += _added_fields(original[key], value, f"{prefix}{key}.")
    return added


def suite_config(config: dict[str, Any]):
    """The SuiteConfig of a manifest's config (the manifest keeps the suite's method order)."""
    from gtnbench.suite.config import SuiteConfig

    return SuiteConfig.model_validate(config)


def _check_config(manifest: dict[str, Any], where: str, problems: Problems):
    from pydantic import ValidationError

    try:
        config = suite_config(manifest["config"])
    except ValidationError as error:
        first = error.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "(top level)"
        problems.add("config", f"{where}: config.{location}: does not validate under this gtnbench ({first['msg']})")
        return None
    recorded, recomputed = manifest.get("config_hash"), config.config_hash()
    if recorded != recomputed:
        added = _added_fields(manifest["config"], config.model_dump(mode="json"))
        if added:
            shown = ", ".join(added[:3]) + (f" and {len(added) - 3} more" if len(added) > 3 else "")
            problems.add(
                "config",
                f"{where}: config_hash: {recorded} predates fields this gtnbench's schema added "
                f"({shown}); the same configuration now hashes to {recomputed}, so claims treat "
                "it as another protocol: rerun the suite to publish it under this version",
            )
        else:
            problems.add(
                "config",
                f"{where}: config_hash: {recorded} does not match the manifest's config, which "
                f"hashes to {recomputed}: the manifest was edited",
            )
    for key in ("suite", "scale"):
        field = "name" if key == "suite" else key
        if manifest.get(key) != getattr(config, field):
            problems.add(
                "config", f"{where}: {key}: {manifest.get(key)!r}, but the config says {getattr(config, field)!r}"
            )
    if manifest.get("seeds") != config.seeds:
        problems.add("config", f"{where}: seeds: {manifest.get('seeds')} differ from the config's {config.seeds}")
    return config


def _expected_trials(config, shard: Any) -> list:
    from gtnbench.suite.trials import expand

    trials = expand(config)
    if isinstance(shard, str) and "/" in shard:
        index, count = (int(part) for part in shard.split("/"))
        trials = trials[index::count]
    return trials


def _check_provenance(manifest: dict[str, Any], where: str, problems: Problems) -> None:
    versions = manifest.get("versions") if isinstance(manifest.get("versions"), dict) else {}
    for library in LIBRARIES:
        if not versions.get(library):
            problems.add("provenance", f"{where}: versions.{library}: missing")
    if str(manifest.get("device", "")).startswith("cuda") and not manifest.get("precision"):
        problems.add("provenance", f"{where}: precision: missing on a GPU run (TF32 may have been on)")
    if manifest.get("data_verified") is False:
        problems.add(
            "provenance",
            f"{where}: data_verified: false (GTNBENCH_VERIFY=0): the data's checksums were "
            "not checked, so the results may come from other files",
        )
    from gtnbench.suite.config import nas_table

    config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    if nas_table(config):
        truth = manifest.get("ground_truth")
        if not isinstance(truth, dict) or not truth.get("column") or not truth.get("table_sha256"):
            problems.add("provenance", f"{where}: ground_truth: missing the column or the table's sha256")
        else:
            from gtnbench.nas.spaces import SPACES

            name = truth.get("space", "nb201")  # manifests before the field are NAS-Bench-201's
            space = SPACES.get(name)
            in_use = space.table() if space else None
            if in_use is None or truth["table_sha256"] != in_use.sha256:
                what = (
                    f"the {name} table in use's ({in_use.source}, {in_use.sha256[:16]}…)"
                    if in_use
                    else "(unknown search space)"
                )
                hint = (
                    f"; the run used {truth.get('table')}: pass --nb201-table with it (or set GTNBENCH_NB201_TABLE)"
                    if name == "nb201"
                    else ""
                )
                problems.add(
                    "provenance",
                    f"{where}: ground_truth.table_sha256: {truth['table_sha256'][:16]}… is not {what}{hint}",
                )


def _check_records(run: RunContents, manifest: dict[str, Any], problems: Problems) -> dict[str, dict[str, Any]]:
    """Each record's fields; returns every trial's latest record."""
    where = run.path / RECORDS
    latest: dict[str, dict[str, Any]] = {}
    for number, record in enumerate(run.records, start=1):
        if not isinstance(record, dict):
            problems.add("record fields", f"{where}: line {number}: not a JSON object")
            continue
        at = f"{where}: line {number} ({record.get('trial', '?')})"
        _check_fields(record, RECORD_FIELDS, at, problems, "record fields")
        for key in SHARED_FIELDS:
            if key in record and key in manifest and record[key] != manifest[key]:
                problems.add(
                    "record vs manifest",
                    f"{at}: {key}: {record[key]!r:.60} differs from the manifest's {manifest[key]!r:.60}",
                )
        status = record.get("status")
        if status not in ("ok", "failed"):
            problems.add("record status", f"{at}: status: expected 'ok' or 'failed', got {status!r}")
        elif status == "failed" and not record.get("reason"):
            problems.add("record status", f"{at}: reason: a failed trial must say why")
        elif status == "ok":
            bad = [
                k
                for k, v in (record.get("metrics") or {}).items()
                if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isinf(v)
            ]
            if bad:
                problems.add("record metrics", f"{at}: metrics.{bad[0]}: not a finite number")
        trial = record.get("trial")
        if isinstance(trial, str):
            if latest.get(trial, {}).get("status") == "ok":
                problems.add(
                    "superseded", f"{at}: supersedes an ok record of the same trial (only failed trials rerun)"
                )
            latest[trial] = record
    return latest


def _check_trials(
    expected: list, latest: dict[str, dict[str, Any]], manifest: dict[str, Any], where: Path, problems: Problems
) -> None:
    by_id = {t.id: t for t in expected}
    missing = [t for t in by_id if t not in latest]
    if missing:
        problems.add(
            "trials",
            f"{where}: {len(missing)} of {len(by_id)} trials have no record: "
            f"{', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}",
        )
    unexpected = [t for t in latest if t not in by_id]
    if unexpected:
        problems.add(
            "trials",
            f"{where}: {len(unexpected)} records of trials the suite does not define: "
            f"{', '.join(unexpected[:3])}{', …' if len(unexpected) > 3 else ''}",
        )
    for trial_id, record in latest.items():
        trial = by_id.get(trial_id)
        if trial is None:
            continue
        should = trial.identity()
        wrong = [k for k, v in should.items() if k in record and record[k] != v]
        if wrong:
            problems.add(
                "trial fields",
                f"{where}: {trial_id}: {wrong[0]} is {record[wrong[0]]!r}, the suite says {should[wrong[0]]!r}",
            )
    if manifest.get("trials") != len(by_id):
        problems.add(
            "trials", f"{where.parent / MANIFEST}: trials: {manifest.get('trials')}, the suite has {len(by_id)}"
        )


def _check_status(manifest: dict[str, Any], latest: dict[str, dict[str, Any]], where: str, problems: Problems) -> None:
    status = manifest.get("status")
    failed = sum(r.get("status") == "failed" for r in latest.values())
    if status not in STATUSES:
        problems.add("status", f"{where}: status: expected one of {', '.join(STATUSES)}, got {status!r}")
    elif status == "running":
        problems.add(
            "status",
            f"{where}: status: running (a run in progress, or one killed before it could say "
            "so): finish it with `gtnbench run ... --resume`",
        )
    elif status == "interrupted":
        problems.add("status", f"{where}: status: interrupted: finish it with `gtnbench run ... --resume`")
    elif status == "completed" and failed:
        problems.add("status", f"{where}: status: completed, but {failed} trial(s) failed")
    elif status == "completed with failures" and not failed:
        problems.add("status", f"{where}: status: completed with failures, but every trial's latest record is ok")
    if status != "running" and not manifest.get("finished"):
        problems.add("status", f"{where}: finished: missing for a run that is {status}")


def validate_contents(run: RunContents) -> list[str]:
    """The problems of a read run directory, one line each (empty: the run can be trusted as recorded)."""
    problems = Problems()
    manifest, where = run.manifest, str(run.path / MANIFEST)
    if not isinstance(manifest, dict):
        return [f"{where}: not a JSON object"]
    _check_fields(manifest, MANIFEST_FIELDS, where, problems, "manifest fields")
    if run.partial_tail:
        problems.add(
            "records",
            f"{run.path / RECORDS}: ends in an interrupted line ({len(run.partial_tail)} bytes): "
            "`gtnbench run ... --resume` moves it aside",
        )
    _check_provenance(manifest, where, problems)
    latest = _check_records(run, manifest, problems)
    _check_status(manifest, latest, where, problems)
    config = _check_config(manifest, where, problems) if isinstance(manifest.get("config"), dict) else None
    if config is not None:
        _check_trials(_expected_trials(config, manifest.get("shard")), latest, manifest, run.path / RECORDS, problems)
    return problems.done()


def validate_run(path: Path) -> list[str]:
    """The problems of a run directory, one line each; a directory that cannot be read is one problem."""
    try:
        run = read_run(Path(path))
    except GtnbenchError as error:
        return [str(error)]
    return validate_contents(run)


def warnings_of(run: RunContents) -> list[str]:
    """What does not make a run wrong but should keep it from being published: a code version that cannot be
    checked out (made from a dirty tree, or with no commit). `validate --strict` fails on these too."""
    from gtnbench.codeversion import provenance_problem

    version = run.manifest.get("code_version") if isinstance(run.manifest, dict) else None
    problem = provenance_problem(version) if isinstance(version, str) else None
    return [f"{run.path / MANIFEST}: code_version: {version}: {problem}"] if problem else []


def run_warnings(path: Path) -> list[str]:
    """warnings_of a run directory (none for a directory that cannot be read: that is a problem)."""
    try:
        return warnings_of(read_run(Path(path)))
    except GtnbenchError:
        return []


def validate_runs(
    paths: Iterable[Path], report: Callable[[str], None], warn: Callable[[str], None] | None = None
) -> int:
    """Validate each run, passing every problem line to `report` (and every warning to `warn`); the number
    of problems."""
    count = 0
    for path in paths:
        for line in validate_run(Path(path)):
            report(line)
            count += 1
        for line in run_warnings(Path(path)) if warn is not None else ():
            warn(line)
    return count
