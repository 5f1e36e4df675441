import math
import warnings
from functools import partial

import numpy as np
import pytest

from gtnbench.metrics import (
    bootstrap_ci,
    kendall,
    pearson,
    precision_at_k,
    rank_metrics,
    spearman,
    spearman_rows_of,
    spearman_top_k,
    spearman_top_k_rows_of,
    steps_to_reach,
    top_k_count,
    top_k_mask,
)

CORRELATIONS = [spearman, kendall, pearson]


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("correlation", CORRELATIONS)
def test_perfect_and_anti_correlation(correlation):
    x = np.arange(6.0)
    assert correlation(x, 2 * x + 1) == pytest.approx(1.0)
    assert correlation(x, -x) == pytest.approx(-1.0)


def test_known_small_example():
    # d = (-1, 1, -1, 1, 0): rho = 1 - 6 * 4 / (5 * 24) = 0.8; 8 concordant, 2 discordant pairs: tau = 0.6.
    proxy, truth = [1, 2, 3, 4, 5], [2, 1, 4, 3, 5]
    assert spearman(proxy, truth) == pytest.approx(0.8)
    assert kendall(proxy, truth) == pytest.approx(0.6)
    # cov = 3, var_x = 2, var_y = 42 / 9 (sums of squares): r = 9 / sqrt(84).
    assert pearson([1, 2, 3], [1, 2, 4]) == pytest.approx(9 / math.sqrt(84))


@pytest.mark.parametrize("correlation", CORRELATIONS)
@pytest.mark.parametrize(
    "proxy, truth",
    [([1, 2], [1, 2]), ([1, 1, 1], [1, 2, 3]), ([1, 2, 3], [5, 5, 5]), ([1, 2, math.nan], [1, 2, 3]), ([], [])],
)
def test_undefined_correlation_is_nan(correlation, proxy, truth, no_warnings):
    assert math.isnan(correlation(proxy, truth))


def test_misaligned_inputs_raise():
    with pytest.raises(ValueError):
        spearman([1, 2, 3], [1, 2])


def test_top_k_count():
    assert top_k_count(10, 30) == 3
    assert top_k_count(725, 5) == 36
    assert top_k_count(4, 10) == 1
    assert top_k_count(4, 100) == 4
    with pytest.raises(ValueError):
        top_k_count(4, 0)


def test_top_k_mask_breaks_ties_by_position_and_ranks_nan_last():
    values = [5, 1, 5, 3]
    assert top_k_mask(values, 50).tolist() == [True, False, True, False]
    assert top_k_mask(values, 25).tolist() == [True, False, False, False]
    assert top_k_mask(values, 10).tolist() == [True, False, False, False]
    assert top_k_mask([math.nan, 1, 2], 34).tolist() == [False, False, True]


def test_precision_at_k():
    proxy, truth = [4, 3, 2, 1], [4, 1, 3, 2]
    assert precision_at_k(proxy, truth, 50) == pytest.approx(0.5)
    assert precision_at_k(proxy, truth, 25) == pytest.approx(1.0)
    assert precision_at_k(proxy, truth, 100) == pytest.approx(1.0)
    assert math.isnan(precision_at_k([1, math.nan], [1, 2], 50))


def test_spearman_top_k_by_proxy_and_by_truth():
    proxy = [6, 5, 4, 3, 2, 1]
    truth = [3, 1, 2, 6, 5, 4]
    # Top half by proxy: truth (3, 1, 2) against proxy (6, 5, 4): d = (0, 1, -1), rho = 0.5.
    assert spearman_top_k(proxy, truth, 50, by="proxy") == pytest.approx(0.5)
    # Top half by truth: truth (6, 5, 4) against proxy (3, 2, 1): rho = 1.
    assert spearman_top_k(proxy, truth, 50, by="truth") == pytest.approx(1.0)
    assert math.isnan(spearman_top_k(proxy, truth, 20))  # one architecture left
    with pytest.raises(ValueError):
        spearman_top_k(proxy, truth, 50, by="score")


def test_rank_metrics_keys_and_values():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=100)
    proxy = truth + rng.normal(size=100)
    results = rank_metrics(proxy, truth, ks=(10, 12.5))
    assert list(results) == [
        "spearman",
        "kendall",
        "pearson",
        "precision_at_10",
        "spearman_top10_by_proxy",
        "spearman_top10_by_truth",
        "precision_at_12.5",
        "spearman_top12.5_by_proxy",
        "spearman_top12.5_by_truth",
    ]
    assert results["spearman"] == spearman(proxy, truth)
    assert results["spearman_top10_by_truth"] == spearman_top_k(proxy, truth, 10, by="truth")


def correlated_sample(n=200, seed=1):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=n)
    return truth + rng.normal(size=n), truth


@pytest.mark.parametrize("statistic", [spearman, kendall, partial(spearman_top_k, k_percent=50)])
def test_bootstrap_ci_is_deterministic_and_contains_the_estimate(statistic):
    proxy, truth = correlated_sample()
    low, high = bootstrap_ci(statistic, proxy, truth, n_resamples=200, seed=3)
    assert (low, high) == bootstrap_ci(statistic, proxy, truth, n_resamples=200, seed=3)
    assert (low, high) != bootstrap_ci(statistic, proxy, truth, n_resamples=200, seed=4)
    assert low < statistic(proxy, truth) < high


def test_bootstrap_ci_narrows_with_confidence():
    proxy, truth = correlated_sample()
    wide = bootstrap_ci(spearman, proxy, truth, n_resamples=200, confidence=0.95)
    narrow = bootstrap_ci(spearman, proxy, truth, n_resamples=200, confidence=0.5)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


def test_bootstrap_ci_is_nan_safe(no_warnings):
    assert all(math.isnan(v) for v in bootstrap_ci(spearman, [1, 2, 3, 4], [5, 5, 5, 5], n_resamples=50))
    assert all(math.isnan(v) for v in bootstrap_ci(spearman, [1], [1], n_resamples=50))
    # A third of the resamples miss the only distinct truth value (constant truth): they are skipped.
    low, high = bootstrap_ci(spearman, [1, 2, 3, 4, 5], [0, 0, 0, 0, 1], n_resamples=200)
    assert -1 <= low <= high <= 1


STEPS = [1, 4, 16, 64]
VALUES = [0.1, 0.3, 0.5, 0.7]


def test_steps_to_reach_interpolates_in_log2_steps():
    # 0.4 is halfway from 0.3 (4 steps, log2 = 2) to 0.5 (16 steps, log2 = 4): log2 = 3.
    assert steps_to_reach(STEPS, VALUES, 0.4) == pytest.approx(8.0)
    assert steps_to_reach(STEPS, VALUES, 0.3) == pytest.approx(4.0)
    assert steps_to_reach(STEPS, VALUES, 0.7) == pytest.approx(64.0)


def test_steps_to_reach_edges():
    assert steps_to_reach(STEPS, VALUES, 0.71) == math.inf
    assert steps_to_reach(STEPS, VALUES, 0.05) == 1.0
    assert math.isnan(steps_to_reach(STEPS, VALUES, math.nan))
    # First crossing of a non-monotone curve: halfway from 1 to 4 steps in log2 is 2.
    assert steps_to_reach(STEPS, [0.1, 0.6, 0.2, 0.8], 0.35) == pytest.approx(2.0)
    # A NaN point does not reach, and is not interpolated from.
    assert steps_to_reach(STEPS, [math.nan, 0.3, 0.5, 0.7], 0.2) == 4.0
    with pytest.raises(ValueError):
        steps_to_reach([4, 1], [0.1, 0.2], 0.15)


def test_row_wise_spearman_equals_the_scalar_one():
    from gtnbench.metrics import spearman_rows, spearman_top_k_rows

    rng = np.random.default_rng(0)
    x = rng.integers(0, 6, size=(20, 15)).astype(float)  # many ties
    y = x + rng.normal(0, 2, size=x.shape)
    x[3, 4] = math.nan
    rows = spearman_rows(x, y)
    top = spearman_top_k_rows(x, y, 50)
    for i in range(len(x)):
        want = spearman(x[i], y[i])
        assert (math.isnan(want) and math.isnan(rows[i])) or rows[i] == pytest.approx(want)
        want = spearman_top_k(x[i], y[i], 50, by="proxy")
        assert (math.isnan(want) and math.isnan(top[i])) or top[i] == pytest.approx(want)


@pytest.mark.parametrize("n", [4, 6, 40])
def test_bootstrap_ci_by_rows_gives_the_one_at_a_time_interval(n):
    """The vectorised statistics evaluate the same resamples to the same interval (ties, -inf scores, and a
    top half of fewer than 3 points, NaN either way, included)."""
    rng = np.random.default_rng(n)
    proxy, truth = np.round(rng.normal(size=n), 1), rng.normal(size=n)
    proxy[0] = -np.inf
    for one, rows in (
        (spearman, spearman_rows_of),
        (partial(spearman_top_k, k_percent=50, by="proxy"), spearman_top_k_rows_of(50)),
    ):
        slow = bootstrap_ci(one, proxy, truth, n_resamples=300, seed=1)
        fast = bootstrap_ci(one, proxy, truth, n_resamples=300, seed=1, rows=rows)
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)
