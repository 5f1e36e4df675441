"""`gtnbench doctor`: what a user needs to trust a device before spending hours on it, in under a minute.

- environment: torch and CUDA versions, the device, the libraries `gtnbench run` imports;
- precision probe: a float32 convolution and matmul against float64 (IEEE gives about 1e-7
  relative, TF32 about 1e-3: a TF32 leak shows here whatever the flags say);
- the meta-gradient of a tiny GTN (checkpointed, with step losses) on the device in float32 against
  the CPU in float64, from the same parameters and batches;
- plain training of a tiny learner on the device against the CPU in float64;
- the sync audit: every hot loop (hotpaths.HOT_LOOPS) on the device, no op that waits for it;
- the throughput of one training step of the paper's MNIST learner (batch 128).

Every check reports what it measured and what was expected; a failure makes the command exit 1.
"""

from __future__ import annotations

import copy
import importlib.util
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from gtnbench.device import precision_policy, synchronize, tf32_active

RUN_NEEDS = ("pydantic", "rich", "numpy", "scipy", "torchvision", "pandas", "matplotlib")
# Largest relative errors against float64 that each policy accepts (doctor's tiny problems).
TOLERANCES = {
    "ieee": {"probe": 1e-5, "meta": 1e-3, "plain": 1e-4},
    "tf32": {"probe": 1e-2, "meta": 5e-2, "plain": 2e-2},
    "bf16": {"probe": 1e-5, "meta": 1e-3, "plain": 1e-1},  # bf16 autocasts plain passes; meta-gradients stay float32
}


@dataclass
class Check:
    name: str
    passed: bool
    measured: str
    expected: str


def relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    """max |value - reference| / max |reference|, on the CPU in float64."""
    value, reference = value.detach().double().cpu(), reference.detach().double().cpu()
    return float((value - reference).abs().max() / reference.abs().max().clamp_min(1e-30))


def _environment(device: str) -> Check:
    from gtnbench.environment import device_name, library_versions

    missing = [name for name in RUN_NEEDS if importlib.util.find_spec(name) is None]
    versions = library_versions()
    measured = f"{device_name(device)}; torch {versions['torch']}, CUDA {versions['cuda']}"
    if missing:
        measured += f"; missing: {', '.join(missing)}"
    return Check("environment", not missing, measured, f"the libraries `gtnbench run` imports ({', '.join(RUN_NEEDS)})")


def _probe(device: str, policy: str) -> Iterator[Check]:
    generator = torch.Generator().manual_seed(0)
    x, w = torch.randn(16, 64, 16, 16, generator=generator), torch.randn(64, 64, 3, 3, generator=generator)
    a, b = torch.randn(256, 512, generator=generator), torch.randn(512, 256, generator=generator)
    conv = torch.nn.functional.conv2d(x.to(device), w.to(device), padding=1)
    matmul = a.to(device) @ b.to(device)
    reference_conv = torch.nn.functional.conv2d(x.double(), w.double(), padding=1)
    limit = TOLERANCES[policy]["probe"]
    for name, value, reference in (("conv", conv, reference_conv), ("matmul", matmul, a.double() @ b.double())):
        error = relative_error(value, reference)
        yield Check(
            f"precision probe: float32 {name} vs float64",
            error <= limit,
            f"{error:.1e} relative",
            f"<= {limit:.0e} ({'TF32 allowed' if policy == 'tf32' else 'IEEE: about 1e-7; TF32 would be 1e-3'})",
        )


def _tiny_gtn_problem():
    from gtnbench.models.generator import GeneratorSpec
    from gtnbench.models.learners import LearnerSpec, build_learner
    from gtnbench.perf.hotpaths import MNIST, random_dataset
    from gtnbench.teachers.gtn import GTN, GTNSpec

    gtn = GTN(GTNSpec(4, 8, "full"), GeneratorSpec(MNIST, 10, 8, 16, (8, 4)), seed=0)
    learner = build_learner(LearnerSpec("mnist-paper", (4, 8, 16)), MNIST, 10, seed=0)
    data = random_dataset(MNIST, 32, "cpu")
    return gtn, learner, data.train.x, data.train.y


def _meta_gradient(gtn, learner, x, y) -> torch.Tensor:
    from gtnbench.train import backpropagate_through_training, initial_params, loss_on

    lesson = gtn.lesson(gtn.spec.inner_steps, torch.Generator(x.device).manual_seed(0))  # "full": nothing is drawn
    gtn.zero_grad(set_to_none=True)
    backpropagate_through_training(
        learner,
        initial_params(learner),
        lesson,
        lambda s: loss_on(learner, s, x[:16], y[:16]),
        block_size=2,
        step_loss=lambda t, s: loss_on(learner, s, x[16:], y[16:]),
        step_loss_every=2,
    )
    return torch.cat([p.grad.flatten() for p in gtn.parameters()])


def _meta(device: str, policy: str) -> Check:
    gtn, learner, x, y = _tiny_gtn_problem()
    on_device = _meta_gradient(
        copy.deepcopy(gtn).to(device), copy.deepcopy(learner).to(device), x.to(device), y.to(device)
    )
    with precision_policy("ieee"):
        reference = _meta_gradient(gtn.double(), learner.double(), x.double(), y)
    error = relative_error(on_device, reference)
    limit = TOLERANCES[policy]["meta"]
    return Check(
        "meta-gradient: float32 on the device vs CPU float64",
        error <= limit,
        f"{error:.1e} relative",
        f"<= {limit:.0e} (tiny GTN, T=4, checkpointed in blocks of 2, step losses)",
    )


def _plain(device: str, policy: str) -> Check:
    from gtnbench.models.learners import LearnerSpec, build_learner
    from gtnbench.perf.hotpaths import MNIST, fixed_lesson, random_dataset
    from gtnbench.train import initial_params, train

    learner = build_learner(LearnerSpec("mnist-paper", (4, 8, 16)), MNIST, 10, seed=0)
    data = random_dataset(MNIST, 32, "cpu")

    def trained(net, x, y) -> torch.Tensor:
        out = train(net, initial_params(net), fixed_lesson(x, y, 8))
        return torch.cat([p.flatten() for p in out.params.values()])

    on_device = trained(copy.deepcopy(learner).to(device), data.train.x.to(device), data.train.y.to(device))
    with precision_policy("ieee"):
        reference = trained(learner.double(), data.train.x.double(), data.train.y)
    error = relative_error(on_device, reference)
    limit = TOLERANCES[policy]["plain"]
    return Check(
        "plain training: the device vs CPU float64",
        error <= limit,
        f"{error:.1e} relative",
        f"<= {limit:.0e} (8 steps of a tiny MNIST learner)",
    )


def _sync_audit(device: str) -> Check:
    from gtnbench.perf.audit import audit
    from gtnbench.perf.hotpaths import HOT_LOOPS, Sizes

    sizes = Sizes(learner=(2, 4, 8), batch=8, noise=4, hidden=8, channels=(4, 2), cell=(2, 1))
    found, most = [], 0.0
    for name, make in HOT_LOOPS.items():
        workload = make(device, 2, sizes)
        workload.call()
        result = audit(name, workload.call, workload.steps)
        most = max(most, result.launches_per_step)
        found += [f"{name}: {event}" for event in result.syncs]
    return Check(
        "sync audit: hot loops wait for the device",
        not found,
        "; ".join(found[:3]) if found else f"none (at most {most:.0f} ops per step)",
        f"no host sync in {len(HOT_LOOPS)} hot loops (gtnbench bench ops: per loop)",
    )


def _throughput(device: str) -> Check:
    from gtnbench.models.learners import LearnerSpec, build_learner
    from gtnbench.perf.hotpaths import MNIST, fixed_lesson
    from gtnbench.train import initial_params, train

    learner = build_learner(LearnerSpec("mnist-paper"), MNIST, 10, seed=0, device=device)
    generator = torch.Generator(device).manual_seed(0)
    x = torch.randn((128, *MNIST), generator=generator, device=device)
    y = torch.randint(0, 10, (128,), generator=generator, device=device)
    lesson = fixed_lesson(x, y, 3)
    train(learner, initial_params(learner), lesson)  # warm-up
    synchronize(device)
    start = time.perf_counter()
    train(learner, initial_params(learner), lesson)
    synchronize(device)
    per_step = (time.perf_counter() - start) / 3
    return Check(
        "throughput: one MNIST learner step (paper widths, batch 128)",
        True,
        f"{per_step * 1000:.1f} ms",
        "H100 goal: 32 steps on a GTN in 20 ms",
    )


def run_checks(device: str, policy: str = "ieee") -> Iterator[Check]:
    """Every check, in order; an exception in one is that check's failure, and the others still run."""
    steps: list[tuple[str, Callable[[], Check | Iterator[Check]]]] = [
        ("environment", lambda: _environment(device)),
        ("precision probe", lambda: _probe(device, policy)),
        ("meta-gradient", lambda: _meta(device, policy)),
        ("plain training", lambda: _plain(device, policy)),
        ("sync audit", lambda: _sync_audit(device)),
        ("throughput", lambda: _throughput(device)),
    ]
    with precision_policy(policy) as settings:
        yield Check(
            "precision settings (read back)",
            policy == "tf32" or not tf32_active(settings),
            f"policy {settings['policy']}, cudnn.conv {settings.get('fp32_precision.cudnn.conv')}, "
            f"cuda.matmul {settings.get('fp32_precision.cuda.matmul')}, "
            f"NVIDIA_TF32_OVERRIDE={settings['NVIDIA_TF32_OVERRIDE']}",
            "no TF32 switch on unless --precision tf32",
        )
        for name, step in steps:
            try:
                result = step()
                yield from ([result] if isinstance(result, Check) else result)
            except Exception as error:  # a check that crashes is a failed check, with its reason
                yield Check(name, False, f"{type(error).__name__}: {str(error).splitlines()[0][:200]}", "no error")
