"""Recurrent policies end to end: the flags, the collectors that refuse them, checkpoints and
resume, trpo eval, and TRPO.act with the state."""

import json

import numpy as np
import pytest

from trpo import TRPO, ConfigError, TRPOConfig
from trpo.cli import main
from trpo.training import checkpoint

TINY = ["--num-envs", "2", "--n-steps", "32", "--critic-minibatch", "32", "--hidden-sizes", "8"]
TINY += ["--recurrent-size", "8", "--cg-iters", "4", "--critic-epochs", "2", "--preset", "none"]


def test_flags_are_in_help_and_reach_the_config(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "trpo/CartPoleNoVel-v1", "--help"])
    out = capsys.readouterr().out
    assert "--recurrent {none,lstm,gru}" in out and "--recurrent-size INT" in out
    run = tmp_path / "run"
    argv = ["train", "trpo/CartPoleNoVel-v1", "--total-steps", "64", "--run-dir", str(run), "--quiet"]
    assert main([*argv, "--eval-episodes", "1", "--recurrent", "gru", *TINY]) == 0
    meta = checkpoint.load(run)[1]
    assert (meta["config"]["recurrent"], meta["config"]["recurrent_size"]) == ("gru", 8)
    assert "actor/core/wh" in checkpoint.load(run)[0]


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"recurrent": "rnn"}, "recurrent='rnn' is invalid: must be 'none', 'lstm' or 'gru'"),
        ({"recurrent": "lstm", "recurrent_size": 0}, "recurrent_size=0 is invalid: must be a positive integer"),
        ({"recurrent": "gru", "num_envs": 2, "fisher_subsample": 3}, "must be <= num_envs=2 with a recurrent policy"),
    ],
)
def test_invalid_recurrent_configs_name_the_problem_and_the_fix(changes, words):
    with pytest.raises(ConfigError, match=words):
        TRPOConfig(**changes)


def test_compiled_path_refuses_recurrent_with_the_fix(tmp_path, capsys):
    argv = ["train", "gymnax:CartPole-v1", "--total-steps", "64", "--run-dir", str(tmp_path / "run")]
    assert main([*argv, "--recurrent", "lstm"]) == 2
    assert "not supported on the compiled path yet" in capsys.readouterr().err
    assert not (tmp_path / "run" / "config.yaml").exists()


def test_resume_and_eval_of_a_recurrent_run(tmp_path, capsys):
    """2 iterations, then --resume to 4: one metrics.csv, the arrays restored bit for bit (core
    included), and trpo eval plays the saved policy with its state."""
    run = tmp_path / "run"
    argv = ["train", "trpo/CartPoleNoVel-v1", "--total-steps", "128", "--run-dir", str(run), "--quiet"]
    assert main([*argv, "--eval-episodes", "1", "--recurrent", "lstm", "--checkpoint-every", "1", *TINY]) == 0
    saved, _ = checkpoint.load(run)
    agent = TRPO.load(run)
    arrays, _ = agent._checkpoint_contents()
    agent.close()
    for key, value in saved.items():
        np.testing.assert_array_equal(arrays[key], value, err_msg=key)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--total-steps", "256", "--quiet", "--eval-episodes", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["total_steps"], summary["iterations"]) == (256, 4)
    assert main(["eval", str(run), "--episodes", "2"]) == 0
    assert json.loads((run / "eval.json").read_text())["episodes"] == 2


def test_act_carries_the_state_and_a_loaded_agent_acts_the_same(tmp_path):
    config = TRPOConfig(
        num_envs=2, n_steps=32, critic_minibatch=32, hidden_sizes=(8,), recurrent="gru", recurrent_size=6
    )
    agent = TRPO("trpo/PendulumNoVel-v1", config).learn(64)
    obs = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], np.float32)
    actions, state = agent.act(obs, deterministic=True)
    assert actions.shape == (3, 1) and state.shape == (3, 6)
    again, state2 = agent.act(obs, deterministic=True, state=state)
    assert not np.allclose(state2, state)  # the state moved on
    single, single_state = agent.act(obs[2], deterministic=True, state=state[2])
    np.testing.assert_allclose(single, again[2], rtol=1e-6)
    np.testing.assert_allclose(single_state, state2[2], rtol=1e-6)
    agent.save(tmp_path / "agent.ckpt")
    loaded = TRPO.load(tmp_path / "agent.ckpt")
    loaded_actions, loaded_state = loaded.act(obs, deterministic=True, state=state)
    np.testing.assert_array_equal(loaded_actions, again)
    np.testing.assert_array_equal(loaded_state, state2)
    assert agent.evaluate(episodes=1)["episodes"] == 1
    with pytest.raises(ValueError, match="state= is for recurrent policies"):
        TRPO("Pendulum-v1", TRPOConfig(num_envs=2, n_steps=32, critic_minibatch=32)).act(np.zeros(3), state=state)
    agent.close()
    loaded.close()


def test_image_observations_train_with_a_recurrent_core():
    """The core runs after the CNN encoder: the sampler acts through the jitted step (CNN
    actors keep their parameters on the device), the learner unrolls CNN features."""
    from test_spaces import PixelGrid

    config = TRPOConfig(
        num_envs=2,
        n_steps=16,
        critic_minibatch=16,
        cnn="small",
        hidden_sizes=(16,),
        recurrent="gru",
        recurrent_size=8,
        cg_iters=3,
        critic_epochs=1,
    )
    agent = TRPO(PixelGrid, config).learn(64)
    assert {"cnn", "core", "mlp"} <= set(agent.state.actor) and {"cnn", "core"} <= set(agent.state.critic)
    assert agent.iteration == 2 and agent.evaluate(episodes=2)["episodes"] == 2
    action, state = agent.act(PixelGrid().reset(seed=0)[0])
    assert np.shape(action) == () and state.shape == (8,)
    agent.close()
