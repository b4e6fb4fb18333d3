"""Evaluation: returns counted over whole episodes, seeded resets, and MP4 video."""

import gymnasium as gym
import numpy as np
import pytest

from trpo import TRPO, TRPOConfig
from trpo.envs import EnvError
from trpo.evaluation import play_episodes, with_video


class CountdownEnv(gym.Env):
    """Episode length = 3 + (reset seed % 3); reward = the action taken (always 2.0 here)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(-5.0, 5.0, (1,), np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.left = 3 + (seed % 3)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.left -= 1
        return np.zeros(1, np.float32), float(action[0]), self.left == 0, False, {}


def test_play_episodes_sums_whole_episodes_with_seeded_resets():
    # seeds 4, 5, 6 -> lengths 3 + 1, 3 + 2, 3 + 0 = 4, 5, 3; returns 2 * length = 8, 10, 6.
    result = play_episodes(CountdownEnv(), lambda obs: np.array([2.0]), episodes=3, seed=4)
    assert result["lengths"] == [4, 5, 3]
    assert result["returns"] == [8.0, 10.0, 6.0]
    assert result["mean"] == 8.0
    assert result["std"] == pytest.approx(np.sqrt(8 / 3))  # population std of 8, 10, 6


def test_video_needs_an_rgb_env():
    with pytest.raises(EnvError, match="render_mode='rgb_array'"):
        with_video(CountdownEnv(), "unused")


def test_evaluate_records_one_mp4_per_episode(tmp_path):
    config = TRPOConfig(num_envs=2, n_steps=64, critic_minibatch=64, hidden_sizes=(16, 16))
    agent = TRPO("CartPole-v1", config)
    result = agent.evaluate(episodes=2, video_dir=tmp_path / "video")
    agent.close()
    videos = sorted((tmp_path / "video").glob("*.mp4"))
    assert len(videos) == 2
    assert all(v.stat().st_size > 1000 for v in videos)
    assert len(result["returns"]) == 2
