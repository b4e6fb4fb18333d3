"""Partially observed envs: a wrapper that drops observation entries, and the benchmark ids built
with it, registered when trpo is imported (as rl-baselines3-zoo registers its NoVel variants).

- `trpo/CartPoleNoVel-v1`: CartPole-v1 observing cart position and pole angle only (the two
  velocities dropped); 500 steps, solved at 475.
- `trpo/PendulumNoVel-v1`: Pendulum-v1 observing cos and sin of the angle only (the angular
  velocity dropped); 200 steps.

A policy needs memory (a recurrent policy, `--recurrent lstm|gru`) to act well on these: the
velocities can only be inferred from successive observations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from trpo.envs.errors import EnvError

CARTPOLE_NOVEL = "trpo/CartPoleNoVel-v1"
PENDULUM_NOVEL = "trpo/PendulumNoVel-v1"


class DropObservation(gym.ObservationWrapper):
    """Remove the entries `drop` (indices into a 1-D Box observation) from every observation.

    >>> env = DropObservation(gym.make("CartPole-v1"), drop=[1, 3])  # no velocities

    Negative indices count from the end, as in NumPy. Raises EnvError for an observation space
    that is not a 1-D Box, and for indices that are out of range, repeated, or drop every entry."""

    def __init__(self, env: gym.Env, drop: Sequence[int]):
        super().__init__(env)
        self.kept = kept_indices(env.observation_space, drop)
        space = env.observation_space
        self.observation_space = gym.spaces.Box(space.low[self.kept], space.high[self.kept], dtype=space.dtype)

    def observation(self, observation: Any) -> np.ndarray:
        return np.asarray(observation)[self.kept]


def kept_indices(space: gym.Space, drop: Sequence[int]) -> np.ndarray:
    """The indices of a 1-D Box observation that remain after dropping `drop`, with the checks
    DropObservation documents."""
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise EnvError(
            f"DropObservation needs a 1-D Box observation space, got {space}. Fix: flatten the observation "
            "first (gymnasium.wrappers.FlattenObservation) and drop indices of the flat vector"
        )
    size = int(space.shape[0])
    drop = list(drop)
    bad = [i for i in drop if isinstance(i, bool) or not isinstance(i, int | np.integer) or not -size <= i < size]
    if bad:
        raise EnvError(
            f"DropObservation: indices {bad} are not valid for an observation of size {size}: "
            f"give integers in [{-size}, {size - 1}]"
        )
    normalised = [int(i) % size for i in drop]
    if len(set(normalised)) != len(normalised):
        raise EnvError(f"DropObservation: indices {drop} name an entry more than once; give each index once")
    if len(normalised) == size:
        raise EnvError(f"DropObservation: dropping {drop} would leave no observation; keep at least one entry")
    return np.array([i for i in range(size) if i not in set(normalised)], np.int64)


def cartpole_no_velocity(**kwargs: Any) -> gym.Env:
    """CartPole without the cart velocity (index 1) and the pole's angular velocity (index 3)."""
    from gymnasium.envs.classic_control.cartpole import CartPoleEnv

    return DropObservation(CartPoleEnv(**kwargs), drop=[1, 3])


def pendulum_no_velocity(**kwargs: Any) -> gym.Env:
    """Pendulum without the angular velocity (index 2 of [cos, sin, velocity])."""
    from gymnasium.envs.classic_control.pendulum import PendulumEnv

    return DropObservation(PendulumEnv(**kwargs), drop=[2])


def register() -> None:
    """Register the benchmark ids with Gymnasium (once per process)."""
    if CARTPOLE_NOVEL not in gym.registry:
        gym.register(
            CARTPOLE_NOVEL,
            entry_point=f"{__name__}:cartpole_no_velocity",
            max_episode_steps=500,
            reward_threshold=475.0,
        )
    if PENDULUM_NOVEL not in gym.registry:
        gym.register(PENDULUM_NOVEL, entry_point=f"{__name__}:pendulum_no_velocity", max_episode_steps=200)


register()
