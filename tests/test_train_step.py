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


@pytest.mark.parametrize("exact", [False, True])
def test_pi_old_in_the_update_with_and_without_exact_pi_old(exact):
    """The statistics take the batch in before the update, which sees the batch normalised with
    them. With exact_pi_old the networks absorb the change: the actor the update starts from, on
    the batch as the update sees it, gives the distribution the sampler acted with (the old actor
    on the observations as the acting normaliser produced them), and the critic the old values.
    Without it the update starts from the old networks unchanged (OpenAI Baselines' order)."""
    from trpo.learning.networks import actor_forward, critic_forward
    from trpo.learning.normalization import normalize, update_stats
    from trpo.training.train_step import train_step

    config = TINY.replace(exact_pi_old=exact)
    agent = TRPO("Pendulum-v1", config).learn(64)  # statistics of one batch, not the initial ones
    acting = agent.normalizer
    raw = agent.sampler.collect(agent._actor_np, acting)
    seen = {}

    def spy(learner, batch, lr_scale, **kwargs):
        seen["learner"], seen["batch"] = learner, batch
        return agent.learner.update(learner, batch, lr_scale, **kwargs)

    old = agent.train_state.learner
    state, _ = train_step(agent.train_state, raw, config, spy)
    expected = update_stats(agent.train_state.obs_stats, raw.obs)
    np.testing.assert_array_equal(state.obs_stats.mean, expected.mean)
    new_obs, old_obs = seen["batch"].obs, acting(raw.obs)
    np.testing.assert_array_equal(new_obs, normalize(expected, raw.obs, config.obs_clip))
    assert np.abs(new_obs - old_obs).max() > 0.05  # the statistics moved: the test is not trivial
    assert np.abs(old_obs).max() < config.obs_clip  # no clipping: the rewrite is exact here
    if not exact:
        assert leaves_equal(seen["learner"], old)
        agent.close()
        return
    for forward, new_params, old_params in (
        (lambda p, o: actor_forward(p, o)[0], seen["learner"].actor, old.actor),
        (critic_forward, seen["learner"].critic, old.critic),
    ):
        np.testing.assert_allclose(forward(new_params, new_obs), forward(old_params, old_obs), rtol=1e-4, atol=1e-5)
    agent.close()
