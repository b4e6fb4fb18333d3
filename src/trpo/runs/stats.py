"""Scores over seeds the way Agarwal et al. (2021, "Deep RL at the Edge of the Statistical
Precipice") ask for them: the interquartile mean (IQM), percentile confidence intervals from a
stratified bootstrap, and performance profiles.

This is rliable's computation (google-research/rliable 1.2.0: `metrics.aggregate_iqm`,
`library.get_interval_estimates(method="percentile")`, `library.create_performance_profile`)
without its dependencies: rliable needs arch < 8, which does not import beside pandas 3. The
resampling draws the same run indices as rliable's `StratifiedBootstrap` does after
`np.random.seed(seed)`, so for the same seed the intervals equal rliable's;
tests/test_stats.py checks them against numbers rliable printed.

Scores are arrays of shape (runs, tasks): column j holds the runs (seeds) of task (env) j.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

IQM_CUT = 0.25
"""the fraction cut from each end: the IQM is the mean of the middle half"""


@dataclass(frozen=True)
class Interval:
    """A point estimate and its confidence interval (arrays of one shape)."""

    point: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean of all the scores: the mean after dropping the lowest and the highest
    floor(n / 4) of the n scores (scipy.stats.trim_mean(scores, 0.25, axis=None))."""
    return float(iqm_last_axes(np.asarray(scores, dtype=float), np.ndim(scores)))


def iqm_last_axes(scores: np.ndarray, axes: int = 2) -> np.ndarray:
    """IQM over the last `axes` axes taken together, for every index of the leading ones (a
    batch of bootstrap resamples of shape (reps, runs, tasks) gives reps IQMs)."""
    flat = scores.reshape(*scores.shape[: scores.ndim - axes], -1)
    n = flat.shape[-1]
    cut = int(IQM_CUT * n)
    return np.sort(flat, axis=-1)[..., cut : n - cut].mean(axis=-1)


def bootstrap_indices(runs: int, tasks: int, reps: int, seed: int) -> np.ndarray:
    """Run indices of shape (reps, runs, tasks): resample r picks, for each task separately,
    `runs` of its runs with replacement (a stratified bootstrap: tasks are never mixed). Drawn
    from np.random.RandomState(seed) in rliable's order (one (runs, tasks) draw per resample)."""
    if runs < 1 or tasks < 1 or reps < 1:
        raise ValueError(f"need at least one run, task and resample, got runs={runs}, tasks={tasks}, reps={reps}")
    return np.random.RandomState(seed).choice(runs, (reps, runs, tasks), replace=True)


def resample(scores: np.ndarray, reps: int, seed: int) -> np.ndarray:
    """`reps` stratified bootstrap resamples of `scores` (runs, tasks): shape (reps, runs, tasks)."""
    scores = as_matrix(scores)
    runs, tasks = scores.shape
    return scores[bootstrap_indices(runs, tasks, reps, seed), np.arange(tasks)]


def interval_estimate(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    reps: int = 50_000,
    size: float = 0.95,
    seed: int = 0,
) -> Interval:
    """The statistic of `scores` (runs, tasks) and its `size` percentile bootstrap interval.
    `statistic` maps an array (..., runs, tasks) to (...) or (..., k): it is applied to all
    resamples at once."""
    scores = as_matrix(scores)
    if not 0 < size < 1:
        raise ValueError(f"the interval's size is a probability in (0, 1), got {size}")
    values = np.asarray(statistic(resample(scores, reps, seed)), dtype=float)
    tail = 100 * (1 - size) / 2
    lower, upper = np.percentile(values, [tail, 100 - tail], axis=0)
    return Interval(np.asarray(statistic(scores), dtype=float), lower, upper)


def iqm_interval(scores: np.ndarray, reps: int = 50_000, size: float = 0.95, seed: int = 0) -> Interval:
    """IQM over all runs and tasks with its stratified bootstrap interval (rliable's default of
    50,000 resamples)."""
    return interval_estimate(scores, iqm_last_axes, reps, size, seed)


def performance_profile(
    scores: np.ndarray, taus: np.ndarray, reps: int = 2000, size: float = 0.95, seed: int = 0
) -> Interval:
    """The score distribution: for each threshold tau, the fraction of all runs (of all tasks)
    scoring above it, with its bootstrap interval (rliable's default of 2,000 resamples)."""
    taus = np.asarray(taus, dtype=float)

    def above(batch: np.ndarray) -> np.ndarray:
        flat = batch.reshape(*batch.shape[:-2], -1, 1)
        return (flat > taus).mean(axis=-2)

    return interval_estimate(scores, above, reps, size, seed)


def mean_interval_over_runs(curves: np.ndarray, reps: int = 2000, size: float = 0.95, seed: int = 0) -> Interval:
    """Mean over runs of curves (runs, points) with a percentile bootstrap interval at every
    point, each resample keeping whole runs (the same seeds at every point). The resampled means
    are counts @ curves / runs, so memory stays (reps, points)."""
    curves = np.asarray(curves, dtype=float)
    if curves.ndim != 2 or curves.shape[0] < 1:
        raise ValueError(f"curves must be a (runs, points) array with at least one run, got shape {curves.shape}")
    runs = curves.shape[0]
    picks = bootstrap_indices(runs, 1, reps, seed)[..., 0]
    counts = np.stack([np.bincount(row, minlength=runs) for row in picks])
    means = counts @ curves / runs
    tail = 100 * (1 - size) / 2
    lower, upper = np.percentile(means, [tail, 100 - tail], axis=0)
    return Interval(curves.mean(axis=0), lower, upper)


def normalize(scores: np.ndarray, low: float, high: float) -> np.ndarray:
    """(score - low) / (high - low): 0 at `low` (a random policy's return), 1 at `high` (the
    target), as the human-normalised Atari scores and D4RL's normalised returns are made."""
    if high == low:
        raise ValueError(f"cannot normalise between equal scores ({low} and {high})")
    return (np.asarray(scores, dtype=float) - low) / (high - low)


def as_matrix(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or 0 in scores.shape:
        raise ValueError(
            f"scores must be a (runs, tasks) matrix with at least one run and one task, got shape {scores.shape};"
            " give one env's seeds as a column: scores.reshape(-1, 1)"
        )
    if not np.isfinite(scores).all():
        raise ValueError("scores hold NaN or inf: drop the runs that did not finish")
    return scores
