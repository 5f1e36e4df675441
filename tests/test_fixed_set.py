"""The fixed-set teacher, the image-set artifact and its picture."""

import pytest
import torch

from gtnbench.data.image_set import ImageSet, load_image_set, save_image_set
from gtnbench.errors import DataError
from gtnbench.teachers.fixed_set import FixedSetTeacher
from gtnbench.teachers.pictures import save_set_grid
from gtnbench.teachers.schedules import learning_rates


def tiny_set(count=12, classes=3, seed=0) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % classes
    return ImageSet(
        torch.randn(count, 1, 8, 8, generator=g),
        labels,
        "subset",
        "mnist",
        seed,
        {"counts": [count // classes] * classes},
        torch.arange(count) * 2,
    )


def rows_of(images: torch.Tensor, batch: torch.Tensor) -> list[int]:
    """Which rows of `images` the images of `batch` are."""
    return [next(i for i in range(len(images)) if torch.equal(images[i], x)) for x in batch]


@pytest.mark.parametrize("augment", [False, True])
def test_lesson_batches_are_pure(augment):
    image_set = tiny_set()
    teacher = FixedSetTeacher.from_set(image_set, batch_size=4, lr=0.1, momentum=0.5, augment=augment)
    lesson = teacher.lesson(7, torch.Generator().manual_seed(3))
    for t in range(7):
        (x1, y1), (x2, y2) = lesson.batch(t), lesson.batch(t)
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    if augment:  # same order as without augmentation (drawn first), but cropped and flipped images
        plain = FixedSetTeacher.from_set(image_set, 4, 0.1, 0.5).lesson(7, torch.Generator().manual_seed(3))
        assert all(torch.equal(lesson.batch(t)[1], plain.batch(t)[1]) for t in range(7))
        assert not all(torch.equal(lesson.batch(t)[0], plain.batch(t)[0]) for t in range(7))


def test_each_epoch_hands_out_every_image_once_in_a_fresh_order():
    image_set = tiny_set()
    lesson = FixedSetTeacher.from_set(image_set, 4, 0.1, 0.5).lesson(6, torch.Generator().manual_seed(0))
    epochs = []
    for first in (0, 3):
        rows = [r for t in range(first, first + 3) for r in rows_of(image_set.images, lesson.batch(t)[0])]
        assert sorted(rows) == list(range(12))
        epochs.append(rows)
        labels = torch.cat([lesson.batch(t)[1] for t in range(first, first + 3)])
        assert torch.equal(labels, image_set.labels[rows])
    assert epochs[0] != epochs[1]


def test_a_set_smaller_than_the_batch_is_handed_out_whole_every_step():
    image_set = tiny_set(count=6)
    teacher = FixedSetTeacher.from_set(image_set, batch_size=128, lr=0.1, momentum=0.0)
    assert teacher.effective_batch_size == 6
    lesson = teacher.lesson(3, torch.Generator().manual_seed(0))
    for t in range(3):
        x, y = lesson.batch(t)
        assert x.shape == (6, 1, 8, 8) and sorted(rows_of(image_set.images, x)) == list(range(6))


@pytest.mark.parametrize("schedule", ["constant", "linear", "cosine"])
def test_lesson_step_sizes_follow_the_schedule(schedule):
    lesson = FixedSetTeacher.from_set(tiny_set(), 4, 0.3, 0.9, schedule).lesson(5, torch.Generator().manual_seed(0))
    assert torch.equal(lesson.lrs, learning_rates(schedule, 0.3, 5))
    assert torch.equal(lesson.momenta, torch.full((5,), 0.9))


def test_augmentation_is_drawn_from_the_lesson_generator():
    teacher = FixedSetTeacher.from_set(tiny_set(), 4, 0.1, 0.5, augment=True)
    first = teacher.lesson(2, torch.Generator().manual_seed(1)).batch(0)[0]
    again = teacher.lesson(2, torch.Generator().manual_seed(1)).batch(0)[0]
    other = teacher.lesson(2, torch.Generator().manual_seed(2)).batch(0)[0]
    assert torch.equal(first, again) and not torch.equal(first, other)


@pytest.mark.parametrize("with_indices", [True, False])
def test_image_set_round_trip(tmp_path, with_indices):
    image_set = tiny_set()
    if not with_indices:
        image_set.indices = None
    image_set.provenance = {"config": {"iterations": 3, "dsa": ["crop"]}, "losses": [1.5, 0.5], "init_indices": None}
    loaded = load_image_set(save_image_set(image_set, tmp_path / "sets" / "set.pt"))
    assert torch.equal(loaded.images, image_set.images) and torch.equal(loaded.labels, image_set.labels)
    assert (loaded.method, loaded.dataset, loaded.seed) == ("subset", "mnist", 0)
    assert loaded.provenance == image_set.provenance
    assert (loaded.indices is None) if not with_indices else torch.equal(loaded.indices, image_set.indices)
    assert loaded.per_class() == [4, 4, 4] and not (tmp_path / "sets" / "set.pt.tmp").exists()


def test_unreadable_or_foreign_files_are_refused_in_one_line(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file at all")
    foreign = tmp_path / "foreign.pt"
    torch.save({"format": "gtnbench-gtn-1", "gtn": {}}, foreign)
    broken = tmp_path / "broken.pt"
    torch.save(
        {
            "format": "gtnbench-image-set-1",
            "images": torch.zeros(3, 1, 8, 8),
            "labels": torch.zeros(2).long(),
            "method": "dm",
            "dataset": "mnist",
            "seed": 0,
            "provenance": {},
            "indices": None,
        },
        broken,
    )
    for path, message in (
        (tmp_path / "missing.pt", "not found"),
        (garbage, "not a readable image set"),
        (foreign, "not a gtnbench image set"),
        (broken, "'labels'"),
    ):
        with pytest.raises(DataError, match=message) as error:
            load_image_set(path)
        assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_set_grid_draws_a_row_per_class_even_when_classes_differ_in_size(tmp_path):
    image_set = tiny_set(count=7)  # classes of 3, 2 and 2 images
    path = save_set_grid(image_set, tmp_path / "grid.png", "test")
    assert path.stat().st_size > 0
