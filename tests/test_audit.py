"""The hot loops never wait for the device and create nothing on the default device (CPU proofs)."""

import pytest
import torch

from gtnbench.perf import hotpaths
from gtnbench.perf.audit import OpAudit, audit
from gtnbench.perf.hotpaths import TINY, Sizes
from gtnbench.teachers.schedules import SCHEDULES, learning_rates

SMALL = Sizes(learner=(2, 4, 8), batch=8, noise=4, hidden=8, channels=(4, 2), cell=(2, 1))


def test_the_audit_sees_what_would_wait_for_a_gpu():
    x = torch.randn(8)
    with OpAudit() as recorder:
        y = (x.view(2, 4) * 2).sum()
        float(y)
        bool(y > 0)
        x[x > 0]
        x.nonzero()
        x.tolist()
    ops = [event.op for event in recorder.device_syncs()]
    assert ops.count("aten._local_scalar_dense") == 2
    assert {"aten.index", "aten.nonzero", "Tensor.tolist"} <= set(ops)
    assert all("test_audit.py" in event.site for event in recorder.device_syncs())
    assert recorder.launches < recorder.ops  # views launch nothing: counted apart
    assert torch.Tensor.tolist is not None and "watched" not in torch.Tensor.tolist.__name__  # restored


def test_host_tensors_by_construction_are_not_counted_as_syncs():
    workload = hotpaths.outer_iteration("cpu", 2, SMALL)
    result = audit(workload.name, workload.call, workload.steps)
    assert result.syncs == [] and result.host_reads > 0  # Adam's step counters, on the CPU by construction


@pytest.mark.parametrize("name", hotpaths.HOT_LOOPS)
def test_every_hot_loop_is_free_of_host_syncs(name):
    """Plain inner loop (real data, GTN lessons of two curricula), differentiable outer iterations with
    and without checkpointing and step losses, after a resume, and NAS proxy training: zero per step."""
    workload = hotpaths.HOT_LOOPS[name]("cpu", 3, SMALL)
    result = audit(workload.name, workload.call, workload.steps)
    assert result.syncs == [], f"{workload.name}: {[str(e) for e in result.syncs]}"
    assert result.launches_per_step > 10


def test_a_resumed_meta_training_keeps_adams_step_counters_on_the_host():
    workload = hotpaths.outer_iteration("cpu", 2, SMALL, resumed=True)
    workload.call()
    steps = [state["step"] for state in workload.subject.optimizer.state.values()]
    assert steps and all(step.device.type == "cpu" and step.dim() == 0 for step in steps)


def test_op_counts_per_step_do_not_depend_on_the_widths():
    counts = []
    for sizes in (SMALL, TINY):
        workload = hotpaths.plain_learner("cpu", 2, sizes)
        counts.append(audit(workload.name, workload.call, workload.steps).launches)
    assert counts[0] == counts[1]


def test_hot_paths_create_nothing_on_the_default_device():
    """Under torch.set_default_device("meta") every hot path, and what prepares it (data, learners,
    lessons, a meta-trainer resumed from a checkpoint), still runs on the CPU: a tensor created without
    device= would land on meta (and fail, or be recorded here). Training-free proxies too."""
    torch.set_default_device("meta")
    try:
        with OpAudit(watch_device="meta") as recorder:
            for workload in [*hotpaths.hot_loops("cpu", 2, SMALL), hotpaths.training_free("cpu", SMALL)]:
                workload.call()
    finally:
        torch.set_default_device(None)
    assert recorder.created() == []


@pytest.mark.parametrize("kind", SCHEDULES)
def test_a_lessons_learning_rates_are_made_on_its_device_with_no_host_copy(kind):
    """A host tensor moved to the GPU per lesson would be a blocking copy from pageable memory: with the
    device standing in as "meta", nothing may be created on the CPU."""
    with OpAudit(watch_device="cpu") as recorder:
        lrs = learning_rates(kind, 0.1, 8, "meta")
    assert lrs.device.type == "meta" and lrs.dtype == torch.float32 and recorder.created() == []


def test_a_cell_with_pooling_edges_trains_without_host_syncs():
    """The hot-loop cell has no pooling edge; arch 18 has two (and both convolutions and a skip)."""
    workload = hotpaths.nb201_proxy("cpu", 3, SMALL, arch=18)
    workload.call()
    assert audit(workload.name, workload.call, workload.steps).syncs == []
