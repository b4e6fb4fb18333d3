"""Actor and critic MLPs as plain parameter pytrees, with a JAX forward and a NumPy forward.

Parameters are nested dicts of arrays, so the learner can flatten them for the trust-region
step and the sampler can run the same forward in NumPy (no framework call per env step).
Init follows the strongest published TRPO/PPO runs: orthogonal weights with gain sqrt(2) in
hidden layers, 0.01 on the policy head, 1.0 on the value head, zero biases.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from trpo.distributions import Categorical, DiagGaussian, Distribution

Params = dict[str, Any]


def _dense(key: jax.Array, n_in: int, n_out: int, gain: float) -> Params:
    w = jax.nn.initializers.orthogonal(scale=gain)(key, (n_in, n_out), jnp.float32)
    return {"w": w, "b": jnp.zeros((n_out,), jnp.float32)}


def init_mlp(key: jax.Array, sizes: list[int], head_gain: float) -> list[Params]:
    """Layers sizes[0] -> ... -> sizes[-1]; hidden layers get gain sqrt(2), the last head_gain."""
    keys = jax.random.split(key, len(sizes) - 1)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        gain = head_gain if i == len(sizes) - 2 else math.sqrt(2.0)
        layers.append(_dense(keys[i], n_in, n_out, gain))
    return layers


def mlp(layers: list[Params], x: Any, xp: Any = jnp) -> Any:
    """tanh MLP with a linear last layer; xp is jax.numpy or numpy."""
    for layer in layers[:-1]:
        x = xp.tanh(x @ layer["w"] + layer["b"])
    return x @ layers[-1]["w"] + layers[-1]["b"]


def init_actor(
    key: jax.Array, obs_dim: int, hidden: tuple[int, ...], dist: Distribution, log_std_init: float
) -> Params:
    if isinstance(dist, DiagGaussian):
        out = dist.action_dim
    elif isinstance(dist, Categorical):
        out = dist.num_actions
    else:
        raise TypeError(f"unsupported distribution {dist!r}")
    params: Params = {"mlp": init_mlp(key, [obs_dim, *hidden, out], head_gain=0.01)}
    if isinstance(dist, DiagGaussian):
        params["log_std"] = jnp.full((dist.action_dim,), log_std_init, jnp.float32)
    return params


def init_critic(key: jax.Array, obs_dim: int, hidden: tuple[int, ...]) -> Params:
    return {"mlp": init_mlp(key, [obs_dim, *hidden, 1], head_gain=1.0)}


def actor_forward(params: Params, obs: Any, xp: Any = jnp) -> Any:
    """Distribution parameters for a batch of (normalised) observations."""
    out = mlp(params["mlp"], obs, xp)
    if "log_std" in params:
        return (out, params["log_std"])
    return out


def critic_forward(params: Params, obs: Any, xp: Any = jnp) -> Any:
    return mlp(params["mlp"], obs, xp)[..., 0]


def to_numpy(params: Params) -> Params:
    """A float32 NumPy copy of a parameter pytree, for acting without JAX."""
    return jax.tree.map(lambda a: np.asarray(a, dtype=np.float32), params)
