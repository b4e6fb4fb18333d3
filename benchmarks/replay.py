"""Deterministic episodes of a saved agent with something read from the simulator after the reset
and after every step, for the gait checks (halfcheetah_gait.py, hopper_falls.py). The episodes
are played by trpo's own evaluation loop (trpo.training.evaluation.play_episodes), so with the
same first seed they are the episodes of the agent's final eval."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym


class _Reader(gym.Wrapper):
    """Calls read(env.unwrapped) after each reset and step: one list of readings per episode, and
    whether each episode ended by termination (not by the time limit)."""

    def __init__(self, env: gym.Env, read: Callable[[Any], Any]):
        super().__init__(env)
        self.read, self.readings, self.terminated = read, [], []

    def reset(self, **kwargs: Any) -> Any:
        out = self.env.reset(**kwargs)
        self.readings.append([self.read(self.env.unwrapped)])
        self.terminated.append(False)
        return out

    def step(self, action: Any) -> Any:
        out = self.env.step(action)
        self.readings[-1].append(self.read(self.env.unwrapped))
        self.terminated[-1] = bool(out[2])
        return out


@dataclass
class Replay:
    returns: list[float]
    lengths: list[int]
    readings: list[list[Any]]
    """per episode: read(env) after the reset, then after each of its steps (length + 1 readings)"""
    terminated: list[bool]
    dt: float
    """simulated seconds per env step"""


def replay(path: str, env_id: str, episodes: int, first_seed: int, read: Callable[[Any], Any]) -> Replay:
    """`episodes` deterministic episodes of the agent saved at `path` (agent_STEPS.npz or a run's
    checkpoints/latest), episode e reset with first_seed + e."""
    from trpo import TRPO
    from trpo.envs.make import make_one
    from trpo.training.evaluation import play_episodes

    agent = TRPO.load(path, env=env_id)
    # The agent's own evaluation env: the env it was trained on, make_kwargs included (Ant's
    # preset leaves the contact forces out of the observation).
    env = _Reader(make_one(agent.eval_env_factory, env_id), read)
    try:
        result = play_episodes(env, lambda obs: agent.act(obs, deterministic=True), episodes, first_seed, env_id)
    finally:
        env.close()
    return Replay(result["returns"], result["lengths"], env.readings, env.terminated, float(env.unwrapped.dt))
