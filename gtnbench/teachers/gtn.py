"""A Generative Teaching Network as a teacher: generator, curriculum and learned step sizes.

Curricula (the paper's ablation):
- full: a learned noise tensor [T, batch, noise]; inner step t uses slice t, in order;
- shuffled-batch: one of the T learned batches at every step, drawn at random;
- all-shuffled: a batch of the T x batch learned vectors (with their labels), each drawn at random;
- none: fresh noise z ~ N(0, I) at every step.
The shuffled curricula draw with replacement at every step, as the official code does
(`sampling = "with-replacement"`); `"permutation"` instead uses every learned batch (or vector)
once per T steps. Labels of learned batches are fixed and balanced (row i of every batch has
label i mod num_classes); the `none` curriculum draws its labels at random at every step, as the
official code does (`none_labels = "random"`), or keeps them balanced. The learned batches' labels
rotate across steps as the official code's `arange(T * batch) % classes` does (`labels = "rotating"`:
row i of step t has label (t * batch + i) mod classes, so the lesson as a whole is balanced even when
the batch is not a multiple of the classes); `"fixed"` gives every step the labels i mod classes. Past T steps the
curriculum and the step sizes repeat cyclically. All draws happen when the lesson is made, so
`lesson.batch(t)` is pure (checkpointed recomputation sees the same batches).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.func import vmap

from gtnbench.models.generator import Generator, GeneratorSpec
from gtnbench.teachers.base import Lesson, Teacher

CURRICULA = ("full", "shuffled-batch", "all-shuffled", "none")
# Images one generator call makes at most, by device type (default: one step's batch). On CUDA, fewer and
# larger calls save kernel launches (53 for a whole lesson instead of 33 per step); on a CPU, compute-bound,
# larger calls were slower (the paper's generator: 4 steps of 128 images in one call took 1.6x the time of
# 4 calls), so a CPU generates one step per call.
GENERATED_PER_CALL = {"cuda": 4096}
SAMPLINGS = ("with-replacement", "permutation")
NONE_LABELS = ("random", "balanced")
LABELS = ("rotating", "fixed")


@dataclass(frozen=True)
class GTNSpec:
    inner_steps: int = 32
    batch_size: int = 128
    curriculum: str = "full"
    init_lr: float = 0.02
    init_momentum: float = 0.5
    sampling: str = "with-replacement"  # how the shuffled curricula draw (official: with replacement)
    none_labels: str = "random"  # labels of the `none` curriculum (official: random at every step)
    labels: str = "rotating"  # learned batches' labels across steps (official: rotating)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GeneratedLesson(Lesson):
    """A GTN's lesson, which can also generate the batches of several steps in one call (train.py asks
    for them): `batches(start, stop)` runs the generator once over steps start..stop-1 (in chunks of
    at most GENERATED_PER_CALL images), vmapped over the steps, so that its batch norm normalises each
    step's batch with that batch's own statistics, exactly as `batch(t)` does one step at a time."""

    generate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    noise: torch.Tensor | None = None  # [steps, batch, noise_dim]
    labels: torch.Tensor | None = None  # [steps, batch]

    def batches(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Images [stop - start, batch, C, H, W] and labels [stop - start, batch] of those steps."""
        batch = self.labels.shape[1]
        per_call = max(1, GENERATED_PER_CALL.get(self.labels.device.type, batch) // batch)
        images = [
            vmap(self.generate)(
                self.noise[first : min(first + per_call, stop)], self.labels[first : min(first + per_call, stop)]
            )
            for first in range(start, stop, per_call)
        ]
        return (images[0] if len(images) == 1 else torch.cat(images)), self.labels[start:stop]


class GTN(Teacher, nn.Module):
    def __init__(self, spec: GTNSpec, generator_spec: GeneratorSpec, seed: int = 0, device=None) -> None:
        nn.Module.__init__(self)
        for value, known, what in (
            (spec.curriculum, CURRICULA, "curriculum"),
            (spec.sampling, SAMPLINGS, "sampling"),
            (spec.none_labels, NONE_LABELS, "none_labels"),
            (spec.labels, LABELS, "labels"),
        ):
            if value not in known:
                raise ValueError(f"unknown {what} {value!r}; known: {', '.join(known)}")
        self.spec, self.generator_spec = spec, generator_spec
        init = torch.Generator(device=device).manual_seed(seed)
        self.generator = Generator(generator_spec, init, device)
        steps, batch = spec.inner_steps, spec.batch_size
        if spec.curriculum != "none":
            noise = torch.randn(steps, batch, generator_spec.noise_dim, generator=init, device=device)
            self.noise = nn.Parameter(noise)
        self.log_lr = nn.Parameter(torch.full((steps,), math.log(spec.init_lr), device=device))
        self.log_momentum = nn.Parameter(torch.full((steps,), math.log(spec.init_momentum), device=device))
        first = steps * batch if spec.labels == "rotating" else batch
        labels = (torch.arange(first, device=device) % generator_spec.num_classes).view(-1, batch)
        self.register_buffer("labels", labels.expand(steps, batch).clone())

    def _noise_and_labels(self, steps: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise [steps, batch, dim] and labels [steps, batch] for one lesson, drawn up front so that
        recomputation (gradient checkpointing) sees the same batches."""
        T, batch, dim = self.spec.inner_steps, self.spec.batch_size, self.generator_spec.noise_dim
        device = self.log_lr.device
        cycle = torch.arange(steps, device=device) % T
        curriculum, replace = self.spec.curriculum, self.spec.sampling == "with-replacement"
        if curriculum == "none":
            noise = torch.randn(steps, batch, dim, generator=rng, device=device)
            if self.spec.none_labels == "balanced":
                return noise, self.labels[cycle]
            classes = self.generator_spec.num_classes
            return noise, torch.randint(0, classes, (steps, batch), generator=rng, device=device)
        if curriculum == "full":
            return self.noise[cycle], self.labels[cycle]
        if curriculum == "shuffled-batch":
            if replace:
                order = torch.randint(0, T, (steps,), generator=rng, device=device)
            else:
                order = torch.randperm(T, generator=rng, device=device)[cycle]
            return self.noise[order], self.labels[order]
        if replace:
            rows = torch.randint(0, T * batch, (steps, batch), generator=rng, device=device)
        else:
            order = torch.randperm(T * batch, generator=rng, device=device)
            rows = order[(torch.arange(steps * batch, device=device) % (T * batch))].view(steps, batch)
        return self.noise.reshape(T * batch, dim)[rows], self.labels.reshape(-1)[rows]

    def lesson(self, steps: int, generator: torch.Generator) -> GeneratedLesson:
        noise, labels = self._noise_and_labels(steps, generator)
        cycle = torch.arange(steps, device=noise.device) % self.spec.inner_steps

        def batch(t: int) -> tuple[torch.Tensor, torch.Tensor]:
            return self.generator(noise[t], labels[t]), labels[t]

        return GeneratedLesson(
            steps, batch, self.log_lr.exp()[cycle], self.log_momentum.exp()[cycle], self.generator, noise, labels
        )

    @torch.no_grad()
    def samples(self, steps: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images [steps, batch, C, H, W] and labels of the curriculum in order (seeded for `none`)."""
        lesson = self.lesson(steps or self.spec.inner_steps, torch.Generator(self.log_lr.device).manual_seed(0))
        return lesson.batches(0, lesson.steps)
