"""Executors: where trials run. In-process (the default) or on a Ray cluster.

Either way the driver is the single writer of the run directory: executors only hand back
records, in whatever order trials finish. A unit of work is a *batch* of trials (one trial,
or several NAS-Bench-201 cells trained together); it becomes one record per trial.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gtnbench.errors import GtnbenchError
from gtnbench.run.batch import Admit, Job, Record, execute, failed_records
from gtnbench.suite.config import SuiteConfig
from gtnbench.suite.trials import Trial, prerequisites


class Executor(ABC):
    name: str

    @abstractmethod
    def run(
        self, job: Job, batches: list[list[Trial]], started: Callable[[list[Trial]], None], admit: Admit | None = None
    ) -> Iterator[list[Record]]:
        """Run the batches; yield each batch's records as it finishes. `started` is told when a batch
        begins. `admit` is asked before a batch starts; once it says no, no batch starts any more
        (those running finish) and the run ends with the rest pending."""


class InProcess(Executor):
    name = "in-process"

    def run(self, job, batches, started, admit=None):
        for batch in batches:
            if admit is not None and not admit(batch):
                return
            started(batch)
            yield execute(job, batch)


@dataclass
class RayOptions:
    address: str | None = None  # None: start a local cluster; "auto": join the running one
    cpus_per_trial: float = 1.0
    gpus_per_trial: float | None = None  # fractions pack several small trainings on one GPU; None: ray_gpu_share
    max_retries: int = 2  # re-runs of a batch whose worker process died
    max_in_flight: int | None = None  # default: as many batches as the cluster has CPU slots


def ray_gpu_share(device: str, requested: float | None) -> float:
    """GPUs each Ray task reserves: the request, else a whole GPU on CUDA and none on the CPU.
    Ray hides every GPU from a task that reserves none (CUDA_VISIBLE_DEVICES=""), so on CUDA a share
    of 0 would fail every trial: it is refused."""
    cuda = device.startswith("cuda")
    if requested is None:
        return 1.0 if cuda else 0.0
    if requested < 0:
        raise GtnbenchError(f"--gpus-per-trial {requested}: must be at least 0")
    if cuda and requested == 0:
        raise GtnbenchError(
            f"--gpus-per-trial 0 with --device {device}: Ray hides the GPUs from tasks that reserve "
            "none, so every trial would fail; reserve a share, e.g. --gpus-per-trial 0.25 "
            "(4 trials per GPU), or leave it out for a whole GPU per trial"
        )
    return requested


class RayExecutor(Executor):
    """Batches as Ray tasks. A task whose worker dies is retried `max_retries` times by Ray, then
    recorded as failed with the reason; GTN trials resume from their last checkpoint when retried.
    Batches that need another batch's artifact (a suite's in-run GTN) are submitted after it."""

    name = "ray"

    def __init__(self, options: RayOptions) -> None:
        try:
            import ray
        except ImportError:
            raise GtnbenchError('the Ray executor needs Ray: pip install "gtnbench[ray]"') from None
        self.ray, self.options = ray, options

    def run(self, job, batches, started, admit=None):
        ray, options = self.ray, self.options
        gpus = ray_gpu_share(job.device, options.gpus_per_trial)  # refuse before starting anything
        if not ray.is_initialized():  # workers import gtnbench from where the driver does
            path = os.pathsep.join(
                filter(None, [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")])
            )
            ray.init(
                address=options.address,
                include_dashboard=False,
                log_to_driver=False,
                runtime_env={"env_vars": {"PYTHONPATH": path}},
            )
        task = ray.remote(execute).options(
            num_cpus=options.cpus_per_trial, num_gpus=gpus, max_retries=options.max_retries, retry_exceptions=False
        )
        capacity = options.max_in_flight or max(1, int(ray.cluster_resources().get("CPU", 1) // options.cpus_per_trial))
        waiting = list(batches)
        needs = dependencies(job.config, batches)
        done_ids: set[str] = set()
        in_flight: dict[Any, list[Trial]] = {}
        admitting = True
        while (waiting and admitting) or in_flight:
            ready = [b for b in waiting if needs.get(_key(b), set()) <= done_ids] if admitting else []
            for batch in ready[: max(0, capacity - len(in_flight))]:
                if admit is not None and not admit(batch):
                    admitting = False
                    break
                waiting.remove(batch)
                in_flight[task.remote(job, batch)] = batch
                started(batch)
            if not in_flight and not admitting:
                return
            if not in_flight:  # what is left waits for trials that will never finish here
                for batch in waiting:
                    yield failed_records(job, batch, "a trial whose artifact it needs did not run in this run")
                return
            finished, _ = ray.wait(list(in_flight), num_returns=1)
            batch = in_flight.pop(finished[0])
            try:
                records = ray.get(finished[0])
            except Exception as error:  # the worker died more often than retries allow
                records = failed_records(
                    job,
                    batch,
                    f"worker failed after {options.max_retries} retries: "
                    f"{type(error).__name__}: {str(error).splitlines()[0][:300]}",
                )
            done_ids.update(r["trial"] for r in records if r["status"] == "ok")
            yield records


def _key(batch: list[Trial]) -> str:
    return batch[0].id


def dependencies(config: SuiteConfig, batches: list[list[Trial]]) -> dict[str, set[str]]:
    """Batch (by its first trial's id) -> ids of the trials whose artifacts it needs and that are still to run."""
    pending = {t.id for batch in batches for t in batch}  # trials done in an earlier session need no waiting
    needs = {}
    for batch in batches:
        needed = {t.id for t in prerequisites(config, batch[0])} & pending
        if needed:
            needs[_key(batch)] = needed
    return needs
