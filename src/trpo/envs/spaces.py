"""What trpo makes of an env's spaces: the action distribution and the observation layout."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from trpo.envs.errors import EnvError
from trpo.learning.distributions import Bernoulli, Categorical, DiagGaussian, Distribution, MultiCategorical
from trpo.learning.observations import ObservationSpaceError, ObservationSpec

SUPPORTED_ACTIONS = "Box (1-D, continuous), Discrete, MultiDiscrete (1-D) or MultiBinary (1-D)"


def action_distribution(space: gym.Space) -> Distribution:
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return DiagGaussian(action_dim=int(space.shape[0]))
    if isinstance(space, gym.spaces.Discrete):
        if int(space.start) != 0:
            raise EnvError(f"unsupported action space {space}: Discrete actions must start at 0")
        return Categorical(num_actions=int(space.n))
    if isinstance(space, gym.spaces.MultiDiscrete) and space.nvec.ndim == 1:
        if np.any(space.start != 0):
            raise EnvError(f"unsupported action space {space}: MultiDiscrete actions must start at 0")
        return MultiCategorical(nvec=tuple(int(n) for n in space.nvec))
    if isinstance(space, gym.spaces.MultiBinary) and np.ndim(space.n) == 0:
        return Bernoulli(num_bits=int(space.n))
    raise EnvError(f"unsupported action space {space}; supported: {SUPPORTED_ACTIONS}")


def observation_spec(space: gym.Space) -> ObservationSpec:
    try:
        return ObservationSpec.from_space(space)
    except ObservationSpaceError as error:
        raise EnvError(str(error)) from error
