"""Presets: tuned hyperparameters per environment id, one YAML file each in trpo/runs/presets/, and
family defaults for the envs that have none, chosen from the env's spaces.

`--preset auto` (the default) takes, first found: the env's own preset, the Atari preset for an
ALE/ id, else the env's family (trpo/runs/presets/families/): "image" for image observations (the
Atari preset), "continuous" for Box actions, "discrete" for Discrete, MultiDiscrete and
MultiBinary actions. `family` takes the env's family even where it has a preset of its own,
`family:NAME` a named family, `none` the plain TRPOConfig defaults.

A preset file holds TRPOConfig fields, optionally `make_kwargs` (a mapping of gymnasium.make
arguments, e.g. Ant-v5's include_cfrc_ext_in_observation), and a comment saying where the values
come from.
The file name is the env id with "/" replaced by "__" and ":" by "--" (ALE/Pong-v5 -> ALE__Pong-v5.yaml,
gymnax:CartPole-v1 -> gymnax--CartPole-v1.yaml).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml

from trpo.config import ConfigError, TRPOConfig
from trpo.envs.make import env_factory, make_one
from trpo.learning.observations import ObservationSpaceError, ObservationSpec

MAKE_KWARGS = "make_kwargs"
"""the preset key that holds gymnasium.make arguments rather than a config field"""
AUTO = "auto"
NONE = "none"
ATARI = "atari"
"""the preset of every ALE/ id that has none of its own"""
FAMILY = "family"
"""`--preset family`: the env's family from its spaces; `family:NAME` a named one"""
FAMILIES = {"continuous": "families/continuous.yaml", "discrete": "families/discrete.yaml", "image": "atari.yaml"}
"""family name -> its YAML under trpo/presets/ (image observations get the Atari preset)"""
RELATIVE_LOG_STD = "log_std_init_relative"
"""a family key: the initial log-std relative to the action bounds (log_std_offset), not a config field"""


def _folder() -> Path:
    return Path(str(resources.files("trpo.runs") / "presets"))


def preset_path(name: str) -> Path:
    return _folder() / f"{name.replace('/', '__').replace(':', '--')}.yaml"


def available() -> list[str]:
    """Names of the presets shipped with the package (env ids)."""
    return sorted(p.stem.replace("__", "/").replace("--", ":") for p in _folder().glob("*.yaml"))


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        values = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"preset {path} does not parse as YAML: {error}") from error
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"preset {path} must be a mapping of config fields, got {type(values).__name__}")
    return values


def family_of_spaces(observation_space: gym.Space, action_space: gym.Space) -> str:
    """The family of an env with these spaces: "image" when the observation holds an image (a
    CNN's settings matter more than the action type), else "continuous" for Box actions, else
    "discrete"."""
    try:
        if ObservationSpec.from_space(observation_space).image is not None:
            return "image"
    except ObservationSpaceError:
        pass  # trpo cannot use this space at all; TRPO(...) says why when the env is made
    return "continuous" if isinstance(action_space, gym.spaces.Box) else "discrete"


def spaces_of(env: str | Callable[[], gym.Env]) -> tuple[gym.Space, gym.Space]:
    """(observation space, action space) of an env id or factory: makes one env, then closes it."""
    made = make_one(env_factory(env), name=env if isinstance(env, str) else "env factory")
    try:
        return made.observation_space, made.action_space
    finally:
        made.close()


def family_of(env: str | Callable[[], gym.Env]) -> str:
    """The family of an env id or factory (makes one env to read its spaces)."""
    return family_of_spaces(*spaces_of(env))


def log_std_offset(action_space: gym.Space) -> float:
    """Mean over the action dimensions of log((high - low) / 2): what turns an initial log-std
    relative to the action bounds into one in the action's units (0 for [-1, 1], and for a space
    that is not a Box or has an infinite bound)."""
    if not isinstance(action_space, gym.spaces.Box) or not action_space.is_bounded():
        return 0.0
    half_range = (np.asarray(action_space.high, np.float64) - np.asarray(action_space.low, np.float64)) / 2
    return float(np.mean(np.log(half_range))) if np.all(half_range > 0) else 0.0


def family_path(name: str) -> Path:
    if name not in FAMILIES:
        raise ConfigError(f"unknown family {name!r}: use {', '.join(FAMILY + ':' + f for f in FAMILIES)}")
    return _folder() / FAMILIES[name]


def family_values(name: str, action_space: gym.Space | None = None) -> dict[str, Any]:
    """The config values of a family for an env with this action space: a family's
    `log_std_init_relative` becomes log_std_init in the action's units (log_std_offset)."""
    values = read_yaml(family_path(name))
    if RELATIVE_LOG_STD in values:
        offset = 0.0 if action_space is None else log_std_offset(action_space)
        values["log_std_init"] = round(float(values.pop(RELATIVE_LOG_STD)) + offset, 4)
    return values


def _family(name: str | None, env: str | Callable[[], gym.Env]) -> tuple[dict[str, Any], str]:
    """The values of family `name` (None: the env's own family, from its spaces) for `env`."""
    if name is not None:
        family_path(name)  # an unknown name fails before any env is made
    observation_space, action_space = spaces_of(env)
    name = name or family_of_spaces(observation_space, action_space)
    return family_values(name, action_space), f"{FAMILY}:{name}"


def resolve(preset: str, env: str | Callable[[], gym.Env]) -> tuple[dict[str, Any], str | None]:
    """Config values for `--preset`: "auto" (the env's preset if one exists, else the Atari
    preset for ALE/ ids, else the env's family from its spaces), "family" (the env's family even
    where it has a preset), "family:NAME", "none", a shipped preset name, or a path to a YAML
    file. `env` is an env id or a factory (a factory has no preset of its own).
    Returns (values, where they came from: a preset file name, "family:NAME", a path or None)."""
    from trpo.envs.jax_envs import is_jax_env_id  # imports JAX: only when a preset is resolved

    env_id = env if isinstance(env, str) else None
    if preset == NONE:
        return {}, None
    if preset == AUTO:
        if env_id is not None:
            path = preset_path(env_id)
            if not path.exists() and env_id.startswith("ALE/"):
                path = preset_path(ATARI)
            if path.exists():
                return read_yaml(path), path.name
            if is_jax_env_id(env_id):
                return {}, None  # the compiled path (gymnax:, brax:) has presets, not families
        return _family(None, env)
    if preset == FAMILY:
        return _family(None, env)
    if preset.startswith(FAMILY + ":"):
        return _family(preset.split(":", 1)[1], env)
    if preset in available():
        path = preset_path(preset)
        return read_yaml(path), path.name
    path = Path(preset)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return read_yaml(path), str(path)
    raise ConfigError(
        f"unknown preset {preset!r}: use 'auto', 'none', 'family', "
        f"{', '.join(repr(FAMILY + ':' + f) for f in FAMILIES)}, a YAML file, or one of: {', '.join(available())}"
    )


def describe(source: str | None, env: str | Callable[[], gym.Env]) -> str:
    """One line for the console and `--help`: which preset or family a run gets, and why."""
    if source is None:
        return "preset: none (the TRPOConfig defaults)"
    if source.startswith(FAMILY + ":"):
        family = source.split(":", 1)[1]
        meant_for = {"image": "image observations", "continuous": "Box actions", "discrete": "discrete actions"}
        if isinstance(env, str) and preset_path(env).exists():
            own = f"{env}'s tuned preset is not used"
        else:
            own = f"{env if isinstance(env, str) else 'this env'} has no tuned preset"
        return (
            f"preset: {source} (the defaults for {meant_for[family]}; {own}; src/trpo/runs/presets/{FAMILIES[family]})"
        )
    return f"preset: {source}"


def split_make_kwargs(values: dict[str, Any], source: str = "preset") -> tuple[dict[str, Any], dict[str, Any]]:
    """(the config fields, the gymnasium.make arguments) of a preset's values."""
    values = dict(values)
    make_kwargs = values.pop(MAKE_KWARGS, None) or {}
    if not isinstance(make_kwargs, dict) or not all(isinstance(k, str) for k in make_kwargs):
        raise ConfigError(
            f"{source}: {MAKE_KWARGS} must be a mapping of gymnasium.make argument names to values, "
            f"e.g. {MAKE_KWARGS}: {{include_cfrc_ext_in_observation: false}}; got {make_kwargs!r}"
        )
    return values, dict(make_kwargs)


def parse_make_kwargs(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings (from --make-kwargs) as a mapping; each VALUE is read as YAML, so
    `false`, `0.5` and `[1, 2]` become a bool, a float and a list."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise ConfigError(
                f"--make-kwargs {item!r}: give KEY=VALUE pairs of gymnasium.make arguments, "
                "e.g. --make-kwargs include_cfrc_ext_in_observation=false"
            )
        try:
            out[key] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError as error:
            raise ConfigError(f"--make-kwargs {item!r}: the value does not parse as YAML ({error})") from error
    return out


def format_make_kwargs(make_kwargs: dict[str, Any]) -> tuple[str, ...]:
    """The inverse of parse_make_kwargs: `KEY=VALUE` strings, VALUE in YAML's flow style."""
    return tuple(
        f"{k}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
        for k, v in make_kwargs.items()
    )


def for_env(env: str | Callable[[], gym.Env], preset: str = AUTO) -> tuple[TRPOConfig, dict[str, Any]]:
    """The config and the gymnasium.make arguments of `preset` for `env` (an id or a factory),
    ready for TRPO(env, config, make_kwargs): `config, make_kwargs = presets.for_env("Ant-v5")`.
    An env without a preset gets its family's defaults (`resolve` says which)."""
    values, source = resolve(preset, env)
    values, make_kwargs = split_make_kwargs(values, source=f"preset {source}")
    return TRPOConfig.from_dict(values, source=f"preset {source}"), make_kwargs
