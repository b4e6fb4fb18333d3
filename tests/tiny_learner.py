"""A small learner setup shared by tests that call Learner directly: the config, and a batch of
random transitions (3 observation dims, 2 discrete actions)."""

import numpy as np

from trpo import TRPOConfig
from trpo.learning.batch import Batch

# 2 envs x 32 steps = 64 transitions per iteration.
TINY = TRPOConfig(num_envs=2, n_steps=32, hidden_sizes=(8,), critic_minibatch=32, critic_epochs=2)


def a_batch(steps=32, n=2, obs_dim=3, seed=0):
    rng = np.random.default_rng(seed)
    return Batch(
        obs=rng.standard_normal((steps, n, obs_dim)).astype(np.float32),
        actions=rng.integers(0, 2, (steps, n)),
        rewards=rng.standard_normal((steps, n)).astype(np.float32),
        terminated=np.zeros((steps, n), bool),
        truncated=np.zeros((steps, n), bool),
        final_obs=np.zeros((steps, n, obs_dim), np.float32),
        last_obs=rng.standard_normal((n, obs_dim)).astype(np.float32),
    )
