"""Sampler: steps the vector env with the current policy, in NumPy, and fills a batch.

Acting is one NumPy forward of the actor for all envs at once: a 64x64 MLP costs a few
microseconds there, against tens for a jitted JAX call, and it is the per-step cost that
decides speed on cheap simulators.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from trpo.distributions import Distribution
from trpo.envs import SyncVectorEnv
from trpo.networks import actor_forward
from trpo.normalization import ObservationNormalizer


class Batch(NamedTuple):
    """Transitions of one iteration, time-major [T, N, ...]. The sampler returns observations as
    the env gave them; the learner receives them normalised."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    final_obs: np.ndarray
    """observation at which an episode was truncated (valid where truncated, else 0)"""
    last_obs: np.ndarray
    """[N, D] observation after the last step, for the bootstrap at the batch end"""


class Sampler:
    def __init__(self, envs: SyncVectorEnv, normalizer: ObservationNormalizer, n_steps: int, seed: int):
        self.envs = envs
        self.dist: Distribution = envs.distribution
        self.normalizer = normalizer
        self.n_steps = n_steps
        self.rng = np.random.default_rng(seed)
        self.obs = envs.reset(seed=seed).copy()
        n, d = envs.num_envs, envs.obs_dim
        action_shape = envs.action_space.shape
        action_dtype = np.float32 if np.issubdtype(envs.action_space.dtype, np.floating) else np.int64
        self._buffers = Batch(
            obs=np.zeros((n_steps, n, d), np.float32),
            actions=np.zeros((n_steps, n, *action_shape), action_dtype),
            rewards=np.zeros((n_steps, n), np.float32),
            terminated=np.zeros((n_steps, n), bool),
            truncated=np.zeros((n_steps, n), bool),
            final_obs=np.zeros((n_steps, n, d), np.float32),
            last_obs=np.zeros((n, d), np.float32),
        )

    def act(self, actor_np: Any, raw_obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        params = actor_forward(actor_np, self.normalizer(raw_obs), np)
        return self.dist.sample_numpy(self.rng, params, deterministic)

    def collect(self, actor_np: Any) -> Batch:
        """n_steps steps of every env with the actor's NumPy parameters. The returned arrays are
        reused by the next call."""
        b = self._buffers
        b.final_obs.fill(0.0)
        for t in range(self.n_steps):
            b.obs[t] = self.obs
            actions = self.act(actor_np, self.obs)
            b.actions[t] = actions
            obs, rewards, terminated, truncated, final_obs = self.envs.step(actions)
            b.rewards[t] = rewards
            b.terminated[t] = terminated
            b.truncated[t] = truncated
            if truncated.any():
                b.final_obs[t, truncated] = final_obs[truncated]
            self.obs[:] = obs
        b.last_obs[:] = self.obs
        return b
