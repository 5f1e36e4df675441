"""GTN: curricula, the exact meta-gradient, meta-training, checkpoints and the divergence guard."""

import pytest
import torch

from gtnbench.data.datasets import ImageDataset, Split
from gtnbench.errors import TrialFailed
from gtnbench.meta import MetaConfig, MetaTrainer, evaluate_teacher, load_gtn
from gtnbench.models.generator import GeneratorSpec
from gtnbench.models.learners import LearnerSpec
from gtnbench.teachers.gtn import CURRICULA, GTN, GTNSpec
from gtnbench.teachers.pictures import save_sample_grid

TINY_GENERATOR = GeneratorSpec(image_shape=(1, 8, 8), num_classes=3, noise_dim=4, hidden=8, channels=(4, 2))
TINY_LEARNER = LearnerSpec("mnist-paper", (3, 6))


def tiny_dataset(n=48, seed=0, dtype=torch.float32) -> ImageDataset:
    """Three classes of 8x8 images: a bright row at a class-dependent height, plus noise."""
    g = torch.Generator().manual_seed(seed)

    def split(count):
        y = torch.arange(count) % 3
        x = 0.3 * torch.randn(count, 1, 8, 8, generator=g)
        x[torch.arange(count), 0, 1 + 3 * y] += 2.0
        return Split(x.to(dtype), y)

    return ImageDataset("mnist", split(n), split(24), split(24), 3, 0)


def trainer(
    config=MetaConfig(outer_iterations=4, validate_every=2, checkpoint_every=2, meta_batch_size=12),
    gtn=GTNSpec(inner_steps=4, batch_size=6),
    dataset=None,
    path=None,
    learner=TINY_LEARNER,
) -> MetaTrainer:
    return MetaTrainer(gtn, TINY_GENERATOR, config, learner, dataset or tiny_dataset(), 0, "cpu", path)


@pytest.mark.parametrize("sampling", ["with-replacement", "permutation"])
@pytest.mark.parametrize("curriculum", ["full", "shuffled-batch", "all-shuffled", "none"])
def test_curricula_hand_out_their_batches(curriculum, sampling):
    spec = GTNSpec(inner_steps=3, batch_size=6, curriculum=curriculum, sampling=sampling, none_labels="balanced")
    gtn = GTN(spec, TINY_GENERATOR, seed=0)
    noise, labels = gtn._noise_and_labels(5, torch.Generator().manual_seed(1))
    assert noise.shape == (5, 6, 4) and labels.shape == (5, 6)
    if curriculum != "all-shuffled":  # whole batches keep their balanced labels
        assert all(sorted(row.tolist()) == [0, 0, 1, 1, 2, 2] for row in labels)
    if curriculum == "full":  # slice t at step t, cyclically past T
        assert torch.equal(noise[1], gtn.noise[1]) and torch.equal(noise[4], gtn.noise[1])
    if curriculum == "shuffled-batch":  # each step one of the learned batches
        matches = [next(i for i in range(3) if torch.equal(noise[t], gtn.noise[i])) for t in range(5)]
        if sampling == "permutation":
            assert sorted(matches[:3]) == [0, 1, 2]
    if curriculum == "all-shuffled":  # learned vectors with their own labels
        flat = gtn.noise.reshape(18, 4)
        rows = [next(i for i in range(18) if torch.equal(v, flat[i])) for v in noise[:3].reshape(18, 4)]
        if sampling == "permutation":  # every learned vector once per cycle
            assert sorted(rows) == list(range(18))
        assert [int(gtn.labels.reshape(-1)[r]) for r in rows] == labels[:3].reshape(-1).tolist()
    if curriculum == "none":
        again, _ = gtn._noise_and_labels(5, torch.Generator().manual_seed(2))
        assert not torch.equal(noise, again)


def test_the_official_shuffled_curricula_draw_with_replacement_and_none_draws_random_labels():
    """Over many lessons some learned batches repeat within a lesson and some are left out (official)."""
    shuffled = GTN(GTNSpec(inner_steps=8, batch_size=6, curriculum="shuffled-batch"), TINY_GENERATOR, seed=0)
    rng = torch.Generator().manual_seed(0)
    repeats = 0
    for _ in range(20):
        noise, _ = shuffled._noise_and_labels(8, rng)
        used = {next(i for i in range(8) if torch.equal(noise[t], shuffled.noise[i])) for t in range(8)}
        repeats += len(used) < 8
    assert repeats > 15  # without replacement there would be none
    none = GTN(GTNSpec(inner_steps=4, batch_size=30, curriculum="none"), TINY_GENERATOR, seed=0)
    _, labels = none._noise_and_labels(4, rng)
    assert any(sorted(row.tolist()) != sorted((torch.arange(30) % 3).tolist()) for row in labels)


def test_lesson_step_sizes_start_at_the_paper_values():
    gtn = GTN(GTNSpec(inner_steps=4, batch_size=6), TINY_GENERATOR)
    lesson = gtn.lesson(4, torch.Generator().manual_seed(0))
    assert torch.allclose(lesson.lrs, torch.full((4,), 0.02)) and torch.allclose(lesson.momenta, torch.full((4,), 0.5))
    x, y = lesson.batch(0)
    assert x.shape == (6, 1, 8, 8) and x.abs().max() <= 2.0


@pytest.mark.parametrize("bn_eval", ["last-batch", "batch"])
@pytest.mark.parametrize("block_size, step_loss_every", [(0, 0), (2, 0), (3, 2)])
def test_meta_gradient_matches_central_finite_differences(block_size, step_loss_every, bn_eval):
    """Exact second order through all inner steps, with and without checkpointing, in float64, under the
    official batch-norm protocol (the meta-loss sees the last synthetic batch's mean) and the transductive one."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        config = MetaConfig(
            outer_iterations=1, meta_batch_size=12, block_size=block_size, step_loss_every=step_loss_every
        )
        learner = LearnerSpec("mnist-paper", (3, 6), bn_eval=bn_eval)
        meta = trainer(config, dataset=tiny_dataset(dtype=torch.float64), learner=learner)
        start = meta.rng.get_state()

        def loss() -> torch.Tensor:
            meta.rng.set_state(start)
            meta.optimizer.zero_grad(set_to_none=True)
            return meta.meta_gradient(0)

        loss()
        analytic = [p.grad.clone() for p in meta.gtn.parameters()]
        named = dict(meta.gtn.named_parameters())
        names = list(named)
        probes = [
            ("generator.fc1.parametrizations.weight.original1", (0, 1)),
            ("generator.conv2.bias", (0,)),
            ("noise", (1, 2, 3)),
            ("log_lr", (2,)),
            ("log_momentum", (1,)),
            ("generator.bn1.weight", (3,)),
        ]
        eps = 1e-6
        for name, index in probes:
            param = named[name]

            def shifted(delta: float) -> float:
                with torch.no_grad():
                    param[index] += delta
                value = loss().item()
                with torch.no_grad():
                    param[index] -= delta
                return value

            numeric = (shifted(eps) - shifted(-eps)) / (2 * eps)
            exact = analytic[names.index(name)][index].item()
            assert exact == pytest.approx(numeric, rel=1e-5, abs=1e-9), name
    finally:
        torch.set_default_dtype(previous)


def test_meta_training_beats_the_untrained_generator():
    config = MetaConfig(outer_iterations=30, outer_lr=0.05, validate_every=10, checkpoint_every=100, meta_batch_size=24)
    meta = trainer(config, gtn=GTNSpec(inner_steps=4, batch_size=6, init_lr=0.1))
    state = meta.run()
    untrained = GTN(meta.gtn_spec, TINY_GENERATOR, 0)
    seeds = [11, 12, 13]
    before = evaluate_teacher(untrained, TINY_LEARNER, meta.dataset, seeds, "cpu").val_acc
    after = evaluate_teacher(meta.gtn, TINY_LEARNER, meta.dataset, seeds, "cpu").val_acc
    assert after > before + 0.25
    assert [h["iteration"] for h in state.history] == [0, 10, 20, 30] and len(state.losses) == 30


def test_resuming_from_a_checkpoint_continues_bit_for_bit(tmp_path):
    config = MetaConfig(outer_iterations=6, validate_every=3, checkpoint_every=3, meta_batch_size=12)
    straight = trainer(config, path=tmp_path / "a.pt")
    straight.run()

    interrupted = trainer(config, path=tmp_path / "b.pt")
    original = interrupted.meta_gradient

    def crash_at_four(iteration):
        if iteration == 4:
            raise KeyboardInterrupt
        return original(iteration)

    interrupted.meta_gradient = crash_at_four
    with pytest.raises(KeyboardInterrupt):
        interrupted.run()
    resumed = trainer(config, path=tmp_path / "b.pt")
    state = resumed.run()
    assert state.resumed_at == [3]
    assert state.losses == straight.state.losses and state.history == straight.state.history
    for key, value in straight.gtn.state_dict().items():
        assert torch.equal(value, resumed.gtn.state_dict()[key]), key


def test_a_checkpoint_is_a_teacher(tmp_path):
    meta = trainer(path=tmp_path / "gtn.pt")
    meta.run()
    gtn, config = load_gtn(tmp_path / "gtn.pt")
    assert config["gtn"]["curriculum"] == "full" and config["dataset"] == "mnist"
    assert torch.equal(gtn.samples()[0], meta.gtn.samples()[0])


@pytest.mark.parametrize("curriculum", CURRICULA)
def test_sample_grids_draw_every_curriculum_even_when_a_batch_lacks_a_class(curriculum, tmp_path):
    gtn = GTN(GTNSpec(inner_steps=3, batch_size=2, curriculum=curriculum), TINY_GENERATOR, 0)  # 2 images, 3 classes
    path = save_sample_grid(gtn, tmp_path / "samples.png", "test")
    assert path.stat().st_size > 0


def test_checkpoint_of_another_configuration_is_refused(tmp_path):
    trainer(path=tmp_path / "gtn.pt").run()
    other = trainer(MetaConfig(outer_iterations=5, meta_batch_size=12), path=tmp_path / "gtn.pt")
    with pytest.raises(Exception, match="another configuration"):
        other.run()


def test_divergence_ends_the_trial_with_its_reason():
    meta = trainer(gtn=GTNSpec(inner_steps=4, batch_size=6, init_lr=1e6))
    with pytest.raises(TrialFailed, match="diverged: meta-loss nan at outer iteration 1"):
        meta.run()


def test_accuracy_collapse_ends_the_trial():
    meta = trainer(MetaConfig(outer_iterations=4, validate_every=2, meta_batch_size=12, collapse_fraction=0.99))
    meta.state.best_val = 1.0  # as if it had been perfect before
    with pytest.raises(TrialFailed, match="accuracy collapse"):
        meta.run()
