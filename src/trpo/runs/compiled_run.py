"""`trpo train gymnax:ID` / `brax:NAME`: compiled training runs on disk, one or many seeds.

All seeds train in one program (trpo.training.compiled, vmapped over seeds). Between compiled chunks of
`checkpoint_every` iterations the host writes each seed's metrics rows, and its checkpoint, into
an ordinary run directory (config.yaml, metrics.csv with the Gymnasium path's columns, tb/,
checkpoints/, summary.json), so `trpo eval`, `trpo plot` and TRPO.load work on it unchanged.
With several seeds the runs go to parent/seed{S}/ and the parent's summary.json aggregates them.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from trpo.collect.rollout import noise_stream
from trpo.config import ConfigError, TRPOConfig
from trpo.envs.jax_envs import make_jax_env
from trpo.envs.spaces import observation_spec
from trpo.runs.console import ProgressDisplay
from trpo.runs.multiseed import aggregate, default_parent_dir, seed_dir
from trpo.runs.run import (
    CHECKPOINTS,
    SUMMARY_JSON,
    RunDirError,
    RunOptions,
    default_run_dir,
    prepare_run_dir,
    read_config_yaml,
    run_summary,
    write_config_yaml,
    write_json,
)
from trpo.training import checkpoint
from trpo.training.compile_cache import enable_compilation_cache
from trpo.training.compiled import METRIC_NAMES, Carry, Program, eval_keys, evaluate_seeds, init_seeds, run_seeds
from trpo.training.evaluation import evaluation_result
from trpo.training.logger import Logger, metrics_row, truncate_metrics
from trpo.training.train_step import checkpoint_meta, restore_state, state_arrays

EVAL_SEED = 10_000
"""episode i of the final evaluation starts from seed EVAL_SEED + i, as TRPO.evaluate"""


def seed_slice(tree: Any, i: int) -> Any:
    return jax.tree.map(lambda x: np.asarray(x[i]), tree)


COLLECTOR = "collector"
"""checkpoint arrays under collector/: the JAX collector's state (trpo.collect.jax_sampler: envs,
observations, key, episodes under way and the recent-episode window), so a resumed run continues
exactly"""


def checkpoint_contents(
    program: Program, carry: Carry, env_id: str, config: TRPOConfig, wall_s: float
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """One seed's carry: the training state in the Gymnasium path's format (so TRPO.load
    restores it and `trpo eval` plays it) plus the collector's state."""
    arrays, counters = state_arrays(carry.train)
    arrays.update(checkpoint.flatten_tree(COLLECTOR, carry.sampler))
    recent = carry.sampler.recent
    meta = checkpoint_meta(
        env_id,
        {},
        config,
        observation_spec(program.env.observation_space),
        program.env.action_space,
        counters,
        wall_s,
        # The compiled path draws its noise from JAX keys; these NumPy streams are what a TRPO
        # loaded from this checkpoint draws from.
        [noise_stream(config.seed, group).bit_generator.state for group in range(config.workers)],
        [(r, n) for r, n, ok in zip(recent.returns, recent.lengths, recent.valid, strict=True) if ok],
        compiled=True,
    )
    return arrays, meta


def restore_carry(program: Program, arrays: dict[str, np.ndarray], meta: dict[str, Any], source: str) -> Carry:
    """One seed's carry from checkpoint_contents's arrays. A checkpoint without the collector's
    state (written before it was saved) continues on fresh envs, keyed by seed and iteration."""
    fresh = jax.device_get(init_seeds(program, jnp.asarray([program.config.seed], jnp.int32)))
    fresh = seed_slice(fresh, 0)
    train = restore_state(fresh.train, arrays, meta, source, np)
    if any(name.startswith(COLLECTOR + "/") for name in arrays):
        sampler = checkpoint.unflatten_tree(COLLECTOR, fresh.sampler, arrays, source)
    else:
        again = jnp.asarray([program.config.seed + 1_000_003 * int(meta["iteration"])], jnp.int32)
        sampler = seed_slice(jax.device_get(init_seeds(program, again)), 0).sampler
    return Carry(train, sampler)


def _run_dirs(env_id: str, seeds: list[int], options: RunOptions, many: bool, overwrite: bool) -> tuple[Path, list]:
    """The run directory (one seed) or parent/seed{S} for each seed, as trpo.runs.multiseed lays them out."""
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


def check_compiled_config(env_id: str, config: TRPOConfig) -> None:
    """Refuse the fields the compiled path cannot honour (every other field works on both paths)."""
    if config.sampler != "local" or config.workers != 1 or config.vec != "sync":
        raise ConfigError(
            f"{env_id} steps its envs inside the compiled program: --sampler, --workers and --vec apply only to "
            "Gymnasium envs; leave them at their defaults (local, 1, sync)"
        )
    if config.train_time_limit:
        raise ConfigError(
            f"{env_id} steps its envs inside the compiled program, whose episodes run to the env's own limit: "
            "--train-time-limit applies only to Gymnasium envs; leave it at 0"
        )


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
    check_compiled_config(env_id, config)
    enable_compilation_cache()
    program = Program(make_jax_env(env_id), config)
    parent, dirs = _run_dirs(env_id, seeds, options, many, overwrite)
    configs = [config.replace(seed=s) for s in seeds]
    for d, c in zip(dirs, configs, strict=True):
        write_config_yaml(d, env_id, c, options)
    carry = init_seeds(program, jnp.asarray(seeds, jnp.int32))
    summaries = _train_and_summarise(program, carry, env_id, configs, dirs, options, start, many, 0.0)
    if not many:
        return summaries[0]
    result = aggregate(env_id, summaries)
    wall_s = time.perf_counter() - start
    result.update(wall_s=round(wall_s, 3), compile_s=summaries[0]["compile_s"], run_dir=str(parent))
    result["sps_all_seeds"] = round(len(seeds) * summaries[0]["sps"], 1)
    write_json(parent / SUMMARY_JSON, result)
    return result


def resume_compiled(run_dir: Path, options: RunOptions) -> dict[str, Any]:
    """Continue a compiled run (one seed's directory) on the compiled path, from its latest
    checkpoint up to options.total_steps: the training state and the collector's state (envs
    included) are restored, so the run goes on as if it had not stopped."""
    start = time.perf_counter()
    run_dir = Path(run_dir)
    saved = read_config_yaml(run_dir)
    arrays, meta = checkpoint.load(run_dir / CHECKPOINTS)
    env_id = meta["env_id"]
    config = TRPOConfig.from_dict(meta["config"], source=f"{run_dir} checkpoint config")
    if options.total_steps < int(meta["global_step"]):
        raise RunDirError(
            f"--total-steps {options.total_steps} is below the {meta['global_step']} steps {run_dir} has already "
            "trained; give a larger --total-steps"
        )
    enable_compilation_cache()
    program = Program(make_jax_env(env_id), config)
    one = restore_carry(program, arrays, meta, str(run_dir / CHECKPOINTS))
    carry = jax.tree.map(lambda x: jnp.asarray(x)[None], one)
    truncate_metrics(run_dir, int(meta["global_step"]))
    options = dataclasses.replace(options, run_dir=run_dir, preset_source=saved.get("preset"))
    write_config_yaml(run_dir, env_id, config, options)
    previous_s = float(meta.get("train_wall_s", 0.0))
    return _train_and_summarise(program, carry, env_id, [config], [run_dir], options, start, False, previous_s)[0]


def _train_and_summarise(
    program: Program,
    carry: Carry,
    env_id: str,
    configs: list[TRPOConfig],
    dirs: list[Path],
    options: RunOptions,
    start: float,
    many: bool,
    previous_s: float,
) -> list[dict[str, Any]]:
    """Train the seeds of `carry` (leading axis) up to options.total_steps, writing metrics and
    checkpoints into `dirs`, evaluate, and write each seed's summary.json. The critic's learning
    rate schedule ends at the run's budget."""
    batch = program.config.batch_size
    iterations = max(1, math.ceil(options.total_steps / batch))
    horizon = jnp.full_like(carry.train.lr_horizon, iterations * batch)
    carry = carry._replace(train=carry.train._replace(lr_horizon=horizon))
    first = int(carry.train.iteration[0])
    remaining = iterations - first
    resuming = first > 0
    loggers = [
        Logger(d, tensorboard=options.tensorboard, hparams=c.to_dict()) for d, c in zip(dirs, configs, strict=True)
    ]
    checkpoint_dirs = [checkpoint.CheckpointDir(d / CHECKPOINTS) for d in dirs]
    chunk = min(options.checkpoint_every, max(remaining, 1)) if options.checkpoint_every > 0 else max(remaining, 1)
    t = time.perf_counter()
    setup_s = t - start
    step_chunk = run_seeds.lower(program, carry, jnp.int32(chunk), chunk).compile()
    compile_s = time.perf_counter() - t

    done, train_s = first, 0.0
    skipped = np.asarray(jax.device_get(carry.train.skipped_updates), np.float64)
    label = f"{env_id} x{len(dirs)} seeds" if many else env_id
    try:
        with ProgressDisplay(iterations * batch, first * batch, label, not options.quiet) as progress:
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
                    wall = previous_s + compile_s + train_s
                    _write_checkpoints(program, carry, env_id, configs, checkpoint_dirs, wall)
    finally:
        for logger in loggers:
            logger.close()
    _write_checkpoints(program, carry, env_id, configs, checkpoint_dirs, previous_s + compile_s + train_s)

    t = time.perf_counter()
    returns, lengths = jax.device_get(evaluate_seeds(program, carry, eval_keys(options.eval_episodes, EVAL_SEED)))
    eval_s = time.perf_counter() - t
    wall_s = time.perf_counter() - start
    summaries = []
    for i, (c, d) in enumerate(zip(configs, dirs, strict=True)):
        compiled = {"seeds_in_program": len(dirs), "process_wall_s": round(wall_s, 3)}
        seconds = {"wall_s": previous_s + compile_s + train_s, "setup_s": setup_s, "compile_s": compile_s}
        summary = run_summary(
            env_id,
            c.seed,
            iterations * batch,
            iterations,
            {**seconds, "eval_s": eval_s},
            (iterations - first) * batch / train_s if train_s > 0 else 0.0,
            evaluation_result(returns[i], lengths[i]),
            d,
            compiled=compiled,
        )
        if resuming:
            summary["compiled"]["resumed_from"] = first * batch
        write_json(d / SUMMARY_JSON, summary)
        summaries.append(summary)
    return summaries


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
    """One seed's metrics.csv row (logger.metrics_row, as the Gymnasium path). The rollout and
    the update run inside one program, so time/rollout_s and time/update_s are not measured (NaN)."""
    values = {name: float(metrics[name][seed_index, row]) for name in METRIC_NAMES}
    skipped[seed_index] += values.pop("train/skipped")
    episodes = {name: values.pop(name) for name in list(values) if name.startswith("rollout/")}
    times = {"sps": batch * iterations_per_s, "rollout_s": math.nan, "update_s": math.nan, "compile_s": compile_s}
    return metrics_row(iteration * batch, iteration, times, episodes, values, skipped[seed_index])


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
        folder.write(int(one.train.iteration), arrays, meta)
