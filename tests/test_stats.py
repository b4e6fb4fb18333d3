"""trpo.stats against independent computations: scipy's trimmed mean, a bootstrap written out
resample by resample, and numbers printed by rliable itself."""

import numpy as np
import pytest
import scipy.stats

from trpo.runs import stats

# Ten seeds of one env (bimodal, as HalfCheetah's were) and a 10-run x 3-task matrix.
SEEDS = np.array([2057.9, 1907.0, 5328.3, 4480.2, 1650.4, 5012.8, 4890.1, 2210.5, 4700.0, 3999.9])
MATRIX = (np.arange(30.0).reshape(10, 3) ** 1.5 % 17) / 10

# Printed by rliable 1.2.0 (arch 7.2.0, numpy 2.4.6, scipy 1.17.1, pandas 2.3.3), e.g.
#   np.random.seed(0)
#   rly.get_interval_estimates({"x": SEEDS.reshape(-1, 1)},
#                              lambda s: np.array([metrics.aggregate_iqm(s)]), reps=2000)
#   np.random.seed(2); rly.create_performance_profile({"x": MATRIX}, taus, reps=500)
RLIABLE_SEEDS_IQM = (3723.1, 2382.133333333333, 4787.361249999999)  # seed 0, 2000 reps
RLIABLE_MATRIX_IQM = (0.7217046271605394, 0.49090668681777067, 0.9797316707909198)  # seed 1, 2000 reps
RLIABLE_PROFILE_TAUS = [0.0, 0.5, 1.0, 1.5]  # seed 2, 500 reps
RLIABLE_PROFILE = [0.9666666666666667, 0.6333333333333333, 0.3333333333333333, 0.03333333333333333]
RLIABLE_PROFILE_LOWER = [0.9, 0.4666666666666667, 0.16666666666666666, 0.0]
RLIABLE_PROFILE_UPPER = [1.0, 0.8, 0.5, 0.1]


def test_iqm_is_the_25_percent_trimmed_mean():
    # 10 scores: floor(10 / 4) = 2 cut from each end; sorted SEEDS[2:8] are
    # 2057.9, 2210.5, 3999.9, 4480.2, 4700.0, 4890.1 -> mean 22338.6 / 6 = 3723.1
    assert stats.iqm(SEEDS) == pytest.approx(3723.1)
    for n in range(1, 13):  # every remainder of n / 4, and n < 4 where nothing is cut
        scores = np.random.default_rng(n).normal(size=n)
        assert stats.iqm(scores) == pytest.approx(scipy.stats.trim_mean(scores, 0.25, axis=None))
    assert stats.iqm(MATRIX) == pytest.approx(scipy.stats.trim_mean(MATRIX, 0.25, axis=None))
    assert stats.iqm([1.0, 2.0, 3.0]) == 2.0  # 3 scores: nothing cut, the plain mean


def test_stratified_bootstrap_resamples_runs_within_each_task():
    scores = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    batch = stats.resample(scores, reps=200, seed=0)
    assert batch.shape == (200, 3, 2)
    assert set(np.unique(batch[..., 0])) <= {1.0, 2.0, 3.0}  # task 0 never sees task 1's runs
    assert set(np.unique(batch[..., 1])) <= {10.0, 20.0, 30.0}
    # Drawn as rliable draws them: one (runs, tasks) choice per resample from the seeded stream.
    legacy = np.random.RandomState(0)
    first = legacy.choice(3, (3, 2))
    np.testing.assert_array_equal(batch[0], scores[first, [0, 1]])


def test_iqm_interval_equals_a_bootstrap_written_out_resample_by_resample():
    reps = 300
    interval = stats.iqm_interval(MATRIX, reps=reps, seed=5)
    legacy = np.random.RandomState(5)
    iqms = []
    for _ in range(reps):
        picks = legacy.choice(10, (10, 3))
        iqms.append(scipy.stats.trim_mean(MATRIX[picks, np.arange(3)], 0.25, axis=None))
    assert interval.point == pytest.approx(scipy.stats.trim_mean(MATRIX, 0.25, axis=None))
    assert interval.lower == pytest.approx(np.percentile(iqms, 2.5))
    assert interval.upper == pytest.approx(np.percentile(iqms, 97.5))


def test_intervals_equal_rliables():
    one_env = stats.iqm_interval(SEEDS.reshape(-1, 1), reps=2000, seed=0)
    assert (float(one_env.point), float(one_env.lower), float(one_env.upper)) == pytest.approx(RLIABLE_SEEDS_IQM)
    aggregate = stats.iqm_interval(MATRIX, reps=2000, seed=1)
    assert (float(aggregate.point), float(aggregate.lower), float(aggregate.upper)) == pytest.approx(RLIABLE_MATRIX_IQM)
    profile = stats.performance_profile(MATRIX, RLIABLE_PROFILE_TAUS, reps=500, seed=2)
    np.testing.assert_allclose(profile.point, RLIABLE_PROFILE)
    np.testing.assert_allclose(profile.lower, RLIABLE_PROFILE_LOWER)
    np.testing.assert_allclose(profile.upper, RLIABLE_PROFILE_UPPER)


def test_performance_profile_counts_runs_above_each_threshold():
    # 4 runs x 2 tasks: 0.2, 0.6, 1.1, 1.4 | 0.0, 0.9, 1.0, 2.0. Above 0.5: 0.6, 1.1, 1.4, 0.9,
    # 1.0, 2.0 = 6/8; above 1.0 (strictly): 1.1, 1.4, 2.0 = 3/8; above 2.0: none.
    scores = np.array([[0.2, 0.0], [0.6, 0.9], [1.1, 1.0], [1.4, 2.0]])
    profile = stats.performance_profile(scores, [0.5, 1.0, 2.0], reps=100)
    np.testing.assert_allclose(profile.point, [6 / 8, 3 / 8, 0.0])
    assert (profile.lower <= profile.point).all() and (profile.point <= profile.upper).all()


def test_the_curve_band_is_the_mean_interval_at_every_point_with_whole_runs_resampled():
    # 4 runs of 5 points; at each point the band is the interval of the mean of that column,
    # from the same resampled runs (so each resample is a set of whole curves).
    curves = np.stack([np.linspace(0, 1, 5) * (k + 1) for k in range(4)])
    band = stats.mean_interval_over_runs(curves, reps=300, seed=3)
    np.testing.assert_allclose(band.point, curves.mean(axis=0))
    for t in range(5):
        column = stats.interval_estimate(curves[:, [t]], lambda s: s.mean(axis=(-2, -1)), reps=300, seed=3)
        assert band.lower[t] == pytest.approx(float(column.lower))
        assert band.upper[t] == pytest.approx(float(column.upper))
    assert band.lower[0] == band.upper[0] == 0.0  # every run is 0 there


def test_one_run_has_an_interval_of_zero_width():
    band = stats.mean_interval_over_runs(np.array([[1.0, 2.0, 3.0]]), reps=50)
    np.testing.assert_allclose(band.lower, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(band.upper, [1.0, 2.0, 3.0])


def test_normalize_puts_random_at_0_and_the_target_at_1():
    # Reacher: random -43, target -4.5: a return of -23.75 is halfway.
    np.testing.assert_allclose(stats.normalize([-43.0, -4.5, -23.75], -43.0, -4.5), [0.0, 1.0, 0.5])
    with pytest.raises(ValueError, match="equal scores"):
        stats.normalize([1.0], 2.0, 2.0)


def test_bad_scores_are_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"reshape\(-1, 1\)"):
        stats.iqm_interval(SEEDS)
    with pytest.raises(ValueError, match="NaN"):
        stats.iqm_interval(np.array([[1.0], [np.nan]]))
    with pytest.raises(ValueError, match="size"):
        stats.iqm_interval(MATRIX, size=95)
