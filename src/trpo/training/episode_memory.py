"""Evaluation of a recurrent policy: the state lives within an episode and restarts with it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

StatefulAct = Callable[[Any, Any], tuple[np.ndarray, Any]]
"""act(obs, state) -> (action, state); state None means a fresh episode."""


class EpisodeMemory(gym.Wrapper):
    """Wraps the evaluation env so that `act(obs)` (for evaluation.play_episodes) carries a
    recurrent policy's state from step to step and drops it whenever the env resets."""

    def __init__(self, env: gym.Env, act_with_state: StatefulAct):
        super().__init__(env)
        self.act_with_state = act_with_state
        self.state: Any = None

    def reset(self, **kwargs: Any) -> Any:
        self.state = None
        return self.env.reset(**kwargs)

    def act(self, obs: Any) -> np.ndarray:
        action, self.state = self.act_with_state(obs, self.state)
        return action
