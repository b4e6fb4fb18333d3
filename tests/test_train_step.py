"""The training state and step: one schedule over several learn() calls, and the state's
checkpoint arrays round-tripping exactly."""

import jax
import numpy as np
import pytest

from trpo.config import TRPOConfig
from trpo.training.agent import TRPO
from trpo.training.train_step import restore_state, state_arrays

TINY = TRPOConfig(num_envs=2, n_steps=32, critic_minibatch=32, critic_epochs=2, hidden_sizes=(8,), cg_iters=4)


def leaves_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


@pytest.mark.parametrize("budget", [4 * 64, None])
def test_learn_twice_equals_learn_once_when_the_budget_is_known(budget):
    """With critic_lr_decay the critic's learning rate falls to 0 at the run's budget. Knowing it,
    learn(2 iterations) twice follows the schedule of learn(4 iterations); without it, each call
    decays over its own length, and the second half trains differently."""
    config = TINY.replace(critic_lr_decay=True, seed=4)
    once = TRPO("CartPole-v1", config, total_steps=4 * 64).learn(4 * 64)
    twice = TRPO("CartPole-v1", config, total_steps=budget).learn(2 * 64).learn(2 * 64)
    assert int(once.train_state.lr_horizon) == 4 * 64
    assert once.global_step == twice.global_step == 4 * 64
    same = leaves_equal(once.state.critic, twice.state.critic)
    assert same == (budget is not None)
    # The actor after iteration 3 already depends on iteration 2's critic.
    assert leaves_equal(once.state.actor, twice.state.actor) == (budget is not None)
    once.close()
    twice.close()


def test_state_arrays_round_trip_exactly():
    agent = TRPO("Pendulum-v1", TINY.replace(normalize_rewards=True, critic_lr_decay=True)).learn(2 * 64)
    arrays, counters = state_arrays(agent.train_state)
    assert counters == {"global_step": 128, "iteration": 2, "skipped_updates": 0, "lr_horizon": 128}
    fresh = TRPO("Pendulum-v1", TINY.replace(seed=9)).train_state
    restored = restore_state(fresh, arrays, counters, "test")
    assert leaves_equal(restored, agent.train_state)
    assert restored.obs_stats.mean.dtype == np.float64 and float(restored.reward_stats.returns.count) == 128
    agent.close()


def test_the_update_sees_the_batch_as_the_collector_normalised_it():
    """pi_old must be the policy that collected the batch: train_step hands the update the
    observations normalised with the statistics the sampler acted with, then takes the batch
    into the statistics for the next iteration."""
    from trpo.learning.normalization import update_stats
    from trpo.training.train_step import train_step

    agent = TRPO("Pendulum-v1", TINY).learn(64)  # statistics of one batch, not the initial ones
    acting = agent.normalizer
    raw = agent.sampler.collect(agent._actor_np, acting)
    seen = {}

    def spy(learner, batch, lr_scale):
        seen["batch"] = batch
        return agent.learner.update(learner, batch, lr_scale)

    state, _ = train_step(agent.train_state, raw, agent.config, spy)
    np.testing.assert_array_equal(seen["batch"].obs, acting(raw.obs))
    np.testing.assert_array_equal(seen["batch"].last_obs, acting(raw.last_obs))
    expected = update_stats(agent.train_state.obs_stats, raw.obs["vector"] if isinstance(raw.obs, dict) else raw.obs)
    np.testing.assert_array_equal(state.obs_stats.mean, expected.mean)
    assert not np.array_equal(state.obs_stats.mean, agent.train_state.obs_stats.mean)
    agent.close()
