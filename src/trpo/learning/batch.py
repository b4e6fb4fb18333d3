"""The batch a collector hands to training: one iteration's transitions, time-major."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from trpo.learning.observations import Observation


class Batch(NamedTuple):
    """Transitions of one iteration, time-major [T, N, ...]. The sampler returns observations as
    the env gave them; the learner receives them normalised."""

    obs: Observation
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    final_obs: Observation
    """observation at which an episode was truncated (valid where truncated, else 0)"""
    last_obs: Observation
    """[N, ...] observation after the last step, for the bootstrap at the batch end"""
    episode_starts: Any = None
    """recurrent policies only: [T, N] bool, obs[t] begins an episode (the state is reset before it)"""
    actor_state: Any = None
    """recurrent policies only: [N, S] the actor core's state before the first step"""
    critic_state: Any = None
    """recurrent policies only: [N, S] the critic core's state before the first step"""
