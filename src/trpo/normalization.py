"""Running observation normalisation: exact mean and variance over every observation seen."""

from __future__ import annotations

import numpy as np


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
    """

    def __init__(self, obs_dim: int, enabled: bool, clip: float):
        self.enabled = enabled
        self.clip = np.float32(clip)
        self.stats = RunningMeanStd((obs_dim,))
        self._refresh()

    def _refresh(self) -> None:
        self.shift, self.multiplier = self.stats.scale()

    def update(self, raw_obs: np.ndarray) -> None:
        if self.enabled:
            self.stats.update(raw_obs)
            self._refresh()

    def __call__(self, raw_obs: np.ndarray) -> np.ndarray:
        if not self.enabled:
            return np.asarray(raw_obs, np.float32)
        return np.clip((raw_obs - self.shift) * self.multiplier, -self.clip, self.clip).astype(np.float32, copy=False)

    def state(self) -> dict[str, np.ndarray]:
        return self.stats.state()

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.stats.load_state(state)
        self._refresh()
