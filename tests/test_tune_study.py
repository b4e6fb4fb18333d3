"""trpo tune's study logic in this process, with `train` replaced by a stand-in whose return is a
known function of max_kl: failures are recorded and the study goes on, a cut-off trial is never
complete and runs again, pruning stops a bad trial, and the report's preset loads."""

import math
import signal
from pathlib import Path

import pytest
import yaml

from trpo.config import TRPOConfig
from trpo.envs.errors import EnvError
from trpo.runs import presets
from trpo.training.interrupt import TrainingInterrupted
from trpo.tune import worker
from trpo.tune.launch import run_study
from trpo.tune.report import write_report
from trpo.tune.space import parse_param
from trpo.tune.study import (
    FAIL_REASON,
    INTERRUPTED,
    StudySettings,
    TuneError,
    counts_as_done,
    default_storage,
    open_study,
)

STEPS = 1000


def settings(tmp_path: Path, trials: int, **changes) -> StudySettings:
    values = dict(
        env_id="CartPole-v1",
        trials=trials,
        total_steps=STEPS,
        study_dir=tmp_path / "study",
        storage=default_storage(tmp_path / "study"),
        study_name="study",
        space=[parse_param("max_kl", {"low": 0.001, "high": 0.1, "log": True})],
        base=TRPOConfig(),
        evals=5,
        eval_episodes=1,
        startup_trials=2,
        sampler_seed=0,
    )
    values.update(changes)
    return StudySettings(**values)


def quality(config: TRPOConfig) -> float:
    """The stand-in's return: 100 at max_kl = 0.01, 50 less per factor of 10 away from it."""
    return 100.0 - 50.0 * abs(math.log10(config.max_kl / 0.01))


class FakeAgent:
    def __init__(self, value: float):
        self.value = value

    def evaluate(self, episodes: int) -> dict[str, float]:
        return {"mean": self.value}


class FakeTrain:
    """Replaces trpo.runs.run.train in the worker: calls on_iteration every 200 steps with an agent whose
    evaluation is quality * (fraction of the budget done); `faults` maps a call index to what happens."""

    def __init__(self, faults=None):
        self.calls = 0
        self.faults = faults or {}

    def __call__(self, env_id, config, options):
        call, self.calls = self.calls, self.calls + 1
        fault = self.faults.get(call)
        if fault == "raise":
            raise RuntimeError("simulator exploded")
        if fault == "interrupt":
            raise TrainingInterrupted(signal.SIGINT)
        done = 0
        for step in range(200, options.total_steps + 1, 200):
            done = step
            agent = FakeAgent(quality(config) * step / STEPS)
            if options.on_iteration(agent, {"global_step": step}) is False:
                break
        value = math.nan if fault == "nan" else quality(config) * done / STEPS
        return {"total_steps": done, "eval": {"mean": value, "std": 0.0, "episodes": 1}}


def states(study):
    return [t.state.name for t in study.get_trials(deepcopy=False)]


def test_failed_trials_are_recorded_with_their_reason_and_the_study_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "train", FakeTrain({1: "raise", 2: "nan"}))
    study = run_study(settings(tmp_path, trials=5, startup_trials=10), quiet=True)
    trials = study.get_trials(deepcopy=False)
    assert states(study) == ["COMPLETE", "FAIL", "FAIL", "COMPLETE", "COMPLETE"]
    assert trials[1].user_attrs[FAIL_REASON] == "RuntimeError: simulator exploded"
    assert trials[2].user_attrs[FAIL_REASON] == "non-finite final evaluation return nan"
    for t in (trials[0], trials[3], trials[4]):
        assert t.value == pytest.approx(quality(TRPOConfig(max_kl=t.params["max_kl"])))


def test_a_bad_config_of_one_trial_fails_that_trial_only(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "train", FakeTrain())
    space = [parse_param("n_steps", {"choices": [8, 64]}), parse_param("fisher_subsample", {"choices": [1, 100]})]
    study = run_study(settings(tmp_path, trials=6, space=space, startup_trials=10), quiet=True)
    for t in study.get_trials(deepcopy=False):
        # 8 envs x 8 steps = 64 samples: a Fisher subsample of 100 is invalid, the rest train.
        bad = t.params == {"n_steps": 8, "fisher_subsample": 100}
        assert (t.state.name == "FAIL") == bad
        if bad:
            assert "fisher_subsample=100 is invalid: must be <= num_envs * n_steps = 64" in t.user_attrs[FAIL_REASON]


def test_an_interrupted_trial_is_failed_never_complete_and_runs_again_on_resume(tmp_path, monkeypatch):
    fake = FakeTrain({2: "interrupt"})
    monkeypatch.setattr(worker, "train", fake)
    with pytest.raises(TrainingInterrupted):
        run_study(settings(tmp_path, trials=4, startup_trials=10), quiet=True)
    study = open_study(settings(tmp_path, trials=4))
    assert states(study) == ["COMPLETE", "COMPLETE", "FAIL", "WAITING"]
    cut = study.trials[2]
    assert cut.value is None and cut.user_attrs[INTERRUPTED] is True
    assert cut.user_attrs[FAIL_REASON] == "interrupted (stopped by SIGINT)"

    study = run_study(settings(tmp_path, trials=4, startup_trials=10), quiet=True)
    assert states(study) == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    retry = study.trials[3]
    assert retry.params == cut.params and retry.user_attrs["retry_of"] == 2
    assert fake.calls == 5  # 2 before the cut, the cut one, its retry and one more: 4 done


def test_the_median_pruner_stops_a_trial_below_the_median(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "train", FakeTrain())
    (tmp_path / "study").mkdir()
    study = open_study(settings(tmp_path, trials=3), create=True)
    for max_kl in (0.012, 0.01, 0.002):  # returns 96, 100, 65: the third is below the median
        study.enqueue_trial({"max_kl": max_kl})
    study = run_study(settings(tmp_path, trials=3), quiet=True)
    assert states(study) == ["COMPLETE", "COMPLETE", "PRUNED"]
    pruned = study.trials[2]
    # marks at 200, 400, 600, 800; no pruning before step 1000 // 3 = 333, so the first chance is 400
    assert sorted(pruned.intermediate_values) == [200, 400]
    assert pruned.user_attrs["pruned_at"] == 400


def test_a_study_refuses_other_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "train", FakeTrain())
    run_study(settings(tmp_path, trials=1), quiet=True)
    with pytest.raises(TuneError, match="was made with another total_steps"):
        run_study(settings(tmp_path, trials=2, total_steps=2000), quiet=True)
    other = [parse_param("gamma", {"choices": [0.9, 0.99]})]
    with pytest.raises(TuneError, match="was made with another space"):
        run_study(settings(tmp_path, trials=2, space=other), quiet=True)


def test_the_report_holds_the_best_trials_a_preset_that_loads_and_pictures(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "train", FakeTrain({1: "raise"}))
    s = settings(tmp_path, trials=6, base=TRPOConfig(gamma=0.95, seed=3), startup_trials=3)
    study = run_study(s, quiet=True)
    summary = write_report(study, tmp_path / "report", s.storage)
    out = tmp_path / "report"
    best = max((t for t in study.trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert summary["best"]["trial"] == best.number
    preset = yaml.safe_load((out / "best-preset.yaml").read_text())
    # the searched field and the base's non-default fields; never the seed
    assert preset == {"gamma": 0.95, "max_kl": best.params["max_kl"]}
    config, make_kwargs = presets.for_env("CartPole-v1", str(out / "best-preset.yaml"))
    assert config == TRPOConfig(gamma=0.95, max_kl=best.params["max_kl"]) and make_kwargs == {}
    report = (out / "report.md").read_text()
    assert f"| {best.number} | {best.value:.4g} |" in report
    assert "| 1 | fail |  |  | RuntimeError: simulator exploded |" in report
    for png in ("history.png", "importances.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["pictures"] == {"history.png": "written", "importances.png": "written"}


def test_an_env_that_cannot_be_made_stops_the_study_with_its_error(tmp_path, monkeypatch):
    def cannot_make(env_id, config, options):
        raise EnvError("unknown environment id 'CartPole-v9'")

    monkeypatch.setattr(worker, "train", cannot_make)
    with pytest.raises(EnvError, match="CartPole-v9"):
        run_study(settings(tmp_path, trials=3), quiet=True)
    study = open_study(settings(tmp_path, trials=3))
    (trial,) = study.get_trials()
    assert trial.state.name == "FAIL"
    assert trial.user_attrs[FAIL_REASON] == "EnvError: unknown environment id 'CartPole-v9'"
    assert not counts_as_done(trial)  # once the env is fixed, the same command runs all 3 trials
