"""The partially observed benchmark envs and the DropObservation wrapper."""

import gymnasium as gym
import numpy as np
import pytest

import trpo  # noqa: F401 (registers the trpo/ ids)
from trpo import DropObservation
from trpo.envs.errors import EnvError


@pytest.mark.parametrize(
    "novel_id, full_id, kept",
    [("trpo/CartPoleNoVel-v1", "CartPole-v1", [0, 2]), ("trpo/PendulumNoVel-v1", "Pendulum-v1", [0, 1])],
)
def test_novel_envs_are_the_full_envs_without_the_velocities(novel_id, full_id, kept):
    novel, full = gym.make(novel_id), gym.make(full_id)
    assert novel.observation_space.shape == (len(kept),)
    np.testing.assert_array_equal(novel.observation_space.low, full.observation_space.low[kept])
    assert novel.spec.max_episode_steps == full.spec.max_episode_steps
    obs, _ = novel.reset(seed=3)
    full_obs, _ = full.reset(seed=3)
    np.testing.assert_array_equal(obs, full_obs[kept])
    for _ in range(5):
        action = full.action_space.sample()
        obs, reward, *_ = novel.step(action)
        full_obs, full_reward, *_ = full.step(action)
        np.testing.assert_array_equal(obs, full_obs[kept])
        assert reward == full_reward


def test_drop_observation_on_any_box_env_accepts_negative_indices():
    env = DropObservation(gym.make("Acrobot-v1"), drop=[-1, 0])  # 6 entries: keep 1..4
    full = gym.make("Acrobot-v1")
    obs, _ = env.reset(seed=0)
    full_obs, _ = full.reset(seed=0)
    np.testing.assert_array_equal(obs, full_obs[1:5])
    assert env.observation_space.contains(obs)


@pytest.mark.parametrize(
    "drop, words",
    [
        ([4], r"indices \[4\] are not valid for an observation of size 4: give integers in \[-4, 3\]"),
        ([-5], r"indices \[-5\] are not valid"),
        ([1.0], r"indices \[1.0\] are not valid"),
        ([1, -3], r"name an entry more than once"),
        ([0, 1, 2, 3], r"would leave no observation"),
    ],
)
def test_bad_indices_are_refused_with_the_fix(drop, words):
    with pytest.raises(EnvError, match=words):
        DropObservation(gym.make("CartPole-v1"), drop=drop)


def test_non_vector_observations_are_refused_with_the_fix():
    with pytest.raises(EnvError, match="needs a 1-D Box observation space.*FlattenObservation"):
        DropObservation(gym.make("FrozenLake-v1"), drop=[0])
