"""Checkpoints that cannot be loaded say which file and why; a crash mid-write loses nothing."""

import json
import os
import zipfile

import numpy as np
import pytest

from trpo import TRPO, TRPOConfig
from trpo.training import checkpoint
from trpo.training.checkpoint import CheckpointDir, CheckpointError

ARRAYS = {"actor/w": np.arange(6.0).reshape(2, 3), "key": np.array([1, 2], np.uint32)}
META = {"env_id": "CartPole-v1", "global_step": 1024}


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, ARRAYS, META)
    return path


def test_round_trip(saved):
    arrays, meta = checkpoint.load(saved)
    np.testing.assert_array_equal(arrays["actor/w"], ARRAYS["actor/w"])
    assert meta["global_step"] == 1024 and meta["format_version"] == checkpoint.FORMAT_VERSION


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at .*latest"):
        checkpoint.load(tmp_path)


@pytest.mark.parametrize("keep", [0, 100, 0.5])
def test_truncated_checkpoint_says_truncated(saved, keep):
    data = saved.read_bytes()
    saved.write_bytes(data[: int(keep * len(data)) if keep < 1 else keep])
    with pytest.raises(CheckpointError, match=r"ckpt.npz: truncated .*checkpoint.*iter_\*\.npz"):
        checkpoint.load(saved)


def test_flipped_bytes_inside_an_array_say_corrupted_and_which_entry(saved):
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("actor/w.npy")
    data = bytearray(saved.read_bytes())
    # The entry's data starts after its 30-byte local header, name and extra field; flip the last
    # bytes of that data (the array itself, past the .npy header).
    end = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size
    data[end - 8 : end] = bytes(b ^ 0xFF for b in data[end - 8 : end])
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"corrupted checkpoint: entry actor/w.npy fails its CRC checksum"):
        checkpoint.load(saved)


def rewrite_meta(path, meta_bytes):
    arrays = dict(np.load(path))
    arrays["__meta__"] = np.frombuffer(meta_bytes, np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_bad_metadata_and_other_format_versions_are_named(saved):
    rewrite_meta(saved, b"{not json")
    with pytest.raises(CheckpointError, match="corrupted checkpoint: its metadata is not valid JSON"):
        checkpoint.load(saved)
    rewrite_meta(saved, json.dumps({"format_version": 99, "trpo_version": "9.0"}).encode())
    with pytest.raises(
        CheckpointError, match=r"format version 99 \(written by trpo 9.0\), but this trpo .* reads version 1"
    ):
        checkpoint.load(saved)
    np.savez(saved, **ARRAYS)
    with pytest.raises(CheckpointError, match=r"not a trpo checkpoint \(no __meta__ entry\)"):
        checkpoint.load(saved)


class CrashBeforeRename(BaseException):
    """Stands for the process dying between the fsync of the new file and its rename."""


def test_a_crash_between_write_and_rename_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    folder = CheckpointDir(tmp_path / "checkpoints")
    folder.write(1, ARRAYS, META)

    def crash(src, dst):
        assert os.path.getsize(src) > 0  # the new file was written in full, only not renamed yet
        raise CrashBeforeRename

    monkeypatch.setattr(checkpoint.os, "replace", crash)
    with pytest.raises(CrashBeforeRename):
        folder.write(2, {**ARRAYS, "actor/w": ARRAYS["actor/w"] + 1}, {**META, "global_step": 2048})
    monkeypatch.undo()
    # A real kill -9 would also leave the temporary file; the next write removes it.
    (tmp_path / "checkpoints" / ".latest.abc123.tmp").write_bytes(b"PK\x03\x04 half")
    arrays, meta = checkpoint.load(tmp_path / "checkpoints")
    assert meta["global_step"] == 1024
    np.testing.assert_array_equal(arrays["actor/w"], ARRAYS["actor/w"])
    folder.write(3, ARRAYS, META)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "iter_00000001.npz",
        "iter_00000003.npz",
        "latest",
    ]


TINY = TRPOConfig(num_envs=2, n_steps=32, hidden_sizes=(8,), critic_minibatch=32, critic_epochs=1)


def test_checkpoint_of_another_env_or_network_size_says_why(tmp_path):
    agent = TRPO("CartPole-v1", TINY)
    agent.save(tmp_path / "cartpole.npz")
    with pytest.raises(CheckpointError, match=r"is from CartPole-v1 \(observations: vector of size 4; actions: "
                       r"Discrete\(2\)\), but Acrobot-v1 has observations: vector of size 6; "
                       r"actions: Discrete\(3\)"):  # fmt: skip
        TRPO.load(tmp_path / "cartpole.npz", env="Acrobot-v1")
    with pytest.raises(CheckpointError, match=r"array 'actor/mlp/0/b' has shape \(8,\), expected \(16,\): the "
                       "checkpoint is from a different environment, space or network size"):  # fmt: skip
        TRPO.load(tmp_path / "cartpole.npz", hidden_sizes=(16,))


def test_checkpoint_that_names_only_the_vector_size_still_loads(tmp_path):
    # Compiled runs and checkpoints from before image observations store obs_dim alone.
    agent = TRPO("CartPole-v1", TINY)
    arrays, meta = agent._checkpoint_contents()
    del meta["observation"]
    checkpoint.save(tmp_path / "old.npz", arrays, meta)
    loaded = TRPO.load(tmp_path / "old.npz")
    obs = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(loaded.act(obs, deterministic=True), agent.act(obs, deterministic=True))
    meta["obs_dim"] = 6
    checkpoint.save(tmp_path / "other.npz", arrays, meta)
    with pytest.raises(CheckpointError, match=r"observations: vector of size 6; .* has observations: vector of size 4"):
        TRPO.load(tmp_path / "other.npz")
