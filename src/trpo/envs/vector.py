"""Vector-env backends. Every backend keeps SyncVectorEnv's contract (see trpo.envs.sync):

- attributes num_envs, observation_space, action_space, distribution, obs_dim, obs_spec, finished_episodes;
- reset(seed) -> obs [N, D] float32;
- step(actions) -> (obs, rewards, terminated, truncated, final_obs), arrays owned by the backend,
  with same-step autoreset: where an episode ended, obs is the first observation of the next
  episode and final_obs the true last one; truncated is False where terminated is True;
- render(), close().

Backends: "sync" (this process, gymnasium envs), "async" (one subprocess per env, for slow
simulators), "envpool" (EnvPool's C++ envs, for registered EnvPool ids; optional extra). All three
subclass trpo.envs.sync.VectorEnvBase, which holds the arrays, the action clipping and the episode
bookkeeping; each backend only resets and steps its envs its own way.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from trpo.config import VEC_BACKENDS as BACKENDS
from trpo.envs.errors import EnvError
from trpo.envs.make import EnvFactory, env_factory
from trpo.envs.sync import SyncVectorEnv
from trpo.learning.distributions import Distribution
from trpo.learning.observations import ObservationSpec


class VectorEnv(Protocol):
    """What the Sampler and the agent use of a vector env (see the module docstring)."""

    num_envs: int
    obs_dim: int
    obs_spec: ObservationSpec
    observation_space: gym.Space
    action_space: gym.Space
    distribution: Distribution
    finished_episodes: deque[tuple[float, int]]

    def reset(self, seed: int | None = None) -> np.ndarray: ...

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, ...]: ...

    def render(self) -> Any: ...

    def close(self) -> None: ...


def make_vector_env(
    env: str | EnvFactory, num_envs: int, vec: str = "sync", seed: int = 0, time_limit: int = 0, **make_kwargs: Any
) -> VectorEnv:
    """A vector of `num_envs` training envs on the chosen backend. `seed` only matters to envpool,
    which is seeded when made (the others are seeded by reset(seed)); `time_limit` > 0 cuts
    episodes after that many steps (not with envpool)."""
    name = env if isinstance(env, str) else getattr(env, "__name__", "env factory")
    if vec == "sync":
        return SyncVectorEnv([env_factory(env, True, time_limit, **make_kwargs)] * num_envs, name=name)
    if vec == "async":
        from trpo.envs.subprocess import AsyncVectorEnv

        return AsyncVectorEnv([env_factory(env, True, time_limit, **make_kwargs)] * num_envs, name=name)
    if vec == "envpool":
        from trpo.envs.envpool import EnvPoolVectorEnv

        if time_limit:
            raise EnvError("a training time limit is not supported with vec='envpool'; use vec='sync' or 'async'")
        if not isinstance(env, str):
            raise EnvError("vec='envpool' needs a registered EnvPool env id, not a factory; use vec='sync' or 'async'")
        return EnvPoolVectorEnv(env, num_envs, seed=seed, **make_kwargs)
    raise EnvError(f"unknown vector-env backend vec={vec!r}; choose one of {', '.join(BACKENDS)}")
