"""The thread count each training process gets (gtnbench.threads): flag, environment, default, `auto`."""

import pytest

from gtnbench.errors import GtnbenchError
from gtnbench.threads import THREADS_ENV, choose_threads, free_cores, set_threads


def test_one_thread_by_default_whatever_the_machine():
    assert choose_threads(None, {}, cpus=2, load=0.0) == 1
    assert choose_threads(None, {}, cpus=64, load=0.0, processes=4) == 1
    assert choose_threads(None, {"OMP_NUM_THREADS": "8"}, cpus=16, load=0.0) == 1  # only `torch` defers to it


def test_the_flag_wins_over_the_environment_which_wins_over_the_default():
    assert choose_threads("3", {THREADS_ENV: "2"}, cpus=4, load=0.0) == 3
    assert choose_threads(None, {THREADS_ENV: "2"}, cpus=4, load=0.0) == 2
    assert choose_threads(None, {THREADS_ENV: " "}, cpus=4, load=0.0) == 1
    assert choose_threads("torch", {THREADS_ENV: "2"}, cpus=4, load=0.0) is None
    assert choose_threads(None, {THREADS_ENV: "TORCH"}, cpus=4, load=0.0) is None


def test_auto_takes_the_free_cores_and_shares_them_among_the_workers():
    assert choose_threads("auto", {}, cpus=2, load=0.2) == 2
    assert choose_threads("auto", {}, cpus=2, load=1.6) == 1  # 0.4 free rounds to none: still one
    assert choose_threads("auto", {}, cpus=2, load=4.5) == 1
    assert choose_threads("auto", {}, cpus=16, load=3.7) == 12
    assert choose_threads("auto", {}, cpus=16, load=3.7, processes=4) == 3
    assert choose_threads(None, {THREADS_ENV: "auto"}, cpus=8, load=0.0, processes=3) == 2
    assert choose_threads("auto", {}, cpus=2, load=0.0, processes=4) == 1


def test_free_cores_are_at_least_one_and_at_most_the_cpus():
    assert [free_cores(4, load) for load in (0.0, 0.4, 0.6, 2.5, 3.9, 40.0)] == [4, 4, 3, 2, 1, 1]
    assert free_cores(4, -1.0) == 4


@pytest.mark.parametrize(
    ("flag", "environ", "named"),
    [
        ("0", {}, "--threads '0'"),
        ("-2", {}, "--threads '-2'"),
        ("two", {}, "--threads 'two'"),
        ("1.5", {}, "--threads '1.5'"),
        (None, {THREADS_ENV: "many"}, f"{THREADS_ENV} 'many'"),
    ],
)
def test_a_bad_setting_is_one_line_naming_where_it_came_from(flag, environ, named):
    with pytest.raises(GtnbenchError, match="expected a positive number of threads") as error:
        choose_threads(flag, environ, cpus=2, load=0.0)
    assert str(error.value).startswith(named) and "\n" not in str(error.value)


def test_set_threads_gives_torch_the_chosen_count(monkeypatch):
    import torch

    before = torch.get_num_threads()
    monkeypatch.delenv(THREADS_ENV, raising=False)
    try:
        torch.set_num_threads(2)
        assert set_threads(None) == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv(THREADS_ENV, "torch")
        assert set_threads(None) is None and torch.get_num_threads() == 1  # torch's choice: left as it is
        assert set_threads("2") == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
