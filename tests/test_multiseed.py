"""trpo train ENV --seeds: one run per seed in parallel processes, aggregated in summary.json."""

import json

import pytest

from trpo.cli import main
from trpo.config import ConfigError
from trpo.runs.multiseed import aggregate, parse_seeds


def test_parse_seeds():
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("3-5,9") == [3, 4, 5, 9]
    for bad in ("", "a", "1,1", "-1"):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(bad)


def test_aggregate_mean_and_std_over_seeds():
    runs = [{"seed": s, "total_steps": 100, "eval": {"mean": m}} for s, m in [(0, 10.0), (1, 20.0), (2, 30.0)]]
    summary = aggregate("X-v0", runs)
    # mean (10 + 20 + 30) / 3 = 20; population std sqrt((100 + 0 + 100) / 3) = 8.165
    assert summary["eval"]["mean"] == 20.0
    assert summary["eval"]["std"] == pytest.approx(8.16496580927726)
    assert summary["eval"]["per_seed"] == {"0": 10.0, "1": 20.0, "2": 30.0}
    assert summary["seeds"] == [0, 1, 2]


def test_two_seeds_in_parallel_processes(tmp_path, capsys):
    parent = tmp_path / "seeds"
    argv = ["train", "CartPole-v1", "--seeds", "0,1", "--total-steps", "128", "--run-dir", str(parent), "--quiet"]
    argv += ["--num-envs", "2", "--n-steps", "64", "--critic-minibatch", "64", "--hidden-sizes", "16", "16"]
    assert main([*argv, "--eval-episodes", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((parent / "summary.json").read_text())
    assert printed == written
    assert written["seeds"] == [0, 1]
    for seed in (0, 1):
        run = json.loads((parent / f"seed{seed}" / "summary.json").read_text())
        assert run["seed"] == seed and run["total_steps"] == 128
        assert written["eval"]["per_seed"][str(seed)] == run["eval"]["mean"]
    # Different seeds trained different policies (the seed reached each worker).
    metrics = [(parent / f"seed{s}" / "metrics.csv").read_text() for s in (0, 1)]
    assert metrics[0] != metrics[1]
    # A second call into the same parent is refused rather than mixing runs.
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
