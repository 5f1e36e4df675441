"""What every method's trial function receives and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gtnbench.data.datasets import ImageDataset
from gtnbench.models.learners import LearnerSpec
from gtnbench.suite.config import SuiteConfig
from gtnbench.suite.fields import LearnerConfig


@dataclass
class TrialContext:
    config: SuiteConfig
    dataset: ImageDataset
    device: str
    run_dir: Path
    artifact_dir: Callable[[], Path]  # creates and returns this trial's artifact folder

    @property
    def learner_spec(self) -> LearnerSpec:
        return learner_spec(self.config.learner)


def learner_spec(learner: LearnerConfig) -> LearnerSpec:
    widths = tuple(learner.widths) if learner.widths else None
    return LearnerSpec(
        learner.name, widths, learner.weight_norm, learner.randomize_widths, learner.arch, learner.bn_eval
    )


@dataclass
class TrialResult:
    metrics: dict[str, float]  # headline numbers (accuracies as fractions, seconds)
    details: dict[str, Any] = field(default_factory=dict)  # chosen settings, tuning grid, curves
