"""`trpo tune` as a user runs it, each case a real process: a tiny CartPole study finishes, its preset
trains; workers of two commands share one SQLite study without running a trial twice; Ctrl-C leaves
no complete trial with a partial value; bad input is one clear error."""

import json
import signal
import time
from pathlib import Path

import optuna
import pytest
import yaml

from cli_process import finish, start
from trpo.tune.study import FAIL_REASON, INTERRUPTED, default_storage

pytestmark = pytest.mark.slow

SPACE = "max_kl: {low: 0.002, high: 0.05, log: true}\ngamma: {choices: [0.95, 0.99]}\n"


def small_space(tmp_path: Path) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(SPACE)
    return path


def load(study_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name=study_dir.name, storage=default_storage(study_dir))


def test_a_tiny_study_finishes_writes_a_preset_that_trains_and_its_trials_are_runs(tmp_path):
    study_dir = tmp_path / "cartpole"
    rc, out, err = finish(
        start(
            "tune", "CartPole-v1", "--trials", 3, "--total-steps", 2048, "--study-dir", study_dir,
            "--space", small_space(tmp_path), "--startup-trials", 2, "--sampler-seed", 0, "--eval-episodes", 2,
        )
    )  # fmt: skip
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["trials"]["complete"] + summary["trials"].get("pruned", 0) == 3
    assert "best trials of cartpole (CartPole-v1, 2,048 steps)" in err
    for name in ("report.md", "best-preset.yaml", "history.png", "importances.png", "study.db", "study.yaml"):
        assert (study_dir / name).is_file(), name
    best = summary["best"]
    preset = yaml.safe_load((study_dir / "best-preset.yaml").read_text())
    assert preset == best["params"]
    trial_dir = study_dir / "trials" / f"trial_{best['trial']:04d}"
    for name in ("config.yaml", "metrics.csv", "summary.json", "checkpoints"):
        assert (trial_dir / name).exists(), name
    assert json.loads((trial_dir / "summary.json").read_text())["eval"]["mean"] == pytest.approx(best["value"])

    run_dir = tmp_path / "from-preset"
    train = start(
        "train", "CartPole-v1", "--preset", study_dir / "best-preset.yaml", "--total-steps", 1024,
        "--run-dir", run_dir, "--quiet",
    )  # fmt: skip
    evaluate = start("eval", trial_dir, "--episodes", 2)
    report = start("tune", "--report", study_dir, "--out", tmp_path / "again", "--top", 2)
    rc, _, err = finish(train)
    assert rc == 0, err
    config = yaml.safe_load((run_dir / "config.yaml").read_text())["config"]
    assert (config["max_kl"], config["gamma"]) == (preset["max_kl"], preset["gamma"])
    rc, out, err = finish(evaluate)
    assert rc == 0 and json.loads(out)["episodes"] == 2, err
    rc, out, err = finish(report)
    assert rc == 0, err
    assert json.loads(out)["best"] == best
    assert (tmp_path / "again" / "best-preset.yaml").read_text() == (study_dir / "best-preset.yaml").read_text()


def test_workers_of_two_commands_share_one_study_and_never_run_a_trial_twice(tmp_path):
    study_dir = tmp_path / "shared"
    study_dir.mkdir()
    common = ["tune", "CartPole-v1", "--trials", 5, "--total-steps", 1024, "--study-dir", study_dir]
    common += ["--space", small_space(tmp_path), "--eval-episodes", 1, "--quiet"]
    first = start(*common, "--jobs", 2)
    deadline = time.monotonic() + 120
    while not (study_dir / "study.yaml").exists() and time.monotonic() < deadline:
        time.sleep(0.2)  # the first command has made the study; the second joins it
    second = start(*common, "--jobs", 1)
    for process in (first, second):
        rc, _, err = finish(process)
        assert rc == 0, err
    trials = load(study_dir).get_trials()
    assert [t.number for t in trials] == list(range(len(trials)))
    done = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    # each command stops starting trials at 5; one may already be under way in another worker
    assert 5 <= len(done) <= 7 and len(done) == len(trials)
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 3, workers  # two processes of --jobs 2 and the second command
    run_dirs = [t.user_attrs["run_dir"] for t in trials]
    assert len(set(run_dirs)) == len(run_dirs)
    for t in trials:
        saved = yaml.safe_load((Path(t.user_attrs["run_dir"]) / "config.yaml").read_text())["config"]
        assert saved["max_kl"] == t.params["max_kl"]


def test_ctrl_c_marks_the_trial_under_way_failed_and_queues_it_again(tmp_path):
    study_dir = tmp_path / "cut"
    process = start(
        "tune", "CartPole-v1", "--trials", 3, "--total-steps", 200_000, "--study-dir", study_dir,
        "--space", small_space(tmp_path),
    )  # fmt: skip
    metrics = study_dir / "trials" / "trial_0000" / "metrics.csv"
    deadline = time.monotonic() + 300
    while not (metrics.exists() and len(metrics.read_text().splitlines()) > 2) and time.monotonic() < deadline:
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    rc, _, err = finish(process)
    assert rc == 130, err
    assert "stopped by SIGINT: 0 of 3 trials done" in err and "Continue with the same command" in err
    trials = load(study_dir).get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "WAITING"]
    cut, retry = trials
    assert cut.value is None and cut.user_attrs[INTERRUPTED] is True
    assert cut.user_attrs[FAIL_REASON] == "interrupted (stopped by SIGINT)"
    assert retry.system_attrs["fixed_params"] == cut.params and retry.user_attrs["retry_of"] == 0


def test_bad_input_is_one_clear_error(tmp_path):
    typo = tmp_path / "typo.yaml"
    typo.write_text("max_kll: {low: 0.001, high: 0.1}\n")
    reversed_range = tmp_path / "reversed.yaml"
    reversed_range.write_text("max_kl: {low: 0.1, high: 0.001}\n")
    base = ["tune", "CartPole-v1", "--trials", 1, "--total-steps", 1000, "--study-dir", tmp_path / "s"]
    cases = {
        "unknown parameter": (["--space", typo], f"{typo}: 'max_kll' is not a TRPOConfig field; known fields:"),
        "bad range": (["--space", reversed_range], f"{reversed_range}: max_kl: low=0.1 must be below high=0.001"),
        "postgres down": (
            ["--storage", "postgresql://user:secret@127.0.0.1:9/study"],
            "cannot open the study storage postgresql://user:***@127.0.0.1:9/study:",
        ),
        "sqlite folder missing": (
            ["--storage", f"sqlite:///{tmp_path}/no/such/folder/study.db"],
            "unable to open database file",
        ),
        "unknown dialect": (["--storage", "nosuchdb://host/db"], "cannot open the study storage nosuchdb://host/db"),
        "trials": (["--trials", 0], "--trials 0 is invalid: must be an integer >= 1"),
    }
    processes = {name: start(*base, *args) for name, (args, _) in cases.items()}
    processes["report of no study"] = start("tune", "--report", tmp_path)
    cases["report of no study"] = ([], f"{tmp_path} holds no study (study.db is missing)")
    for name, process in processes.items():
        rc, out, err = finish(process)
        assert rc == 2, (name, err)
        assert cases[name][1] in err, (name, err)
        assert "Traceback" not in err and "secret" not in err, (name, err)
        assert out == ""
