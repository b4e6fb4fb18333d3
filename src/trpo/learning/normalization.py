"""Running statistics of observations and of discounted returns, as values.

Statistics are `RunningStats` tuples that a pure function folds a batch into; the training state
carries them (trpo.training.train_step.TrainState) and nothing else holds a copy. The same functions run
on two array backends, chosen by `xp`:
- NumPy (`xp=np`), float64 statistics: the Gymnasium path, whose envs and actor run in NumPy;
- jax.numpy (`xp=jnp`), float32: the compiled path, inside its jitted scan.
Folding in a batch is one formula for both (Chan et al.'s parallel merge). Normalising and the
discounted-return traces are written once per backend: float64 arithmetic cannot run inside a
float32 JAX program, and each backend keeps the exact arithmetic it always had, so runs repeat
their numbers across versions.

Only the "vector" part of an observation dict is normalised; images pass through unchanged
(the network scales them to [0, 1]).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from trpo.learning.observations import VECTOR

EPSILON = 1e-8


class RunningStats(NamedTuple):
    """Mean and (population) variance of every vector seen so far, and how many were seen."""

    mean: Any
    var: Any
    count: Any


def init_stats(shape: tuple[int, ...], xp: Any = np) -> RunningStats:
    """No data yet: mean 0, variance 1 (float64 in NumPy, float32 in JAX)."""
    dtype = np.float64 if xp is np else jnp.float32
    return RunningStats(xp.zeros(shape, dtype), xp.ones(shape, dtype), xp.zeros((), dtype))


def merge(stats: RunningStats, mean: Any, var: Any, count: Any, xp: Any = np) -> RunningStats:
    """Fold in the mean, variance and count of a new batch (Chan et al.'s parallel formula), so
    folding in A then B equals folding in A and B. The first batch replaces the initial 0 and 1."""
    count = xp.asarray(count, stats.count.dtype)
    total = stats.count + count
    delta = mean - stats.mean
    merged_mean = stats.mean + delta * (count / total)
    m2 = stats.var * stats.count + var * count + delta**2 * (stats.count * count / total)
    first = stats.count == 0
    return RunningStats(xp.where(first, mean, merged_mean), xp.where(first, var, m2 / total), total)


def update_stats(stats: RunningStats, batch: Any, xp: Any = np) -> RunningStats:
    """Fold in a batch of vectors [..., *shape], computed in the statistics' precision."""
    batch = xp.asarray(batch, stats.mean.dtype).reshape(-1, *stats.mean.shape)
    return merge(stats, batch.mean(axis=0), batch.var(axis=0), batch.shape[0], xp)


def vector_part(obs: Any) -> Any:
    """The part of an observation that is normalised: a plain array, or a dict's "vector"."""
    return obs[VECTOR] if isinstance(obs, dict) else obs


def normalize(stats: RunningStats, obs: Any, clip: float, xp: Any = np) -> Any:
    """(obs - mean) / sqrt(var + eps), clipped to +-clip, on an array or a dict's "vector" part.

    NumPy: the float64 statistics become a float32 shift and multiplier, applied in float32 (as
    the acting path does, trpo.collect.acting). JAX: divided in float32."""
    if isinstance(obs, dict):
        return {**obs, VECTOR: normalize(stats, obs[VECTOR], clip, xp)} if VECTOR in obs else obs
    if xp is np:
        shift, multiplier = host_scale(stats)
        clip32 = np.float32(clip)
        return np.clip((obs - shift) * multiplier, -clip32, clip32).astype(np.float32, copy=False)
    return jnp.clip((obs - stats.mean) / jnp.sqrt(stats.var + EPSILON), -clip, clip)


def host_scale(stats: RunningStats) -> tuple[np.ndarray, np.ndarray]:
    """(shift, multiplier) in float32 so that normalised = (x - shift) * multiplier."""
    mean, var = np.asarray(stats.mean, np.float64), np.asarray(stats.var, np.float64)
    return mean.astype(np.float32), (1.0 / np.sqrt(var + EPSILON)).astype(np.float32)


class ObservationNormalizer:
    """A frozen NumPy view of observation statistics, for acting: normalises with them (the
    identity, as float32, when disabled). Built afresh from the training state's statistics
    for every rollout. Works on vectors [..., D] and on observation dicts ("vector" part only)."""

    def __init__(self, stats: RunningStats, enabled: bool, clip: float):
        self.stats = stats
        self.enabled = enabled and np.shape(stats.mean)[-1:] != (0,)
        self.clip = np.float32(clip)
        self.shift, self.multiplier = host_scale(stats)

    @classmethod
    def fresh(cls, obs_dim: int, enabled: bool, clip: float) -> ObservationNormalizer:
        """Before any data: mean 0, variance 1."""
        return cls(init_stats((obs_dim,)), enabled, clip)

    def __call__(self, raw_obs: Any) -> Any:
        if isinstance(raw_obs, dict):
            if VECTOR not in raw_obs:
                return raw_obs
            return {**raw_obs, VECTOR: self._normalize(raw_obs[VECTOR])}
        return self._normalize(raw_obs)

    def _normalize(self, raw_obs: np.ndarray) -> np.ndarray:
        if not self.enabled:
            return np.asarray(raw_obs, np.float32)
        return np.clip((raw_obs - self.shift) * self.multiplier, -self.clip, self.clip).astype(np.float32, copy=False)


class RewardStats(NamedTuple):
    """Statistics of the discounted-return traces, and each env's running trace."""

    returns: RunningStats
    trace: Any
    """[N] y = gamma * y + r of each env's current episode so far"""


def init_reward_stats(num_envs: int, xp: Any = np) -> RewardStats:
    dtype = np.float64 if xp is np else jnp.float32
    return RewardStats(init_stats((), xp), xp.zeros(num_envs, dtype))


def discounted_return_traces(
    carry: np.ndarray, rewards: np.ndarray, episode_ends: np.ndarray, gamma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Running discounted returns y_t = gamma * y_{t-1} + r_t, restarted at 0 after an episode
    ends, for time-major rewards [T, N]. `carry` [N] is y before the first step. Returns the
    traces [T, N] and the carry for the next batch. (The statistic SB3's VecNormalize and
    OpenAI Baselines' VecNormalize scale rewards by.) NumPy, float64."""
    traces = np.zeros(rewards.shape, np.float64)
    y = np.asarray(carry, np.float64)
    for t in range(rewards.shape[0]):
        y = gamma * y + rewards[t]
        traces[t] = y
        y = np.where(episode_ends[t], 0.0, y)
    return traces, y


def discounted_return_traces_jax(
    carry: jax.Array, rewards: jax.Array, episode_ends: jax.Array, gamma: float
) -> tuple[jax.Array, jax.Array]:
    """discounted_return_traces as a lax.scan over time, in the carry's precision."""

    def step(y, inputs):
        reward, ended = inputs
        y = gamma * y + reward
        return jnp.where(ended, 0.0, y), y

    carry, traces = jax.lax.scan(step, carry, (rewards.astype(carry.dtype), episode_ends))
    return traces, carry


def update_reward_stats(stats: RewardStats, rewards: Any, episode_ends: Any, gamma: float, xp: Any = np) -> RewardStats:
    """Fold one batch of raw rewards [T, N] (and where episodes ended) into the statistics."""
    traces_of = discounted_return_traces if xp is np else discounted_return_traces_jax
    traces, trace = traces_of(stats.trace, rewards, episode_ends, gamma)
    return RewardStats(update_stats(stats.returns, traces, xp), trace)


def scale_rewards(stats: RewardStats, rewards: Any, clip: float, xp: Any = np) -> Any:
    """Rewards divided by the running std of the discounted return (not of the reward), then
    clipped to +-clip: they keep their sign, and returns land near unit scale whatever the env's
    reward units. Float32 out."""
    if xp is np:
        scaled = np.asarray(rewards, np.float64) / np.sqrt(stats.returns.var + EPSILON)
        return np.clip(scaled, -clip, clip).astype(np.float32)
    return jnp.clip(rewards / jnp.sqrt(stats.returns.var + EPSILON), -clip, clip)
