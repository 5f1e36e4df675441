import math

import numpy as np
import pytest

from gtnbench.nas.search import affordable, simulate_search, simulate_searches

POOL = 200


@pytest.fixture
def truth():
    return np.random.default_rng(0).uniform(10.0, 94.0, size=POOL)


def regrets(results):
    return np.array([r.regret.values for r in results])


def test_affordable():
    assert affordable(0.3, 0.1, 100) == 3
    assert affordable(0.99, 1.0, 100) == 0
    assert affordable(1e9, 1.0, 100) == 100
    assert affordable(math.inf, 1.0, 100) == 100


def test_perfect_proxy_has_zero_regret_over_the_whole_pool(truth):
    (result,) = simulate_search(truth, truth, 1.0, [POOL], best_possible=truth.max())
    assert result.n_evaluated == POOL
    assert result.regret.values == (0.0,) * 10
    assert result.accuracy.mean == pytest.approx(truth.max())


def test_perfect_proxy_regret_never_rises_with_budget(truth):
    per_seed = regrets(simulate_search(truth, truth, 1.0, [1, 5, 20, 80, 200], best_possible=94.37))
    assert (np.diff(per_seed, axis=0) <= 0).all()


def test_informative_proxy_beats_picking_at_random(truth):
    # An imperfect proxy's mean regret need not fall monotonically with budget (its top pick over
    # the whole pool may be mediocre), but any budget beyond one architecture beats a random pick.
    scores = truth + np.random.default_rng(1).normal(scale=10.0, size=POOL)
    results = simulate_search(scores, truth, 2.0, [2, 10, 40, 160, 400], best_possible=94.37, n_seeds=50)
    one_arch, *larger = [r.regret.mean for r in results]
    assert all(mean < one_arch for mean in larger)


def test_independent_proxy_picks_an_average_architecture(truth):
    scores = np.random.default_rng(2).normal(size=POOL)
    results = simulate_search(scores, truth, 1.0, [1, 50], best_possible=94.37, n_seeds=400)
    for result in results:
        assert result.accuracy.mean == pytest.approx(truth.mean(), abs=3.0)


def test_budget_below_one_architecture_gives_nan(truth):
    (result,) = simulate_search(truth, truth, 1.5, [1.0], best_possible=94.37)
    assert result.n_evaluated == 0
    assert all(math.isnan(v) for v in result.accuracy.values + result.regret.values)
    assert math.isnan(result.regret.mean) and math.isnan(result.regret.median)


def test_deterministic_by_seed(truth):
    scores = np.random.default_rng(3).normal(size=POOL)
    run = lambda seed: simulate_search(scores, truth, 1.0, [10, 30], best_possible=94.37, seed=seed)  # noqa: E731
    assert run(7) == run(7)
    assert run(7) != run(8)


def test_common_random_numbers_across_proxies(truth):
    results = simulate_searches(
        {"perfect": (truth, 1.0), "anti": (-truth, 1.0), "perfect_again": (truth, 1.0)},
        truth,
        [10],
        best_possible=94.37,
    )
    assert results["perfect"] == results["perfect_again"]
    # Same draws: picking the best of them never loses to picking the worst of them, seed by seed.
    best = np.array(results["perfect"][0].accuracy.values)
    worst = np.array(results["anti"][0].accuracy.values)
    assert (best >= worst).all() and (best > worst).any()


def test_ties_go_to_the_first_drawn_and_nan_scores_never_win(truth):
    constant = np.zeros(POOL)
    (tied,) = simulate_search(constant, truth, 1.0, [50], best_possible=94.37)
    (first_only,) = simulate_search(truth, truth, 1.0, [1], best_possible=94.37)
    assert tied.accuracy == first_only.accuracy

    scores = truth.copy()
    scores[np.argmax(truth)] = math.nan
    (result,) = simulate_search(scores, truth, 1.0, [POOL], best_possible=94.37)
    assert result.accuracy.values == (np.sort(truth)[-2],) * 10


def test_rejects_a_pool_better_than_best_possible(truth):
    with pytest.raises(ValueError, match="best_possible"):
        simulate_search(truth, truth, 1.0, [10], best_possible=0.9437)


def test_rejects_bad_inputs(truth):
    with pytest.raises(ValueError):
        simulate_search(truth[:-1], truth, 1.0, [10], best_possible=94.37)
    with pytest.raises(ValueError):
        simulate_search(truth, truth, 0.0, [10], best_possible=94.37)
    with pytest.raises(ValueError):
        simulate_search(truth, truth, 1.0, [-1], best_possible=94.37)
