"""Folders that hold no run are named as such (trpo eval, trpo plot and --resume use this check)."""

import re

import pytest

from trpo.runs.run import RunDirError, read_config_yaml, require_run_dir


def test_a_folder_without_a_run_is_refused_with_the_reason(tmp_path):
    made_by = "give a folder made by `trpo train` (by default under runs/)"
    with pytest.raises(RunDirError, match=re.escape(f"missing does not exist; {made_by}")):
        require_run_dir(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(RunDirError, match="file.txt is a file, not a run directory"):
        require_run_dir(tmp_path / "file.txt")
    with pytest.raises(RunDirError, match=r"holds no run \(no config.yaml\)"):
        read_config_yaml(tmp_path)
    (tmp_path / "config.yaml").write_text("env_id: [CartPole\n")
    with pytest.raises(RunDirError, match="config.yaml does not parse as YAML"):
        read_config_yaml(tmp_path)
    (tmp_path / "config.yaml").write_text("max_kl: 0.01\n")
    with pytest.raises(RunDirError, match=r"is not a trpo run config \(no env_id\)"):
        read_config_yaml(tmp_path)
    (tmp_path / "config.yaml").write_text("env_id: CartPole-v1\n")
    assert require_run_dir(tmp_path) == tmp_path and read_config_yaml(tmp_path)["env_id"] == "CartPole-v1"
