"""EnvPoolVectorEnv: EnvPool's C++ envs (MuJoCo, classic control, Atari) behind trpo's contract.

EnvPool's Gymnasium interface auto-resets on the step after an episode ends (NEXT_STEP) and
ignores that step's action. trpo needs same-step autoreset (see trpo.envs), so after a step in
which episodes end, this class resets exactly those envs at once (EnvPool's reset(env_id)) and
returns their first observations, keeping the final ones in final_obs. Install with
`pip install 'trpo[envpool]'`. EnvPool seeds env i from seed + i when it is made; its random
streams differ from gymnasium's, so the same seed does not give the same episodes as "sync".
"""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np

from trpo.envs import EnvError, action_distribution, check_finite, observation_dim, observation_spec


def _import_envpool() -> Any:
    try:
        import envpool
    except ImportError as error:
        raise EnvError(f"vec='envpool' needs envpool ({error}). Fix: pip install 'trpo[envpool]'") from error
    return envpool


class EnvPoolVectorEnv:
    def __init__(self, env_id: str, num_envs: int, seed: int = 0, **make_kwargs: Any):
        envpool = _import_envpool()
        if env_id not in envpool.list_all_envs():
            raise EnvError(f"{env_id!r} is not an EnvPool env id; use vec='sync' or 'async' for it")
        self._pool = envpool.make_gymnasium(env_id, num_envs=num_envs, batch_size=num_envs, seed=seed, **make_kwargs)
        self.observation_space = self._pool.observation_space
        self.action_space = self._pool.action_space
        self.distribution = action_distribution(self.action_space)
        self.obs_dim = observation_dim(self.observation_space)
        self.obs_spec = observation_spec(self.observation_space)
        self.num_envs = num_envs
        n, d = num_envs, self.obs_dim
        self._obs = np.zeros((n, d), np.float32)
        self._final_obs = np.zeros((n, d), np.float32)
        self._rewards = np.zeros(n, np.float32)
        self._terminated = np.zeros(n, bool)
        self._truncated = np.zeros(n, bool)
        self._ended = np.zeros(n, bool)
        self._episode_return = np.zeros(n, np.float64)
        self._episode_length = np.zeros(n, np.int64)
        self.finished_episodes: deque[tuple[float, int]] = deque(maxlen=100)
        box = isinstance(self.action_space, gym.spaces.Box)
        self._clip = (self.action_space.low, self.action_space.high) if box else None
        self._action_dtype = self.action_space.dtype
        self.name = env_id
        self.env_steps = 0
        """steps taken by each env so far (a resumed agent sets it to global_step // num_envs)"""

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Reset every env. EnvPool is seeded when made, so `seed` is ignored here."""
        obs, info = self._pool.reset()
        self._obs[info["env_id"]] = obs.reshape(self.num_envs, -1)
        self._episode_return[:] = 0
        self._episode_length[:] = 0
        check_finite(self.name, self.env_steps, self._rewards, self._obs, self._final_obs)
        return self._obs

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, ...]:
        if self._clip is not None:
            actions = np.clip(actions, *self._clip)
        self.env_steps += 1
        obs, rewards, terminated, truncated, info = self._pool.step(np.asarray(actions, self._action_dtype))
        ids = info["env_id"]
        self._obs[ids] = obs.reshape(len(ids), -1)
        self._rewards[ids] = rewards
        self._terminated[ids] = terminated
        self._truncated[ids] = np.logical_and(truncated, np.logical_not(terminated))
        self._episode_return[ids] += rewards
        self._episode_length[ids] += 1
        np.logical_or(self._terminated, self._truncated, out=self._ended)
        if self._ended.any():
            done = np.flatnonzero(self._ended)
            self._final_obs[done] = self._obs[done]
            for i in done:
                self.finished_episodes.append((float(self._episode_return[i]), int(self._episode_length[i])))
            self._episode_return[done] = 0
            self._episode_length[done] = 0
            reset_obs, reset_info = self._pool.reset(env_id=done.astype(np.int32))
            self._obs[reset_info["env_id"]] = reset_obs.reshape(len(done), -1)
        check_finite(self.name, self.env_steps, self._rewards, self._obs, self._final_obs)
        return self._obs, self._rewards, self._terminated, self._truncated, self._final_obs

    def render(self) -> Any:
        return self._pool.render()

    def close(self) -> None:
        self._pool.close()
