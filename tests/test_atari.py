"""Atari: the preprocessing stack's train/eval differences, and two iterations end to end."""

import json

import numpy as np
import yaml

from trpo.config import TRPOConfig
from trpo.envs.atari import make_atari
from trpo.envs.sync import SyncVectorEnv
from trpo.runs import presets
from trpo.runs.run import RunOptions, train


def play_until(env, stop, max_steps=5000):
    """Random actions until stop(terminated, truncated, info) holds; returns the step's outputs."""
    rng = np.random.default_rng(0)
    for _ in range(max_steps):
        obs, reward, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        if stop(terminated, truncated, info):
            return obs, reward, terminated, truncated, info
        if terminated or truncated:
            env.reset()
    raise AssertionError("condition never met")


def test_training_episodes_end_at_a_lost_life_and_evaluation_plays_whole_games():
    train_env = make_atari("ALE/Breakout-v5", train=True)
    obs, _ = train_env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    lives = train_env.unwrapped.ale.lives()
    play_until(train_env, lambda term, trunc, info: term)
    # The training episode ended, but the game goes on with one life less.
    assert train_env.unwrapped.ale.lives() == lives - 1
    eval_env = make_atari("ALE/Breakout-v5", train=False)
    eval_env.reset(seed=0)
    play_until(eval_env, lambda term, trunc, info: term)
    assert eval_env.unwrapped.ale.lives() == 0


def test_training_rewards_are_clipped_and_whole_games_are_logged_with_raw_scores():
    envs = SyncVectorEnv([lambda: make_atari("ALE/Breakout-v5", train=True)])
    envs.reset(seed=1)
    rng = np.random.default_rng(1)
    rewards, lives_lost = [], 0
    while len(envs.finished_episodes) < 2:
        _, reward, terminated, *_ = envs.step(rng.integers(4, size=1))
        rewards.append(float(reward[0]))
        lives_lost += int(terminated[0])
    assert set(rewards) <= {0.0, 1.0}
    # Each logged episode is a whole game of 5 lives, not one training episode per life ...
    assert lives_lost == 10
    # ... with its length in agent steps (the policy's plus the automatic FIRE and no-op at each
    # new life) and its raw score (Breakout pays 1, 4 or 7 a brick: at least the clipped count).
    assert len(rewards) < sum(n for _, n in envs.finished_episodes) <= len(rewards) + 2 * 10
    assert sum(r for r, _ in envs.finished_episodes) >= sum(rewards)
    envs.close()


def test_two_iterations_write_a_complete_run_directory(tmp_path):
    values, source = presets.resolve(presets.AUTO, "ALE/Pong-v5")
    assert source == "atari.yaml" and values["max_kl"] == 0.001 and values["gamma"] == 0.98
    # The Atari preset, cut down so the test compiles and runs quickly.
    config = TRPOConfig.from_dict(values).replace(
        num_envs=2, n_steps=16, critic_minibatch=16, cg_iters=2, backtrack_iters=2, critic_epochs=1
    )
    run_dir = tmp_path / "pong"
    summary = train(
        "ALE/Pong-v5",
        config,
        RunOptions(total_steps=64, run_dir=run_dir, eval_episodes=1, quiet=True, preset_source=source),
    )
    assert summary["iterations"] == 2 and summary["total_steps"] == 64
    # A whole game of Pong ends at 21 points: the unclipped score lies in [-21, 21], below 0
    # for an untrained policy.
    assert -21.0 <= summary["eval"]["mean"] <= 21.0
    assert json.loads((run_dir / "summary.json").read_text()) == summary
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["env_id"] == "ALE/Pong-v5" and saved["config"]["cnn"] == "nature"
    assert len((run_dir / "metrics.csv").read_text().strip().splitlines()) == 3
    assert (run_dir / "checkpoints" / "latest").exists()
    assert any((run_dir / "tb").iterdir())
