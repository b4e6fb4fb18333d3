"""Make one env from an id or a factory: Gymnasium ids, "module:Id", Atari (ALE/...) and the
JAX-native gymnax:/brax: ids, with the optional package to install when one is missing."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from typing import Any

import gymnasium as gym

from trpo.envs import partial  # noqa: F401 (registers trpo/CartPoleNoVel-v1 and trpo/PendulumNoVel-v1)
from trpo.envs.errors import EnvError

EnvFactory = Callable[[], gym.Env]

_EXTRA_FOR_MODULE = {"mujoco": "mujoco", "Box2D": "box2d", "box2d": "box2d", "ale_py": "atari"}


def env_factory(env: str | EnvFactory, train: bool = True, time_limit: int = 0, **make_kwargs: Any) -> EnvFactory:
    """A zero-argument callable that makes one env: from a registered id or a user factory.
    `train=False` gives the evaluation variant where it differs (Atari: whole games, raw rewards).
    `time_limit` > 0 cuts training episodes after that many steps (truncation, as the env's own
    limit does; config.train_time_limit); evaluation envs keep the env's own limit."""
    make = _env_factory(env, train, **make_kwargs)
    if not (train and time_limit):
        return make

    def make_limited() -> gym.Env:
        return gym.wrappers.TimeLimit(make(), max_episode_steps=time_limit)

    return make_limited


def _env_factory(env: str | EnvFactory, train: bool, **make_kwargs: Any) -> EnvFactory:
    if callable(env):
        return env
    if env.startswith(("gymnax:", "brax:")):
        # JAX-native envs (trpo.envs.jax_envs), wrapped as Gymnasium envs; checked here so a bad id fails early.
        from trpo.envs.jax_envs import JaxGymEnv, make_jax_env

        make_jax_env(env)
        return lambda: JaxGymEnv(env)
    check_env_id(env)
    from trpo.envs import atari

    env_id = env

    def make() -> gym.Env:
        try:
            if atari.is_atari_id(env_id):
                return atari.make_atari(env_id, train, **make_kwargs)
            return gym.make(env_id, **make_kwargs)
        except TypeError as error:
            if not make_kwargs:
                raise
            raise EnvError(
                f"{env_id} does not accept the gymnasium.make arguments {make_kwargs} ({error}). Fix "
                "--make-kwargs or the preset's make_kwargs: the env's documentation lists its arguments"
            ) from error

    return make


def check_env_id(env_id: str) -> None:
    """Raise EnvError unless gym.make can find `env_id`: a registered id, "module:Id" (the module
    registers Id when imported), or an Atari id once ale-py is installed."""
    if ":" in env_id:
        module, env_id = env_id.split(":", 1)
        _import_for(module, env_id)
    elif env_id.startswith("ALE/"):
        # Checked even when the ids are registered: the envs cannot be made without ale-py.
        _import_for("ale_py", env_id)
        if env_id not in gym.registry:
            from trpo.envs import atari

            atari.register_atari()
    if env_id in gym.registry:
        return
    close = difflib.get_close_matches(env_id, list(gym.registry), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise EnvError(f"unknown environment id {env_id!r}.{hint} See gymnasium.pprint_registry() for all ids.")


def _import_for(module: str, env_id: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise EnvError(_missing_package_message(env_id, error)) from error


def _missing_package_message(name: str, error: Exception) -> str:
    module = getattr(error, "name", None) or str(error)
    extra = next((x for m, x in _EXTRA_FOR_MODULE.items() if m in module), None)
    fix = f"pip install 'trpo[{extra}]'" if extra else "install the package it names"
    return f"{name} needs a package that is not installed ({error}). Fix: {fix}"


def make_one(factory: EnvFactory, name: str = "env") -> gym.Env:
    """Call the factory, turning a missing optional dependency into the extra to install."""
    try:
        return factory()
    except (ImportError, gym.error.DependencyNotInstalled) as error:
        raise EnvError(_missing_package_message(name, error)) from error
