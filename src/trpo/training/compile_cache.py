"""JAX's persistent compilation cache, on by default for every training path.

Compiling the jitted stages (the learner's init and update, the compiled path's whole program)
is most of a short run's wall time on CPU. With the cache, a second run of the same env and
config reads them from disk instead. The cache lives in the user's cache folder
($XDG_CACHE_HOME, else ~/.cache) under trpo/jax. TRPO_JAX_CACHE=DIR moves it, TRPO_JAX_CACHE=off
turns it off; `trpo train --no-compile-cache` sets TRPO_JAX_CACHE=off for its process and the
processes it starts (--seeds).
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

CACHE_ENV = "TRPO_JAX_CACHE"
OFF_VALUES = ("off", "0", "none", "false", "no", "")
MIN_COMPILE_SECONDS = 0.2
"""programs that compiled faster than this are not written: reading them back would cost about as much"""


def cache_dir() -> Path | None:
    """The cache folder that TRPO_JAX_CACHE and the user's cache folder give, or None when it is off."""
    value = os.environ.get(CACHE_ENV)
    if value is None:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "trpo" / "jax"
    if value.strip().lower() in OFF_VALUES:
        return None
    return Path(value).expanduser()


def enable_compilation_cache() -> Path | None:
    """Point JAX's persistent cache at cache_dir() and return it (None: left off).

    JAX decides whether a process uses the cache at its first compilation, so this must run
    before anything is jitted: TRPO() and the compiled runs call it first."""
    folder = cache_dir()
    if folder is None:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return folder


def turn_off_compilation_cache() -> None:
    """`--no-compile-cache`: off for this process and every process it starts."""
    os.environ[CACHE_ENV] = "off"
