"""Generalised advantage estimation (Schulman et al., 2016) with the time-limit rule.

Arrays are time-major, shape [T, N] (steps, envs). For each transition t:
- `next_values[t]` is V of the observation that followed the action: V(obs[t+1]) inside an
  episode, V(true final observation) when the episode was truncated at t (time limit), and
  anything (it is masked) when the episode terminated at t;
- a terminated episode contributes no bootstrap (the value after a terminal state is 0);
- the advantage recursion never crosses an episode end (terminated or truncated).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: float,
    gae_lambda: float,
) -> jax.Array:
    """Advantages A[t] = delta[t] + gamma * lambda * (1 - done[t]) * A[t+1], with
    delta[t] = r[t] + gamma * (1 - terminated[t]) * next_values[t] - values[t]."""
    not_terminated = 1.0 - terminated.astype(rewards.dtype)
    not_done = 1.0 - jnp.maximum(terminated, truncated).astype(rewards.dtype)
    deltas = rewards + gamma * not_terminated * next_values - values

    def backward(carry, xs):
        delta, continues = xs
        advantage = delta + gamma * gae_lambda * continues * carry
        return advantage, advantage

    _, advantages = jax.lax.scan(backward, jnp.zeros_like(rewards[0]), (deltas, not_done), reverse=True)
    return advantages


def next_state_values(
    values: jax.Array, last_value: jax.Array, final_obs_values: jax.Array, truncated: jax.Array
) -> jax.Array:
    """next_values for gae(): values shifted by one step (last_value after the final step),
    replaced by V(final observation) where an episode was truncated."""
    shifted = jnp.concatenate([values[1:], last_value[None]], axis=0)
    return jnp.where(truncated, final_obs_values, shifted)
