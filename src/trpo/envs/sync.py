"""Step environments as one vector, with the autoreset rule the learner relies on.

`SyncVectorEnv` steps a list of Gymnasium envs in this process. When an episode ends at a step
(terminated or truncated) it records the true final observation and resets that env at once, so
the next observation returned is the first of a new episode ("same-step" autoreset, like
Gymnasium's AutoresetMode.SAME_STEP). Every transition in a batch therefore belongs to one
episode and truncation can bootstrap from the real final observation.

Observations are written into dict buffers by the env's ObservationSpec (trpo.learning.observations):
{"vector": [N, D] float32} for a Box, plus {"image": [N, H, W, C] uint8} for image spaces.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from trpo.envs.errors import EnvError, check_finite, raised_fault
from trpo.envs.make import EnvFactory, env_factory, make_one
from trpo.envs.spaces import action_distribution, observation_spec


def _records_game_statistics(env: gym.Env) -> bool:
    """Whether a RecordEpisodeStatistics wrapper below the training wrappers reports the real
    game's return and length (the Atari stack does); then those are what we log."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.RecordEpisodeStatistics):
            return True
        env = env.env
    return False


class VectorEnvBase:
    """What every vector-env backend (trpo.envs.vector) shares: the spaces, the arrays step() returns,
    action clipping, the finite check and the episode bookkeeping. A backend implements
    _reset_envs and _step_envs (fill _obs, _rewards, _terminated, _truncated, _final_obs and call
    _add_rewards / _end_episode), plus render and close.

    step() returns arrays owned by this object (overwritten by the next call):
    obs {key: [N, ...]} (the next observation; the first of a new episode where one ended),
    rewards [N], terminated [N], truncated [N], final_obs {key: [N, ...]} (valid where an episode ended).
    """

    def __init__(self, num_envs: int, observation_space: gym.Space, action_space: gym.Space, name: str):
        self.num_envs = num_envs
        self.observation_space = observation_space
        self.action_space = action_space
        self.distribution = action_distribution(action_space)
        self.obs_spec = observation_spec(observation_space)
        self.obs_dim = self.obs_spec.vector_dim
        """size of the observations' vector part (all of a Box observation)"""
        self.name = name
        self.env_steps = 0
        """steps taken by each env so far (a resumed agent sets it to global_step // num_envs)"""
        n = num_envs
        self._obs = self.obs_spec.allocate(n)
        self._final_obs = self.obs_spec.allocate(n)
        self._rewards = np.zeros(n, np.float32)
        self._terminated = np.zeros(n, bool)
        self._truncated = np.zeros(n, bool)
        self._episode_return = np.zeros(n, np.float64)
        self._episode_length = np.zeros(n, np.int64)
        self.finished_episodes: deque[tuple[float, int]] = deque(maxlen=100)
        """(return, length) of the latest finished episodes, in raw env rewards (whole games for Atari)"""
        box = isinstance(action_space, gym.spaces.Box)
        self._clip = (action_space.low, action_space.high) if box else None
        self._clipped = np.zeros((n, *action_space.shape), action_space.dtype) if box else None

    def reset(self, seed: int | None = None) -> Any:
        self._reset_envs(seed)
        self._episode_return[:] = 0
        self._episode_length[:] = 0
        self._check_finite()
        return self._obs

    def step(self, actions: np.ndarray) -> tuple[Any, ...]:
        if self._clip is not None:
            # The policy is an unbounded Gaussian; only the env sees the clipped action.
            low, high = self._clip
            actions = np.maximum(np.minimum(actions, high, out=self._clipped), low, out=self._clipped)
        self.env_steps += 1
        self._step_envs(actions)
        self._check_finite()
        return self._obs, self._rewards, self._terminated, self._truncated, self._final_obs

    def _reset_envs(self, seed: int | None) -> None:
        raise NotImplementedError

    def _step_envs(self, actions: np.ndarray) -> None:
        raise NotImplementedError

    def _add_rewards(self, rewards: Any, envs: Any = slice(None)) -> None:
        """One more step, earning `rewards`, in the current episodes of `envs` (indices; default all)."""
        self._episode_return[envs] += rewards
        self._episode_length[envs] += 1

    def _end_episode(self, i: int, record: bool = True) -> None:
        """Env i's episode ended: record its (return, length) unless told not to, and start counting anew."""
        if record:
            self.finished_episodes.append((float(self._episode_return[i]), int(self._episode_length[i])))
        self._episode_return[i] = 0
        self._episode_length[i] = 0

    def _check_finite(self) -> None:
        check_finite(self.name, self.env_steps, self._rewards, self._obs, self._final_obs)

    def _require_plain_vector(self) -> None:
        """The async and EnvPool backends ravel observations, so they take only plain Box ones."""
        if not self.obs_spec.is_plain_vector:
            raise EnvError(
                f"observation space {self.observation_space} needs vec='sync' (the async and EnvPool backends "
                "take plain Box observations only)"
            )


class SyncVectorEnv(VectorEnvBase):
    """N envs stepped in turn in this process, with same-step autoreset; takes every supported
    observation space (Dict, Tuple, images: see trpo.learning.observations)."""

    def __init__(self, factories: Sequence[EnvFactory], name: str = "env"):
        self.envs = [make_one(f, name) for f in factories]
        super().__init__(len(self.envs), self.envs[0].observation_space, self.envs[0].action_space, name)
        self._game_statistics = _records_game_statistics(self.envs[0])

    def _reset_envs(self, seed: int | None) -> None:
        write = self.obs_spec.write
        for i, env in enumerate(self.envs):
            obs, _ = self._call(i, env.reset, seed=None if seed is None else seed + i)
            write(self._obs, i, obs)

    def _step_envs(self, actions: np.ndarray) -> None:
        write = self.obs_spec.write
        for i, env in enumerate(self.envs):
            obs, reward, terminated, truncated, info = self._call(i, env.step, actions[i])
            self._rewards[i] = reward
            self._terminated[i] = terminated
            self._truncated[i] = truncated and not terminated
            self._add_rewards(reward, i)
            if terminated or truncated:
                write(self._final_obs, i, obs)
                # With game statistics (Atari) the episode logged is the whole game, not each life.
                self._end_episode(i, record=not self._game_statistics)
                if self._game_statistics and "episode" in info:
                    game = info["episode"]
                    self.finished_episodes.append((float(game["r"]), int(game["l"])))
                obs, _ = self._call(i, env.reset)
            write(self._obs, i, obs)

    def _call(self, i: int, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """env.step / env.reset, turning any exception into an EnvFault that names the env."""
        try:
            return method(*args, **kwargs)
        except Exception as error:
            when = f"at its step {self.env_steps}"
            raise raised_fault(error, f"{self.name} (index {i})", method.__name__, when, i, self.env_steps) from error

    def render(self) -> Any:
        return self.envs[0].render()

    def close(self) -> None:
        for env in self.envs:
            env.close()


def make_vector_env(env: str | EnvFactory, num_envs: int, name: str | None = None, **make_kwargs: Any) -> SyncVectorEnv:
    factory = env_factory(env, train=True, **make_kwargs)
    name = name or (env if isinstance(env, str) else getattr(env, "__name__", "env factory"))
    return SyncVectorEnv([factory] * num_envs, name=name)
