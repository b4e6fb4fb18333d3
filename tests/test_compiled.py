"""The compiled training path: its pieces against the Gymnasium path's, vmapped seeds against
separate runs, and a CartPole run that must be solved within a fixed budget."""

import json
from collections import deque
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trpo.config import TRPOConfig
from trpo.learning.learner import Learner
from trpo.learning.normalization import RunningStats, init_reward_stats
from trpo.training.train_step import train_step

gymnax = pytest.importorskip("gymnax")

from trpo.collect import jax_sampler  # noqa: E402
from trpo.envs.jax_envs import make_jax_env  # noqa: E402
from trpo.training import compiled  # noqa: E402
from trpo.training.compiled import Program  # noqa: E402

TINY = TRPOConfig(num_envs=4, n_steps=16, critic_minibatch=32, critic_epochs=2, hidden_sizes=(16,), cg_iters=5)


def test_recent_episodes_keep_the_latest_hundred_in_order():
    rng = np.random.default_rng(1)
    reference = deque(maxlen=jax_sampler.RECENT_EPISODES)
    recent = jax_sampler.init_recent_episodes()
    push = jax.jit(jax_sampler.push_episodes)
    for t_steps, n_envs, p_end in [(3, 2, 0.5), (50, 3, 0.6), (10, 4, 0.0), (7, 5, 0.9)]:
        returns = rng.normal(size=(t_steps, n_envs)).astype(np.float32)
        ended = rng.random((t_steps, n_envs)) < p_end
        for t in range(t_steps):  # SyncVectorEnv's order: step by step, env by env
            reference.extend(float(returns[t, i]) for i in range(n_envs) if ended[t, i])
        recent = push(recent, jnp.asarray(returns), jnp.ones((t_steps, n_envs)), jnp.asarray(ended))
        kept = np.asarray(recent.returns)[np.asarray(recent.valid)]
        np.testing.assert_allclose(kept, list(reference), rtol=1e-6)


@pytest.mark.parametrize(
    "env_id, changes",
    [
        ("gymnax:CartPole-v1", {}),
        ("gymnax:Pendulum-v1", {}),
        ("gymnax:Pendulum-v1", {"normalize_rewards": True, "reward_clip": 0.5}),
        ("gymnax:CartPole-v1", {"critic_lr_decay": True}),
    ],
)
def test_compiled_update_equals_gymnasium_update(env_id, changes):
    """On one fixed raw batch, the compiled path's learn step (inside jit, as in the training
    scan) and the Gymnasium path's (ObservationNormalizer + Learner.update) give the same
    parameters and statistics: both run learner.update."""
    env = make_jax_env(env_id)
    config = TINY.replace(seed=3, **changes)
    program = Program(env, config)
    carry = program.init(jnp.int32(3))
    # A decay horizon 4 batches away: the critic's learning rate is scaled by 1 - 1/4 here.
    carry = carry._replace(train=carry.train._replace(global_step=jnp.int32(64), lr_horizon=jnp.int32(256)))
    carry, rollout = jax.jit(program.collect)(carry)
    # End some episodes by truncation too, so the final-observation bootstrap is exercised.
    truncated = np.asarray(rollout.truncated).copy()
    truncated[5, 1] = truncated[11, 2] = True
    final_obs = np.where(truncated[..., None], np.asarray(rollout.obs) + 0.1, np.asarray(rollout.final_obs))
    rollout = rollout._replace(truncated=jnp.asarray(truncated), final_obs=jnp.asarray(final_obs))
    # A few non-zero starting statistics, so normalisation is not the first-batch special case.
    start_stats = RunningStats(jnp.full(env.obs_dim, 0.2), jnp.full(env.obs_dim, 2.0), jnp.float32(100.0))
    carry = carry._replace(train=carry.train._replace(obs_stats=start_stats))
    new_carry, metrics = jax.jit(program.learn)(carry, rollout)

    # The Gymnasium path: the same train_step with float64 statistics on the host.
    learner = Learner(config, env.distribution, env.obs_dim)
    host = jax.tree.map(np.asarray, carry.train)
    host = host._replace(
        learner=carry.train.learner,
        obs_stats=RunningStats(*(np.asarray(x, np.float64) for x in start_stats)),
        reward_stats=init_reward_stats(config.num_envs),
        global_step=np.int64(64),
        lr_horizon=np.int64(256),
    )
    raw = jax.tree.map(np.asarray, rollout)
    state, stats = train_step(host, raw, config, learner.update)

    assert_trees_close(new_carry.train.learner, state.learner)
    np.testing.assert_allclose(new_carry.train.obs_stats.mean, state.obs_stats.mean, rtol=1e-5)
    assert int(new_carry.train.global_step) == int(state.global_step) == 64 + config.batch_size
    np.testing.assert_allclose(new_carry.train.reward_stats.returns.var, state.reward_stats.returns.var, rtol=1e-4)
    for name, value in stats.items():
        np.testing.assert_allclose(float(metrics[name]), value, rtol=1e-4, atol=1e-6, err_msg=name)
    assert stats["train/line_search_accepted"] == 1.0
    if changes:
        # The field changes what the learner sees: the same batch without it fits another critic.
        plain = jax.jit(Program(env, TINY.replace(seed=3)).learn)(carry, rollout)[0]
        difference = jax.tree.map(
            lambda a, b: float(jnp.max(jnp.abs(a - b))), plain.train.learner.critic, new_carry.train.learner.critic
        )
        assert max(jax.tree.leaves(difference)) > 1e-4
    if config.normalize_rewards:
        # Rewards divided by the std of the discounted-return traces, as computed here in float64.
        ends = raw.terminated | raw.truncated
        traces = np.zeros(raw.rewards.shape)
        y = np.zeros(config.num_envs)
        for t in range(raw.rewards.shape[0]):
            y = config.gamma * y + raw.rewards[t]
            traces[t] = y
            y = np.where(ends[t], 0.0, y)
        np.testing.assert_allclose(float(new_carry.train.reward_stats.returns.var), traces.var(), rtol=1e-4)
        assert traces.std() > 1.0  # Pendulum's returns: scaling changes the rewards by a lot


def assert_trees_close(a, b, rtol=1e-4, atol=1e-6):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def test_cartpole_solved_by_the_compiled_path(tmp_path):
    """Budget: 60 iterations of the gymnax:CartPole-v1 preset (122,880 env steps), seeds 0-2 in
    one vmapped program. One seed is a sample, not a guarantee (a single-seed program of seed 1
    ended at 157 after the pi_old fix while the same seed reached 500 vmapped: XLA fuses the two
    programs differently), so the median seed must be solved and no seed may collapse. Each seed's
    run directory is an ordinary one: TRPO.load evaluates its checkpoint to the same result."""
    from trpo.runs import presets
    from trpo.runs.compiled_run import train_compiled
    from trpo.runs.run import RunOptions
    from trpo.training.agent import TRPO
    from trpo.training.logger import read_metrics

    values, _ = presets.resolve("auto", "gymnax:CartPole-v1")
    config = TRPOConfig.from_dict({**values, "seed": 0})
    options = RunOptions(total_steps=60 * config.batch_size, run_dir=tmp_path / "runs", quiet=True, checkpoint_every=20)
    summary = train_compiled("gymnax:CartPole-v1", config, [0, 1, 2], options, many=True)
    per_seed = sorted(summary["eval"]["per_seed"].values())
    assert per_seed[1] >= 475 and per_seed[0] >= 300, summary["eval"]
    best = max(summary["runs"], key=lambda r: r["eval"]["mean"])
    run = Path(best["run_dir"])
    assert json.loads((run / "summary.json").read_text())["eval"] == best["eval"]
    metrics = read_metrics(run)
    assert metrics["global_step"] == [float(config.batch_size * i) for i in range(1, 61)]
    assert metrics["rollout/ep_return_mean"][-1] > 200  # stochastic, last 100 episodes; ~20 at the start
    checkpoints = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert checkpoints == ["iter_00000020.npz", "iter_00000040.npz", "iter_00000060.npz", "latest"]
    agent = TRPO.load(run / "checkpoints")
    assert agent.global_step == 60 * config.batch_size
    assert agent.evaluate(episodes=2)["mean"] >= 475
    agent.close()


def test_cli_seeds_in_one_program_equal_separate_runs(tmp_path):
    """`--seeds 0-1` trains both seeds in one vmapped program and writes one ordinary run
    directory per seed; each seed's checkpoint equals a separate one-seed run of that seed."""
    from trpo.cli import main
    from trpo.training import checkpoint
    from trpo.training.logger import METRIC_COLUMNS, read_metrics

    flags = ["--num-envs", "4", "--n-steps", "16", "--critic-minibatch", "32", "--critic-epochs", "2"]
    flags += ["--hidden-sizes", "16", "--cg-iters", "5", "--eval-episodes", "2", "--quiet", "--preset", "none"]
    argv = ["train", "gymnax:CartPole-v1", "--seeds", "0-1", "--total-steps", "192", "--run-dir", str(tmp_path)]
    assert main(argv + flags) == 0
    parent = json.loads((tmp_path / "summary.json").read_text())
    assert parent["seeds"] == [0, 1] and len(parent["runs"]) == 2

    program = Program(make_jax_env("gymnax:CartPole-v1"), TINY)
    for seed in (0, 1):
        run = tmp_path / f"seed{seed}"
        assert (run / "config.yaml").exists() and (run / "tb").is_dir()
        metrics = read_metrics(run)
        # The Gymnasium path's columns, in order (test_cli.py holds that path to the same list).
        assert list(metrics) == list(METRIC_COLUMNS) and len(metrics["global_step"]) == 3
        assert json.loads((run / "summary.json").read_text())["seed"] == seed
        # The same seed alone (a one-seed program; only its first 2 of 3 iterations active
        # in the first call, so the idle iteration is checked to change nothing).
        alone = compiled.init_seeds(program, jnp.asarray([seed]))
        alone, first = compiled.run_seeds(program, alone, jnp.int32(2), chunk=3)
        assert int(alone.train.iteration[0]) == 2 and np.isnan(first["train/kl"][0, 2])
        alone, last = compiled.run_seeds(program, alone, jnp.int32(1), chunk=3)
        arrays, meta = checkpoint.load(run / "checkpoints")
        assert meta["iteration"] == 3 and meta["global_step"] == 3 * TINY.batch_size
        for prefix, tree in (("actor", alone.train.learner.actor), ("critic", alone.train.learner.critic)):
            saved = checkpoint.unflatten_tree(prefix, jax.tree.map(lambda x: x[0], tree), arrays, "test")
            # Equal up to float reassociation of the batched (vmapped) matmuls: ~1e-6 after 3
            # iterations, while two seeds differ by ~1e-1.
            assert_trees_close(saved, jax.tree.map(lambda x: x[0], tree), rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(metrics["train/kl"][-1], last["train/kl"][0, 0], rtol=1e-3, atol=1e-7)
    seed0 = checkpoint.load(tmp_path / "seed0" / "checkpoints")[0]["actor/mlp/0/w"]
    assert not np.allclose(seed0, checkpoint.load(tmp_path / "seed1" / "checkpoints")[0]["actor/mlp/0/w"])


def test_resumed_compiled_run_continues_on_the_compiled_path_as_if_uninterrupted(tmp_path):
    """A compiled run of 2 iterations resumed to 4 (`trpo train --resume`) writes the same
    metrics as one run of 4: the training state and the collector's state (envs included) are
    restored, and the resumed run stays on the compiled path."""
    from compiled_resume import assert_resumed_equals_straight

    _, split = assert_resumed_equals_straight(tmp_path, ["--normalize-rewards"])
    summary = json.loads((split / "summary.json").read_text())
    assert summary["compiled"]["resumed_from"] == 128 and summary["total_steps"] == 256


def test_compiled_evaluation_equals_the_gymnasium_evaluation_of_the_same_checkpoint(tmp_path):
    """One evaluation, two executors: the compiled run's final evaluation (Program.evaluate, all
    episodes in one vmapped scan) gives exactly the returns that TRPO.load(...).evaluate (the host
    loop of trpo.training.evaluation.play_episodes, on the same env wrapped for Gymnasium) gives
    for the same checkpoint: episode i keyed by EVAL_SEED + i, deterministic actions, the final
    observation statistics, raw undiscounted returns."""
    from trpo.cli import main
    from trpo.training.agent import TRPO

    flags = ["--num-envs", "4", "--n-steps", "16", "--critic-minibatch", "32", "--critic-epochs", "2"]
    flags += ["--hidden-sizes", "16", "--cg-iters", "5", "--eval-episodes", "6", "--quiet", "--preset", "none"]
    assert main(["train", "gymnax:CartPole-v1", "--total-steps", "256", "--run-dir", str(tmp_path), *flags]) == 0
    compiled = json.loads((tmp_path / "summary.json").read_text())["eval"]
    agent = TRPO.load(tmp_path / "checkpoints")
    gymnasium = agent.evaluate(episodes=6)
    agent.close()
    assert gymnasium["std"] > 0  # episodes of different lengths: the comparison is not trivial
    assert (gymnasium["mean"], gymnasium["std"], gymnasium["episodes"]) == (
        compiled["mean"],
        compiled["std"],
        compiled["episodes"],
    )


def test_compiled_path_refuses_the_fields_it_cannot_honour(tmp_path):
    from trpo.cli import main

    argv = ["train", "gymnax:CartPole-v1", "--total-steps", "64", "--run-dir", str(tmp_path), "--vec", "async"]
    assert main(argv) == 2
    assert not (tmp_path / "config.yaml").exists()


def test_parse_seeds_accepts_lists_and_ranges():
    from trpo.config import ConfigError
    from trpo.runs.multiseed import parse_seeds

    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("0-15") == list(range(16))
    assert parse_seeds("0-3, 8") == [0, 1, 2, 3, 8]
    for bad in ("", "a", "3-1", "1,1", "-2"):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(bad)
