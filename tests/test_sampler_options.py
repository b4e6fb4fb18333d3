"""The sampler options of TRPOConfig and `trpo train` (no Ray needed: all fail or resolve
before any sampling)."""

import pytest

from trpo.cli import _apply_envs_per_worker, main
from trpo.config import ConfigError, TRPOConfig


def test_workers_must_divide_num_envs():
    assert TRPOConfig(num_envs=6, workers=3).workers == 3
    with pytest.raises(ConfigError, match="workers=4 is invalid: must divide num_envs=6"):
        TRPOConfig(num_envs=6, workers=4)
    with pytest.raises(ConfigError, match="workers=0 is invalid: must be a positive integer"):
        TRPOConfig(workers=0)
    with pytest.raises(ConfigError, match="sampler='remote' is invalid"):
        TRPOConfig(sampler="remote")


def test_envs_per_worker_sets_num_envs_before_the_flags_are_parsed():
    base = TRPOConfig()  # num_envs=8: 3 workers alone would be invalid
    config = _apply_envs_per_worker(["CartPole-v1", "--workers", "3", "--envs-per-worker", "5"], base)
    assert (config.workers, config.num_envs) == (3, 15)
    assert _apply_envs_per_worker(["CartPole-v1", "--envs-per-worker=2"], base).num_envs == 2
    assert _apply_envs_per_worker(["CartPole-v1", "--workers", "2"], base) == base


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--ray-address", "auto"], "only used by the Ray sampler: add --sampler ray"),
        (["--workers", "2", "--envs-per-worker", "0"], "give positive integers"),
        (["--workers", "2", "--envs-per-worker", "3", "--num-envs", "8"], "either --num-envs or --envs-per-worker"),
    ],
)
def test_bad_sampler_flags_are_named(flags, words, capsys, tmp_path):
    code = main(["train", "CartPole-v1", "--run-dir", str(tmp_path / "run"), "--quiet", *flags])
    assert code == 2
    assert words in capsys.readouterr().err.replace("\n", " ")
    assert not (tmp_path / "run").exists()
