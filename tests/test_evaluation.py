"""Evaluation: returns counted over whole episodes, seeded resets, and MP4 video."""

import gymnasium as gym
import numpy as np
import pytest

from faulty_envs import FaultyEnv
from trpo import TRPO, TRPOConfig
from trpo.envs.errors import EnvError, EnvFault
from trpo.training.evaluation import play_episodes, with_video


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


def faulty(fault, dict_obs=False):
    """FaultyEnv failing at step 57 of its life: step 7 of episode 2 (episodes are 50 steps). With
    `dict_obs`, observations are {"count": int, "parts": (Box,)}, so the check must look inside."""
    env = FaultyEnv(fault, at_step=57)
    env.fails = fault != "none"
    if not dict_obs:
        return env
    space = gym.spaces.Dict({"count": gym.spaces.Discrete(5), "parts": gym.spaces.Tuple((env.observation_space,))})
    return gym.wrappers.TransformObservation(env, lambda obs: {"count": 3, "parts": (obs,)}, space)


@pytest.mark.parametrize(
    ("fault", "dict_obs", "message"),
    [
        ("raise", False, r"env faulty raised RuntimeError in step\(\) in evaluation episode 2 at its step 7: simul"),
        ("nan_reward", False, r"env faulty returned a non-finite reward \(nan\) in evaluation episode 2 at its step 7"),
        ("inf_obs", False, r"env faulty returned a non-finite observation \(inf\) in evaluation episode 2 at its step"),
        ("inf_obs", True, r"env faulty returned a non-finite observation \(inf\) in evaluation episode 2 at its step"),
    ],
)
def test_an_env_fault_stops_the_evaluation_naming_the_env_episode_and_step(fault, dict_obs, message):
    with pytest.raises(EnvFault, match=message) as error:
        play_episodes(faulty(fault, dict_obs), lambda obs: 1, episodes=3, seed=0, name="faulty")
    if fault == "raise":
        assert isinstance(error.value.__cause__, RuntimeError)  # the env's own exception, for Python callers


def test_healthy_dict_observations_play_through():
    result = play_episodes(faulty("none", dict_obs=True), lambda obs: 1, episodes=2, seed=0)
    assert result["lengths"] == [50, 50] and result["returns"] == [50.0, 50.0]


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
