"""The two entry points of `trpo tune` (the flags are trpo.cli.TuneArgs and TuneReportArgs)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import optuna
import yaml
from rich.console import Console
from rich.table import Table

from trpo.config import TRPOConfig
from trpo.runs import presets
from trpo.training.interrupt import TrainingInterrupted
from trpo.tune.launch import run_study
from trpo.tune.report import BEST_PRESET, REPORT_MD, best_trials, write_report
from trpo.tune.space import load_space
from trpo.tune.study import (
    STUDY_DB,
    STUDY_YAML,
    StudySettings,
    TuneError,
    default_storage,
    open_storage,
    progress_counts,
    shown_url,
)

err = Console(stderr=True, soft_wrap=True)


def settings_from_args(args: Any) -> StudySettings:
    for flag, value, least in (
        ("--trials", args.trials, 1),
        ("--total-steps", args.total_steps, 1),
        ("--jobs", args.jobs, 1),
        ("--evals", args.evals, 1),
        ("--eval-episodes", args.eval_episodes, 1),
        ("--startup-trials", args.startup_trials, 0),
        ("--seed", args.seed, 0),
    ):
        if value < least:
            raise TuneError(f"{flag} {value} is invalid: must be an integer >= {least}")
    space = load_space(args.space)
    values, source = presets.resolve(args.preset, args.env_id)
    values, make_kwargs = presets.split_make_kwargs(values, source=f"preset {source}")
    base = TRPOConfig.from_dict(values, source=f"preset {source}").replace(seed=args.seed)
    if args.make_kwargs:
        make_kwargs = presets.parse_make_kwargs(args.make_kwargs)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", args.env_id)
    study_dir = Path(args.study_dir) if args.study_dir is not None else Path("tune") / safe
    return StudySettings(
        env_id=args.env_id,
        trials=args.trials,
        total_steps=args.total_steps,
        study_dir=study_dir,
        storage=args.storage or default_storage(study_dir),
        study_name=args.study_name or study_dir.resolve().name,
        space=space,
        base=base,
        make_kwargs=make_kwargs,
        preset_source=source,
        evals=args.evals,
        eval_episodes=args.eval_episodes,
        startup_trials=args.startup_trials,
        sampler_seed=args.sampler_seed,
    )


def tune(args: Any) -> int:
    settings = settings_from_args(args)
    try:
        study = run_study(settings, args.jobs, args.quiet)
    except TrainingInterrupted as stop:
        study = _load(settings.storage, settings.study_name)
        counts = progress_counts(study)
        err.print(
            f"[yellow]{stop}[/]: {counts['done']} of {settings.trials} trials done; a trial cut off is marked "
            f"failed and runs again first. Continue with the same command (trpo tune {settings.env_id} ... "
            f"--study-dir {settings.study_dir})"
        )
        write_report(study, settings.study_dir, settings.storage)
        return stop.exit_code
    summary = write_report(study, settings.study_dir, settings.storage)
    _print_best(study, summary, settings.study_dir)
    print(json.dumps(summary, indent=2))
    return 0


def report(args: Any) -> int:
    folder = Path(args.report)
    note: dict[str, Any] = {}
    if (folder / STUDY_YAML).is_file():
        note = yaml.safe_load((folder / STUDY_YAML).read_text()) or {}
    if args.storage is None and not (folder / STUDY_DB).is_file():
        where = (
            f"its study is in {note['storage']}: add --storage URL"
            if note.get("storage")
            else (
                "give the --study-dir of a trpo tune run, or --storage URL --study-name NAME for a study kept in "
                "another database"
            )
        )
        raise TuneError(f"{folder} holds no study ({STUDY_DB} is missing); {where}")
    storage = args.storage or default_storage(folder)
    name = args.study_name or note.get("study_name") or folder.resolve().name
    study = _load(storage, name)
    summary = write_report(study, args.out or folder, storage, args.top)
    _print_best(study, summary, args.out or folder, args.top)
    print(json.dumps(summary, indent=2))
    return 0


def _load(storage: str, name: str) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    opened = open_storage(storage)
    try:
        return optuna.load_study(study_name=name, storage=opened)
    except KeyError:
        names = ", ".join(s.study_name for s in optuna.get_all_study_summaries(opened)) or "none"
        raise TuneError(
            f"no study {name!r} in {shown_url(storage)} (studies there: {names}); give --study-name"
        ) from None


def _print_best(study: optuna.Study, summary: dict[str, Any], out_dir: Path, top: int = 10) -> None:
    best = best_trials(study, top)
    params = list(study.user_attrs["trpo"]["space"])
    table = Table(title=f"best trials of {study.study_name} ({summary['env_id']}, {summary['total_steps']:,} steps)")
    for column in ("trial", "value", *params):
        table.add_column(column, justify="right")
    for t in best:
        table.add_row(str(t.number), f"{t.value:.4g}", *(_cell(t.params.get(p)) for p in params))
    err.print(table)
    written = [
        REPORT_MD,
        *(BEST_PRESET for _ in best[:1]),
        *(k for k, v in summary["pictures"].items() if v == "written"),
    ]
    err.print(f"wrote {', '.join(written)} to {out_dir}")
    if best:
        err.print(f"train the best config with: trpo train {summary['env_id']} --preset {Path(out_dir) / BEST_PRESET}")


def _cell(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
