"""Env groups of the local sampler: each group's batches depend only on (seed, group), so a run
split over workers (one group each) collects exactly what one process does."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from trpo.collect.rollout import Sampler, noise_stream
from trpo.envs.sync import make_vector_env
from trpo.learning.batch import Batch
from trpo.learning.networks import actor_forward, init_actor, init_critic, to_acting
from trpo.learning.normalization import ObservationNormalizer, init_stats, update_stats


def test_noise_stream_of_a_group_does_not_depend_on_the_number_of_groups():
    first = noise_stream(7, 1).standard_normal(5)
    np.testing.assert_array_equal(first, noise_stream(7, 1).standard_normal(5))
    # SeedSequence(7).spawn(3)[1] is the same child whatever the number spawned.
    spawned = np.random.default_rng(np.random.SeedSequence(7).spawn(3)[1]).standard_normal(5)
    np.testing.assert_array_equal(first, spawned)
    assert not np.array_equal(first, noise_stream(7, 0).standard_normal(5))
    assert not np.array_equal(first, noise_stream(7, 1, restart=1).standard_normal(5))


def _sampler(env_id, num_envs, seed, rngs, reset_seed=None):
    envs = make_vector_env(env_id, num_envs)
    return Sampler(envs, n_steps=60, seed=seed, rngs=rngs, reset_seed=reset_seed)


@pytest.mark.parametrize("recurrent", ["none", "lstm"])
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_two_groups_in_one_sampler_equal_two_one_group_samplers(env_id, recurrent):
    # A recurrent actor's groups also keep their own states: the batches carry them, joined.
    seed, groups, per_group = 5, 2, 3
    whole = _sampler(env_id, groups * per_group, seed, [noise_stream(seed, g) for g in range(groups)])
    parts = [
        _sampler(env_id, per_group, seed, [noise_stream(seed, g)], reset_seed=seed + g * per_group)
        for g in range(groups)
    ]
    actor = init_actor_numpy(whole, recurrent)
    stats = init_stats((whole.envs.obs_dim,))
    for _ in range(4):  # 240 steps: Pendulum truncates at 200
        norm = ObservationNormalizer(stats, enabled=True, clip=10.0)
        batch = whole.collect(actor, norm)
        part_batches = [sampler.collect(actor, norm) for sampler in parts]
        for name, joined, pieces in zip(Batch._fields, batch, zip(*part_batches, strict=True), strict=True):
            axis = 0 if name in ("last_obs", "actor_state", "critic_state") else 1
            if joined is None:  # the recurrent fields of a feed-forward batch
                assert recurrent == "none" and all(piece is None for piece in pieces), name
            elif isinstance(joined, dict):  # observations: {"vector": ...}
                for key in joined:
                    expected = np.concatenate([piece[key] for piece in pieces], axis=axis)
                    np.testing.assert_array_equal(joined[key], expected, f"{name}/{key}")
            else:
                np.testing.assert_array_equal(joined, np.concatenate(pieces, axis=axis), name)
        # The statistics change between iterations; every group acts on the same ones.
        stats = update_stats(stats, batch.obs["vector"] if isinstance(batch.obs, dict) else batch.obs)
    assert whole.rng_state() == [sampler.rng_state()[0] for sampler in parts]
    assert np.std(batch.actions) > 0  # stochastic actions, not the mode


def test_one_group_draws_all_noise_in_one_call():
    sampler = _sampler("Pendulum-v1", 4, 0, None)
    normalizer = ObservationNormalizer.fresh(3, enabled=True, clip=10.0)
    actor = init_actor_numpy(sampler)
    obs = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    actions = sampler.act(actor, normalizer, obs)
    # log_std starts at 0: actions = mean + 1 * noise, the noise one [4, 1] draw of group 0.
    mean, _ = actor_forward(actor, normalizer(obs), np)
    expected = mean + noise_stream(0, 0).standard_normal((4, 1), dtype=np.float32)
    np.testing.assert_allclose(actions, expected, rtol=1e-6)


def init_actor_numpy(sampler: Sampler, recurrent: str = "none"):
    """The acting parameters of a fresh actor (and, for a recurrent one, of its critic's core)."""
    key, obs_dim = jax.random.PRNGKey(0), sampler.envs.obs_dim
    actor = init_actor(key, obs_dim, (16, 16), sampler.dist, 0.0, recurrent=recurrent, recurrent_size=8)
    critic = init_critic(jax.random.PRNGKey(1), obs_dim, (16,), recurrent=recurrent, recurrent_size=8)
    return to_acting(actor, critic)
