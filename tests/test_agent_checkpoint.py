"""Save -> load restores every array bit for bit and the loaded agent acts identically."""

import jax
import numpy as np
import pytest

from trpo import TRPO, TRPOConfig
from trpo.training import checkpoint

# A critic narrower than the actor: the loaded agent must build both from the saved config.
SMALL = TRPOConfig(
    seed=5, num_envs=2, n_steps=64, critic_minibatch=64, hidden_sizes=(16, 16), critic_hidden_sizes=(24,)
)


def _assert_same_contents(a: TRPO, b: TRPO) -> None:
    arrays_a, meta_a = a._checkpoint_contents()
    arrays_b, meta_b = b._checkpoint_contents()
    assert arrays_a.keys() == arrays_b.keys()
    for key in arrays_a:
        assert arrays_a[key].dtype == arrays_b[key].dtype, key
        np.testing.assert_array_equal(arrays_a[key], arrays_b[key], err_msg=key)
    for key in ("global_step", "iteration", "numpy_rng", "config", "finished_episodes"):
        assert meta_a[key] == meta_b[key], key


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "CartPole-v1"])
def test_save_load_restores_arrays_and_actions(tmp_path, env_id):
    agent = TRPO(env_id, SMALL).learn(256)  # two iterations: the critic optimiser has moved
    path = tmp_path / "agent.npz"
    agent.save(path)
    loaded = TRPO.load(path)

    assert loaded.global_step == agent.global_step == 256
    assert [layer["w"].shape[1] for layer in loaded.state.critic["mlp"]] == [24, 1]
    assert [layer["w"].shape[1] for layer in loaded.state.actor["mlp"]][:2] == [16, 16]
    assert loaded.iteration == 2
    _assert_same_contents(agent, loaded)
    # The JAX key is restored too (it drives the critic's minibatch order).
    np.testing.assert_array_equal(jax.random.key_data(loaded.state.key), jax.random.key_data(agent.state.key))

    obs = np.random.default_rng(0).normal(size=(7, agent.envs.obs_dim)).astype(np.float32)
    np.testing.assert_array_equal(loaded.act(obs, deterministic=True), agent.act(obs, deterministic=True))
    # Same observations and the same random generator: the same sampled actions.
    sampled = agent.act(obs, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(loaded.act(obs, rng=np.random.default_rng(42)), sampled)
    # Without a generator both draw from their (restored, identical) training generators.
    np.testing.assert_array_equal(loaded.act(obs[0]), agent.act(obs[0]))
    agent.close()
    loaded.close()


def test_act_single_and_batch_shapes():
    agent = TRPO("Pendulum-v1", SMALL)
    obs = np.zeros((4, 3), np.float32)
    assert agent.act(obs).shape == (4, 1)
    assert agent.act(obs[0]).shape == (1,)
    # Box actions are clipped to the space bounds (Pendulum: [-2, 2]).
    assert np.all(np.abs(agent.act(obs * 100.0)) <= 2.0)
    agent.close()


def test_checkpoint_dir_keeps_newest_and_latest_loads(tmp_path):
    folder = checkpoint.CheckpointDir(tmp_path / "checkpoints", keep=2)
    for iteration in (1, 2, 3, 4):
        folder.write(iteration, {"x": np.full(3, iteration, np.float32)}, {"iteration": iteration})
    assert sorted(p.name for p in folder.folder.glob("iter_*.npz")) == ["iter_00000003.npz", "iter_00000004.npz"]
    arrays, meta = checkpoint.load(tmp_path)  # a run directory loads checkpoints/latest
    assert meta["iteration"] == 4
    np.testing.assert_array_equal(arrays["x"], np.full(3, 4, np.float32))
    assert not list(folder.folder.glob(".*.tmp"))  # no temp files left behind


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "agent.npz"
    checkpoint.save(path, {"x": np.arange(1000.0)}, {"iteration": 1})
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(checkpoint.CheckpointError, match="truncated or overwritten checkpoint: its 100 bytes"):
        checkpoint.load(path)


def test_load_into_a_different_env_is_a_clear_error(tmp_path):
    agent = TRPO("Pendulum-v1", SMALL)
    agent.save(tmp_path / "agent.npz")
    agent.close()
    with pytest.raises(checkpoint.CheckpointError, match=r"observations: vector of size 3; actions: Box"):
        TRPO.load(tmp_path / "agent.npz", env="CartPole-v1")
