"""Atomic checkpoint files: arrays in NumPy's .npz container plus one JSON metadata entry.

A checkpoint is written to a temporary file in the same folder, flushed and fsynced, then
renamed over its final name, so a crash at any moment leaves either the old file or the new
one, never a torn file. Loading needs no pickle.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

from trpo.version import __version__

FORMAT_VERSION = 1
LATEST = "latest"
_META_KEY = "__meta__"


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message says which file and why."""


def flatten_tree(prefix: str, tree: Any) -> dict[str, np.ndarray]:
    """{"prefix/path/to/leaf": array} for every leaf of a pytree."""
    flat = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = "/".join(_key_name(k) for k in path)
        flat[f"{prefix}/{name}" if name else prefix] = np.asarray(leaf)
    return flat


def unflatten_tree(prefix: str, like: Any, arrays: dict[str, np.ndarray], source: str) -> Any:
    """Rebuild a pytree shaped like `like` from flatten_tree's arrays, checking every shape."""
    leaves_with_path, treedef = jax.tree_util.tree_flatten_with_path(like)
    leaves = []
    for path, template in leaves_with_path:
        name = "/".join(_key_name(k) for k in path)
        key = f"{prefix}/{name}" if name else prefix
        if key not in arrays:
            raise CheckpointError(f"{source}: missing array {key!r}; it was written by a different setup")
        value = arrays[key]
        if value.shape != np.shape(template):
            raise CheckpointError(
                f"{source}: array {key!r} has shape {value.shape}, expected {np.shape(template)}: "
                "the checkpoint is from a different environment, space or network size"
            )
        leaves.append(value)
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _key_name(key: Any) -> str:
    for attr in ("key", "idx", "name"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def write_atomic(path: Path, write: Any) -> None:
    """Call write(file) on a temp file beside `path`, fsync it, and rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    meta = {"format_version": FORMAT_VERSION, **meta}
    payload = {**arrays, _META_KEY: np.frombuffer(json.dumps(meta).encode(), np.uint8)}
    write_atomic(Path(path), lambda f: np.savez(f, **payload))


def load(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    path = Path(path)
    if path.is_dir() and not (path / LATEST).exists() and (path / "checkpoints").is_dir():
        path = path / "checkpoints"  # a run directory
    if path.is_dir():
        path = path / LATEST
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as error:
        raise CheckpointError(f"{path}: {_diagnose(path)} ({type(error).__name__}: {error}). {_OLDER}") from error
    if _META_KEY not in arrays:
        raise CheckpointError(f"{path}: not a trpo checkpoint (no {_META_KEY} entry)")
    try:
        meta = json.loads(arrays.pop(_META_KEY).tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(
            f"{path}: corrupted checkpoint: its metadata is not valid JSON ({error}). {_OLDER}"
        ) from error
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: not a trpo checkpoint (its metadata is not a mapping)")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version} (written by trpo {meta.get('trpo_version', '?')}), but "
            f"this trpo ({__version__}) reads version {FORMAT_VERSION}: load it with the trpo that wrote it"
        )
    return arrays, meta


_OLDER = "The numbered checkpoints beside it (iter_*.npz) are earlier, separately written copies"


def _diagnose(path: Path) -> str:
    """Say how a checkpoint that NumPy cannot read is broken."""
    size = path.stat().st_size
    if size == 0:
        return "truncated checkpoint: the file is empty"
    if not zipfile.is_zipfile(path):
        return f"truncated or overwritten checkpoint: its {size} bytes do not end with a zip directory"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        return f"corrupted checkpoint: its zip structure is damaged ({error})"
    if bad is not None:
        return f"corrupted checkpoint: entry {bad} fails its CRC checksum"
    return "corrupted checkpoint: an array entry is not a valid .npy"


class CheckpointDir:
    """checkpoints/ of a run: `latest` plus numbered files, keeping the newest `keep`."""

    def __init__(self, folder: Path, keep: int = 3):
        self.folder = Path(folder)
        self.keep = keep

    def write(self, iteration: int, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Path:
        numbered = self.folder / f"iter_{iteration:08d}.npz"
        save(numbered, arrays, meta)
        save(self.folder / LATEST, arrays, meta)
        for old in sorted(self.folder.glob("iter_*.npz"))[: -self.keep]:
            old.unlink(missing_ok=True)
        # A process killed mid-write (kill -9) leaves its temporary file; nothing else writes here.
        for stale in self.folder.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        return numbered
