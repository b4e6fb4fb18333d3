"""A training run on disk: the run directory, its files, and the final evaluation.

run_dir/
  config.yaml       every hyperparameter, env id, seed, total steps, trpo version
  metrics.csv       one row per iteration
  tb/               TensorBoard events
  checkpoints/      latest + the newest numbered checkpoints, written atomically
  summary.json      env_id, seed, total_steps, wall_s, setup_s, sps, compile_s, eval {mean, std, episodes}
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from trpo.config import ConfigError, TRPOConfig
from trpo.envs.errors import EnvError, EnvFault
from trpo.runs.console import ProgressDisplay
from trpo.runs.presets import describe
from trpo.training.agent import TRPO
from trpo.training.checkpoint import LATEST, CheckpointDir, write_atomic
from trpo.training.evaluation import DEFAULT_EVAL_SEED, EvaluationFault
from trpo.training.interrupt import StopOnSignal, TrainingInterrupted
from trpo.training.logger import METRICS_CSV, Logger, truncate_metrics
from trpo.version import __version__

CONFIG_YAML = "config.yaml"
EVAL_JSON = "eval.json"
SUMMARY_JSON = "summary.json"
CHECKPOINTS = "checkpoints"


class RunDirError(ValueError):
    """A run directory that cannot be used as asked; the message says why and what to do."""


@dataclass
class RunOptions:
    total_steps: int
    run_dir: Path | None = None
    checkpoint_every: int = 10
    eval_episodes: int = 10
    quiet: bool = False
    tensorboard: bool = True
    preset_source: str | None = None
    ray_address: str | None = None
    make_kwargs: dict[str, Any] = field(default_factory=dict)
    """arguments of gymnasium.make (a preset's make_kwargs or --make-kwargs)"""
    on_iteration: Callable[[TRPO, dict[str, float]], Any] | None = None
    """called after every iteration with the agent and its metrics (trpo tune evaluates and prunes
    here); returning False stops training, and the run ends as usual: checkpoint, evaluation, summary"""

    def __post_init__(self) -> None:
        # Checked before training starts: found at the final evaluation, it would come after the work.
        if self.eval_episodes < 1:
            raise ConfigError(
                f"--eval-episodes {self.eval_episodes} is invalid: the run ends with a deterministic evaluation "
                "of at least 1 episode (summary.json holds its result); give a positive integer"
            )
        if self.checkpoint_every < 0:
            raise ConfigError(
                f"--checkpoint-every {self.checkpoint_every} is invalid: give 0 (a checkpoint only at the end) "
                "or a positive number of iterations"
            )


def default_run_dir(env_id: str, seed: int, root: Path = Path("runs")) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", env_id)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = root / f"{safe}__seed{seed}__{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = root / f"{safe}__seed{seed}__{stamp}-{suffix}"
    return path


def holds_run(path: Path) -> bool:
    return (Path(path) / CONFIG_YAML).exists() or (Path(path) / CHECKPOINTS).exists()


def prepare_run_dir(run_dir: Path | None, overwrite: bool) -> None:
    """Refuse a folder that already holds a run, unless `overwrite`: then remove its run files."""
    if run_dir is None or not holds_run(run_dir):
        return
    if not overwrite:
        raise RunDirError(
            f"{run_dir} already holds a run; pass --overwrite to replace it, --resume {run_dir} to continue it, "
            "or choose another --run-dir"
        )
    for name in (CONFIG_YAML, METRICS_CSV, SUMMARY_JSON, "eval.json", "tb", CHECKPOINTS):
        path = Path(run_dir) / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2) + "\n"
    write_atomic(path, lambda f: f.write(text.encode()))


def write_config_yaml(run_dir: Path, env_id: str, config: TRPOConfig, options: RunOptions) -> None:
    data = {
        "env_id": env_id,
        "total_steps": options.total_steps,
        "trpo_version": __version__,
        "preset": options.preset_source,
        "make_kwargs": dict(options.make_kwargs),
        "config": config.to_dict(),
    }
    text = yaml.safe_dump(data, sort_keys=False)
    write_atomic(run_dir / CONFIG_YAML, lambda f: f.write(text.encode()))


def resume_hint(error: BaseException) -> str:
    """What an EnvFault or TrainingInterrupted left on disk and the command that continues the run."""
    run_dir, saved = getattr(error, "run_dir", None), getattr(error, "checkpoint", None)
    if run_dir is None or saved is None:
        return "no checkpoint was saved"
    step = getattr(error, "global_step", "?")
    return (
        f"saved a checkpoint at step {step} to {saved.parent / 'latest'}; continue with: trpo train --resume {run_dir}"
    )


def require_run_dir(run_dir: Path) -> Path:
    """`run_dir` as a Path if it holds a run (for trpo eval, plot and --resume); else RunDirError."""
    run_dir = Path(run_dir)
    made_by = "give a folder made by `trpo train` (by default under runs/)"
    if not run_dir.exists():
        raise RunDirError(f"{run_dir} does not exist; {made_by}")
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir} is a file, not a run directory; {made_by}")
    if not (run_dir / CONFIG_YAML).is_file():
        raise RunDirError(f"{run_dir} holds no run (no {CONFIG_YAML}); {made_by}")
    return run_dir


def read_config_yaml(run_dir: Path) -> dict[str, Any]:
    path = require_run_dir(run_dir) / CONFIG_YAML
    try:
        saved = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise RunDirError(f"{path} does not parse as YAML ({error}); it was edited or damaged") from error
    if not isinstance(saved, dict) or "env_id" not in saved:
        raise RunDirError(f"{path} is not a trpo run config (no env_id); it was edited or damaged")
    return saved


def train(env_id: str, config: TRPOConfig, options: RunOptions) -> dict[str, Any]:
    """Train in a new run directory and return the summary (also written to summary.json)."""
    run_dir = Path(options.run_dir) if options.run_dir else default_run_dir(env_id, config.seed)
    prepare_run_dir(run_dir, overwrite=False)
    # The agent before the folder: an unknown env id or an unsupported space leaves no half-made run.
    start = time.perf_counter()
    agent = TRPO(
        env_id,
        config,
        make_kwargs=options.make_kwargs,
        ray_address=options.ray_address,
        total_steps=options.total_steps,
    )
    setup_s = time.perf_counter() - start
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config_yaml(run_dir, env_id, config, options)
    if not options.quiet:
        # Once the env is made: a bad env or space is then the only line on stderr.
        Console(stderr=True, highlight=False).print(describe(options.preset_source, env_id), soft_wrap=True)
    return _train_and_summarise(agent, run_dir, options, setup_s=setup_s)


def resume(run_dir: Path, options: RunOptions) -> dict[str, Any]:
    """Continue the run in `run_dir` from its latest checkpoint up to options.total_steps, in the
    same directory: metrics.csv and TensorBoard are appended to, counting on from the saved step.

    Every saved array (parameters, optimiser, normaliser, RNG keys and generator) is restored
    bit for bit; the envs cannot be restored and start fresh episodes."""
    run_dir = Path(run_dir)
    saved = read_config_yaml(run_dir)
    if not (run_dir / CHECKPOINTS / LATEST).exists():
        raise RunDirError(f"{run_dir} has no checkpoint to resume from ({CHECKPOINTS}/{LATEST} is missing)")
    start = time.perf_counter()
    agent = TRPO.load(run_dir / CHECKPOINTS)
    setup_s = time.perf_counter() - start
    if options.total_steps < agent.global_step:
        raise RunDirError(
            f"--total-steps {options.total_steps} is below the {agent.global_step} steps {run_dir} has already "
            "trained; give a larger --total-steps"
        )
    agent.total_steps = options.total_steps
    truncate_metrics(run_dir, agent.global_step)
    options = dataclasses.replace(
        options, run_dir=run_dir, preset_source=saved.get("preset"), make_kwargs=agent.make_kwargs
    )
    write_config_yaml(run_dir, agent.env_id, agent.config, options)
    return _train_and_summarise(agent, run_dir, options, setup_s=setup_s)


def _train_and_summarise(agent: TRPO, run_dir: Path, options: RunOptions, setup_s: float = 0.0) -> dict[str, Any]:
    """Train, evaluate, write summary.json. Its `sps` counts every second the user waited for
    the training in this run: making the envs and the learner (`setup_s`) and the whole of
    learn(), JIT compilation included (`compile_s` says how much of it that was); the final
    evaluation (`eval_s`) is outside it."""
    hparams = {"env_id": agent.env_id, **agent.config.to_dict()}
    logger = Logger(run_dir, tensorboard=options.tensorboard, hparams=hparams)
    checkpoints = CheckpointDir(run_dir / CHECKPOINTS)
    remaining = max(0, options.total_steps - agent.global_step)

    def after_iteration(metrics: dict[str, float]) -> Any:
        progress.update(metrics)
        return None if options.on_iteration is None else options.on_iteration(agent, metrics)

    try:
        with (
            StopOnSignal() as stop,
            ProgressDisplay(options.total_steps, agent.global_step, agent.env_id, not options.quiet) as progress,
        ):
            if remaining > 0:
                agent.learn(
                    remaining,
                    callback=after_iteration,
                    logger=logger,
                    checkpoints=checkpoints,
                    checkpoint_every=options.checkpoint_every,
                    check_stop=stop.check,
                )
    except (EnvFault, TrainingInterrupted) as error:
        # agent.learn saved a checkpoint; the caller reports it with the command that resumes.
        error.run_dir = run_dir
        agent.close()
        raise
    finally:
        logger.close()
    start = time.perf_counter()
    try:
        evaluation = agent.evaluate(options.eval_episodes)
    except (EnvFault, EnvError) as error:
        raise EvaluationFault(
            f"{error}\nthe final evaluation stopped, but training finished: the checkpoint at step "
            f"{agent.global_step} ({run_dir / CHECKPOINTS / LATEST}) and {METRICS_CSV} are saved, no "
            f"{SUMMARY_JSON} was written. Evaluate again with: trpo eval {run_dir}"
        ) from error
    finally:
        agent.close()
    eval_s = time.perf_counter() - start
    sps = agent.global_step / (setup_s + agent.train_wall_s) if agent.train_wall_s > 0 else 0.0
    summary = run_summary(
        agent.env_id,
        agent.config.seed,
        agent.global_step,
        agent.iteration,
        {"wall_s": agent.train_wall_s, "setup_s": setup_s, "compile_s": agent.compile_s, "eval_s": eval_s},
        sps,
        evaluation,
        run_dir,
    )
    write_json(run_dir / SUMMARY_JSON, summary)
    return summary


def run_summary(
    env_id: str,
    seed: int,
    total_steps: int,
    iterations: int,
    seconds: dict[str, float],
    sps: float,
    evaluation: dict[str, Any],
    run_dir: Path,
    **extra: Any,
) -> dict[str, Any]:
    """summary.json, the same keys for every run (trpo train, --resume, compiled runs): `seconds`
    holds wall_s, setup_s, compile_s and eval_s; `evaluation` is an evaluation_result."""
    return {
        "env_id": env_id,
        "seed": seed,
        "total_steps": total_steps,
        "iterations": iterations,
        "wall_s": round(seconds["wall_s"], 3),
        "setup_s": round(seconds["setup_s"], 3),
        "sps": round(sps, 1),
        "compile_s": round(seconds["compile_s"], 3),
        "eval_s": round(seconds["eval_s"], 3),
        "eval": {k: evaluation[k] for k in ("mean", "std", "episodes")},
        "run_dir": str(run_dir),
        **extra,
    }


def evaluate_run(
    run_dir: Path,
    episodes: int = 10,
    seed: int = DEFAULT_EVAL_SEED,
    deterministic: bool = True,
    video_dir: Path | None = None,
) -> dict[str, Any]:
    """`trpo eval`: load the run's latest checkpoint, evaluate, and write eval.json in the run."""
    run_dir = require_run_dir(run_dir)
    agent = TRPO.load(run_dir / CHECKPOINTS)
    try:
        result = agent.evaluate(episodes, seed=seed, deterministic=deterministic, video_dir=video_dir)
    except EnvFault as fault:
        raise EvaluationFault(
            f"{fault}\nthe evaluation stopped; the run's checkpoint is unchanged and no {EVAL_JSON} was written. "
            f"Fix the env, then run: trpo eval {run_dir}"
        ) from fault
    finally:
        agent.close()
    report = {
        "env_id": agent.env_id,
        "run_dir": str(run_dir),
        "global_step": agent.global_step,
        "deterministic": deterministic,
        "seed": seed,
        **result,
    }
    if video_dir is not None:
        report["videos"] = sorted(str(p) for p in Path(video_dir).glob("*.mp4"))
    write_json(run_dir / EVAL_JSON, report)
    return report
