"""What goes wrong with envs: an id or space trpo cannot use (EnvError), and an env that raises
or returns a non-finite value while training (EnvFault), checked after every step."""

from __future__ import annotations

import traceback
from typing import Any

import numpy as np

from trpo.learning.observations import parts


class EnvError(ValueError):
    """An env id or space that trpo cannot use; the message says why and what to do."""


class EnvFault(RuntimeError):
    """An env raised, or returned a non-finite observation or reward, while training: the run stops.
    `env_index` and `env_step` say which env and at which of its steps."""

    def __init__(self, message: str, env_index: int, env_step: int):
        super().__init__(message)
        self.env_index = env_index
        self.env_step = env_step


def raised_fault(error: Exception, env: str, method: str, when: str, env_index: int, env_step: int) -> EnvFault:
    """The EnvFault for an exception the env's own code raised: which env, in which call, when,
    and the line of the env's code that raised it."""
    frame = traceback.extract_tb(error.__traceback__)[-1]
    return EnvFault(
        f"env {env} raised {type(error).__name__} in {method}() {when}: {error} "
        f"(raised at {frame.filename}:{frame.lineno})",
        env_index,
        env_step,
    )


def check_finite(name: str, env_steps: int, rewards: np.ndarray, obs: Any, final_obs: Any) -> None:
    """A NaN or infinite observation or reward would silently poison the normaliser and the
    update: every vector-env backend calls this after each step, to stop at the step where one
    appears, naming the env and the step. Only float parts can hold non-finite values (image
    parts are uint8)."""
    n = len(rewards)
    checked = [("reward", rewards[:, None])]
    for what, values in (("observation", obs), ("final observation", final_obs)):
        checked += [(what, part.reshape(n, -1)) for part in parts(values) if part.dtype.kind == "f"]
    if all(np.isfinite(values).all() for _, values in checked):
        return
    for what, values in checked:
        bad_rows = ~np.isfinite(values).all(axis=1)
        if bad_rows.any():
            i = int(np.argmax(bad_rows))
            shown = values[i][~np.isfinite(values[i])][0]
            raise EnvFault(
                f"env {name} (index {i}) returned a non-finite {what} ({shown}) at its step {env_steps}. "
                "Fix the env, or wrap it to clip or replace such values",
                i,
                env_steps,
            )
