"""EnvPoolVectorEnv: EnvPool's C++ envs (MuJoCo, classic control, Atari) behind trpo's contract.

EnvPool's Gymnasium interface auto-resets on the step after an episode ends (NEXT_STEP) and
ignores that step's action. trpo needs same-step autoreset (see trpo.envs.sync), so after a step in
which episodes end, this class resets exactly those envs at once (EnvPool's reset(env_id)) and
returns their first observations, keeping the final ones in final_obs. Install with
`pip install 'trpo[envpool]'`. EnvPool seeds env i from seed + i when it is made; its random
streams differ from gymnasium's, so the same seed does not give the same episodes as "sync".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trpo.envs.errors import EnvError
from trpo.envs.sync import VectorEnvBase


def _import_envpool() -> Any:
    try:
        import envpool
    except ImportError as error:
        raise EnvError(f"vec='envpool' needs envpool ({error}). Fix: pip install 'trpo[envpool]'") from error
    return envpool


class EnvPoolVectorEnv(VectorEnvBase):
    def __init__(self, env_id: str, num_envs: int, seed: int = 0, **make_kwargs: Any):
        envpool = _import_envpool()
        if env_id not in envpool.list_all_envs():
            raise EnvError(f"{env_id!r} is not an EnvPool env id; use vec='sync' or 'async' for it")
        self._pool = envpool.make_gymnasium(env_id, num_envs=num_envs, batch_size=num_envs, seed=seed, **make_kwargs)
        super().__init__(num_envs, self._pool.observation_space, self._pool.action_space, env_id)
        self._require_plain_vector()
        self._ended = np.zeros(num_envs, bool)
        self._action_dtype = self.action_space.dtype

    def _reset_envs(self, seed: int | None) -> None:
        """Reset every env. EnvPool is seeded when made, so `seed` is ignored here."""
        obs, info = self._pool.reset()
        self._obs[info["env_id"]] = obs.reshape(self.num_envs, -1)

    def _step_envs(self, actions: np.ndarray) -> None:
        obs, rewards, terminated, truncated, info = self._pool.step(np.asarray(actions, self._action_dtype))
        ids = info["env_id"]
        self._obs[ids] = obs.reshape(len(ids), -1)
        self._rewards[ids] = rewards
        self._terminated[ids] = terminated
        self._truncated[ids] = np.logical_and(truncated, np.logical_not(terminated))
        self._add_rewards(rewards, ids)
        np.logical_or(self._terminated, self._truncated, out=self._ended)
        if self._ended.any():
            done = np.flatnonzero(self._ended)
            self._final_obs[done] = self._obs[done]
            for i in done:
                self._end_episode(i)
            reset_obs, reset_info = self._pool.reset(env_id=done.astype(np.int32))
            self._obs[reset_info["env_id"]] = reset_obs.reshape(len(done), -1)

    def render(self) -> Any:
        return self._pool.render()

    def close(self) -> None:
        self._pool.close()
