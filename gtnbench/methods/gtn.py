"""The GTN method: meta-train a teacher (or load a trained one), then score fresh learners trained on it."""

from __future__ import annotations

import itertools
import statistics
from dataclasses import replace
from pathlib import Path

import torch

from gtnbench.meta import (
    Evaluation,
    MetaConfig,
    MetaTrainer,
    evaluate_teacher,
    load_gtn,
    peak_memory_mb,
    teacher_curve,
)
from gtnbench.methods.base import TrialContext, TrialResult, learner_spec
from gtnbench.methods.real import tuned_training
from gtnbench.models.generator import GeneratorSpec
from gtnbench.models.learners import LearnerSpec
from gtnbench.seeds import role_seed
from gtnbench.suite.methods import GTNMethod, TransferLearner
from gtnbench.suite.trials import Trial
from gtnbench.teachers.gtn import GTN, GTNSpec
from gtnbench.teachers.pictures import save_sample_grid


def specs(trial: Trial, method: GTNMethod, ctx: TrialContext) -> tuple[GTNSpec, GeneratorSpec, MetaConfig, LearnerSpec]:
    variant = dict(trial.variant)
    curriculum = variant.get("curriculum", method.curriculum[0])
    weight_norm = variant.get("weight_norm", method.weight_norm[0])
    dataset = ctx.dataset
    gtn = GTNSpec(
        method.inner_steps,
        method.batch_size,
        curriculum,
        method.init_lr,
        method.init_momentum,
        method.sampling,
        method.none_labels,
        method.labels,
    )
    generator = GeneratorSpec(
        dataset.image_shape,
        dataset.num_classes,
        method.generator.noise_dim,
        method.generator.hidden,
        tuple(method.generator.channels),
        weight_norm,
    )
    meta = MetaConfig(
        outer_iterations=method.outer_iterations,
        outer_lr=method.outer_lr,
        adam_betas=tuple(method.adam_betas),
        final_lr_fraction=method.final_lr_fraction,
        meta_batch_size=method.meta_batch_size,
        step_loss_every=method.step_loss_every,
        block_size=method.block_size,
        augment=method.augment,
        grad_clip=method.grad_clip,
        validate_every=method.validate_every,
        checkpoint_every=method.checkpoint_every,
        collapse_fraction=method.collapse_fraction,
        validation_learners=method.validation_learners,
    )
    base = learner_spec(method.learner) if method.learner else ctx.learner_spec
    learner = replace(base, weight_norm=weight_norm, randomize_widths=method.randomize_widths)
    return gtn, generator, meta, learner


def _accuracies(evaluation: Evaluation) -> dict[str, float]:
    return {"val_acc": evaluation.val_acc, "test_acc": evaluation.test_acc}


def _transfer(gtn: GTN, target: TransferLearner, method: GTNMethod, ctx: TrialContext, seeds: list[int]) -> dict:
    """A learner unlike the meta-training one: accuracy after T steps on the GTN vs on tuned real data."""
    spec = LearnerSpec(
        target.name,
        tuple(target.widths) if target.widths else None,
        gtn.generator_spec.weight_norm,
        arch=target.arch,
        bn_eval=target.bn_eval,
    )
    on_gtn = evaluate_teacher(gtn, spec, ctx.dataset, seeds, ctx.device)
    grid = list(itertools.product(method.transfer_baseline_lr, method.transfer_baseline_momentum, ["linear"]))
    on_real = [
        tuned_training(spec, ctx.dataset, gtn.spec.inner_steps, gtn.spec.batch_size, grid, seed, ctx.device)
        for seed in seeds
    ]
    return {
        "learner": target.name,
        "widths": target.widths,
        "gtn_test_acc": on_gtn.test_acc,
        "real_test_acc": statistics.fmean(r.test_acc for r in on_real),
        "real_chosen": [r.chosen for r in on_real],
    }


def run_gtn(trial: Trial, method: GTNMethod, ctx: TrialContext) -> TrialResult:
    gtn_spec, generator_spec, meta_config, meta_learner = specs(trial, method, ctx)
    dataset, device = ctx.dataset, ctx.device
    eval_spec = replace(meta_learner, randomize_widths=False)
    eval_seeds = [role_seed("evaluation", trial.seed, i) for i in range(method.eval_learners)]
    details: dict = {
        "inner_steps": gtn_spec.inner_steps,
        "curriculum": gtn_spec.curriculum,
        "sampling": gtn_spec.sampling,
        "none_labels": gtn_spec.none_labels,
        "labels": gtn_spec.labels,
        "weight_norm": generator_spec.weight_norm,
        "eval_learners": method.eval_learners,
        "bn_eval": eval_spec.protocol(),
    }
    metrics: dict[str, float] = {}
    artifacts = ctx.artifact_dir()
    in_run = artifacts.relative_to(ctx.run_dir)  # paths in records are relative to the run directory

    if method.checkpoint:
        gtn, config = load_gtn(Path(method.checkpoint), device)
        details.update(checkpoint=method.checkpoint, meta_trained_by=config)
    else:
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats(device)
        checkpoint = artifacts / "gtn.pt"
        trainer = MetaTrainer(
            gtn_spec, generator_spec, meta_config, meta_learner, dataset, trial.seed, device, checkpoint
        )
        state = trainer.run()
        gtn = trainer.gtn
        iterations = meta_config.outer_iterations
        # meta_seconds: all of meta-training, validation included (the one-off cost a search pays);
        # outer_iteration_seconds: the outer loop's own time per iteration
        metrics.update(
            meta_seconds=state.seconds + state.validation_seconds,
            validation_seconds=state.validation_seconds,
            outer_iteration_seconds=state.seconds / iterations,
            peak_memory_mb=peak_memory_mb(device),
            final_meta_loss=state.losses[-1],
        )
        details.update(
            checkpoint=str(in_run / checkpoint.name),
            meta=meta_config.to_dict(),
            generator=generator_spec.to_dict(),
            meta_loss="final"
            if not meta_config.step_loss_every
            else f"sum of the final loss and the losses after steps {meta_config.step_loss_every}, "
            f"{2 * meta_config.step_loss_every}, ... below {gtn_spec.inner_steps}, each on a fresh real batch",
            peak_memory="CUDA max allocated" if device.startswith("cuda") else "process peak RSS",
            validation=state.history,
            meta_losses=state.losses,
            resumed_at=state.resumed_at,
        )

    final = evaluate_teacher(gtn, eval_spec, dataset, eval_seeds, device)
    untrained = evaluate_teacher(
        GTN(gtn.spec, gtn.generator_spec, trial.seed, device), eval_spec, dataset, eval_seeds, device
    )
    metrics.update(
        _accuracies(final),
        learner_train_seconds=statistics.median(final.seconds),
        untrained_test_acc=untrained.test_acc,
        gain_over_untrained=final.test_acc - untrained.test_acc,
    )
    for protocol in method.evaluate_under:  # the same learners (seeds, batches) under another batch-norm protocol
        under = (
            final
            if protocol == eval_spec.protocol()
            else evaluate_teacher(gtn, replace(eval_spec, bn_eval=protocol), dataset, eval_seeds, device)
        )
        metrics[f"test_acc_bn_{protocol.replace('-', '_')}"] = under.test_acc
    details["curve"] = teacher_curve(gtn, eval_spec, dataset, eval_seeds[0], device)
    details["transfer"] = [_transfer(gtn, t, method, ctx, eval_seeds) for t in method.transfer]
    save_sample_grid(gtn, artifacts / "samples.png", f"{trial.id} ({dataset.label})")
    details["samples"] = str(in_run / "samples.png")
    return TrialResult(metrics, details)
