"""Presets: tuned hyperparameters per environment id, one YAML file each in trpo/runs/presets/.

A preset file holds TRPOConfig fields, optionally `make_kwargs` (a mapping of gymnasium.make
arguments, e.g. Ant-v5's include_cfrc_ext_in_observation), and a comment saying where the values
come from.
The file name is the env id with "/" replaced by "__" and ":" by "--" (ALE/Pong-v5 -> ALE__Pong-v5.yaml,
gymnax:CartPole-v1 -> gymnax--CartPole-v1.yaml).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from trpo.config import ConfigError, TRPOConfig

MAKE_KWARGS = "make_kwargs"
"""the preset key that holds gymnasium.make arguments rather than a config field"""
AUTO = "auto"
NONE = "none"
ATARI = "atari"
"""the preset of every ALE/ id that has none of its own"""


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


def resolve(preset: str, env_id: str) -> tuple[dict[str, Any], str | None]:
    """Config values for `--preset`: "auto" (the env's preset if one exists, else the Atari
    preset for ALE/ ids), "none", a shipped preset name, or a path to a YAML file.
    Returns (values, where they came from)."""
    if preset == NONE:
        return {}, None
    if preset == AUTO:
        path = preset_path(env_id)
        if not path.exists() and env_id.startswith("ALE/"):
            path = preset_path(ATARI)
        return (read_yaml(path), path.name) if path.exists() else ({}, None)
    if preset in available():
        path = preset_path(preset)
        return read_yaml(path), path.name
    path = Path(preset)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return read_yaml(path), str(path)
    raise ConfigError(
        f"unknown preset {preset!r}: use 'auto', 'none', a YAML file, or one of: {', '.join(available())}"
    )


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


def for_env(env_id: str, preset: str = AUTO) -> tuple[TRPOConfig, dict[str, Any]]:
    """The config and the gymnasium.make arguments of `preset` for `env_id`, ready for
    TRPO(env_id, config, make_kwargs): `config, make_kwargs = presets.for_env("Ant-v5")`."""
    values, source = resolve(preset, env_id)
    values, make_kwargs = split_make_kwargs(values, source=f"preset {source}")
    return TRPOConfig.from_dict(values, source=f"preset {source}"), make_kwargs
