"""Action distributions: log-prob, entropy, analytic KL (JAX) and sampling (JAX and NumPy).

Each distribution is a small frozen dataclass (hashable, so it can be a static argument of a
jitted function). Its parameters are what the actor head outputs:
- DiagGaussian: (mean [B, A], log_std [A]), a state-independent log standard deviation;
- Categorical: logits [B, K].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class DiagGaussian:
    action_dim: int

    def log_prob(self, params: Any, actions: jax.Array) -> jax.Array:
        mean, log_std = params
        z = (actions - mean) * jnp.exp(-log_std)
        return jnp.sum(-0.5 * z**2 - log_std - 0.5 * LOG_2PI, axis=-1)

    def entropy(self, params: Any) -> jax.Array:
        mean, log_std = params
        per_dim = log_std + 0.5 * (1.0 + LOG_2PI)
        return jnp.broadcast_to(jnp.sum(per_dim, axis=-1), mean.shape[:-1])

    def kl(self, p: Any, q: Any) -> jax.Array:
        """KL(p || q) per sample: sum_i log(s_q/s_p) + (s_p^2 + (m_p - m_q)^2) / (2 s_q^2) - 1/2."""
        mean_p, log_std_p = p
        mean_q, log_std_q = q
        var_ratio = jnp.exp(2.0 * (log_std_p - log_std_q))
        mean_term = ((mean_p - mean_q) * jnp.exp(-log_std_q)) ** 2
        return jnp.sum(log_std_q - log_std_p + 0.5 * (var_ratio + mean_term - 1.0), axis=-1)

    def sample(self, key: jax.Array, params: Any) -> jax.Array:
        mean, log_std = params
        return mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)

    def mode(self, params: Any) -> jax.Array:
        return params[0]

    def sample_numpy(self, rng: np.random.Generator, params: Any, deterministic: bool) -> np.ndarray:
        mean, log_std = params
        if deterministic:
            return mean
        noise = rng.standard_normal(mean.shape, dtype=np.float32)
        return mean + np.exp(log_std) * noise


@dataclass(frozen=True)
class Categorical:
    num_actions: int

    def log_prob(self, params: Any, actions: jax.Array) -> jax.Array:
        log_p = jax.nn.log_softmax(params, axis=-1)
        return jnp.take_along_axis(log_p, actions[..., None].astype(jnp.int32), axis=-1)[..., 0]

    def entropy(self, params: Any) -> jax.Array:
        log_p = jax.nn.log_softmax(params, axis=-1)
        return -jnp.sum(jnp.exp(log_p) * log_p, axis=-1)

    def kl(self, p: Any, q: Any) -> jax.Array:
        """KL(p || q) = sum_k p_k (log p_k - log q_k)."""
        log_p = jax.nn.log_softmax(p, axis=-1)
        log_q = jax.nn.log_softmax(q, axis=-1)
        return jnp.sum(jnp.exp(log_p) * (log_p - log_q), axis=-1)

    def sample(self, key: jax.Array, params: Any) -> jax.Array:
        return jax.random.categorical(key, params, axis=-1)

    def mode(self, params: Any) -> jax.Array:
        return jnp.argmax(params, axis=-1)

    def sample_numpy(self, rng: np.random.Generator, params: Any, deterministic: bool) -> np.ndarray:
        if deterministic:
            return np.argmax(params, axis=-1)
        # Gumbel-max: argmax(logits + Gumbel noise) is a draw from softmax(logits).
        gumbel = -np.log(-np.log(rng.random(params.shape, dtype=np.float32) + 1e-20) + 1e-20)
        return np.argmax(params + gumbel, axis=-1)


Distribution = DiagGaussian | Categorical
