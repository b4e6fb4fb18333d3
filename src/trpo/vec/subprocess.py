"""AsyncVectorEnv: each env in its own process, stepped in parallel, for slow simulators.

Built on gymnasium's AsyncVectorEnv (shared-memory observations) in its SAME_STEP autoreset
mode, which is the rule SyncVectorEnv follows: this class only reshapes its outputs to the
trpo contract (see trpo.vec) and keeps raw episode returns. Worth it when one env step costs
much more than the ~50 us of inter-process round trip; for cheap envs "sync" is faster.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from trpo.envs import (
    EnvError,
    EnvFactory,
    EnvFault,
    action_distribution,
    check_finite,
    make_one,
    observation_dim,
    observation_spec,
)


class AsyncVectorEnv:
    def __init__(self, factories: Sequence[EnvFactory], name: str = "env"):
        # Made once here first, so a missing dependency or bad space fails with trpo's message.
        probe = make_one(factories[0], name)
        self.observation_space = probe.observation_space
        self.action_space = probe.action_space
        probe.close()
        self.distribution = action_distribution(self.action_space)
        self.obs_dim = observation_dim(self.observation_space)
        self.obs_spec = observation_spec(self.observation_space)
        self.num_envs = len(factories)
        try:
            # "spawn": the parent holds JAX's threads, which fork() would copy in a broken state.
            self._vec = gym.vector.AsyncVectorEnv(
                list(factories), context="spawn", autoreset_mode=AutoresetMode.SAME_STEP
            )
        except Exception as error:  # a worker failed to start: surface its message
            raise EnvError(f"{name}: the async vector env failed to start ({error})") from error
        n, d = self.num_envs, self.obs_dim
        self._obs = np.zeros((n, d), np.float32)
        self._final_obs = np.zeros((n, d), np.float32)
        self._rewards = np.zeros(n, np.float32)
        self._terminated = np.zeros(n, bool)
        self._truncated = np.zeros(n, bool)
        self._episode_return = np.zeros(n, np.float64)
        self._episode_length = np.zeros(n, np.int64)
        self.finished_episodes: deque[tuple[float, int]] = deque(maxlen=100)
        box = isinstance(self.action_space, gym.spaces.Box)
        self._clip = (self.action_space.low, self.action_space.high) if box else None
        self.name = name
        self.env_steps = 0
        """steps taken by each env so far (a resumed agent sets it to global_step // num_envs)"""

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """A step or reset of the worker processes; an exception in a worker becomes an EnvFault
        (gymnasium has logged which worker raised it just before)."""
        try:
            return method(*args, **kwargs)
        except Exception as error:
            raise EnvFault(
                f"env {self.name} raised {type(error).__name__} in {method.__name__}() at its step "
                f"{self.env_steps} in an async worker (the log line above names the worker index): {error}",
                -1,
                self.env_steps,
            ) from error

    def reset(self, seed: int | None = None) -> np.ndarray:
        obs, _ = self._call(self._vec.reset, seed=seed)
        self._obs[:] = obs.reshape(self.num_envs, -1)
        self._episode_return[:] = 0
        self._episode_length[:] = 0
        check_finite(self.name, self.env_steps, self._rewards, self._obs, self._final_obs)
        return self._obs

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, ...]:
        if self._clip is not None:
            actions = np.clip(actions, *self._clip)
        self.env_steps += 1
        obs, rewards, terminated, truncated, infos = self._call(self._vec.step, actions)
        self._obs[:] = obs.reshape(self.num_envs, -1)
        self._rewards[:] = rewards
        self._terminated[:] = terminated
        np.logical_and(truncated, ~self._terminated, out=self._truncated)
        self._episode_return += rewards
        self._episode_length += 1
        for i in np.flatnonzero(np.logical_or(terminated, truncated)):
            self._final_obs[i] = np.ravel(infos["final_obs"][i])
            self.finished_episodes.append((float(self._episode_return[i]), int(self._episode_length[i])))
            self._episode_return[i] = 0
            self._episode_length[i] = 0
        check_finite(self.name, self.env_steps, self._rewards, self._obs, self._final_obs)
        return self._obs, self._rewards, self._terminated, self._truncated, self._final_obs

    def render(self) -> Any:
        return self._vec.render()

    def close(self) -> None:
        self._vec.close()
