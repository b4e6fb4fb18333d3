"""`trpo tune`: run a study with J workers on this machine, under a progress bar over trials.

--jobs 1 runs the trials in this process. --jobs J > 1 starts J worker processes (spawned, not
forked: JAX is not fork-safe, and processes keep each trial's JAX state apart); the storage hands
each trial to one worker, and this process only draws the progress it reads from the storage. On
Ctrl-C or SIGTERM it passes SIGTERM on to the workers, waits for them to mark their trials, and stops.
"""

from __future__ import annotations

import time
from multiprocessing import get_context
from typing import Any

import optuna
import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from trpo.training.interrupt import StopOnSignal, TrainingInterrupted
from trpo.tune.study import FAIL_REASON, STUDY_YAML, StudySettings, TuneError, open_study, progress_counts, shown_url
from trpo.tune.worker import run_worker, worker_process

POLL_S = 1.0


class TrialProgress:
    """A bar over the study's trials: done / total, the states so far and the best value."""

    def __init__(self, total: int, enabled: bool = True, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]trials"),
            BarColumn(bar_width=20),
            TextColumn("{task.completed:.0f}/{task.total:.0f}"),
            TextColumn("{task.fields[states]}"),
            TextColumn("best {task.fields[best]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not enabled,
        )
        self.task = self.progress.add_task("", total=total, states="", best="-")
        self._seen: set[int] = set()

    def __enter__(self) -> TrialProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def poll(self, study: optuna.Study) -> None:
        """Update the bar from the storage and print one line per trial finished since the last poll."""
        counts = progress_counts(study)
        best = "-" if counts["best"] is None else f"{counts['best']:.4g} (trial {counts['best_trial']})"
        states = f"{counts['complete']} complete, {counts['pruned']} pruned, {counts['failed']} failed, " + (
            f"{counts['running']} running"
        )
        self.progress.update(self.task, completed=counts["done"], states=states, best=best)
        if not self.enabled:
            return
        for trial in study.get_trials(deepcopy=False, states=_FINISHED):
            if trial.number not in self._seen:
                self._seen.add(trial.number)
                self.progress.console.print(describe(trial), soft_wrap=True, highlight=False)


_FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)


def describe(trial: optuna.trial.FrozenTrial) -> str:
    """One line for a finished trial: its outcome and its parameters."""
    params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    state = trial.state.name.lower()
    if trial.state == optuna.trial.TrialState.COMPLETE:
        outcome = f"value {trial.value:.4g}"
    elif trial.state == optuna.trial.TrialState.PRUNED:
        last = max(trial.intermediate_values) if trial.intermediate_values else None
        outcome = f"at step {last:,} (eval {trial.intermediate_values[last]:.4g})" if last else ""
    else:
        outcome = trial.user_attrs.get(FAIL_REASON, "lost its worker")
    return f"trial {trial.number} {state}: {outcome}  [{params}]"


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def run_study(settings: StudySettings, jobs: int = 1, quiet: bool = False) -> optuna.Study:
    """Run the study to `settings.trials` trials done; TrainingInterrupted on Ctrl-C / SIGTERM."""
    if jobs <= 0:
        raise TuneError(f"--jobs {jobs} is invalid: give the number of trials to run at once (1 or more)")
    if settings.trials <= 0:
        raise TuneError(f"--trials {settings.trials} is invalid: give a positive number of trials")
    settings.study_dir.mkdir(parents=True, exist_ok=True)
    study = open_study(settings, create=True)  # made (and checked) once, before any worker starts
    note = {"study_name": settings.study_name, "storage": shown_url(settings.storage), "env_id": settings.env_id}
    (settings.study_dir / STUDY_YAML).write_text(yaml.safe_dump(note, sort_keys=False))
    with TrialProgress(settings.trials, enabled=not quiet) as progress:
        progress.poll(study)
        if jobs == 1:
            run_worker(settings, 0, after_trial=progress.poll)
        else:
            _run_processes(settings, jobs, study, progress)
        progress.poll(study)
    return study


def _run_processes(settings: StudySettings, jobs: int, study: optuna.Study, progress: TrialProgress) -> None:
    context = get_context("spawn")
    workers = [context.Process(target=worker_process, args=(settings, i), daemon=False) for i in range(jobs)]
    with StopOnSignal() as stop:
        for process in workers:
            process.start()
        forwarded = False
        while any(p.is_alive() for p in workers):
            if stop.signum is not None and not forwarded:
                for process in workers:
                    if process.is_alive():
                        process.terminate()  # SIGTERM: the worker marks its trial and exits
                forwarded = True
            time.sleep(POLL_S)
            progress.poll(study)
    if stop.signum is not None:
        raise TrainingInterrupted(stop.signum)
    crashed = [f"worker {i} (exit status {p.exitcode})" for i, p in enumerate(workers) if p.exitcode != 0]
    if crashed:
        raise TuneError(f"{', '.join(crashed)} stopped with an error (printed above); run the command again to go on")
