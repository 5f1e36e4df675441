"""Local worker processes (`gtnbench run SUITE --workers N`): several trainings on one machine, one GPU.

Each worker is its own process (spawned: its own CUDA context, so that a poisoned context or an
out-of-memory kill costs that worker's trial, not the run) and runs batches of trials in-process;
the driver stays the single writer of the run directory, so records from all workers land in one
run, with one progress bar, --resume and --budget as in-process. Trials whose artifacts another
trial reads (a suite's in-run GTN and the proxies it teaches, a calibration and the cells tuned
with it: suite.prerequisites) form one group, which a single worker runs in order; idle workers
take the next group, largest first.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from gtnbench.run.batch import Admit, Job, execute, failed_records
from gtnbench.run.executors import Executor
from gtnbench.suite.config import SuiteConfig
from gtnbench.suite.trials import Trial, prerequisites

Batch = list[Trial]
POLL_SECONDS = 1.0  # how often the driver looks for a worker that died without a word


def group_batches(config: SuiteConfig, batches: list[Batch]) -> list[list[Batch]]:
    """The batches in groups that must run in one process, each in an order that puts the trials
    whose artifacts are read before the trials reading them; groups largest first, then in suite order."""
    where = {trial.id: index for index, batch in enumerate(batches) for trial in batch}
    parent = list(range(len(batches)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    depth = [0] * len(batches)
    for index, batch in enumerate(batches):
        for trial in batch:
            for source in prerequisites(config, trial):
                if source.id in where:  # a prerequisite done in an earlier session is on disk already
                    parent[root(index)] = root(where[source.id])
                    depth[index] = max(depth[index], 1)
    groups: dict[int, list[int]] = {}
    for index in range(len(batches)):
        groups.setdefault(root(index), []).append(index)
    ordered = [sorted(members, key=lambda i: (depth[i], i)) for members in groups.values()]
    ordered.sort(key=lambda members: (-sum(len(batches[i]) for i in members), members[0]))
    return [[batches[i] for i in members] for members in ordered]


def _worker_main(job: Job, inbox: Any, outbox: Any, worker: int, threads: int | None) -> None:
    """A worker: run each batch it is handed, send its records back; None ends it."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        while True:
            batch = inbox.get()
            if batch is None:
                return
            outbox.put((worker, execute(job, batch)))
    except KeyboardInterrupt:  # the driver was interrupted too: it records nothing more
        return


def _drained(outbox: Any) -> list[tuple[int, list[dict]]]:
    messages = []
    while True:
        try:
            messages.append(outbox.get_nowait())
        except queue.Empty:
            return messages


@dataclass
class _Worker:
    process: Any
    inbox: Any
    group: deque = field(default_factory=deque)  # the rest of the group it is running
    running: Batch | None = None


class LocalWorkers(Executor):
    """N worker processes on this machine (see the module docstring)."""

    name = "workers"

    def __init__(self, count: int, threads: int | None = None) -> None:
        if count < 1:
            from gtnbench.errors import GtnbenchError

            raise GtnbenchError(f"--workers {count}: must be at least 1")
        self.count = count
        self.threads = threads  # torch threads in each worker (gtnbench.threads.choose_threads); None: torch's choice

    def run(self, job: Job, batches: list[Batch], started, admit: Admit | None = None) -> Iterator[list[dict]]:
        groups = deque(deque(group) for group in group_batches(job.config, batches))
        context = multiprocessing.get_context("spawn")
        outbox = context.Queue()
        workers: dict[int, _Worker] = {}
        admitting = [True]

        def spawn(number: int) -> _Worker:
            inbox = context.Queue()
            process = context.Process(
                target=_worker_main,
                args=(job, inbox, outbox, number, self.threads),
                name=f"gtnbench-worker-{number}",
                daemon=True,
            )
            process.start()
            workers[number] = _Worker(process, inbox)
            return workers[number]

        def feed(worker: _Worker) -> None:
            """Hand an idle worker the next batch of its group, else of the next group, if admitted."""
            if not worker.group and groups:
                worker.group = groups.popleft()
            if not worker.group or not admitting[0]:
                return
            if admit is not None and not admit(worker.group[0]):
                admitting[0] = False
                return
            worker.running = worker.group.popleft()
            started(worker.running)
            worker.inbox.put(worker.running)

        try:
            for number in range(min(self.count, len(groups))):
                feed(spawn(number))
            while any(w.running is not None for w in workers.values()):
                try:
                    messages = [outbox.get(timeout=POLL_SECONDS)]
                except queue.Empty:
                    messages = _drained(outbox)  # what a worker sent just before it died comes first
                for number, records in messages:
                    worker = workers[number]
                    worker.running = None
                    yield records
                    feed(worker)
                if not messages:
                    yield from self._replace_the_dead(job, workers, spawn, feed)
        finally:
            for worker in workers.values():
                if worker.process.is_alive():
                    worker.inbox.put(None)
            for worker in workers.values():
                worker.process.join(timeout=10)
                if worker.process.is_alive():
                    worker.process.terminate()

    @staticmethod
    def _replace_the_dead(job: Job, workers: dict[int, _Worker], spawn, feed) -> Iterator[list[dict]]:
        """A worker that died (killed, out of memory, a crash in native code) fails its batch; a fresh
        process takes the rest of its group."""
        for number, worker in list(workers.items()):
            if worker.running is not None and not worker.process.is_alive():
                code = worker.process.exitcode
                yield failed_records(
                    job, worker.running, f"worker process {number} died (exit code {code}) while running this trial"
                )
                rest = worker.group
                fresh = spawn(number)
                fresh.group = rest
                feed(fresh)
