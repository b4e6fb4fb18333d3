"""Action distributions: log-prob, entropy, analytic KL (JAX) and sampling (JAX and NumPy).

Each distribution is a small frozen dataclass (hashable, so it can be a static argument of a
jitted function). Its parameters are what the actor head outputs:
- DiagGaussian: (mean [B, A], log_std [A]), a state-independent log standard deviation;
- Categorical: logits [B, K];
- MultiCategorical: logits [B, sum(nvec)], one independent categorical per action component;
- Bernoulli: logits [B, n], one independent Bernoulli per action bit.
`num_outputs` is the width of the actor's last layer.
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

    @property
    def num_outputs(self) -> int:
        return self.action_dim

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

    @property
    def num_outputs(self) -> int:
        return self.num_actions

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
        return _gumbel_argmax(rng, params)


def _gumbel_argmax(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    # Gumbel-max: argmax(logits + Gumbel noise) is a draw from softmax(logits).
    gumbel = -np.log(-np.log(rng.random(logits.shape, dtype=np.float32) + 1e-20) + 1e-20)
    return np.argmax(logits + gumbel, axis=-1)


@dataclass(frozen=True)
class MultiCategorical:
    """Independent categoricals over the components of a MultiDiscrete action: log-probs,
    entropies and KLs add up over components."""

    nvec: tuple[int, ...]

    @property
    def num_outputs(self) -> int:
        return sum(self.nvec)

    def _split(self, logits: Any, xp: Any = jnp) -> list[Any]:
        bounds = np.cumsum(self.nvec)[:-1].tolist()
        return xp.split(logits, bounds, axis=-1)

    def _log_softmax(self, logits: jax.Array) -> list[jax.Array]:
        return [jax.nn.log_softmax(part, axis=-1) for part in self._split(logits)]

    def log_prob(self, params: Any, actions: jax.Array) -> jax.Array:
        actions = actions.astype(jnp.int32)
        return sum(
            jnp.take_along_axis(log_p, actions[..., i, None], axis=-1)[..., 0]
            for i, log_p in enumerate(self._log_softmax(params))
        )

    def entropy(self, params: Any) -> jax.Array:
        return sum(-jnp.sum(jnp.exp(log_p) * log_p, axis=-1) for log_p in self._log_softmax(params))

    def kl(self, p: Any, q: Any) -> jax.Array:
        """sum over components c of KL(p_c || q_c) = sum_k p_ck (log p_ck - log q_ck)."""
        return sum(
            jnp.sum(jnp.exp(lp) * (lp - lq), axis=-1)
            for lp, lq in zip(self._log_softmax(p), self._log_softmax(q), strict=True)
        )

    def sample(self, key: jax.Array, params: Any) -> jax.Array:
        keys = jax.random.split(key, len(self.nvec))
        parts = [jax.random.categorical(k, part, axis=-1) for k, part in zip(keys, self._split(params), strict=True)]
        return jnp.stack(parts, axis=-1)

    def mode(self, params: Any) -> jax.Array:
        return jnp.stack([jnp.argmax(part, axis=-1) for part in self._split(params)], axis=-1)

    def sample_numpy(self, rng: np.random.Generator, params: Any, deterministic: bool) -> np.ndarray:
        parts = self._split(np.asarray(params), np)
        if deterministic:
            return np.stack([np.argmax(part, axis=-1) for part in parts], axis=-1)
        return np.stack([_gumbel_argmax(rng, part) for part in parts], axis=-1)


@dataclass(frozen=True)
class Bernoulli:
    """Independent Bernoullis over the bits of a MultiBinary action, parameterised by logits z:
    P(bit = 1) = sigmoid(z)."""

    num_bits: int

    @property
    def num_outputs(self) -> int:
        return self.num_bits

    def log_prob(self, params: Any, actions: jax.Array) -> jax.Array:
        # log sigmoid(z) = -softplus(-z), log(1 - sigmoid(z)) = -softplus(z)
        a = actions.astype(params.dtype)
        return -jnp.sum(a * jax.nn.softplus(-params) + (1.0 - a) * jax.nn.softplus(params), axis=-1)

    def entropy(self, params: Any) -> jax.Array:
        # H = -p log p - (1 - p) log(1 - p) = softplus(z) - p z
        return jnp.sum(jax.nn.softplus(params) - jax.nn.sigmoid(params) * params, axis=-1)

    def kl(self, p: Any, q: Any) -> jax.Array:
        """KL(p || q) = sum_i p_i (log p_i - log q_i) + (1 - p_i) (log(1 - p_i) - log(1 - q_i))."""
        prob_p = jax.nn.sigmoid(p)
        log_p1, log_p0 = -jax.nn.softplus(-p), -jax.nn.softplus(p)
        log_q1, log_q0 = -jax.nn.softplus(-q), -jax.nn.softplus(q)
        return jnp.sum(prob_p * (log_p1 - log_q1) + (1.0 - prob_p) * (log_p0 - log_q0), axis=-1)

    def sample(self, key: jax.Array, params: Any) -> jax.Array:
        return jax.random.bernoulli(key, jax.nn.sigmoid(params)).astype(jnp.int32)

    def mode(self, params: Any) -> jax.Array:
        return (params > 0).astype(jnp.int32)

    def sample_numpy(self, rng: np.random.Generator, params: Any, deterministic: bool) -> np.ndarray:
        params = np.asarray(params)
        if deterministic:
            return (params > 0).astype(np.int8)
        # u < sigmoid(z)  <=>  log(u / (1 - u)) < z: a draw with P(1) = sigmoid(z), no overflow.
        u = rng.random(params.shape, dtype=np.float32)
        return (np.log(u + 1e-20) - np.log1p(-u) < params).astype(np.int8)


Distribution = DiagGaussian | Categorical | MultiCategorical | Bernoulli
