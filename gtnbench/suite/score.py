"""`gtnbench score SET`: a set someone brings, scored as the field scores it, into an ordinary run directory.

The set file (gtnbench/data/set_file.py) is read and checked first; a bad file stops everything with one
line and nothing is written. Then a suite is generated from the bundled teachers suite of the data set
at the chosen scale (its learner, seeds, scored images and [set_evaluation]) and, on CIFAR-10, from
nb201-teachers (its [nas] sample and proxies), and the normal runner runs it:

- the set (method `set`, kind `file`) under (a) equal steps with the GTN's budget, (b) the tuned recipe
  and (b) the reference recipe;
- beside it, made alike and scored under the same three protocols: a random real subset with the same
  images per class (`subset`) and a k-means coreset of the same counts (`kmeans`, in the features the
  teachers suite's k-means coresets use), and the tuned real-data learner at the same steps
  (`real-fewstep`);
- on CIFAR-10, (c): the set, the subset and the coreset as NAS-Bench-201 proxies at nb201-teachers'
  budgets, beside the tuned real-data, tabular and training-free proxies (NAS-Bench-201 ranks CIFAR-10
  architectures: an MNIST set has no such score).

Every figure has an interval over the suite's seeds in the report; `report`, `check`, `compare`,
`export`, `validate` and the HTML page work on the run as on any other.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gtnbench.data.set_file import BroughtSet, family
from gtnbench.errors import GtnbenchError
from gtnbench.suite.config import SuiteConfig
from gtnbench.suite.files import Suite, find_suite
from gtnbench.suite.methods import CoresetMethod

TEACHERS_SUITES = {"mnist": "mnist-teachers", "cifar10": "cifar10-teachers"}
NAS_SUITE = "nb201-teachers"
PROTOCOLS = ["equal-steps", "own-recipe", "reference"]
SET_METHOD = "set"
BASELINE_SETS = ("subset", "kmeans")
NAS_KEPT = ("real", "free", "hp12")  # nb201-teachers' methods shown beside the set-taught proxies
PROXY_TEMPLATE = "subset-proxy"  # the nb201-teachers proxy whose settings every set-taught proxy takes


def run_name(path: Path) -> str:
    """A suite name from the file's name: 'score-' and its stem in lower case, other characters as '-'."""
    stem = re.sub(r"[^a-z0-9_.-]+", "-", path.stem.lower()).strip("-.") or "set"
    return f"score-{stem}"


def _dump(value: Any) -> Any:
    return value.model_dump(mode="json", exclude_none=True)


def _kmeans_features(teachers: SuiteConfig) -> dict[str, Any] | None:
    """The feature learner of the teachers suite's first k-means coreset (None: the default)."""
    found = [m for m in teachers.methods.values() if isinstance(m, CoresetMethod) and m.selection == "kmeans"]
    return _dump(found[0].features) if found else None


def score_config(
    path: Path, brought: BroughtSet, teachers: SuiteConfig, nas: SuiteConfig | None, seeds: list[int] | None = None
) -> dict[str, Any]:
    """The generated suite (as a suite file's table, one scale) that scores the brought set."""
    image_set = brought.image_set
    counts = image_set.per_class()
    methods: dict[str, Any] = {
        SET_METHOD: {
            "kind": "file",
            "path": str(path.resolve()),
            "sha256": image_set.provenance["sha256"],
            "dsa": brought.declared.get("dsa", []),
        },
        "subset": {"kind": "subset", "counts": counts},
        "kmeans": {"kind": "coreset", "selection": "kmeans", "counts": counts},
    }
    features = _kmeans_features(teachers)
    if features is not None:
        methods["kmeans"]["features"] = features
    if "real-fewstep" in teachers.methods:
        methods["real-fewstep"] = _dump(teachers.methods["real-fewstep"])
    evaluation = {**_dump(teachers.set_evaluation), "protocols": PROTOCOLS}
    raw: dict[str, Any] = {
        "name": run_name(path),
        "dataset": teachers.dataset,
        "seeds": seeds or teachers.seeds,
        "split_seed": teachers.split_seed,
        "learner": _dump(teachers.learner),
        "set_evaluation": evaluation,
        "description": f"gtnbench score {path.name}: {len(image_set)} images ({image_set.label_regime} labels) "
        f"against a random subset, a k-means coreset and tuned real data, under the protocols and "
        f"learners of {teachers.name} ({teachers.scale})"
        + (f" and as NAS-Bench-201 proxies as {nas.name}" if nas else ""),
    }
    if teachers.scored_images is not None:
        raw["scored_images"] = teachers.scored_images
    if nas is not None:
        template = _dump(nas.methods[PROXY_TEMPLATE])
        for name in (SET_METHOD, *BASELINE_SETS):
            methods[f"{name}-proxy"] = {**template, "set": name}
        methods.update({name: _dump(nas.methods[name]) for name in NAS_KEPT if name in nas.methods})
        raw["nas"] = _dump(nas.nas)
    raw["methods"] = methods
    return raw


def score_suite(
    path: Path,
    brought: BroughtSet,
    dataset: str,
    scale: str,
    suite: str | None = None,
    nas: bool = True,
    seeds: list[int] | None = None,
) -> Suite:
    """The generated suite for `path` at `scale`: from `suite` (default: the bundled teachers suite of the data
    set) and, on CIFAR-10 with `nas`, from nb201-teachers; checked like any suite file."""
    teachers_suite = find_suite(suite or TEACHERS_SUITES[family(dataset)])
    if scale not in teachers_suite.raw.get("scales", {}):
        raise GtnbenchError(
            f"{teachers_suite.path}: has no scale {scale!r}; its scales: {', '.join(teachers_suite.raw['scales'])}"
        )
    teachers = teachers_suite.at(scale)
    if family(teachers.dataset) != family(dataset):
        raise GtnbenchError(f"{teachers_suite.path}: a suite on {teachers.dataset}, not on {dataset}")
    nas_config = find_suite(NAS_SUITE).at(scale) if nas and family(dataset) == "cifar10" else None
    raw = score_config(path, brought, teachers, nas_config, seeds)
    generated = Suite(Path(f"{path} (gtnbench score, from {teachers_suite.path.name})"), {**raw, "scales": {scale: {}}})
    generated.at(scale)  # validate now, before anything is written
    return generated
