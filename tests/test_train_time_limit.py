"""config.train_time_limit: training episodes are cut after that many steps as a time limit cuts
them (truncated, so the critic bootstraps from the real final observation); evaluation plays the
env's whole episodes; the backends that cannot honour it say so."""

from __future__ import annotations

import numpy as np
import pytest

from trpo import TRPO, TRPOConfig
from trpo.config import ConfigError
from trpo.envs.errors import EnvError
from trpo.envs.vector import make_vector_env


@pytest.mark.parametrize("vec", ["sync", "async"])
def test_training_episodes_are_truncated_at_the_limit(vec):
    # Pendulum-v1 never terminates and its own limit is 200 steps: every episode must end at step 30, truncated.
    envs = make_vector_env("Pendulum-v1", 2, vec, time_limit=30)
    try:
        envs.reset(seed=0)
        actions = np.zeros((2, 1), np.float32)
        ends = [[x.copy() for x in envs.step(actions)[2:4]] for _ in range(90)]  # the arrays are reused
    finally:
        envs.close()
    terminated = np.array([t for t, _ in ends])
    truncated = np.array([u for _, u in ends])
    assert not terminated.any()
    assert truncated[29::30].all() and truncated.sum() == 6  # steps 30, 60, 90 of both envs
    assert [length for _, length in envs.finished_episodes] == [30] * 6


def test_a_limit_longer_than_the_envs_own_leaves_the_envs_own():
    envs = make_vector_env("Pendulum-v1", 1, time_limit=500)
    envs.reset(seed=0)
    for _ in range(200):
        envs.step(np.zeros((1, 1), np.float32))
    assert [length for _, length in envs.finished_episodes] == [200]


def test_the_agent_trains_on_cut_episodes_and_evaluates_whole_ones():
    config = TRPOConfig(num_envs=2, n_steps=50, critic_minibatch=50, hidden_sizes=(8,), train_time_limit=25)
    agent = TRPO("Pendulum-v1", config)
    rows = []
    agent.learn(200, callback=lambda metrics: rows.append(metrics))
    assert [row["rollout/ep_len_mean"] for row in rows] == [25.0, 25.0]
    assert agent.evaluate(2)["lengths"] == [200, 200]
    agent.close()


def test_the_limit_survives_a_save_and_load(tmp_path):
    config = TRPOConfig(num_envs=1, n_steps=16, critic_minibatch=16, hidden_sizes=(8,), train_time_limit=7)
    TRPO("Pendulum-v1", config).save(tmp_path / "agent.npz")
    loaded = TRPO.load(tmp_path / "agent.npz")
    assert loaded.config.train_time_limit == 7
    loaded.envs.reset(seed=0)
    for _ in range(7):
        loaded.envs.step(np.zeros((1, 1), np.float32))
    assert [length for _, length in loaded.envs.finished_episodes] == [7]


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_a_bad_limit_is_named(bad):
    with pytest.raises(ConfigError, match="train_time_limit"):
        TRPOConfig(train_time_limit=bad)


def test_envpool_and_the_compiled_path_refuse_a_limit(tmp_path):
    with pytest.raises(ConfigError, match="train_time_limit.*envpool"):
        TRPOConfig(vec="envpool", train_time_limit=100)
    with pytest.raises(EnvError, match="envpool"):
        make_vector_env("CartPole-v1", 1, "envpool", time_limit=100)
    from trpo.cli import main

    argv = ["train", "gymnax:CartPole-v1", "--total-steps", "64", "--run-dir", str(tmp_path)]
    argv += ["--train-time-limit", "50"]
    assert main(argv) == 2
    assert not (tmp_path / "config.yaml").exists()
