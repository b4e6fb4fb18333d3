"""Presets: tuned hyperparameters per environment id, one YAML file each in trpo/presets/.

A preset file holds TRPOConfig fields only, and a comment saying where the values come from.
The file name is the env id with "/" replaced by "__" and ":" by "--" (ALE/Pong-v5 -> ALE__Pong-v5.yaml,
gymnax:CartPole-v1 -> gymnax--CartPole-v1.yaml).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from trpo.config import ConfigError

AUTO = "auto"
NONE = "none"
ATARI = "atari"
"""the preset of every ALE/ id that has none of its own"""


def _folder() -> Path:
    return Path(str(resources.files("trpo") / "presets"))


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
