"""`trpo train` end to end on a tiny budget: the run directory holds every promised file."""

import csv
import json
import subprocess
import sys

import yaml

from trpo.training.checkpoint import load
from trpo.training.logger import METRIC_COLUMNS


def trpo(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "trpo.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_train_writes_a_complete_run_directory(tmp_path):
    run = tmp_path / "run"
    result = trpo(
        "train", "Pendulum-v1", "--total-steps", "4096", "--num-envs", "2", "--n-steps", "512",
        "--max-kl", "0.02", "--hidden-sizes", "32", "32", "--critic-hidden-sizes", "48", "--run-dir", str(run),
        "--quiet", "--checkpoint-every", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary == json.loads((run / "summary.json").read_text())
    assert summary["env_id"] == "Pendulum-v1" and summary["seed"] == 0 and summary["total_steps"] == 4096
    assert summary["wall_s"] > 0 and summary["sps"] > 0 and summary["setup_s"] > 0
    # sps counts setup and the whole of training (compilation included), only the evaluation is outside.
    assert summary["compile_s"] < summary["wall_s"]
    expected_sps = summary["total_steps"] / (summary["setup_s"] + summary["wall_s"])
    assert abs(summary["sps"] - expected_sps) <= 0.01 * expected_sps
    assert summary["eval"]["episodes"] == 10 and summary["eval"]["std"] >= 0

    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["env_id"] == "Pendulum-v1"
    assert config["config"]["max_kl"] == 0.02 and config["config"]["hidden_sizes"] == [32, 32]
    assert config["config"]["critic_hidden_sizes"] == [48]
    # Flags override the env's preset, and the preset fills in the rest.
    assert config["preset"] == "Pendulum-v1.yaml" and config["config"]["gamma"] == 0.9

    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    assert list(rows[0]) == list(METRIC_COLUMNS)  # test_compiled.py holds the compiled path to the same
    assert [int(r["global_step"]) for r in rows] == [1024, 2048, 3072, 4096]

    assert list((run / "tb").glob("events.out.tfevents.*"))
    arrays, meta = load(run / "checkpoints" / "latest")
    assert meta["global_step"] == 4096 and meta["env_id"] == "Pendulum-v1"
    assert "actor/log_std" in arrays


def test_train_without_run_dir_makes_a_fresh_folder_under_runs(tmp_path):
    for _ in range(2):
        result = trpo("train", "CartPole-v1", "--total-steps", "1024", "--quiet", "--eval-episodes", "1", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all((r / "summary.json").exists() for r in runs)


def test_existing_run_dir_is_refused_without_overwrite(tmp_path):
    run = tmp_path / "run"
    args = ["train", "CartPole-v1", "--total-steps", "1024", "--quiet", "--eval-episodes", "1", "--run-dir", str(run)]
    assert trpo(*args).returncode == 0
    refused = trpo(*args)
    assert refused.returncode == 2 and "already holds a run" in refused.stderr and "--resume" in refused.stderr
    assert trpo(*args, "--overwrite").returncode == 0


def test_make_kwargs_reach_the_envs_the_run_files_resume_and_eval(tmp_path):
    # CartPole's episodes are cut at max_episode_steps: at 5 (instead of 500) every episode lasts
    # exactly 5 steps (the pole cannot fall that fast), in training and in the evaluation.
    run = tmp_path / "run"
    common = ["--quiet", "--eval-episodes", "2"]
    args = ["train", "CartPole-v1", "--make-kwargs", "max_episode_steps=5", "--total-steps", "1024"]
    result = trpo(*args, "--run-dir", str(run), *common)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load((run / "config.yaml").read_text())["make_kwargs"] == {"max_episode_steps": 5}
    with open(run / "metrics.csv", newline="") as f:
        assert all(float(row["rollout/ep_len_mean"]) == 5 for row in csv.DictReader(f))
    assert json.loads(result.stdout)["eval"]["mean"] == 5
    resumed = trpo("train", "--resume", str(run), "--total-steps", "2048", *common)
    assert resumed.returncode == 0, resumed.stderr
    assert yaml.safe_load((run / "config.yaml").read_text())["make_kwargs"] == {"max_episode_steps": 5}
    assert load(run / "checkpoints" / "latest")[1]["make_kwargs"] == {"max_episode_steps": 5}
    evaluated = trpo("eval", str(run), "--episodes", "2")
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["mean"] == 5


def test_config_yaml_and_the_console_say_which_preset_or_family_applied(tmp_path, capsys):
    from trpo.cli import main

    # MountainCarContinuous-v0 has no preset: its Box actions give it the continuous family, whose
    # values fill in what the flags leave (cg_iters, reward scaling); `none` keeps the defaults.
    tiny = ["--num-envs", "1", "--n-steps", "64", "--critic-minibatch", "64", "--total-steps", "64"]
    tiny += ["--eval-episodes", "1", "--hidden-sizes", "8"]
    expected = {"family:continuous": (25, True), None: (10, False)}
    for preset, (cg_iters, normalize_rewards) in expected.items():
        run = tmp_path / str(preset)
        flags = ["--quiet"] if preset else ["--preset", "none"]
        capsys.readouterr()
        assert main(["train", "MountainCarContinuous-v0", *tiny, *flags, "--run-dir", str(run)]) == 0
        saved = yaml.safe_load((run / "config.yaml").read_text())
        assert saved["preset"] == preset
        assert (saved["config"]["cg_iters"], saved["config"]["normalize_rewards"]) == (cg_iters, normalize_rewards)
        assert saved["config"]["n_steps"] == 64  # the flag wins over the family
    # Without --quiet the start of the run says which preset applies.
    assert "preset: none (the TRPOConfig defaults)" in capsys.readouterr().err
    # --help names the family above the flags, whose defaults include it.
    try:
        main(["train", "MountainCarContinuous-v0", "--help"])
    except SystemExit:
        pass
    captured = capsys.readouterr()
    assert (
        "preset: family:continuous (the defaults for Box actions; MountainCarContinuous-v0 has no tuned preset"
        in captured.err
    )
    assert "--cg-iters INT" in captured.out and "(default: 25)" in captured.out
