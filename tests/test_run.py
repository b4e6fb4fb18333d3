"""Run directories: resume continues one metrics.csv, same-seed runs are identical, eval.json."""

import csv
import json

import numpy as np
import pytest

from trpo import TRPO
from trpo.cli import main
from trpo.training import checkpoint
from trpo.training.logger import truncate_metrics

# A small CartPole setup shared by these tests: 2 envs x 64 steps = 128 steps per iteration.
SMALL_FLAGS = ["--num-envs", "2", "--n-steps", "64", "--critic-minibatch", "64", "--hidden-sizes", "16", "16"]


def _rows(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def _train(run_dir, steps, *extra):
    argv = ["train", "CartPole-v1", "--total-steps", str(steps), "--run-dir", str(run_dir), "--quiet"]
    assert main([*argv, "--eval-episodes", "1", *SMALL_FLAGS, *extra]) == 0


def test_resume_n_to_2n_continues_one_metrics_csv(tmp_path, capsys):
    run = tmp_path / "run"
    _train(run, 640, "--checkpoint-every", "2")  # 5 iterations
    saved_arrays, saved_meta = checkpoint.load(run / "checkpoints" / "latest")
    assert saved_meta["global_step"] == 640

    # Loading restores every saved array bit for bit.
    agent = TRPO.load(run)
    arrays, meta = agent._checkpoint_contents()
    agent.close()
    assert arrays.keys() == saved_arrays.keys()
    for key, value in saved_arrays.items():
        np.testing.assert_array_equal(arrays[key], value, err_msg=key)
        assert arrays[key].dtype == value.dtype
    assert meta["numpy_rng"] == saved_meta["numpy_rng"]

    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--total-steps", "1280", "--quiet", "--eval-episodes", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total_steps"] == 1280
    assert summary["iterations"] == 10

    rows = _rows(run)
    assert [int(r["global_step"]) for r in rows] == [128 * i for i in range(1, 11)]
    assert [int(r["iteration"]) for r in rows] == list(range(1, 11))
    assert checkpoint.load(run)[1]["global_step"] == 1280
    assert json.loads((run / "summary.json").read_text())["total_steps"] == 1280
    # Episode statistics carry over: the first resumed row averages the episodes saved before.
    assert rows[5]["rollout/ep_return_mean"] != "nan"


def test_resume_drops_rows_logged_after_the_last_checkpoint(tmp_path):
    run = tmp_path / "run"
    _train(run, 384, "--checkpoint-every", "100")  # 3 iterations, checkpoint only at the end
    with open(run / "metrics.csv", "a") as f:  # as if a crash came after one more logged row
        f.write(",".join(["512", "4"] + ["0.0"] * (len(_rows(run)[0]) - 2)) + "\n")
    assert main(["train", "--resume", str(run), "--total-steps", "640", "--quiet", "--eval-episodes", "1"]) == 0
    assert [int(r["global_step"]) for r in _rows(run)] == [128, 256, 384, 512, 640]


def test_truncate_metrics_keeps_rows_up_to_the_step(tmp_path):
    (tmp_path / "metrics.csv").write_text("global_step,x\n10,1.0\n20,2.0\n30,3.0\n")
    assert truncate_metrics(tmp_path, 20) == 1
    assert (tmp_path / "metrics.csv").read_text() == "global_step,x\n10,1.0\n20,2.0\n"
    assert truncate_metrics(tmp_path, 20) == 0


def test_same_seed_gives_identical_metrics_apart_from_timing(tmp_path):
    for name in ("a", "b"):
        _train(tmp_path / name, 512, "--seed", "7")
    a, b = _rows(tmp_path / "a"), _rows(tmp_path / "b")
    assert len(a) == len(b) == 4
    timing = [k for k in a[0] if k.startswith("time/")]
    assert timing  # the timing columns exist and are the only ones left out
    for row_a, row_b in zip(a, b, strict=True):
        for key in row_a:
            if key not in timing:
                assert row_a[key] == row_b[key], key
    # A different seed gives a different run (the test above is not vacuous).
    _train(tmp_path / "c", 512, "--seed", "8")
    assert _rows(tmp_path / "c")[-1]["train/kl"] != a[-1]["train/kl"]


def test_eval_writes_eval_json(tmp_path, capsys):
    run = tmp_path / "run"
    _train(run, 256)
    capsys.readouterr()
    assert main(["eval", str(run), "--episodes", "3", "--seed", "5"]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((run / "eval.json").read_text())
    assert written == printed
    assert written["episodes"] == 3 and len(written["returns"]) == 3
    assert written["mean"] == pytest.approx(np.mean(written["returns"]))
    assert written["deterministic"] is True and written["global_step"] == 256
    # CartPole pays 1 per step: each return equals its episode length.
    assert written["returns"] == [float(n) for n in written["lengths"]]
    # The same seed gives the same episodes.
    assert main(["eval", str(run), "--episodes", "3", "--seed", "5"]) == 0
    assert json.loads((run / "eval.json").read_text())["returns"] == written["returns"]


def test_errors_name_the_problem(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "missing"), "--quiet"]) == 2
    assert "missing does not exist; give a folder made by `trpo train`" in capsys.readouterr().err
    run = tmp_path / "run"
    _train(run, 128)
    assert main(["train", "CartPole-v1", "--run-dir", str(run), "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--total-steps", "64", "--quiet"]) == 2
    assert "already trained" in capsys.readouterr().err
    # Caught before any training: a resume with no evaluation or a negative interval does no work.
    assert main(["train", "--resume", str(run), "--total-steps", "256", "--eval-episodes", "0", "--quiet"]) == 2
    assert "--eval-episodes 0 is invalid" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--total-steps", "256", "--checkpoint-every", "-1", "--quiet"]) == 2
    assert "--checkpoint-every -1 is invalid: give 0 (a checkpoint only at the end)" in capsys.readouterr().err
    assert checkpoint.load(run / "checkpoints")[1]["global_step"] == 128
