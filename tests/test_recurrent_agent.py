"""Recurrent policies end to end: the flags, the collectors that refuse them, checkpoints and
resume, trpo eval, and TRPO.act with the state."""

import json

import numpy as np
import pytest

from trpo import TRPO, ConfigError, TRPOConfig
from trpo.cli import main
from trpo.runs import presets
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
    assert meta["config"]["exact_pi_old"] is True  # --recurrent turns it on (next test)
    assert "actor/core/wh" in checkpoint.load(run)[0]


def test_recurrent_flag_turns_exact_pi_old_on_unless_a_flag_decides():
    from trpo.cli import _exact_pi_old_with_recurrent as rule

    mlp, gru = TRPOConfig(), TRPOConfig(recurrent="gru", exact_pi_old=False)
    assert rule(["MyEnv", "--recurrent", "gru"], mlp).exact_pi_old is True
    assert rule(["MyEnv", "--recurrent=lstm"], mlp).exact_pi_old is True
    assert rule(["MyEnv", "--recurrent", "gru", "--no-exact-pi-old"], mlp).exact_pi_old is False
    assert rule(["MyEnv", "--recurrent", "none"], mlp).exact_pi_old is False
    assert rule(["MyEnv"], mlp).exact_pi_old is False
    # a preset that already has a core keeps its own choice
    assert rule(["MyEnv", "--recurrent", "lstm"], gru).exact_pi_old is False


def test_the_partially_observed_envs_presets_train_a_gru_with_exact_pi_old():
    """With a recurrent policy, pi_old exactly the collecting policy solved 6 of 8 CartPoleNoVel
    seeds at 200k against 2 of 5 without (docs/recurrent.md): both shipped presets set it."""
    for env_id in ("trpo/CartPoleNoVel-v1", "trpo/PendulumNoVel-v1"):
        values, source = presets.resolve(presets.AUTO, env_id)
        assert source == env_id.replace("/", "__") + ".yaml"
        assert values["recurrent"] == "gru" and values["exact_pi_old"] is True


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


def test_compiled_recurrent_run_resumed_equals_one_straight_run(tmp_path):
    """gymnax:CartPole-v1 with a GRU on the compiled path: 2 iterations resumed to 4 write the same
    metrics as 4 straight (the collector's recurrent states are part of its saved state)."""
    from compiled_resume import assert_resumed_equals_straight

    whole, _ = assert_resumed_equals_straight(tmp_path, ["--recurrent", "gru", "--recurrent-size", "8"])
    arrays = checkpoint.load(whole)[0]
    assert "actor/core/wh" in arrays and any(k.startswith("collector/memory") for k in arrays)


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


def test_compiled_collector_stores_what_the_learner_unrolls():
    """The JAX collector's batches: episode starts are the previous step's episode ends, and the
    states a rollout starts from are the learner's unroll of the rollout before (reset where an
    episode began at its first step)."""
    import jax

    from trpo.collect import jax_sampler
    from trpo.envs.jax_envs import make_jax_env
    from trpo.learning.networks import init_actor, init_critic
    from trpo.learning.normalization import init_stats
    from trpo.learning.recurrent import reset, unroll

    env = make_jax_env("gymnax:CartPole-v1")
    config = TRPOConfig(num_envs=3, n_steps=40, critic_minibatch=40, recurrent="lstm", recurrent_size=4)
    actor = init_actor(jax.random.PRNGKey(0), 4, (8,), env.distribution, 0.0, recurrent="lstm", recurrent_size=4)
    critic = init_critic(jax.random.PRNGKey(1), 4, (8,), recurrent="lstm", recurrent_size=4)
    state = jax_sampler.reset(env, config, jax.random.PRNGKey(2))
    stats = init_stats((4,))
    state, first = jax_sampler.collect(env, config, actor, stats, state, critic)
    state, second = jax_sampler.collect(env, config, actor, stats, state, critic)
    for b in (first, second):
        done = np.asarray(b.terminated | b.truncated)
        assert done.any()
        np.testing.assert_array_equal(np.asarray(b.episode_starts[1:]), done[:-1])
    assert np.all(first.episode_starts[0]) and not np.any(first.actor_state)
    for field, params in (("actor_state", actor), ("critic_state", critic)):
        _, states = unroll(params["core"], first.obs, first.episode_starts, getattr(first, field))
        starts = second.episode_starts[0]
        np.testing.assert_allclose(
            reset(getattr(second, field), starts), reset(states[-1], starts), rtol=1e-5, atol=1e-6
        )
