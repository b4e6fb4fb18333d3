"""The vector-env backends keep SyncVectorEnv's contract: same-step autoreset, true final
observations, truncated only where not terminated, raw episode statistics."""

from __future__ import annotations

import numpy as np
import pytest

from trpo.config import ConfigError, TRPOConfig
from trpo.envs.errors import EnvError
from trpo.envs.vector import make_vector_env


def run(envs, actions):
    """Step through `actions` [T, N, ...]; return copies of every step's outputs."""
    out = []
    for a in actions:
        out.append([x.copy() for x in envs.step(a)])
    return [np.stack(x) for x in zip(*out, strict=True)]


def test_async_matches_sync_exactly_on_the_same_seeds():
    sync = make_vector_env("CartPole-v1", 3, "sync")
    asyn = make_vector_env("CartPole-v1", 3, "async")
    try:
        np.testing.assert_array_equal(sync.reset(seed=7), asyn.reset(seed=7))
        actions = np.random.default_rng(0).integers(0, 2, (300, 3))
        for a, b in zip(run(sync, actions), run(asyn, actions), strict=True):
            np.testing.assert_array_equal(a, b)
        assert len(sync.finished_episodes) > 5
        assert list(sync.finished_episodes) == list(asyn.finished_episodes)
    finally:
        asyn.close()


def test_envpool_matches_sync_on_the_same_seeds():
    """Hopper-v5 with no reset noise starts from the same state in both, so the same actions
    must give the same steps, terminations (falls) and truncations (40-step limit)."""
    pytest.importorskip("envpool")
    pytest.importorskip("mujoco")
    kwargs = {"reset_noise_scale": 0.0, "max_episode_steps": 40}
    sync = make_vector_env("Hopper-v5", 2, "sync", seed=3, **kwargs)
    pool = make_vector_env("Hopper-v5", 2, "envpool", seed=3, **kwargs)
    np.testing.assert_allclose(sync.reset(seed=3), pool.reset(seed=3), atol=1e-6)
    actions = np.random.default_rng(0).uniform(-1, 1, (300, 2, 3)).astype(np.float32)
    obs, rewards, terminated, truncated, final_obs = run(sync, actions)
    p_obs, p_rewards, p_terminated, p_truncated, p_final_obs = run(pool, actions)
    assert terminated.any() and truncated.any(), "the test must see both kinds of episode end"
    assert not (terminated & truncated).any()
    np.testing.assert_array_equal(terminated, p_terminated)
    np.testing.assert_array_equal(truncated, p_truncated)
    np.testing.assert_allclose(obs, p_obs, atol=1e-4)
    np.testing.assert_allclose(rewards, p_rewards, atol=1e-4)
    ended = terminated | truncated
    np.testing.assert_allclose(final_obs[ended], p_final_obs[ended], atol=1e-4)
    # After an end, obs is the first observation of the next episode: the noiseless start state.
    start = sync.reset(seed=3)[0]
    np.testing.assert_allclose(p_obs[ended], np.broadcast_to(start, p_obs[ended].shape), atol=1e-6)
    assert [n for _, n in sync.finished_episodes] == [n for _, n in pool.finished_episodes]
    np.testing.assert_allclose(
        [r for r, _ in sync.finished_episodes], [r for r, _ in pool.finished_episodes], atol=1e-3
    )
    pool.close()


def test_unknown_backend_names_the_choices():
    with pytest.raises(EnvError, match="sync, async, envpool"):
        make_vector_env("CartPole-v1", 2, "threads")
    with pytest.raises(ConfigError, match="vec"):
        TRPOConfig(vec="threads")


def test_envpool_needs_an_envpool_id():
    pytest.importorskip("envpool")
    with pytest.raises(EnvError, match="not an EnvPool env id"):
        make_vector_env("NoSuchEnv-v0", 2, "envpool")
    with pytest.raises(EnvError, match="registered EnvPool env id"):
        make_vector_env(lambda: None, 2, "envpool")
