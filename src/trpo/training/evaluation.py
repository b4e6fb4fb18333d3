"""Evaluation: play whole episodes with a policy, optionally filming them.

Episode i is reset with seed + i, so an evaluation is repeatable and two policies can be
compared on the same starting states. Returns are the env's raw, undiscounted rewards.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from trpo.envs.errors import EnvError, EnvFault, raised_fault
from trpo.envs.make import env_factory

DEFAULT_EVAL_SEED = 10_000
"""Evaluation episodes are seeded apart from the training envs (which use seed, seed + 1, ...)."""

Act = Callable[[np.ndarray], np.ndarray]


class EvaluationFault(RuntimeError):
    """The env failed (an EnvFault, or an EnvError making it) while a saved policy was evaluated:
    at the end of `trpo train`, or in `trpo eval`. The message says what is still saved and how to
    evaluate again; the CLI exits with status 1, as for a fault during training."""


def play_episodes(env: gym.Env, act: Act, episodes: int, seed: int, name: str = "env") -> dict[str, Any]:
    """Play `episodes` episodes (episode i reset with seed + i) and return
    {mean, std, episodes, returns, lengths}. An env that raises, or returns a NaN or infinite
    observation or reward, stops it with an EnvFault naming `name`, the episode and the step."""
    if episodes <= 0:
        raise ValueError(f"episodes={episodes} is invalid: must be a positive integer")
    returns, lengths = [], []
    for i in range(episodes):
        obs, _ = _call(env, name, i, 0, "reset", seed=seed + i)
        _check_finite(name, i, 0, obs, 0.0)
        total, length, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = _call(env, name, i, length + 1, "step", act(obs))
            total += float(reward)
            length += 1
            _check_finite(name, i, length, obs, reward)
            done = terminated or truncated
        returns.append(total)
        lengths.append(length)
    return evaluation_result(returns, lengths)


def evaluation_result(returns: Any, lengths: Any) -> dict[str, Any]:
    """{mean, std, episodes, returns, lengths} of an evaluation's episodes: what TRPO.evaluate
    returns and what summary.json's `eval` is taken from, on both training paths."""
    returns = [float(r) for r in returns]
    return {
        "mean": float(np.mean(returns)),
        "std": float(np.std(returns)),
        "episodes": len(returns),
        "returns": returns,
        "lengths": [int(n) for n in lengths],
    }


def _call(env: gym.Env, name: str, episode: int, step: int, method: str, *args: Any, **kwargs: Any) -> Any:
    """env.reset / env.step, turning any exception into an EnvFault that names the env and when."""
    try:
        return getattr(env, method)(*args, **kwargs)
    except Exception as error:
        when = f"in evaluation episode {episode + 1} at its step {step}"
        raise raised_fault(error, name, method, when, 0, step) from error


def _check_finite(name: str, episode: int, step: int, obs: Any, reward: Any) -> None:
    for what, value in (("observation", obs), ("reward", reward)):
        bad = _first_non_finite(value)
        if bad is not None:
            raise EnvFault(
                f"env {name} returned a non-finite {what} ({bad}) in evaluation episode {episode + 1} at its step "
                f"{step}. Fix the env, or wrap it to clip or replace such values",
                0,
                step,
            )


def _first_non_finite(value: Any) -> float | None:
    """The first NaN or infinity in a raw observation or reward (an array or number, or a dict
    or tuple of them), else None. Only floats can hold one (image parts are integers)."""
    if isinstance(value, dict):
        value = tuple(value.values())
    if isinstance(value, tuple):
        return next((bad for part in value if (bad := _first_non_finite(part)) is not None), None)
    array = np.asarray(value)
    if array.dtype.kind != "f" or np.isfinite(array).all():
        return None
    return float(array[~np.isfinite(array)][0])


def render_factory(env: str | Callable[[], gym.Env], make_kwargs: dict[str, Any]) -> Callable[[], gym.Env]:
    """A factory for an env that renders RGB frames: an id is made with render_mode="rgb_array";
    a user factory must already make its env that way (checked in with_video)."""
    if isinstance(env, str):
        return env_factory(env, train=False, render_mode="rgb_array", **make_kwargs)
    return env


def with_video(env: gym.Env, folder: Path, name_prefix: str = "eval") -> gym.Env:
    """Wrap `env` so that every episode is written as an MP4 under `folder`."""
    if env.render_mode != "rgb_array":
        env.close()
        raise EnvError(
            f"video needs an env that renders RGB frames, this one has render_mode={env.render_mode!r}. "
            "Fix: make your env factory call gymnasium.make(..., render_mode='rgb_array')"
        )
    try:
        return gym.wrappers.RecordVideo(env, str(folder), episode_trigger=lambda _: True, name_prefix=name_prefix)
    except gym.error.DependencyNotInstalled as error:
        env.close()
        raise EnvError(f"video recording needs moviepy ({error}). Fix: pip install 'trpo[video]'") from error
