"""Trials: each one an ordinary `trpo train` run in study_dir/trials/trial_NNNN/, evaluated
deterministically at fixed env-step marks so that the median pruner can stop it early.

A worker takes trials from the study until it has `trials` done. A trial whose config is invalid,
whose env fails, or whose return is not finite is recorded as failed with the reason (the user
attribute fail_reason) and the worker goes on. Ctrl-C or SIGTERM stops the trial under way: it
is marked failed (interrupted), never complete, and queued again with the same parameters so that
the next `trpo tune` runs it first.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from trpo.envs.errors import EnvError
from trpo.runs.run import RunOptions, prepare_run_dir, train
from trpo.training.interrupt import StopOnSignal, TrainingInterrupted
from trpo.tune.space import sample_config
from trpo.tune.study import (
    FAIL_REASON,
    INTERRUPTED,
    NOT_COUNTED,
    TRIALS,
    StudySettings,
    counts_as_done,
    host,
    open_study,
)


class TrialFailed(Exception):
    """A trial that cannot give a value (its reason is in the trial's fail_reason attribute)."""


def trial_dir(study_dir: Path, number: int) -> Path:
    return Path(study_dir) / TRIALS / f"trial_{number:04d}"


class Evaluations:
    """The training callback of a trial: at each mark, a deterministic evaluation reported to Optuna;
    stops training (returns False) when the pruner says so or the return is not finite."""

    def __init__(self, trial: optuna.Trial, marks: list[int], episodes: int):
        self.trial, self.marks, self.episodes = trial, marks, episodes
        self.next = 0
        self.pruned_at: int | None = None
        self.failure: str | None = None

    def __call__(self, agent: Any, metrics: dict[str, float]) -> bool | None:
        step = int(metrics["global_step"])
        if self.next >= len(self.marks) or step < self.marks[self.next]:
            return None
        while self.next < len(self.marks) and step >= self.marks[self.next]:
            mark = self.marks[self.next]  # an iteration may pass several marks: report at the last
            self.next += 1
        value = agent.evaluate(self.episodes)["mean"]
        if not math.isfinite(value):
            self.failure = f"non-finite evaluation return {value} at step {step}"
            return False
        self.trial.report(value, mark)
        if self.trial.should_prune():
            self.pruned_at = step
            return False
        return None


def run_trial(settings: StudySettings, trial: optuna.Trial) -> float:
    """The objective: train the trial's config and return its final deterministic evaluation."""
    run_dir = trial_dir(settings.study_dir, trial.number)
    trial.set_user_attr("run_dir", str(run_dir))
    trial.set_user_attr("worker", f"{host()}:{os.getpid()}")
    try:
        config, notes = sample_config(settings.space, trial, settings.base)
        for key, note in notes.items():
            trial.set_user_attr(key, note)
        trial.set_user_attr("config", config.to_dict())
        evaluations = Evaluations(trial, settings.eval_marks(), settings.eval_episodes)
        options = RunOptions(
            total_steps=settings.total_steps,
            run_dir=run_dir,
            eval_episodes=settings.eval_episodes,
            quiet=True,
            preset_source=settings.preset_source,
            make_kwargs=settings.make_kwargs,
            on_iteration=evaluations,
        )
        # A trial number is never reused in a study; files there are left from an earlier study
        # database, so they are replaced.
        prepare_run_dir(run_dir, overwrite=True)
        summary = train(settings.env_id, config, options)
    except TrainingInterrupted as stop:
        trial.set_user_attr(FAIL_REASON, f"interrupted ({stop})")
        trial.set_user_attr(INTERRUPTED, True)
        trial.set_user_attr(NOT_COUNTED, True)
        stop.trial_params, stop.trial_number = dict(trial.params), trial.number
        raise
    except EnvError as error:
        # The env cannot be made at all: no trial can run, so the study stops with the error.
        trial.set_user_attr(FAIL_REASON, f"{type(error).__name__}: {error}"[:2000])
        trial.set_user_attr(NOT_COUNTED, True)
        raise
    except Exception as error:
        reason = f"{type(error).__name__}: {error}".strip()
        trial.set_user_attr(FAIL_REASON, reason[:2000])
        raise TrialFailed(reason) from error
    trial.set_user_attr("global_step", summary["total_steps"])
    if evaluations.failure is not None:
        trial.set_user_attr(FAIL_REASON, evaluations.failure)
        raise TrialFailed(evaluations.failure)
    value = summary["eval"]["mean"]
    if not math.isfinite(value):
        reason = f"non-finite final evaluation return {value}"
        trial.set_user_attr(FAIL_REASON, reason)
        raise TrialFailed(reason)
    if evaluations.pruned_at is not None:
        trial.set_user_attr("pruned_at", evaluations.pruned_at)
        raise optuna.TrialPruned(f"pruned at step {evaluations.pruned_at}")
    return value


def started(study: optuna.Study) -> int:
    """Trials done or running (a worker starts another only while this is below --trials)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    return sum(counts_as_done(t) or t.state == optuna.trial.TrialState.RUNNING for t in trials)


AfterTrial = Callable[[optuna.Study], None]


def run_worker(settings: StudySettings, worker: int = 0, after_trial: AfterTrial | None = None) -> None:
    """Run trials until the study has `settings.trials` done; TrainingInterrupted on Ctrl-C/SIGTERM
    (after the trial under way is marked failed and queued again)."""
    study = open_study(settings, worker)
    with StopOnSignal() as stop:
        while stop.signum is None and started(study) < settings.trials:
            try:
                study.optimize(
                    lambda trial: run_trial(settings, trial), n_trials=1, catch=(TrialFailed,), gc_after_trial=True
                )
            except TrainingInterrupted as stop_in_trial:
                params = getattr(stop_in_trial, "trial_params", None)
                if params:
                    study.enqueue_trial(params, user_attrs={"retry_of": stop_in_trial.trial_number})
                raise
            if after_trial is not None:
                after_trial(study)
    if stop.signum is not None:
        raise TrainingInterrupted(stop.signum)


def worker_process(settings: StudySettings, worker: int) -> None:
    """The entry point of a --jobs worker process: errors are printed here, the exit status says how
    it ended (0 done, 130/143 stopped by a signal, 1 an error)."""
    import sys

    from rich.console import Console

    try:
        run_worker(settings, worker)
    except TrainingInterrupted as stop:
        sys.exit(stop.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        Console(stderr=True).print(f"[red]error:[/] worker {worker}: {type(error).__name__}: {error}", markup=True)
        sys.exit(1)
