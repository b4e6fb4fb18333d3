"""The Optuna study behind `trpo tune`: its storage, its settings, and how many trials it has done.

The study lives in a database (an SQLite file in the study folder unless --storage names another),
so that it survives Ctrl-C and that workers in other processes or on other machines share it: each
trial is a row that one worker creates and finishes. What defines the study (env, budget, space,
base config) is stored with it as the user attribute "trpo"; a worker that would run it with other
settings is refused.
"""

from __future__ import annotations

import json
import socket
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from trpo.config import ConfigError, TRPOConfig
from trpo.tune.space import Param

STUDY_DB = "study.db"
TRIALS = "trials"
META = "trpo"
"""the study's user attribute that holds its definition (StudySettings.meta())"""
FAIL_REASON = "fail_reason"
INTERRUPTED = "interrupted"
NOT_COUNTED = "not_counted"
"""set on a failed trial that says nothing about its config (cut off by a signal, or an env that
cannot be made): it does not count towards --trials"""
STUDY_YAML = "study.yaml"
"""the study folder's note of its study name and storage, for `trpo tune --report DIR`"""
HEARTBEAT_S = 30
"""workers write a heartbeat this often; a trial silent for GRACE_S (its worker was killed) is failed
and queued again by the next worker that starts a trial"""
GRACE_S = 120


class TuneError(ConfigError):
    """A study that cannot be run or reported as asked; the message says why and what to do."""


@dataclass
class StudySettings:
    """Everything a worker needs to run trials of one study (picklable for worker processes)."""

    env_id: str
    trials: int
    total_steps: int
    study_dir: Path
    storage: str
    study_name: str
    space: list[Param]
    base: TRPOConfig
    make_kwargs: dict[str, Any] = field(default_factory=dict)
    preset_source: str | None = None
    evals: int = 5
    eval_episodes: int = 5
    startup_trials: int = 10
    sampler_seed: int | None = None

    def meta(self) -> dict[str, Any]:
        """What defines the study: two workers with different values do not share it."""
        return _json_roundtrip(
            {
                "env_id": self.env_id,
                "total_steps": self.total_steps,
                "space": {p.name: p.to_dict() for p in self.space},
                "base": self.base.to_dict(),
                "make_kwargs": self.make_kwargs,
                "evals": self.evals,
                "eval_episodes": self.eval_episodes,
            }
        )

    def eval_marks(self) -> list[int]:
        """Env steps at which a trial is evaluated and may be pruned: evals - 1 evenly spaced marks
        before the end (the final evaluation, at total_steps, is the trial's value)."""
        return [round(self.total_steps * k / self.evals) for k in range(1, self.evals)]


def _json_roundtrip(data: Any) -> Any:
    return json.loads(json.dumps(data))


def default_storage(study_dir: Path) -> str:
    return f"sqlite:///{(Path(study_dir) / STUDY_DB).resolve()}"


def shown_url(url: str) -> str:
    """The storage URL with any password hidden, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """The study database at `url`, connected and with Optuna's tables; TuneError if it cannot be."""
    import sqlalchemy.exc

    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Workers on one SQLite file wait for each other's writes instead of failing at once.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    elif url.startswith("postgresql"):
        engine_kwargs = {"connect_args": {"connect_timeout": 10}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=HEARTBEAT_S,
                grace_period=GRACE_S,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1),
            )
        except ImportError as error:
            missing = error.__cause__ or error
            raise TuneError(
                f"--storage {shown_url(url)}: the database driver is not installed ({missing}); for PostgreSQL: "
                "pip install 'trpo[tune]' (psycopg 3), for MySQL: pip install pymysql"
            ) from None
        except (sqlalchemy.exc.SQLAlchemyError, ValueError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise TuneError(
                f"cannot open the study storage {shown_url(url)}: {reason}. Check the URL (e.g. "
                "postgresql://USER:PASSWORD@HOST:5432/DB or sqlite:////abs/path/study.db), that the server "
                "runs and is reachable from this machine, and that the folder of an SQLite file exists"
            ) from None


def make_sampler(settings: StudySettings, worker: int = 0) -> optuna.samplers.TPESampler:
    """TPE, as rl-baselines3-zoo uses: `startup_trials` random trials, then a multivariate model.
    Each worker gets its own seed so that parallel workers do not draw the same trials."""
    seed = None if settings.sampler_seed is None else settings.sampler_seed + worker
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(n_startup_trials=settings.startup_trials, multivariate=True, seed=seed)


def make_pruner(settings: StudySettings) -> optuna.pruners.MedianPruner:
    """The median pruner as the zoo sets it: no pruning in the first `startup_trials // 2` trials
    nor before a third of the budget."""
    return optuna.pruners.MedianPruner(
        n_startup_trials=max(1, settings.startup_trials // 2), n_warmup_steps=settings.total_steps // 3
    )


def open_study(settings: StudySettings, worker: int = 0, create: bool = False) -> optuna.Study:
    """Load (or with `create`, make if missing) the study, and check it is this study."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = open_storage(settings.storage)
    kwargs = dict(
        study_name=settings.study_name,
        storage=storage,
        sampler=make_sampler(settings, worker),
        pruner=make_pruner(settings),
    )
    if create:
        study = optuna.create_study(direction="maximize", load_if_exists=True, **kwargs)
    else:
        study = optuna.load_study(**kwargs)
    meta = settings.meta()
    saved = study.user_attrs.get(META)
    if saved is None:
        if study.trials:
            raise TuneError(f"study {settings.study_name!r} in {shown_url(settings.storage)} was not made by trpo tune")
        study.set_user_attr(META, meta)
    elif saved != meta:
        differ = ", ".join(k for k in meta if saved.get(k) != meta[k])
        raise TuneError(
            f"study {settings.study_name!r} in {shown_url(settings.storage)} was made with another {differ} "
            f"({_summarise(saved, differ)}); run it with the same settings to continue it, or give another "
            "--study-dir / --study-name for a new study"
        )
    return study


def _summarise(saved: dict[str, Any], differ: str) -> str:
    keys = [k.strip() for k in differ.split(",")]
    return "; ".join(f"{k}: {json.dumps(saved.get(k))[:200]}" for k in keys)


def counts_as_done(trial: FrozenTrial) -> bool:
    """Complete, pruned, or failed by its own config or env. Trials cut off by Ctrl-C or by a lost
    worker are queued again, so they do not count."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and FAIL_REASON in trial.user_attrs and not trial.user_attrs.get(NOT_COUNTED)


def progress_counts(study: optuna.Study) -> dict[str, Any]:
    """Trials done, running and failed, and the best value so far (None before one completes)."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    return {
        "done": sum(counts_as_done(t) for t in trials),
        "running": sum(t.state == TrialState.RUNNING for t in trials),
        "complete": len(complete),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "failed": sum(t.state == TrialState.FAIL and counts_as_done(t) for t in trials),
        "best": max((t.value for t in complete), default=None),
        "best_trial": max(complete, key=lambda t: t.value).number if complete else None,
    }


def host() -> str:
    return socket.gethostname()
