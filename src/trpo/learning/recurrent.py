"""Recurrent cores (LSTM, GRU) and their unroll over time-major sequences with episode resets.

A core maps (input x [..., D], state [..., S]) to (output [..., H], new state [..., S]). The
state is one array: [h, c] for the LSTM (S = 2H), h for the GRU (S = H), so rollout buffers and
checkpoints hold a single array per env. `step` runs in NumPy or JAX (`xp`), so the sampler acts
without a framework call per step and the learner differentiates the same arithmetic.

Episode resets: `starts[t]` marks an input that begins an episode; the state fed to that step is
zero, whatever came before, so no state crosses an episode boundary. The learner unrolls a
rollout from the state the sampler held before its first step (truncated backpropagation
through time over the rollout length: that state is data, not a function of the parameters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

CORES = ("lstm", "gru")
GATES = {"lstm": 4, "gru": 3}


@jax.tree_util.register_dataclass
@dataclass
class Core:
    """A recurrent cell's parameters; its kind travels as static pytree metadata, so the
    parameters alone say how to run it (as networks.Conv does for a convolution)."""

    wi: Any
    """input weights [D, G * H] (G gates)"""
    wh: Any
    """recurrent weights [H, G * H]"""
    b: Any
    """biases [G * H]"""
    kind: str = field(default="lstm", metadata={"static": True})


class Sequences(NamedTuple):
    """Observations of a rollout as sequences, for a recurrent network: time-major [T, N, ...]."""

    obs: Any
    """[T, N, ...] observations (an array, or an observation dict)"""
    starts: Any
    """[T, N] bool: obs[t] begins an episode (the state is reset to 0 before it)"""
    initial: Any
    """[N, S] the core's state before obs[0], as the sampler held it"""


def state_size(kind: str, hidden: int) -> int:
    return 2 * hidden if kind == "lstm" else hidden


def init_core(key: jax.Array, n_in: int, hidden: int, kind: str) -> Core:
    """Orthogonal input and recurrent weights (gain 1, each gate's block separately), zero biases
    except the LSTM's forget gate at 1 (Jozefowicz et al., 2015: remember by default)."""
    if kind not in CORES:
        raise ValueError(f"unknown recurrent core {kind!r}; choose one of: {', '.join(CORES)}")
    gates = GATES[kind]
    keys = jax.random.split(key, 2 * gates)
    orthogonal = jax.nn.initializers.orthogonal(scale=1.0)
    wi = jnp.concatenate([orthogonal(keys[g], (n_in, hidden), jnp.float32) for g in range(gates)], axis=1)
    wh = jnp.concatenate([orthogonal(keys[gates + g], (hidden, hidden), jnp.float32) for g in range(gates)], axis=1)
    b = jnp.zeros((gates * hidden,), jnp.float32)
    if kind == "lstm":
        b = b.at[hidden : 2 * hidden].set(1.0)  # gate order: input, forget, cell, output
    return Core(wi, wh, b, kind)


def _sigmoid(x: Any, xp: Any) -> Any:
    # The same formula in NumPy and JAX (and stable for large |x|).
    return 0.5 * (xp.tanh(0.5 * x) + 1.0)


def step(core: Core, x: Any, state: Any, xp: Any = jnp) -> tuple[Any, Any]:
    """One step: (output [..., H], new state [..., S])."""
    hidden = core.wh.shape[0]
    if core.kind == "lstm":
        h, c = state[..., :hidden], state[..., hidden:]
        z = x @ core.wi + h @ core.wh + core.b
        i, f, g, o = (z[..., k * hidden : (k + 1) * hidden] for k in range(4))
        c = _sigmoid(f, xp) * c + _sigmoid(i, xp) * xp.tanh(g)
        h = _sigmoid(o, xp) * xp.tanh(c)
        return h, xp.concatenate([h, c], axis=-1)
    # GRU (Cho et al., 2014): reset gate r, update gate z, candidate n.
    h = state
    zx = x @ core.wi + core.b
    zh = h @ core.wh[:, : 2 * hidden]
    r = _sigmoid(zx[..., :hidden] + zh[..., :hidden], xp)
    u = _sigmoid(zx[..., hidden : 2 * hidden] + zh[..., hidden:], xp)
    n = xp.tanh(zx[..., 2 * hidden :] + (r * h) @ core.wh[:, 2 * hidden :])
    h = (1.0 - u) * n + u * h
    return h, h


def reset(state: Any, starts: Any, xp: Any = jnp) -> Any:
    """The state with the rows where an episode starts set to 0."""
    return xp.where(starts[..., None], xp.zeros_like(state), state)


def unroll(core: Core, inputs: jax.Array, starts: jax.Array, initial: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Run the core over inputs [T, N, D] from `initial` [N, S], resetting where starts [T, N].
    Returns (outputs [T, N, H], states [T, N, S]: the state after each step)."""

    def body(state, xs):
        x, start = xs
        out, state = step(core, x, reset(state, start))
        return state, (out, state)

    _, (outputs, states) = jax.lax.scan(body, initial, (inputs, starts))
    return outputs, states


def zeros(kind: str, hidden: int, *leading: int, xp: Any = jnp) -> Any:
    """A fresh state (every episode starts from it)."""
    return xp.zeros((*leading, state_size(kind, hidden)), xp.float32)
