"""Envs that fail on purpose, for the fault tests. Importing this module registers them, so the
CLI can name them as "faulty_envs:faulty/NaNReward-v0" (with tests/ on PYTHONPATH).

Every env made by one process gets the next instance number; `fail_instance` picks which one
fails (in a vector of N envs made in order, instance i is env index i).
"""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np

_instances = itertools.count()


class FaultyEnv(gym.Env):
    """A 3-d observation, two actions, episodes of 50 steps; `fault` happens at `at_step` (counted
    over the env's whole life) in the instance numbered `fail_instance`."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, fault: str = "none", at_step: int = 10, fail_instance: int = 1):
        self.fails = next(_instances) == fail_instance and fault != "none"
        self.fault = fault
        self.at_step = at_step
        self.steps = 0
        self.episode_steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode_steps = 0
        return self.np_random.uniform(-0.1, 0.1, 3).astype(np.float32), {}

    def step(self, action):
        self.steps += 1
        self.episode_steps += 1
        obs = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        reward = float(action)
        if self.fails and self.steps == self.at_step:
            if self.fault == "raise":
                raise RuntimeError("simulator exploded")
            if self.fault == "nan_reward":
                reward = float("nan")
            if self.fault == "inf_obs":
                obs[1] = np.inf
        return obs, reward, False, self.episode_steps >= 50, {}


class TextObservationEnv(FaultyEnv):
    """An observation space no policy network here can read."""

    observation_space = gym.spaces.Text(max_length=8)


def reset_instance_count() -> None:
    global _instances
    _instances = itertools.count()


for _name, _kwargs in {
    "NaNReward-v0": {"fault": "nan_reward", "at_step": 100},
    "InfObs-v0": {"fault": "inf_obs", "at_step": 77},
    "Raises-v0": {"fault": "raise", "at_step": 100},
    "Healthy-v0": {},
    # Instance 2 fails: with --num-envs 2 that is the env made fresh for the evaluation.
    "EvalRaises-v0": {"fault": "raise", "at_step": 30, "fail_instance": 2},
    "EvalInfObs-v0": {"fault": "inf_obs", "at_step": 30, "fail_instance": 2},
}.items():
    gym.register(f"faulty/{_name}", entry_point=FaultyEnv, kwargs=_kwargs)
gym.register("faulty/TextObs-v0", entry_point=TextObservationEnv)
