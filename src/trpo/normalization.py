"""Running observation normalisation: exact mean and variance over every observation seen.

Only the "vector" part of an observation dict is normalised; images pass through unchanged
(the network scales them to [0, 1]).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trpo.observations import VECTOR


class RunningMeanStd:
    """Mean and (population) variance of a stream of vectors, merged batch by batch with
    Chan et al.'s parallel formula, so updating with A then B equals updating with A and B."""

    def __init__(self, shape: tuple[int, ...], epsilon: float = 1e-8):
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = 0.0
        self.epsilon = epsilon

    def update(self, batch: np.ndarray) -> None:
        batch = np.asarray(batch, np.float64).reshape(-1, *self.mean.shape)
        self.merge(batch.mean(axis=0), batch.var(axis=0), float(batch.shape[0]))

    def merge(self, mean: np.ndarray, var: np.ndarray, count: float) -> None:
        if count == 0:
            return
        if self.count == 0:
            self.mean, self.var, self.count = np.array(mean, np.float64), np.array(var, np.float64), count
            return
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * (count / total)
        m2 = self.var * self.count + var * count + delta**2 * (self.count * count / total)
        self.var = m2 / total
        self.count = total

    def scale(self) -> tuple[np.ndarray, np.ndarray]:
        """(shift, multiplier) in float32 so that normalised = (x - shift) * multiplier."""
        return self.mean.astype(np.float32), (1.0 / np.sqrt(self.var + self.epsilon)).astype(np.float32)

    def state(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": np.asarray(self.count)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.mean = np.array(state["mean"], np.float64)
        self.var = np.array(state["var"], np.float64)
        self.count = float(state["count"])


class ObservationNormalizer:
    """Normalises with frozen statistics; `update` folds in a batch of raw observations.

    Disabled normalisation is the identity (still clipped to +-clip for safety only when enabled).
    Works on vectors [..., D] and on observation dicts (their "vector" part only).
    """

    def __init__(self, obs_dim: int, enabled: bool, clip: float):
        self.enabled = enabled and obs_dim > 0
        self.clip = np.float32(clip)
        self.stats = RunningMeanStd((obs_dim,))
        self._refresh()

    def _refresh(self) -> None:
        self.shift, self.multiplier = self.stats.scale()

    def update(self, raw_obs: Any) -> None:
        if self.enabled:
            self.stats.update(raw_obs[VECTOR] if isinstance(raw_obs, dict) else raw_obs)
            self._refresh()

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

    def state(self) -> dict[str, np.ndarray]:
        return self.stats.state()

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.stats.load_state(state)
        self._refresh()


def discounted_return_traces(
    carry: np.ndarray, rewards: np.ndarray, episode_ends: np.ndarray, gamma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Running discounted returns y_t = gamma * y_{t-1} + r_t, restarted at 0 after an episode
    ends, for time-major rewards [T, N]. `carry` [N] is y before the first step. Returns the
    traces [T, N] and the carry for the next batch. (The statistic SB3's VecNormalize and
    OpenAI Baselines' VecNormalize scale rewards by.)"""
    traces = np.zeros(rewards.shape, np.float64)
    y = np.asarray(carry, np.float64)
    for t in range(rewards.shape[0]):
        y = gamma * y + rewards[t]
        traces[t] = y
        y = np.where(episode_ends[t], 0.0, y)
    return traces, y


class RewardScaler:
    """Divides rewards by the running std of the discounted return (not of the reward), then
    clips: rewards keep their sign and their mean, and returns land near unit scale whatever the
    env's reward units. Disabled, it is the identity."""

    def __init__(self, num_envs: int, enabled: bool, gamma: float, clip: float, epsilon: float = 1e-8):
        self.enabled = enabled
        self.gamma = gamma
        self.clip = clip
        self.epsilon = epsilon
        self.stats = RunningMeanStd(())
        self.carry = np.zeros(num_envs, np.float64)

    def update(self, rewards: np.ndarray, episode_ends: np.ndarray) -> None:
        """Fold one batch of raw rewards [T, N] (and where episodes ended) into the statistics."""
        if self.enabled:
            traces, self.carry = discounted_return_traces(self.carry, rewards, episode_ends, self.gamma)
            self.stats.update(traces)

    def __call__(self, rewards: np.ndarray) -> np.ndarray:
        if not self.enabled:
            return np.asarray(rewards, np.float32)
        scaled = np.asarray(rewards, np.float64) / np.sqrt(self.stats.var + self.epsilon)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def state(self) -> dict[str, np.ndarray]:
        return self.stats.state()

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        # The per-env traces are not restored: envs start fresh episodes after a load.
        self.stats.load_state(state)
