"""Run directories as pandas tables, for notebooks and for `gtnbench export`.

`load_results(*runs)` is the long-format table: one row per trial and metric, with every
field that says what was measured where as a column:

    run, suite, scale, dataset, dataset_label, method, variant, method_label, kind, budget,
    steps, seed, arch, proxy, trial, status, reason, device, device_name, code_version,
    config_hash, precision, metric, value

- `budget` and `variant` are labels ("steps=32", "curriculum=none,weight_norm=false", "" when
  the trial has none); `method_label` joins them as the report does: "gtn[curriculum=none]".
  `steps` is the training steps of the trial (NA for NAS proxies, which score several budgets).
- A failed trial has one row, with `metric` and `value` missing and its `reason`, so that
  counts of `status` count trials.
- NAS-Bench-201 proxy records give one row per proxy they score, named as in the report's
  tables ("real@128", "free:naswot", "hp12") in `proxy`, with `metric` "score" and, where it
  was measured, a second row "seconds" (the cost of scoring one architecture). A tabular proxy
  (`nb201-table`) scores the whole sample in one trial: one row per architecture (`arch`).
- Per run directory, a trial's latest record counts (a retried failure supersedes the
  failed record); rows of several runs are told apart by `run`.

`load_curves(*runs)` is the companion table of what changes within a trial, long format:
the identity columns above (without `proxy`) plus `curve`, `x`, `metric`, `value`:

- curve "training": accuracy within one training run (`details.curve`; x = inner step,
  metric test_acc, and val_acc for real-data curves);
- curve "meta_validation": fresh learners trained on the GTN during meta-training
  (`details.validation`; x = outer iteration, metric val_acc: meta-validation never scores the test split);
- curve "meta_loss": the meta-training loss (`details.meta_losses`; x = outer iteration,
  starting at 1, metric meta_loss).

`load_trials(*runs)` has one row per trial with `seconds`, `started`, `finished` and the
record's `details` as a column of dicts (grids, chosen hyperparameters, transfer results).

Accuracies are fractions, as in the records; seconds are seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from gtnbench.analysis.records import budget_label, method_label
from gtnbench.data.names import dataset_label
from gtnbench.store import RunContents, read_run
from gtnbench.suite.methods import SET_KINDS

RunLike = str | Path | RunContents
Record = dict[str, Any]

IDENTITY = (
    "run",
    "suite",
    "scale",
    "dataset",
    "dataset_label",
    "method",
    "variant",
    "method_label",
    "kind",
    "budget",
    "steps",
    "seed",
    "arch",
    "trial",
    "status",
    "reason",
    "device",
    "device_name",
    "code_version",
    "config_hash",
    "precision",
)
RESULT_COLUMNS = (*IDENTITY[:13], "proxy", *IDENTITY[13:], "metric", "value")  # proxy after arch
CURVE_COLUMNS = (*IDENTITY, "curve", "x", "metric", "value")
TRIAL_COLUMNS = (*IDENTITY, "seconds", "started", "finished", "details")
INTEGER_COLUMNS = ("steps", "seed", "arch", "x")
TEXT_COLUMNS = ("reason", "proxy", "precision", "metric")  # often all missing: still text, not objects
CURVES = (("training", "curve", "step"), ("meta_validation", "validation", "iteration"))


def _runs(runs: Iterable[RunLike]) -> list[RunContents]:
    return [run if isinstance(run, RunContents) else read_run(Path(run)) for run in runs]


def _latest(run: RunContents) -> list[Record]:
    """The run's last record of each trial, in the order trials first appear."""
    return list({record["trial"]: record for record in run.records}.values())


def _variant_label(variant: dict[str, Any]) -> str:
    return ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in (variant or {}).items())


def _precision(manifest: dict[str, Any]) -> str | None:
    value = manifest.get("precision")
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    return value


def _identity(run: RunContents, record: Record) -> dict[str, Any]:
    details = record.get("details") or {}
    trained = record["kind"] in ("real", "gtn", *SET_KINDS)  # one training budget per trial
    steps = details.get("steps") if trained else None
    if steps is None and trained:
        steps = (record.get("budget") or {}).get("steps")
    dataset = record.get("dataset", run.manifest.get("dataset"))
    return {
        "run": str(run.path),
        "suite": record.get("suite"),
        "scale": record.get("scale"),
        "dataset": dataset,
        "dataset_label": dataset_label(dataset) if dataset else None,
        "method": record["method"],
        "variant": _variant_label(record.get("variant")),
        "method_label": method_label(record),
        "kind": record["kind"],
        "budget": budget_label(record.get("budget") or {}),
        "steps": steps,
        "seed": record.get("seed"),
        "arch": record.get("arch"),
        "trial": record["trial"],
        "status": record["status"],
        "reason": record.get("reason"),
        "device": record.get("device"),
        "device_name": record.get("device_name"),
        "code_version": record.get("code_version"),
        "config_hash": record.get("config_hash"),
        "precision": _precision(run.manifest),
    }


def _nas_rows(record: Record) -> Iterator[tuple[str, int | None, str, float]]:
    """(proxy, arch, metric, value) of a NAS-Bench-201 proxy record, proxies named as gtnbench.rankcorr names them."""
    details = record.get("details") or {}
    scores, seconds = details.get("scores") or {}, details.get("seconds") or {}
    if record["kind"] == "nb201-table":
        for arch, score in scores.items():
            yield record["method"], int(arch), "score", score
        return
    for key, score in scores.items():
        proxy = f"{record['method']}@{key}" if record["kind"] == "nb201-train" else f"{record['method']}:{key}"
        yield proxy, record.get("arch"), "score", score
        if key in seconds:
            yield proxy, record.get("arch"), "seconds", seconds[key]


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    for column in INTEGER_COLUMNS:
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    for column in TEXT_COLUMNS:
        if column in frame:
            frame[column] = frame[column].astype("string")
    if "value" in frame:
        frame["value"] = frame["value"].astype("float64")
    return frame


def load_results(*runs: RunLike) -> pd.DataFrame:
    """The long-format results table of run directories (paths or read runs); see the module docstring."""
    rows = []
    for run in _runs(runs):
        for record in _latest(run):
            base = _identity(run, record)
            if record["status"] != "ok":
                rows.append({**base, "proxy": None, "metric": None, "value": None})
            elif record["kind"].startswith("nb201"):
                for proxy, arch, metric, value in _nas_rows(record):
                    rows.append({**base, "arch": arch, "proxy": proxy, "metric": metric, "value": value})
            else:
                for metric, value in (record.get("metrics") or {}).items():
                    rows.append({**base, "proxy": None, "metric": metric, "value": value})
    return _frame(rows, RESULT_COLUMNS)


def load_curves(*runs: RunLike) -> pd.DataFrame:
    """Within-trial curves (training, meta-validation, meta-loss) in long format; see the module docstring."""
    rows = []
    for run in _runs(runs):
        for record in _latest(run):
            if record["status"] != "ok":
                continue
            base, details = _identity(run, record), record.get("details") or {}
            for curve, key, x in CURVES:
                for point in details.get(key) or []:
                    for metric in ("test_acc", "val_acc"):
                        if metric in point:
                            rows.append(
                                {**base, "curve": curve, "x": point[x], "metric": metric, "value": point[metric]}
                            )
            for iteration, loss in enumerate(details.get("meta_losses") or [], start=1):
                rows.append({**base, "curve": "meta_loss", "x": iteration, "metric": "meta_loss", "value": loss})
    return _frame(rows, CURVE_COLUMNS)


def load_trials(*runs: RunLike) -> pd.DataFrame:
    """One row per trial, with the record's `details` as a column of dicts; see the module docstring."""
    rows = []
    for run in _runs(runs):
        for record in _latest(run):
            rows.append(
                {
                    **_identity(run, record),
                    "seconds": record.get("seconds"),
                    "started": record.get("started"),
                    "finished": record.get("finished"),
                    "details": record.get("details") or {},
                }
            )
    return _frame(rows, TRIAL_COLUMNS)


def write_table(frame: pd.DataFrame, out: Path, fmt: str) -> Path:
    """Write a table as csv or parquet (parquet needs pyarrow); a temporary file is renamed over `out`."""
    import importlib.util

    from gtnbench.errors import GtnbenchError

    if fmt == "parquet" and importlib.util.find_spec("pyarrow") is None:
        raise GtnbenchError('--format parquet needs pyarrow: pip install "gtnbench[parquet]" (or use --format csv)')
    out = Path(out)
    if not out.parent.is_dir():
        raise GtnbenchError(f"{out}: the folder {out.parent} does not exist")
    partial = out.with_name(f".{out.name}.partial")
    try:
        if fmt == "parquet":
            frame.to_parquet(partial, index=False)
        else:
            frame.to_csv(partial, index=False)
        partial.replace(out)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise GtnbenchError(f"{out}: cannot write ({error.strerror})") from None
    return out
