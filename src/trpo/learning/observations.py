"""How raw observations from the env become network input: the ObservationSpec.

Every observation space trpo accepts is reduced to at most two parts:
- "vector": float32 [D], the concatenation of every Box part (flattened) and every Discrete part
  (one-hot encoded); the running observation normalisation applies to this part only;
- "image": uint8 [H, W, C], whether the env gives H×W×C, C×H×W (e.g. a stack of 4 frames) or H×W;
  it stays uint8 in the rollout buffers, and the network scales it to [0, 1] and runs a CNN on it.

Observations travel through the sampler, the batch and the learner as the vector part alone,
a plain array [..., D], when there is no image (Box, Discrete, Dict/Tuple of those: the fast
path, unchanged), and as a dict {"vector": [..., D], "image": [..., H, W, C]} (the vector key
only if there are vector parts) when there is an image. `parts()` lists the arrays of either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

Observation = np.ndarray | dict[str, np.ndarray]
VECTOR = "vector"
IMAGE = "image"

SUPPORTED_OBSERVATIONS = (
    "Box (vectors of any shape, or uint8 images H×W, H×W×C, C×H×W), Discrete, "
    "and Dict or Tuple of those (at most one image)"
)


class ObservationSpaceError(ValueError):
    """An observation space trpo cannot encode; the message says which part and what is supported."""


@dataclass(frozen=True)
class ImageSpec:
    shape: tuple[int, int, int]
    """(H, W, C) as stored and fed to the CNN"""
    channels_first: bool
    """whether the env gives C×H×W (moved to H×W×C when written)"""


@dataclass(frozen=True)
class Part:
    """One leaf of the observation space: where it is, what it is, how many numbers it adds."""

    path: tuple[Any, ...]
    """keys/indices that reach the leaf inside a Dict/Tuple observation (empty for a plain space)"""
    kind: str
    """one of "box", "discrete", "image"."""
    size: int
    """numbers it adds to the vector part (0 for the image)"""
    ndim: int
    """rank of one raw observation of this leaf"""

    def get(self, raw: Any) -> Any:
        for key in self.path:
            raw = raw[key]
        return raw


@dataclass(frozen=True)
class ObservationSpec:
    """The parts of an observation space, and how to write raw observations into buffers."""

    parts: tuple[Part, ...]
    vector_dim: int
    image: ImageSpec | None

    @classmethod
    def from_space(cls, space: gym.Space) -> ObservationSpec:
        parts, image, vector_dim = [], None, 0
        for path, leaf in _leaves(space, ()):
            if is_image(leaf):
                if image is not None:
                    raise ObservationSpaceError(
                        f"observation space {space} holds more than one image; trpo feeds one image to its CNN. "
                        "Fix: stack the images into one uint8 Box (as channels) with a wrapper"
                    )
                shape = tuple(int(s) for s in leaf.shape)
                first = len(shape) == 3 and channels_first(shape)
                stored = (*shape, 1) if len(shape) == 2 else (*shape[1:], shape[0]) if first else shape
                image = ImageSpec(shape=stored, channels_first=first)
                parts.append(Part(path, IMAGE, 0, len(shape)))
            elif isinstance(leaf, gym.spaces.Box):
                size = int(np.prod(leaf.shape))
                parts.append(Part(path, "box", size, len(leaf.shape)))
                vector_dim += size
            elif isinstance(leaf, gym.spaces.Discrete):
                parts.append(Part(path, "discrete", int(leaf.n), 0))
                vector_dim += int(leaf.n)
            else:
                where = f" at {'/'.join(map(str, path))}" if path else ""
                raise ObservationSpaceError(
                    f"unsupported observation space {leaf}{where}; supported: {SUPPORTED_OBSERVATIONS}"
                )
        return cls(parts=tuple(parts), vector_dim=vector_dim, image=image)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, present in ((VECTOR, self.vector_dim > 0), (IMAGE, self.image is not None)) if present)

    @property
    def describe(self) -> str:
        """What the network is fed, e.g. "vector of size 4" or "image 84×84×4": two specs with the
        same description take the same parameters (a checkpoint compares these)."""
        parts = [f"vector of size {self.vector_dim}"] if self.vector_dim > 0 else []
        if self.image is not None:
            parts.append("image " + "×".join(map(str, self.image.shape)))
        return " and ".join(parts)

    @property
    def is_plain_vector(self) -> bool:
        """One Box part and no image: written with a single ravel."""
        return len(self.parts) == 1 and self.parts[0].kind == "box"

    def allocate(self, *leading: int) -> Observation:
        """Zeroed buffers with the given leading dimensions: an array without an image, else a dict."""
        if self.image is None:
            return np.zeros((*leading, self.vector_dim), np.float32)
        out: dict[str, np.ndarray] = {}
        if self.vector_dim > 0:
            out[VECTOR] = np.zeros((*leading, self.vector_dim), np.float32)
        if self.image is not None:
            out[IMAGE] = np.zeros((*leading, *self.image.shape), np.uint8)
        return out

    def write(self, dest: Observation, index: Any, raw: Any) -> None:
        """Write one raw env observation into dest[key][index]."""
        if self.is_plain_vector:
            dest[index] = np.ravel(raw)
            return
        vector = dest if self.image is None else dest.get(VECTOR)
        offset = 0
        for part in self.parts:
            leaf = part.get(raw)
            if part.kind == IMAGE:
                leaf = np.asarray(leaf)
                image = np.moveaxis(leaf, 0, -1) if self.image.channels_first else leaf.reshape(self.image.shape)
                dest[IMAGE][index] = image
                continue
            row = vector[index, offset : offset + part.size]
            if part.kind == "box":
                row[...] = np.ravel(leaf)
            else:  # Discrete: one-hot
                row[...] = 0.0
                row[int(leaf)] = 1.0
            offset += part.size

    def encode(self, raw_batch: list[Any]) -> Observation:
        """A batch {key: [B, ...]} from a list of raw env observations."""
        out = self.allocate(len(raw_batch))
        for i, raw in enumerate(raw_batch):
            self.write(out, i, raw)
        return out

    def encode_any(self, raw: Any) -> tuple[Observation, bool]:
        """Encode one raw observation or a batch of them (a leading dimension on every leaf).
        Returns (batch {key: [B, ...]}, whether the input was a single observation)."""
        first = self.parts[0]
        if np.ndim(first.get(raw)) == first.ndim:
            return self.encode([raw]), True
        n = int(np.shape(first.get(raw))[0])
        return self.encode([_index(raw, i) for i in range(n)]), False


def _index(raw: Any, i: int) -> Any:
    if isinstance(raw, dict):
        return {k: _index(v, i) for k, v in raw.items()}
    if isinstance(raw, tuple):
        return tuple(_index(v, i) for v in raw)
    return raw[i]


def _leaves(space: gym.Space, path: tuple[Any, ...]):
    if isinstance(space, gym.spaces.Dict):
        for key, sub in space.spaces.items():
            yield from _leaves(sub, (*path, key))
    elif isinstance(space, gym.spaces.Tuple):
        for i, sub in enumerate(space.spaces):
            yield from _leaves(sub, (*path, i))
    else:
        yield path, space


def is_image(space: gym.Space) -> bool:
    """A uint8 Box of rank 2 (H, W) or rank 3 (H, W, C or C, H, W) is an image."""
    return isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) in (2, 3)


def channels_first(shape: tuple[int, ...]) -> bool:
    """C×H×W when the first axis is the smallest and smaller than the last (e.g. a 4×84×84
    frame stack); H×W×C otherwise (e.g. 210×160×3)."""
    return shape[0] < shape[-1] and shape[0] <= min(shape)


def parts(obs: Observation) -> list[np.ndarray]:
    """The arrays of an observation (buffer): the array itself, or the dict's values in order."""
    return list(obs.values()) if isinstance(obs, dict) else [obs]


def copy(obs: Observation) -> Observation:
    return {k: v.copy() for k, v in obs.items()} if isinstance(obs, dict) else obs.copy()


def tree_index(obs: Observation | np.ndarray, index: Any) -> Observation | np.ndarray:
    """obs[index] on every part of an observation dict (or on a plain array)."""
    if isinstance(obs, dict):
        return {k: v[index] for k, v in obs.items()}
    return obs[index]
