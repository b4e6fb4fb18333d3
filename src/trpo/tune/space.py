"""The search space of `trpo tune`: a YAML file that maps TRPOConfig fields to ranges.

    max_kl: {low: 0.001, high: 0.1, log: true}   # a float range (log-uniform)
    critic_epochs: {low: 5, high: 30}            # an int range (both bounds integers)
    gamma: {choices: [0.9, 0.99, 0.999]}         # a categorical
    hidden_sizes: {choices: [[64, 64], [256, 256]]}

The default space ships as trpo/tune/space.yaml (docs/tuning.md says where each range comes
from); `trpo tune --space FILE` replaces it. Every name, bound and choice is checked when the
file is read, so a typo is one error before any trial runs.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from trpo.config import ConfigError, TRPOConfig


class SpaceError(ConfigError):
    """A search-space file that cannot be used; the message names the file, the entry and the fix."""


SPEC_KEYS = ("low", "high", "log", "step", "choices")

# Each value of the space is checked alone against TRPOConfig's validation, on a config whose batch
# is large enough that critic_minibatch and fisher_subsample never collide with it.
_ROOMY = TRPOConfig(n_steps=1_000_000, critic_minibatch=1)


def default_space_path() -> Path:
    return Path(str(resources.files("trpo") / "tune" / "space.yaml"))


def _encode(value: Any) -> Any:
    """Optuna's categorical choices are None, bool, int, float or str: lists become YAML text."""
    return yaml.safe_dump(value, default_flow_style=True).strip() if isinstance(value, list) else value


@dataclass(frozen=True)
class Param:
    """One searched TRPOConfig field: a range (low, high, log, step) or a list of choices."""

    name: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] | None = None

    @property
    def is_int(self) -> bool:
        return self.choices is None and isinstance(self.low, int) and isinstance(self.high, int)

    def suggest(self, trial: Any) -> Any:
        """The value of this field for an Optuna trial (trial.suggest_*), decoded for TRPOConfig."""
        if self.choices is not None:
            by_key = {_encode(c): c for c in self.choices}
            return by_key[trial.suggest_categorical(self.name, list(by_key))]
        if self.is_int:
            return trial.suggest_int(self.name, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in dataclasses.asdict(self).items() if k != "name" and v not in (None, False)}
        if self.choices is not None:
            out["choices"] = list(self.choices)
        return out


def load_space(path: str | Path | None = None) -> list[Param]:
    """The parameters of a space file (default: the shipped one), checked; SpaceError if unusable."""
    path = Path(path) if path is not None else default_space_path()
    if not path.is_file():
        raise SpaceError(f"search space {path} does not exist; give a YAML file (docs/tuning.md shows the format)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise SpaceError(f"search space {path} does not parse as YAML: {error}") from error
    if not isinstance(data, dict) or not data:
        raise SpaceError(
            f"search space {path} must map TRPOConfig fields to ranges, e.g. max_kl: {{low: 0.001, high: 0.1}}"
        )
    return [parse_param(name, spec, str(path)) for name, spec in data.items()]


def parse_param(name: Any, spec: Any, source: str = "search space") -> Param:
    """One entry of a space file as a Param, or SpaceError naming what is wrong and the fix."""
    defaults = TRPOConfig().to_dict()
    if name not in defaults:
        raise SpaceError(f"{source}: {name!r} is not a TRPOConfig field; known fields: {', '.join(sorted(defaults))}")
    where = f"{source}: {name}"
    if not isinstance(spec, dict) or not spec:
        raise SpaceError(f"{where}: give {{low: A, high: B}} (optionally log: true, step: S) or {{choices: [...]}}")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise SpaceError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; use {', '.join(SPEC_KEYS)}")
    default = defaults[name]
    if "choices" in spec:
        if set(spec) != {"choices"}:
            raise SpaceError(f"{where}: give either choices or low/high, not both")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise SpaceError(f"{where}: choices must be a non-empty list, e.g. choices: [{default!r}]")
        keys = [_encode(c) for c in choices]
        if len(set(map(repr, keys))) != len(keys):
            raise SpaceError(f"{where}: choices {choices} repeat a value")
        for choice in choices:
            _check_value(name, choice, default, where)
        return Param(name, choices=tuple(choices))
    if "low" not in spec or "high" not in spec:
        raise SpaceError(f"{where}: a range needs both low and high (or give choices: [...])")
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    numeric = (int, float)
    if isinstance(default, bool) or not isinstance(default, numeric):
        raise SpaceError(f"{where}: a {type(default).__name__} field takes choices: [...], not a range")
    for key, value in (("low", low), ("high", high), ("step", step)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, numeric) or not math.isfinite(value)
        ):
            raise SpaceError(f"{where}: {key}={value!r} must be a finite number")
    if isinstance(default, int) and not (isinstance(low, int) and isinstance(high, int)):
        raise SpaceError(f"{where}: {name} is an integer field: give integer bounds (low={low!r}, high={high!r})")
    if not low < high:
        raise SpaceError(f"{where}: low={low!r} must be below high={high!r}")
    if not isinstance(log, bool):
        raise SpaceError(f"{where}: log={log!r} must be true or false")
    if log and low <= 0:
        raise SpaceError(f"{where}: a log range needs low > 0 (low={low!r})")
    if log and step is not None:
        raise SpaceError(f"{where}: give log or step, not both (Optuna samples log ranges continuously)")
    if step is not None and step <= 0:
        raise SpaceError(f"{where}: step={step!r} must be > 0")
    if isinstance(default, float):
        low, high = float(low), float(high)
    for value in (low, high):
        _check_value(name, value, default, where)
    return Param(name, low=low, high=high, log=log, step=step)


def _check_value(name: str, value: Any, default: Any, where: str) -> None:
    """`value` has the field's type and passes TRPOConfig's validation on its own."""
    if isinstance(default, list) or default is None:  # None: critic_hidden_sizes, a list or None
        ok = isinstance(value, list) or value is None
    elif isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = type(value) is type(default)
    if not ok:
        kind = "a list of widths or None" if default is None else f"a {type(default).__name__}"
        raise SpaceError(f"{where}: {value!r} is not {kind} like the field's default {default!r}")
    try:
        TRPOConfig.from_dict({**_ROOMY.to_dict(), name: value})
    except ConfigError as error:
        raise SpaceError(f"{where}: {value!r} is out of range: {error}") from None


def sample_config(space: list[Param], trial: Any, base: TRPOConfig) -> tuple[TRPOConfig, dict[str, Any]]:
    """The trial's config: `base` with every searched field set by the trial. Returns (config, notes).

    critic_minibatch is capped at the batch (num_envs * n_steps) as rl-baselines3-zoo caps PPO's
    minibatch at n_steps, so that the two can be searched independently; notes say when it was."""
    values = {p.name: p.suggest(trial) for p in space}
    merged = {**base.to_dict(), **values}
    notes: dict[str, Any] = {}
    batch = merged["num_envs"] * merged["n_steps"]
    if merged["critic_minibatch"] > batch:
        notes["critic_minibatch_capped"] = f"{merged['critic_minibatch']} -> {batch} (the batch)"
        merged["critic_minibatch"] = batch
    return TRPOConfig.from_dict(merged, source=f"trial {trial.number}"), notes
