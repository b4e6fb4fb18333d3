"""The `trpo` command: trpo train | eval | plot | presets. One function per subcommand.

`trpo train ENV_ID` builds its flags from TRPOConfig's fields (with their docstrings as help).
Values come, lowest first, from TRPOConfig's defaults, the env's preset, then the flags, so
`trpo train Pendulum-v1 --help` shows the Pendulum preset as the defaults. An env without a
preset gets its family's defaults (continuous, discrete or image, from its spaces: trpo.presets);
`--help` and the start of a run say which preset or family applies.

Progress and tables go to stderr; the final result (JSON) goes to stdout, so it can be piped.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import tyro
from rich.console import Console
from rich.markup import escape

from trpo.config import ConfigError, TRPOConfig
from trpo.envs.errors import EnvError, EnvFault
from trpo.envs.jax_envs import is_jax_env_id
from trpo.runs import presets
from trpo.runs.plot import DEFAULT_METRIC, PlotError, plot_runs
from trpo.runs.run import (
    RunDirError,
    RunOptions,
    evaluate_run,
    prepare_run_dir,
    read_config_yaml,
    resume,
    resume_hint,
    train,
)
from trpo.training.checkpoint import CheckpointError
from trpo.training.compile_cache import turn_off_compilation_cache
from trpo.training.evaluation import DEFAULT_EVAL_SEED, EvaluationFault
from trpo.training.interrupt import TrainingInterrupted

USAGE = """usage: trpo COMMAND [ARGS]

commands:
  train ENV_ID [flags]            train a policy on a Gymnasium env (trpo train --help for every flag)
  train ENV_ID --seeds 0,1,2      one run per seed under a parent folder, in parallel
  train --resume RUN_DIR          continue a run from its latest checkpoint
  eval RUN_DIR                    evaluate a run's policy, write eval.json (--video DIR for MP4s)
  plot RUN_DIR_OR_PARENT...       learning curves (mean over seeds, +-std or CI band) to a PNG
  train gymnax:ID|brax:NAME       the whole training compiled in JAX; --seeds 0-15 trains all seeds in one program
  presets                         list the tuned presets shipped with trpo
  tune ENV_ID --trials N          search hyperparameters with Optuna (trpo tune --help; docs/tuning.md)
  tune --report STUDY_DIR         a study's best trials, best preset and pictures
"""

err = Console(stderr=True, soft_wrap=True)


@dataclass
class TrainArgs:
    """Train a TRPO policy. To continue a run: trpo train --resume RUN_DIR [--total-steps N]."""

    env_id: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV_ID")]
    """Gymnasium environment id, e.g. CartPole-v1, Pendulum-v1, HalfCheetah-v5; or gymnax:ID, brax:NAME"""
    config: Annotated[TRPOConfig, tyro.conf.OmitArgPrefixes]
    make_kwargs: tuple[str, ...] = ()
    """arguments of gymnasium.make as KEY=VALUE pairs, each VALUE read as YAML, e.g.
    include_cfrc_ext_in_observation=false; they replace the preset's make_kwargs"""
    total_steps: int = 100_000
    """environment steps to train for (rounded up to whole iterations)"""
    run_dir: Path | None = None
    """where the run's files go (default: a new folder under runs/); with --seeds, the parent folder"""
    preset: str = presets.AUTO
    """'auto' (the env's preset if there is one, else its family from its spaces), 'family' (the
    env's family even if it has a preset), 'family:continuous', 'family:discrete', 'family:image',
    'none' (the plain defaults), a preset name, or a YAML file"""
    seeds: str | None = None
    """comma-separated seeds or ranges, e.g. 0,1,2 or 0-15: one run per seed under --run-dir (replaces
    --seed); Gymnasium envs train them in parallel processes, gymnax:/brax: envs all in one compiled program"""
    parallel: int = 0
    """with --seeds: runs at once (0: as many as there are CPU cores)"""
    checkpoint_every: int = 10
    """write a checkpoint every this many iterations (and always at the end; 0: only at the end)"""
    eval_episodes: int = 10
    """deterministic evaluation episodes at the end of training"""
    overwrite: bool = False
    """train into --run-dir even if it already holds a run (its files are replaced)"""
    quiet: bool = False
    """no progress bar and no table"""
    envs_per_worker: int | None = None
    """envs per sampler worker: sets num_envs = workers * envs_per_worker"""
    ray_address: str | None = None
    """with --sampler ray: join this Ray cluster (e.g. 10.0.0.1:6379 or auto) instead of starting a local one"""
    no_compile_cache: bool = False
    """compile from scratch and keep nothing on disk (default: JAX's persistent compilation cache in
    ~/.cache/trpo/jax, or TRPO_JAX_CACHE=DIR; TRPO_JAX_CACHE=off does what this flag does)"""


@dataclass
class ResumeArgs:
    """Continue a run from its latest checkpoint, in the same directory (metrics.csv and
    TensorBoard are appended to). The envs start fresh episodes: their state is not saved."""

    resume: Path
    """run directory to continue"""
    total_steps: int | None = None
    """train until this many environment steps in all (default: the run's original target)"""
    checkpoint_every: int = 10
    """write a checkpoint every this many iterations (and always at the end; 0: only at the end)"""
    eval_episodes: int = 10
    """deterministic evaluation episodes at the end of training"""
    quiet: bool = False
    """no progress bar and no table"""
    no_compile_cache: bool = False
    """compile from scratch and keep nothing on disk (default: JAX's persistent compilation cache)"""


@dataclass
class EvalArgs:
    """Evaluate a run's latest checkpoint on fresh envs; prints mean +- std and writes eval.json."""

    run_dir: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="RUN_DIR")]
    """run directory made by trpo train"""
    episodes: int = 10
    """episodes to play"""
    seed: int = DEFAULT_EVAL_SEED
    """episode i starts from reset(seed + i)"""
    stochastic: bool = False
    """sample actions from the policy instead of taking its mean / most likely action"""
    video: Path | None = None
    """record every episode as an MP4 in this folder (needs pip install 'trpo[video]')"""


@dataclass
class PlotArgs:
    """Learning curves against env steps: runs of one env and config are grouped, with the mean
    over seeds and a band (+-1 std, or with --band ci the 95% bootstrap CI of the mean); one
    panel per env."""

    paths: Annotated[tuple[Path, ...], tyro.conf.Positional, tyro.conf.arg(metavar="RUN_DIR_OR_PARENT")]
    """run directories, or folders holding runs (searched recursively)"""
    out: Path | None = None
    """PNG file to write (default: curves.png in the first folder given)"""
    metric: str = DEFAULT_METRIC
    """metrics.csv column to plot (see docs/metrics.md)"""
    band: Literal["std", "ci"] = "std"
    """the band around the mean: std (+-1 standard deviation over seeds) or ci (95% percentile
    bootstrap confidence interval of the mean, whole runs resampled)"""


@dataclass
class TuneArgs:
    """Search TRPO's hyperparameters for an env with Optuna: TPE sampling, and a median pruner on
    deterministic evaluations during each trial. Each trial is a `trpo train` run under
    STUDY_DIR/trials/; the study is kept in a database, so the same command again continues it, and
    workers on other machines join it with the same --storage URL. At the end (or with --report) it
    writes report.md, best-preset.yaml (for trpo train ENV_ID --preset FILE), history.png and
    importances.png to the study folder. Needs pip install 'trpo[tune]'; see docs/tuning.md."""

    env_id: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV_ID")]
    """Gymnasium environment id (or module:EnvId for an env registered by your module)"""
    trials: int = 50
    """trials the study runs in all (complete, pruned or failed; trials cut off by Ctrl-C run again)"""
    total_steps: int = 100_000
    """environment steps per trial"""
    study_dir: Path | None = None
    """the study's folder: its SQLite database, trials/ and the report (default: tune/ENV_ID)"""
    jobs: int = 1
    """trials at once on this machine, each in its own process"""
    storage: str | None = None
    """database URL of the study, e.g. postgresql://USER:PASSWORD@HOST/DB to share it between machines
    (default: sqlite in --study-dir)"""
    study_name: str | None = None
    """the study's name in the storage (default: the name of --study-dir)"""
    space: Path | None = None
    """search space YAML (default: the shipped one, trpo/tune/space.yaml; format in docs/tuning.md)"""
    preset: str = presets.AUTO
    """the config that searched fields are set on: 'auto' (the env's preset if any), 'none', a name or a YAML file"""
    make_kwargs: tuple[str, ...] = ()
    """arguments of gymnasium.make as KEY=VALUE pairs (replace the preset's)"""
    seed: int = 0
    """training seed of every trial"""
    evals: int = 5
    """evaluations per trial: evals - 1 during training (the pruner's input) and the final one (the value)"""
    eval_episodes: int = 5
    """deterministic episodes per evaluation"""
    startup_trials: int = 10
    """random trials before TPE models the results (the pruner starts after half as many)"""
    sampler_seed: int | None = None
    """seed of the TPE sampler (worker i uses seed + i); default: random"""
    quiet: bool = False
    """no progress bar, no per-trial lines"""


@dataclass
class TuneReportArgs:
    """Report a study made by trpo tune: its best trials, its best config as a preset, its pictures."""

    report: Path
    """the study's folder (--study-dir of trpo tune)"""
    storage: str | None = None
    """database URL, if the study is not in the folder's study.db"""
    study_name: str | None = None
    """the study's name (default: the one recorded in the folder, else the folder's name)"""
    out: Path | None = None
    """folder for the report files (default: the study's folder)"""
    top: int = 10
    """rows of the best-trials table"""


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
    if any(a == "--resume" or a.startswith("--resume=") for a in argv):
        return cmd_resume(argv)
    env_id = _first_positional(argv)
    preset_name = _flag_value(argv, "--preset") or presets.AUTO
    base = TRPOConfig()
    source = None
    preset_make_kwargs: dict = {}
    if env_id is not None:
        values, source = presets.resolve(preset_name, env_id)
        values, preset_make_kwargs = presets.split_make_kwargs(values, source=f"preset {source}")
        base = TRPOConfig.from_dict(values, source=f"preset {source}")
    if env_id is not None and ("-h" in argv or "--help" in argv):
        err.print(presets.describe(source, env_id) + "; the defaults below include it")
    base = _apply_envs_per_worker(argv, base)
    base = _exact_pi_old_with_recurrent(argv, base)
    defaults = TrainArgs(env_id=env_id or "", config=base, make_kwargs=presets.format_make_kwargs(preset_make_kwargs))
    args = tyro.cli(TrainArgs, args=argv, default=defaults, prog="trpo train")
    if args.no_compile_cache:
        turn_off_compilation_cache()
    if is_jax_env_id(args.env_id):
        return _train_compiled(args, source)
    config = args.config
    options = _run_options(args, source)
    if args.envs_per_worker is not None and config.num_envs != config.workers * args.envs_per_worker:
        raise ConfigError("give either --num-envs or --envs-per-worker (num_envs = workers * envs_per_worker)")
    if args.ray_address is not None and config.sampler != "ray":
        raise ConfigError("--ray-address is only used by the Ray sampler: add --sampler ray")
    if args.seeds is not None:
        from trpo.runs.multiseed import parse_seeds, train_seeds

        summary = train_seeds(args.env_id, config, parse_seeds(args.seeds), options, args.parallel, args.overwrite)
    else:
        prepare_run_dir(args.run_dir, args.overwrite)
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


def _exact_pi_old_with_recurrent(argv: list[str], base: TRPOConfig) -> TRPOConfig:
    """--recurrent lstm|gru on a config without a core also turns exact_pi_old on, unless a flag
    sets it: renormalising a batch changes every state of a recurrent policy's sequences, and
    pi_old exactly the collecting policy solved 6 of 8 CartPoleNoVel seeds against 2 of 5
    (docs/recurrent.md). The recurrent presets set it themselves."""
    recurrent = _flag_value(argv, "--recurrent")
    chosen = "--exact-pi-old" in argv or "--no-exact-pi-old" in argv
    if recurrent in ("lstm", "gru") and base.recurrent == "none" and not chosen:
        return base.replace(exact_pi_old=True)
    return base


def cmd_resume(argv: list[str]) -> int:
    if "-h" in argv or "--help" in argv:
        argv = ["--help"]  # `trpo train --resume --help`: --resume would take --help as its folder
    args = tyro.cli(ResumeArgs, args=argv, prog="trpo train --resume")
    if args.no_compile_cache:
        turn_off_compilation_cache()
    saved = read_config_yaml(args.resume)
    total_steps = args.total_steps if args.total_steps is not None else int(saved["total_steps"])
    options = RunOptions(
        total_steps=total_steps,
        run_dir=args.resume,
        checkpoint_every=args.checkpoint_every,
        eval_episodes=args.eval_episodes,
        quiet=args.quiet,
    )
    if is_jax_env_id(str(saved["env_id"])):
        from trpo.runs.compiled_run import resume_compiled

        summary = resume_compiled(args.resume, options)
    else:
        summary = resume(args.resume, options)
    print(json.dumps(summary, indent=2))
    return 0


def _run_options(args: TrainArgs, preset_source: str | None) -> RunOptions:
    """The run options of `trpo train`, for the Gymnasium and the compiled path alike."""
    if args.total_steps <= 0:
        raise ConfigError(f"total_steps={args.total_steps} is invalid: must be a positive integer")
    make_kwargs = presets.parse_make_kwargs(args.make_kwargs)
    if make_kwargs and is_jax_env_id(args.env_id):
        raise ConfigError(
            f"--make-kwargs {' '.join(args.make_kwargs)}: gymnax:/brax: envs take no gymnasium.make arguments; "
            "drop the flag (or pass --make-kwargs with no values to clear a preset's)"
        )
    return RunOptions(
        total_steps=args.total_steps,
        run_dir=args.run_dir,
        checkpoint_every=args.checkpoint_every,
        eval_episodes=args.eval_episodes,
        quiet=args.quiet,
        preset_source=preset_source,
        ray_address=args.ray_address,
        make_kwargs=make_kwargs,
    )


def _train_compiled(args: TrainArgs, preset_source: str | None) -> int:
    """gymnax:/brax: ids: the whole training compiled, all seeds in one program (trpo.runs.compiled_run)."""
    from trpo.runs.compiled_run import train_compiled
    from trpo.runs.multiseed import parse_seeds

    options = _run_options(args, preset_source)
    seeds = parse_seeds(args.seeds) if args.seeds is not None else [args.config.seed]
    summary = train_compiled(args.env_id, args.config, seeds, options, args.seeds is not None, args.overwrite)
    print(json.dumps(summary, indent=2))
    return 0


def cmd_eval(argv: list[str]) -> int:
    args = tyro.cli(EvalArgs, args=argv, prog="trpo eval")
    if args.episodes <= 0:
        raise ConfigError(f"--episodes {args.episodes} is invalid: must be a positive integer")
    if args.video is not None:
        # pygame's renderers draw into memory here; without this SDL looks for a display and
        # prints an error on a headless machine. This process opens no window.
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    report = evaluate_run(args.run_dir, args.episodes, args.seed, not args.stochastic, args.video)
    mode = "stochastic" if args.stochastic else "deterministic"
    err.print(
        f"{report['env_id']} at {report['global_step']:,} steps: return {report['mean']:.2f} +- {report['std']:.2f} "
        f"over {report['episodes']} {mode} episodes -> {Path(args.run_dir) / 'eval.json'}",
        soft_wrap=True,
    )
    print(json.dumps(report, indent=2))
    return 0


def cmd_plot(argv: list[str]) -> int:
    args = tyro.cli(PlotArgs, args=argv, prog="trpo plot")
    if not args.paths:
        raise PlotError("give at least one run directory or a folder holding runs, e.g. trpo plot runs/")
    out = args.out or Path(args.paths[0]) / "curves.png"
    groups = plot_runs(list(args.paths), out, args.metric, args.band)
    for group in groups:
        d = group.describe()
        final = f"{d['final_mean']:.4g} +- {d['final_std']:.3g} at step {d['final_step']:,}"
        err.print(f"{d['env_id']}, {group.label}: final {args.metric} {final}")
    err.print(f"wrote {out}")
    print(json.dumps({"out": str(out), "groups": [g.describe() for g in groups]}, indent=2))
    return 0


def cmd_presets(argv: list[str]) -> int:
    """Each preset: its values (those that differ from the defaults in bold) and its source."""
    defaults = TRPOConfig().to_dict()
    out = Console(highlight=False)
    for name in presets.available():
        path = presets.preset_path(name)
        values, make_kwargs = presets.split_make_kwargs(presets.read_yaml(path), source=str(path))
        shown = [f"[bold]{k}={v}[/]" if defaults.get(k) != v else f"{k}={v}" for k, v in values.items()]
        shown += [f"[bold]make_kwargs: {k}={v}[/]" for k, v in make_kwargs.items()]
        out.print(f"[bold cyan]{name}[/]  {', '.join(shown)}", soft_wrap=True)
        source = " ".join(line.lstrip("# ").strip() for line in path.read_text().splitlines() if line.startswith("#"))
        out.print(f"  [dim]{source}[/]", soft_wrap=True)
    out.print("\n[bold]Families[/] (`--preset auto` for an env without a preset, from its spaces):")
    for family, file in presets.FAMILIES.items():
        values = presets.read_yaml(presets.family_path(family))
        shown = [f"[bold]{k}={v}[/]" if defaults.get(k) != v else f"{k}={v}" for k, v in values.items()]
        out.print(f"[bold cyan]{presets.FAMILY}:{family}[/]  {', '.join(shown)}  [dim]({file})[/]", soft_wrap=True)
    return 0


def cmd_tune(argv: list[str]) -> int:
    try:
        from trpo.tune import cli as tune_cli
    except ImportError as error:
        raise ConfigError(f"trpo tune needs Optuna ({error}): pip install 'trpo[tune]'") from None
    if any(a == "--report" or a.startswith("--report=") for a in argv):
        if "-h" in argv or "--help" in argv:
            argv = ["--help"]
        return tune_cli.report(tyro.cli(TuneReportArgs, args=argv, prog="trpo tune --report"))
    return tune_cli.tune(tyro.cli(TuneArgs, args=argv, prog="trpo tune"))


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "plot": cmd_plot, "presets": cmd_presets, "tune": cmd_tune}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        err.print(f"[red]error:[/] unknown command {command!r}\n{escape(USAGE)}")
        return 2
    try:
        return COMMANDS[command](rest)
    except (ConfigError, EnvError, RunDirError, CheckpointError, PlotError) as error:
        err.print(f"[red]error:[/] {escape(str(error))}", soft_wrap=True)
        return 2
    except EnvFault as fault:
        err.print(f"[red]error:[/] {escape(str(fault))}\n{escape(resume_hint(fault))}")
        return 1
    except EvaluationFault as fault:
        err.print(f"[red]error:[/] {escape(str(fault))}")
        return 1
    except TrainingInterrupted as stop:
        err.print(f"[yellow]{stop}[/]: {escape(resume_hint(stop))}")
        return stop.exit_code
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
