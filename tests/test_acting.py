"""The buffered acting path gives the same actions as the generic one, bit for bit, and consumes
the random generator the same way."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from trpo.collect.acting import RolloutActor
from trpo.learning.distributions import Categorical, DiagGaussian
from trpo.learning.networks import actor_forward, init_actor, to_numpy
from trpo.learning.normalization import ObservationNormalizer, init_stats, update_stats


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("dist", [DiagGaussian(action_dim=3), Categorical(num_actions=4)], ids=["gauss", "cat"])
def test_rollout_actor_matches_generic_forward_and_sampling(dist, normalize):
    obs_dim, num_envs, n_steps = 5, 2, 64
    actor = to_numpy(init_actor(jax.random.PRNGKey(0), obs_dim, (8, 8), dist, log_std_init=-0.5))
    if isinstance(dist, DiagGaussian):
        actor["log_std"] = np.array([-0.5, 0.0, 0.3], np.float32)
    data = np.random.default_rng(1)
    stats = update_stats(init_stats((obs_dim,)), data.standard_normal((50, obs_dim)) * 3.0)
    norm = ObservationNormalizer(stats, normalize, clip=1.5)
    observations = (data.standard_normal((n_steps, num_envs, obs_dim)) * 4.0).astype(np.float32)

    fast = RolloutActor(actor, dist, norm, np.random.default_rng(7), n_steps, num_envs, obs_dim)
    assert fast.fast == isinstance(dist, DiagGaussian)
    generic_rng = np.random.default_rng(7)
    dtype = np.float32 if isinstance(dist, DiagGaussian) else np.int64
    shape = (num_envs, 3) if isinstance(dist, DiagGaussian) else (num_envs,)
    for t in range(n_steps):
        out = np.zeros(shape, dtype)
        fast.act(t, observations[t], out)
        params = actor_forward(actor, norm(observations[t]), np)
        expected = dist.sample_numpy(generic_rng, params, deterministic=False)
        assert out.tobytes() == expected.astype(dtype).tobytes()
    # Both generators are left in the same state: the next draw agrees.
    assert fast.rng.random() == generic_rng.random()
