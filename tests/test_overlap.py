"""The next rollout runs beside the critic fit (TRPO._iterate): the batches, the metrics and the
state must be exactly those of collecting after the whole update, as a plain loop of
collect -> train_step does it."""

import jax
import numpy as np
import pytest

from trpo.config import TRPOConfig
from trpo.learning.networks import to_acting
from trpo.training.agent import TRPO
from trpo.training.train_step import train_step

SMALL = TRPOConfig(num_envs=2, n_steps=64, hidden_sizes=(16,), critic_minibatch=32, critic_epochs=2, cg_iters=5)
ITERATIONS = 4


def copied(batch):
    return jax.tree.map(np.copy, batch)


def sequential_reference(env_id, config, iterations):
    """Collect, then update, then collect: no overlap. Returns the batches, the update stats and the agent."""
    agent = TRPO(env_id, config, total_steps=iterations * config.batch_size)
    agent.train_state = agent.train_state._replace(lr_horizon=np.asarray(iterations * config.batch_size, np.int64))
    batches, stats = [], []
    for _ in range(iterations):
        raw = agent.sampler.collect(agent._actor_np, agent.normalizer)
        batches.append(copied(raw))
        agent.train_state, s = train_step(agent.train_state, raw, config, agent.learner.update)
        agent._actor_np = to_acting(agent.state.actor)
        s.pop("train/skipped")
        stats.append(s)
    return batches, stats, agent


def recording(agent):
    """Copy every batch the agent's sampler returns (the collection runs in a thread)."""
    batches, collect = [], agent.sampler.collect

    def collect_and_copy(*args):
        raw = collect(*args)
        batches.append(copied(raw))
        return raw

    agent.sampler.collect = collect_and_copy
    return batches


def assert_same_state(a, b):
    for x, y in zip(jax.tree.leaves(jax.device_get(a.state)), jax.tree.leaves(jax.device_get(b.state)), strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.train_state.obs_stats.mean, b.train_state.obs_stats.mean)
    assert a.sampler.rng_state() == b.sampler.rng_state()


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_overlapped_learning_collects_and_learns_exactly_as_the_sequential_loop(env_id):
    config = SMALL.replace(normalize_rewards=env_id == "Pendulum-v1")
    ref_batches, ref_stats, reference = sequential_reference(env_id, config, ITERATIONS)
    agent = TRPO(env_id, config, total_steps=ITERATIONS * config.batch_size)
    batches = recording(agent)
    rows = []
    agent.learn(ITERATIONS * config.batch_size, callback=rows.append)
    assert len(batches) == ITERATIONS  # no batch collected past the last iteration
    for got, want in zip(batches, ref_batches, strict=True):
        for x, y in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_array_equal(x, y)
    for row, want in zip(rows, ref_stats, strict=True):
        assert {k: row[k] for k in want} == want
    assert_same_state(agent, reference)
    agent.close()
    reference.close()


def test_a_batch_under_way_when_the_callback_stops_is_the_next_learns_first(tmp_path):
    """Stopping after iteration 2 leaves batch 3 under way: a checkpoint then holds the state of
    iteration 2 (the noise streams from before batch 3), and learning on trains on batch 3."""
    total = ITERATIONS * SMALL.batch_size
    straight = TRPO("Pendulum-v1", SMALL, total_steps=total)
    straight_rows = []
    straight.learn(total, callback=straight_rows.append)

    _, _, after_two = sequential_reference("Pendulum-v1", SMALL, 2)
    agent = TRPO("Pendulum-v1", SMALL, total_steps=total)
    rows = []
    agent.learn(total, callback=lambda m: rows.append(m) or len(rows) < 2)
    assert len(rows) == 2 and agent._next_batch is not None
    agent.save(tmp_path / "agent.ckpt")
    loaded = TRPO.load(tmp_path / "agent.ckpt")
    assert loaded.sampler.rng_state() == after_two.sampler.rng_state()
    agent.learn(total - 2 * SMALL.batch_size, callback=rows.append)

    def untimed(row):
        return {k: v for k, v in row.items() if not k.startswith("time/")}

    assert [untimed(r) for r in rows] == [untimed(r) for r in straight_rows]
    assert_same_state(agent, straight)
    for a in (straight, after_two, agent, loaded):
        a.close()
