"""AsyncVectorEnv: each env in its own process, stepped in parallel, for slow simulators.

Built on gymnasium's AsyncVectorEnv (shared-memory observations) in its SAME_STEP autoreset
mode, which is the rule SyncVectorEnv follows: this class only reshapes its outputs to the
trpo contract (see trpo.envs.vector) and keeps raw episode returns. Worth it when one env step costs
much more than the ~50 us of inter-process round trip; for cheap envs "sync" is faster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from trpo.envs.errors import EnvError, EnvFault
from trpo.envs.make import EnvFactory, make_one
from trpo.envs.sync import VectorEnvBase


class AsyncVectorEnv(VectorEnvBase):
    def __init__(self, factories: Sequence[EnvFactory], name: str = "env"):
        # Made once here first, so a missing dependency or bad space fails with trpo's message.
        probe = make_one(factories[0], name)
        observation_space, action_space = probe.observation_space, probe.action_space
        probe.close()
        super().__init__(len(factories), observation_space, action_space, name)
        self._require_plain_vector()
        try:
            # "spawn": the parent holds JAX's threads, which fork() would copy in a broken state.
            self._vec = gym.vector.AsyncVectorEnv(
                list(factories), context="spawn", autoreset_mode=AutoresetMode.SAME_STEP
            )
        except Exception as error:  # a worker failed to start: surface its message
            raise EnvError(f"{name}: the async vector env failed to start ({error})") from error

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

    def _reset_envs(self, seed: int | None) -> None:
        obs, _ = self._call(self._vec.reset, seed=seed)
        self._obs[:] = obs.reshape(self.num_envs, -1)

    def _step_envs(self, actions: np.ndarray) -> None:
        obs, rewards, terminated, truncated, infos = self._call(self._vec.step, actions)
        self._obs[:] = obs.reshape(self.num_envs, -1)
        self._rewards[:] = rewards
        self._terminated[:] = terminated
        np.logical_and(truncated, ~self._terminated, out=self._truncated)
        self._add_rewards(rewards)
        for i in np.flatnonzero(np.logical_or(terminated, truncated)):
            self._final_obs[i] = np.ravel(infos["final_obs"][i])
            self._end_episode(i)

    def render(self) -> Any:
        return self._vec.render()

    def close(self) -> None:
        self._vec.close()
