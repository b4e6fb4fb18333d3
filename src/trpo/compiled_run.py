"""`trpo train gymnax:ID` / `brax:NAME`: compiled training runs on disk, one or many seeds.

All seeds train in one program (trpo.compiled, vmapped over seeds). Between compiled chunks of
`checkpoint_every` iterations the host writes each seed's metrics rows, and its checkpoint, into
an ordinary run directory (config.yaml, metrics.csv with the Gymnasium path's columns, tb/,
checkpoints/, summary.json), so `trpo eval`, `trpo plot` and TRPO.load work on it unchanged.
With several seeds the runs go to parent/seed{S}/ and the parent's summary.json aggregates them.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from trpo import __version__, checkpoint
from trpo.compiled import METRIC_NAMES, Carry, Program, eval_keys, evaluate_seeds, init_seeds, run_seeds
from trpo.config import ConfigError, TRPOConfig
from trpo.console import ProgressDisplay
from trpo.envs import observation_spec
from trpo.jax_envs import make_jax_env
from trpo.logger import Logger
from trpo.multiseed import aggregate, default_parent_dir, seed_dir
from trpo.rollout import noise_stream
from trpo.run import (
    CHECKPOINTS,
    SUMMARY_JSON,
    RunOptions,
    default_run_dir,
    prepare_run_dir,
    write_config_yaml,
    write_json,
)

EVAL_SEED = 10_000
"""episode i of the final evaluation starts from seed EVAL_SEED + i, as TRPO.evaluate"""
CACHE_ENV = "TRPO_JAX_CACHE"


def enable_compilation_cache() -> None:
    """Keep compiled programs on disk (JAX's persistent cache), so a second run of the same env
    and config skips most of the compile. TRPO_JAX_CACHE=DIR moves it, TRPO_JAX_CACHE=off disables it."""
    folder = os.environ.get(CACHE_ENV, str(Path.home() / ".cache" / "trpo" / "jax"))
    if folder.lower() in ("off", "0", "none", ""):
        return
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def seed_slice(tree: Any, i: int) -> Any:
    return jax.tree.map(lambda x: np.asarray(x[i]), tree)


def checkpoint_contents(
    program: Program, carry: Carry, env_id: str, config: TRPOConfig, wall_s: float
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """One seed's carry in TRPO._checkpoint_contents's format, so TRPO.load restores it."""
    stats = carry.obs_stats
    arrays = {
        **checkpoint.flatten_tree("actor", carry.learner.actor),
        **checkpoint.flatten_tree("critic", carry.learner.critic),
        **checkpoint.flatten_tree("critic_opt", carry.learner.critic_opt),
        "key": np.asarray(carry.learner.key),
        "obs_norm/mean": np.asarray(stats.mean, np.float64),
        "obs_norm/var": np.asarray(stats.var, np.float64),
        "obs_norm/count": np.asarray(float(stats.count)),
    }
    meta = {
        "trpo_version": __version__,
        "env_id": env_id,
        "make_kwargs": {},
        "config": config.to_dict(),
        "obs_dim": program.env.obs_dim,
        "observation": observation_spec(program.env.observation_space).describe,
        "action_space": str(program.env.action_space),
        "global_step": int(carry.global_step),
        "iteration": int(carry.iteration),
        "skipped_updates": int(carry.skipped_updates),
        "train_wall_s": wall_s,
        # The compiled path draws its noise from JAX keys; these NumPy streams are what a TRPO
        # resumed from this checkpoint on the Gymnasium path would start from.
        "numpy_rng": [noise_stream(config.seed, group).bit_generator.state for group in range(config.workers)],
        "finished_episodes": [
            [float(r), int(n)]
            for r, n, ok in zip(carry.recent.returns, carry.recent.lengths, carry.recent.valid, strict=True)
            if ok
        ],
        "compiled": True,
    }
    return arrays, meta


def _run_dirs(env_id: str, seeds: list[int], options: RunOptions, many: bool, overwrite: bool) -> tuple[Path, list]:
    """The run directory (one seed) or parent/seed{S} for each seed, as trpo.multiseed lays them out."""
    if many:
        parent = Path(options.run_dir) if options.run_dir else default_parent_dir(env_id, seeds)
        dirs = [seed_dir(parent, s) for s in seeds]
    else:
        parent = Path(options.run_dir) if options.run_dir else default_run_dir(env_id, seeds[0])
        dirs = [parent]
    for d in dirs:
        prepare_run_dir(d, overwrite)
        d.mkdir(parents=True, exist_ok=True)
    return parent, dirs


def train_compiled(
    env_id: str,
    config: TRPOConfig,
    seeds: list[int],
    options: RunOptions,
    many: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train every seed in one compiled program; write one run directory per seed. Returns the
    run's summary (one seed) or the aggregate over seeds (`many`, written to the parent too)."""
    start = time.perf_counter()
    if config.sampler != "local" or config.workers != 1:
        raise ConfigError(
            f"{env_id} steps its envs inside the compiled program: --sampler and --workers apply only to "
            "Gymnasium envs; leave them at their defaults (local, 1)"
        )
    enable_compilation_cache()
    program = Program(make_jax_env(env_id), config)
    parent, dirs = _run_dirs(env_id, seeds, options, many, overwrite)
    configs = [config.replace(seed=s) for s in seeds]
    for d, c in zip(dirs, configs, strict=True):
        write_config_yaml(d, env_id, c, options)
    loggers = [
        Logger(d, tensorboard=options.tensorboard, hparams=c.to_dict()) for d, c in zip(dirs, configs, strict=True)
    ]
    checkpoint_dirs = [checkpoint.CheckpointDir(d / CHECKPOINTS) for d in dirs]

    batch = config.batch_size
    iterations = max(1, math.ceil(options.total_steps / batch))
    chunk = min(options.checkpoint_every, iterations) if options.checkpoint_every > 0 else iterations
    carry = init_seeds(program, jnp.asarray(seeds, jnp.int32))
    t = time.perf_counter()
    step_chunk = run_seeds.lower(program, carry, jnp.int32(chunk), chunk).compile()
    compile_s = time.perf_counter() - t

    done, train_s, skipped = 0, 0.0, np.zeros(len(seeds))
    label = f"{env_id} x{len(seeds)} seeds" if many else env_id
    try:
        with ProgressDisplay(iterations * batch, 0, label, not options.quiet) as progress:
            while done < iterations:
                n = min(chunk, iterations - done)
                t = time.perf_counter()
                carry, metrics = step_chunk(carry, jnp.int32(n))
                metrics = jax.device_get(metrics)
                elapsed = time.perf_counter() - t
                train_s += elapsed
                for j in range(n):
                    for i, logger in enumerate(loggers):
                        row = _metrics_row(metrics, i, j, done + j + 1, batch, n / elapsed, compile_s, skipped)
                        logger.write(row)
                    progress.update(row)
                done += n
                if options.checkpoint_every and done % options.checkpoint_every == 0 and done < iterations:
                    _write_checkpoints(program, carry, env_id, configs, checkpoint_dirs, compile_s + train_s)
    finally:
        for logger in loggers:
            logger.close()
    _write_checkpoints(program, carry, env_id, configs, checkpoint_dirs, compile_s + train_s)

    t = time.perf_counter()
    returns, lengths = jax.device_get(evaluate_seeds(program, carry, eval_keys(options.eval_episodes, EVAL_SEED)))
    eval_s = time.perf_counter() - t
    wall_s = time.perf_counter() - start
    summaries = []
    for i, (seed, d) in enumerate(zip(seeds, dirs, strict=True)):
        summary = {
            "env_id": env_id,
            "seed": seed,
            "total_steps": iterations * batch,
            "iterations": iterations,
            "wall_s": round(compile_s + train_s, 3),
            "sps": round(iterations * batch / train_s, 1),
            "compile_s": round(compile_s, 3),
            "eval_s": round(eval_s, 3),
            "eval": {
                "mean": float(np.mean(returns[i])),
                "std": float(np.std(returns[i])),
                "episodes": options.eval_episodes,
            },
            "run_dir": str(d),
            "compiled": {"seeds_in_program": len(seeds), "process_wall_s": round(wall_s, 3)},
        }
        write_json(d / SUMMARY_JSON, summary)
        summaries.append(summary)
    if not many:
        return summaries[0]
    result = aggregate(env_id, summaries)
    result.update(wall_s=round(wall_s, 3), compile_s=round(compile_s, 3), run_dir=str(parent))
    result["sps_all_seeds"] = round(len(seeds) * iterations * batch / train_s, 1)
    write_json(parent / SUMMARY_JSON, result)
    return result


def _metrics_row(
    metrics: dict[str, np.ndarray],
    seed_index: int,
    row: int,
    iteration: int,
    batch: int,
    iterations_per_s: float,
    compile_s: float,
    skipped: np.ndarray,
) -> dict[str, float]:
    """One metrics.csv row with the Gymnasium path's columns. The rollout and the update run
    inside one program, so time/rollout_s and time/update_s are not measured (NaN)."""
    values = {name: float(metrics[name][seed_index, row]) for name in METRIC_NAMES}
    skipped[seed_index] += values.pop("train/skipped")
    return {
        "global_step": iteration * batch,
        "iteration": iteration,
        "time/sps": batch * iterations_per_s,
        "time/rollout_s": math.nan,
        "time/update_s": math.nan,
        "time/compile_s": compile_s,
        **values,
        "train/skipped_updates": float(skipped[seed_index]),
    }


def _write_checkpoints(
    program: Program,
    carry: Carry,
    env_id: str,
    configs: list[TRPOConfig],
    checkpoint_dirs: list[checkpoint.CheckpointDir],
    wall_s: float,
) -> None:
    host = jax.device_get(carry)
    for i, (c, folder) in enumerate(zip(configs, checkpoint_dirs, strict=True)):
        one = seed_slice(host, i)
        arrays, meta = checkpoint_contents(program, one, env_id, c, wall_s)
        folder.write(int(one.iteration), arrays, meta)
