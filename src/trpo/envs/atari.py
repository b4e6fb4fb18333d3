"""Atari (ALE) envs with the standard preprocessing of Mnih et al. (2015) and OpenAI Baselines.

Training and evaluation envs differ only where the literature says they should:
- both: up to 30 no-op actions at reset, frame skip 4 with a max over the last two frames,
  84x84 grayscale, a stack of the last 4 frames, and FIRE at the start of each life in games that
  wait for it (Breakout);
- training only: episodic life (losing a life ends the training episode, without resetting the
  game) and rewards clipped to their sign;
- evaluation plays whole games and sums the unclipped rewards.
The game's raw score and length (in agent steps) are recorded by RecordEpisodeStatistics below the
training-only wrappers, so `rollout/ep_return_mean` is the real game score in both cases.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from trpo.envs.errors import EnvError

ATARI_PREFIX = "ALE/"
NOOP, FIRE = 0, 1


def is_atari_id(env_id: str) -> bool:
    return env_id.startswith(ATARI_PREFIX)


def register_atari() -> None:
    """Make the ALE/ ids known to Gymnasium (ale-py registers them on import)."""
    try:
        import ale_py
    except ImportError as error:
        raise EnvError(f"Atari envs need ale-py ({error}). Fix: pip install 'trpo[atari]'") from error
    gym.register_envs(ale_py)


def _lives(env: gym.Env) -> int:
    return int(env.unwrapped.ale.lives())


class EpisodicLife(gym.Wrapper):
    """A lost life ends the episode (terminated) for the learner; the next reset continues the
    same game with a no-op step, and only a real game over resets the emulator."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.lives = 0
        self.game_over = True

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.game_over = terminated or truncated
        lives = _lives(self.env)
        if 0 < lives < self.lives:
            terminated = True
        self.lives = lives
        return obs, reward, terminated, truncated, info

    def reset(self, **kwargs: Any):
        if self.game_over:
            obs, info = self.env.reset(**kwargs)
        else:
            obs, _, terminated, truncated, info = self.env.step(NOOP)
            if terminated or truncated:
                obs, info = self.env.reset(**kwargs)
        self.game_over = False
        self.lives = _lives(self.env)
        return obs, info


class FireAtLifeStart(gym.Wrapper):
    """Press FIRE after a reset and after each lost life, in games whose action 1 is FIRE
    (otherwise an agent that has not yet learnt to serve waits out the time limit)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.lives = 0

    def _fire(self, reward: float, info: dict):
        obs, extra, terminated, truncated, info = self.env.step(FIRE)
        return obs, reward + extra, terminated, truncated, info

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        obs, _, terminated, truncated, info = self._fire(0.0, info)
        if terminated or truncated:
            obs, info = self.env.reset(**kwargs)
        self.lives = _lives(self.env)
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        lives = _lives(self.env)
        if not (terminated or truncated) and lives < self.lives:
            obs, reward, terminated, truncated, info = self._fire(reward, info)
        self.lives = _lives(self.env)
        return obs, reward, terminated, truncated, info


def make_atari(env_id: str, train: bool, **make_kwargs: Any) -> gym.Env:
    """One preprocessed ALE env; `train` adds episodic life and reward clipping."""
    register_atari()
    # The ALE v5 envs skip 4 frames themselves; AtariPreprocessing needs every frame to max-pool.
    env = gym.make(env_id, frameskip=1, **make_kwargs)
    env = gym.wrappers.AtariPreprocessing(
        env, noop_max=30, frame_skip=4, screen_size=84, terminal_on_life_loss=False, grayscale_obs=True
    )
    env = gym.wrappers.RecordEpisodeStatistics(env)
    if train:
        env = EpisodicLife(env)
    if "FIRE" in env.unwrapped.get_action_meanings()[FIRE : FIRE + 1]:
        env = FireAtLifeStart(env)
    if train:
        env = gym.wrappers.TransformReward(env, lambda r: float(np.sign(r)))
    return gym.wrappers.FrameStackObservation(env, 4)
