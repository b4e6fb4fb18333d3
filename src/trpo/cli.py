"""The `trpo` command: trpo train | presets.

`trpo train ENV_ID` builds its flags from TRPOConfig's fields (with their docstrings as help).
Values come, lowest first, from TRPOConfig's defaults, the env's preset, then the flags, so
`trpo train Pendulum-v1 --help` shows the Pendulum preset as the defaults.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro
from rich.console import Console

from trpo import presets
from trpo.checkpoint import CheckpointError
from trpo.config import ConfigError, TRPOConfig
from trpo.envs import EnvError
from trpo.run import RunDirError, RunOptions, holds_run, train

USAGE = """usage: trpo COMMAND [ARGS]

commands:
  train ENV_ID [flags]   train a policy on a Gymnasium env (trpo train --help for every flag)
  presets                list the tuned presets shipped with trpo
"""

err = Console(stderr=True, soft_wrap=True)


@dataclass
class TrainArgs:
    env_id: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV_ID")]
    """Gymnasium environment id, e.g. CartPole-v1, Pendulum-v1, HalfCheetah-v5"""
    config: Annotated[TRPOConfig, tyro.conf.OmitArgPrefixes]
    total_steps: int = 100_000
    """environment steps to train for (rounded up to whole iterations)"""
    run_dir: Path | None = None
    """where the run's files go (default: a new folder under runs/)"""
    preset: str = presets.AUTO
    """'auto' (the env's preset if there is one), 'none', a preset name, or a YAML file"""
    checkpoint_every: int = 10
    """write a checkpoint every this many iterations (and always at the end)"""
    eval_episodes: int = 10
    """deterministic evaluation episodes at the end of training"""
    overwrite: bool = False
    """train into --run-dir even if it already holds a run (its files are replaced)"""
    quiet: bool = False
    """no progress bar"""
    envs_per_worker: int | None = None
    """envs per sampler worker: sets num_envs = workers * envs_per_worker"""
    ray_address: str | None = None
    """with --sampler ray: join this Ray cluster (e.g. 10.0.0.1:6379 or auto) instead of starting a local one"""


def _first_positional(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def _flag_value(argv: list[str], flag: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def cmd_train(argv: list[str]) -> int:
    env_id = _first_positional(argv)
    preset_name = _flag_value(argv, "--preset") or presets.AUTO
    base = TRPOConfig()
    source = None
    if env_id is not None:
        values, source = presets.resolve(preset_name, env_id)
        base = TRPOConfig.from_dict(values, source=f"preset {source}")
    base = _apply_envs_per_worker(argv, base)
    defaults = TrainArgs(env_id=env_id or "", config=base)
    args = tyro.cli(TrainArgs, args=argv, default=defaults, prog="trpo train", description="Train a TRPO policy.")
    config = args.config
    if args.envs_per_worker is not None and config.num_envs != config.workers * args.envs_per_worker:
        raise ConfigError("give either --num-envs or --envs-per-worker (num_envs = workers * envs_per_worker)")
    if args.ray_address is not None and config.sampler != "ray":
        raise ConfigError("--ray-address is only used by the Ray sampler: add --sampler ray")
    if args.run_dir is not None and holds_run(args.run_dir) and not args.overwrite:
        raise RunDirError(
            f"{args.run_dir} already holds a run; pass --overwrite to replace it or choose another --run-dir"
        )
    if args.run_dir is not None and args.overwrite:
        _clear_run(args.run_dir)
    options = RunOptions(
        total_steps=args.total_steps,
        run_dir=args.run_dir,
        checkpoint_every=args.checkpoint_every,
        eval_episodes=args.eval_episodes,
        quiet=args.quiet,
        preset_source=source,
        ray_address=args.ray_address,
    )
    if args.total_steps <= 0:
        raise ConfigError(f"total_steps={args.total_steps} is invalid: must be a positive integer")
    summary = train(args.env_id, config, options)
    print(json.dumps(summary, indent=2))
    return 0


def _apply_envs_per_worker(argv: list[str], base: TRPOConfig) -> TRPOConfig:
    """--envs-per-worker K sets num_envs = workers * K before the flags are parsed, so that the
    config is valid while tyro builds it."""
    per_worker = _flag_value(argv, "--envs-per-worker")
    if per_worker is None or per_worker == "None":
        return base
    workers = _flag_value(argv, "--workers") or str(base.workers)
    try:
        per_worker_n, workers_n = int(per_worker), int(workers)
    except ValueError:
        raise ConfigError(f"--envs-per-worker {per_worker} / --workers {workers}: give positive integers") from None
    if per_worker_n <= 0 or workers_n <= 0:
        raise ConfigError(f"--envs-per-worker {per_worker} / --workers {workers}: give positive integers")
    return base.replace(workers=workers_n, num_envs=workers_n * per_worker_n)


def _clear_run(run_dir: Path) -> None:
    import shutil

    for name in ("config.yaml", "metrics.csv", "summary.json", "tb", "checkpoints"):
        path = Path(run_dir) / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def cmd_presets(argv: list[str]) -> int:
    defaults = TRPOConfig().to_dict()
    for name in presets.available():
        values = presets.read_yaml(presets.preset_path(name))
        changed = ", ".join(f"{k}={v}" for k, v in values.items() if defaults.get(k) != v)
        print(f"{name:28s} {changed}")
    return 0


COMMANDS = {"train": cmd_train, "presets": cmd_presets}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        err.print(f"[red]error:[/] unknown command {command!r}\n{USAGE}")
        return 2
    try:
        return COMMANDS[command](rest)
    except (ConfigError, EnvError, RunDirError, CheckpointError) as error:
        err.print(f"[red]error:[/] {error}")
        return 2
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        return 130


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["main", "TrainArgs", "dataclasses"]
