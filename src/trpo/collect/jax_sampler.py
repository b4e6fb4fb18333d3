"""The JAX-native collector: n_steps of num_envs JAX envs (trpo.envs.jax_envs) inside a
`lax.scan`, for the compiled training loop (trpo.training.compiled).

Same contract as the NumPy Sampler (trpo.collect.rollout): the acting parameters in (the actor
and the observation statistics it acts with), a raw Batch and the finished episodes out. The
envs auto-reset in the step where an episode ends and keep the true final observation, as
SyncVectorEnv does. Everything is a pure function of its state, so the state is saved whole in a
checkpoint and a resumed run continues exactly.

A recurrent policy's states ride in the collector's state (`memory`), as the NumPy Sampler keeps
them (trpo.collect.acting.RecurrentMemory): reset where an episode starts, stored in the batch
as the rollout's initial states with the episode-start flags.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from trpo.config import TRPOConfig
from trpo.envs.jax_envs import JaxEnv
from trpo.learning.batch import Batch
from trpo.learning.networks import Params, actor_forward, actor_step, critic_state_step
from trpo.learning.normalization import RunningStats, normalize
from trpo.learning.recurrent import reset as reset_state
from trpo.learning.recurrent import zeros as zero_state

RECENT_EPISODES = 100
"""rollout/ep_return_mean is over the latest this-many finished episodes (as SyncVectorEnv)"""


class RecentEpisodes(NamedTuple):
    """The latest RECENT_EPISODES finished episodes, oldest first; `valid` marks filled slots."""

    returns: jax.Array
    lengths: jax.Array
    valid: jax.Array


def init_recent_episodes() -> RecentEpisodes:
    return RecentEpisodes(jnp.zeros(RECENT_EPISODES), jnp.zeros(RECENT_EPISODES), jnp.zeros(RECENT_EPISODES, bool))


def push_episodes(recent: RecentEpisodes, returns: jax.Array, lengths: jax.Array, ended: jax.Array) -> RecentEpisodes:
    """Append the episodes that ended in a batch ([T, N], in the order SyncVectorEnv records
    them: step by step, env by env) and keep the latest RECENT_EPISODES."""
    all_returns = jnp.concatenate([recent.returns, returns.reshape(-1)])
    all_lengths = jnp.concatenate([recent.lengths, lengths.reshape(-1).astype(recent.lengths.dtype)])
    valid = jnp.concatenate([recent.valid, ended.reshape(-1)])
    newer_or_same = jnp.cumsum(valid[::-1])[::-1]  # valid entries at or after each position
    keep = valid & (newer_or_same <= RECENT_EPISODES)
    position = jnp.where(keep, jnp.arange(valid.shape[0]), -1)
    top, index = jax.lax.top_k(position, RECENT_EPISODES)  # the kept positions, newest first
    index, kept = index[::-1], top[::-1] >= 0
    return RecentEpisodes(all_returns[index], all_lengths[index], kept)


def episode_metrics(recent: RecentEpisodes) -> dict[str, jax.Array]:
    """rollout/ep_return_mean, rollout/ep_len_mean (NaN before the first episode ends), rollout/episodes."""
    n = recent.valid.sum()
    return {
        "rollout/ep_return_mean": jnp.where(n > 0, jnp.sum(recent.returns * recent.valid) / n, jnp.nan),
        "rollout/ep_len_mean": jnp.where(n > 0, jnp.sum(recent.lengths * recent.valid) / n, jnp.nan),
        "rollout/episodes": n.astype(jnp.float32),
    }


class JaxSamplerState(NamedTuple):
    """What the collector carries from batch to batch."""

    env_state: Any
    obs: jax.Array
    """[N, D] raw observations the next step acts on"""
    key: jax.Array
    episode_return: jax.Array
    episode_length: jax.Array
    recent: RecentEpisodes
    memory: Any = None
    """recurrent policies only: (actor state [N, S], critic state [N, S], episode starts [N])"""


def reset(env: JaxEnv, config: TRPOConfig, key: jax.Array) -> JaxSamplerState:
    """Fresh envs: the key is split into the collector's key and the envs' reset keys."""
    key, reset_key = jax.random.split(key)
    env_state, obs = jax.vmap(env.reset)(jax.random.split(reset_key, config.num_envs))
    zeros = jnp.zeros(config.num_envs)
    memory = None
    if config.recurrent != "none":
        state = zero_state(config.recurrent, config.recurrent_size, config.num_envs)
        memory = (state, state, jnp.ones(config.num_envs, bool))
    return JaxSamplerState(env_state, obs, key, zeros, zeros, init_recent_episodes(), memory)


def acting_obs(stats: RunningStats, obs: jax.Array, config: TRPOConfig) -> jax.Array:
    """Observations as the actor sees them (unchanged when normalize_obs is off)."""
    return normalize(stats, obs, config.obs_clip, jnp) if config.normalize_obs else obs


def collect(
    env: JaxEnv,
    config: TRPOConfig,
    actor: Params,
    obs_stats: RunningStats,
    state: JaxSamplerState,
    critic: Params | None = None,
) -> tuple[JaxSamplerState, Batch]:
    """n_steps steps of every env with the actor, acting on the frozen statistics `obs_stats`.
    Returns the new state (its `recent` holds the finished episodes) and the raw batch. A
    recurrent actor also steps the critic's core (`critic`), as the NumPy Sampler does."""
    dist = env.distribution

    def one_step(inner, _):
        env_state, obs, key, ep_return, ep_length, memory = inner
        key, act_key, step_key = jax.random.split(key, 3)
        x = acting_obs(obs_stats, obs, config)
        if memory is None:
            params, starts = actor_forward(actor, x), None
        else:
            actor_state, critic_state, starts = memory
            params, actor_state = actor_step(actor, x, reset_state(actor_state, starts))
            critic_state = critic_state_step(critic, x, reset_state(critic_state, starts))
        actions = dist.sample(act_key, params)
        t = jax.vmap(env.step)(jax.random.split(step_key, config.num_envs), env_state, actions)
        ep_return, ep_length = ep_return + t.reward, ep_length + 1
        ended = t.terminated | t.truncated
        record = (
            Batch(
                obs=obs,
                actions=actions,
                rewards=t.reward,
                terminated=t.terminated,
                truncated=t.truncated,
                final_obs=jnp.where(t.truncated[:, None], t.final_obs, 0.0),
                last_obs=(),
                episode_starts=starts,
            ),
            jnp.where(ended, ep_return, jnp.nan),
            jnp.where(ended, ep_length, 0),
        )
        ep_return, ep_length = jnp.where(ended, 0.0, ep_return), jnp.where(ended, 0, ep_length)
        if memory is not None:
            memory = (actor_state, critic_state, ended)
        return (t.state, t.obs, key, ep_return, ep_length, memory), record

    start = (state.env_state, state.obs, state.key, state.episode_return, state.episode_length, state.memory)
    (env_state, obs, key, ep_return, ep_length, memory), (batch, ended_return, ended_length) = jax.lax.scan(
        one_step, start, None, config.n_steps
    )
    recent = push_episodes(state.recent, ended_return, ended_length, ended_length > 0)
    batch = batch._replace(last_obs=obs)
    if state.memory is not None:
        batch = batch._replace(actor_state=state.memory[0], critic_state=state.memory[1])
    return JaxSamplerState(env_state, obs, key, ep_return, ep_length, recent, memory), batch
