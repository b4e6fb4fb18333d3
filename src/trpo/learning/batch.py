"""The batch a collector hands to training: one iteration's transitions, time-major."""

from __future__ import annotations

from typing import NamedTuple

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
