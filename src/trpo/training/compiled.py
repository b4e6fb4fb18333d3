"""Whole TRPO training as one compiled JAX program, on JAX-native envs (trpo.envs.jax_envs).

Each iteration is collect then trpo.training.train_step.train_step, inside `lax.scan`:
1. `collect`: `n_steps` steps of `num_envs` envs, acting with observations normalised by the
   statistics from before this batch (as trpo.collect.rollout's Sampler does);
2. `train_step`, the same function the Gymnasium path calls: statistics, normalisation, reward
   scaling, the critic's schedule, trpo.learning.learner.update, counters, here in float32 JAX.

`Program.run` scans `chunk` iterations; the host calls it again for the next chunk (to write
metrics and checkpoints between chunks), so a run compiles it once. Everything is a pure function
of a seed, so `jax.vmap` over seeds trains many seeds in one program (trpo.runs.compiled_run).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from trpo.config import TRPOConfig
from trpo.envs.jax_envs import JaxEnv
from trpo.learning import learner
from trpo.learning.batch import Batch
from trpo.learning.networks import actor_forward
from trpo.learning.normalization import normalize
from trpo.training.logger import METRIC_COLUMNS
from trpo.training.train_step import TrainState, init_train_state, train_step

RECENT_EPISODES = 100
"""rollout/ep_return_mean is over the latest this-many finished episodes (as SyncVectorEnv)"""
ENV_KEY_SALT = 1
"""the env and action-noise key is fold_in(PRNGKey(seed), ENV_KEY_SALT); PRNGKey(seed) inits the learner"""


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


class Carry(NamedTuple):
    """Everything one seed's training carries from iteration to iteration: the training state
    and the collector's state (envs, current observations, key, episodes under way)."""

    train: TrainState
    env_state: Any
    obs: jax.Array
    """[N, D] raw observations the next step acts on"""
    key: jax.Array
    episode_return: jax.Array
    episode_length: jax.Array
    recent: RecentEpisodes


class Rollout(NamedTuple):
    obs: jax.Array
    actions: jax.Array
    rewards: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    final_obs: jax.Array
    ended_return: jax.Array
    ended_length: jax.Array


METRIC_NAMES = (
    *(name for name in METRIC_COLUMNS if name.startswith(("rollout/", "train/")) and name != "train/skipped_updates"),
    "train/skipped",
)
"""per-iteration metrics computed inside the program: metrics.csv's columns but the step counts and
timings, which the host adds, and its running train/skipped_updates, which it sums from train/skipped"""


@dataclass(frozen=True, eq=False)
class Program:
    """The pure functions of one env and config. All take and return one seed's values; vmap
    them for many seeds. Equal env id and config make equal programs (a jit cache hit)."""

    env: JaxEnv
    config: TRPOConfig

    def _identity(self) -> tuple[str, TRPOConfig]:
        return self.env.env_id, self.config.replace(seed=0)

    def __hash__(self) -> int:
        return hash(self._identity())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Program) and self._identity() == other._identity()

    @property
    def optimizer(self) -> optax.GradientTransformation:
        return optax.adam(self.config.critic_lr)

    def init(self, seed: jax.Array) -> Carry:
        c, env = self.config, self.env
        root = jax.random.PRNGKey(seed)
        state = learner.init_state(root, c, env.distribution, env.obs_dim, self.optimizer)
        key, reset_key = jax.random.split(jax.random.fold_in(root, ENV_KEY_SALT))
        env_state, obs = jax.vmap(env.reset)(jax.random.split(reset_key, c.num_envs))
        zeros = jnp.zeros(c.num_envs)
        return Carry(
            train=init_train_state(state, env.obs_dim, c.num_envs, jnp),
            env_state=env_state,
            obs=obs,
            key=key,
            episode_return=zeros,
            episode_length=zeros,
            recent=init_recent_episodes(),
        )

    def collect(self, carry: Carry) -> tuple[Carry, Rollout]:
        """n_steps steps of every env with the current actor, acting on frozen statistics."""
        c, env, dist = self.config, self.env, self.env.distribution
        actor, stats = carry.train.learner.actor, carry.train.obs_stats

        def one_step(inner, _):
            env_state, obs, key, ep_return, ep_length = inner
            key, act_key, step_key = jax.random.split(key, 3)
            actions = dist.sample(act_key, actor_forward(actor, self.normalize(stats, obs)))
            t = jax.vmap(env.step)(jax.random.split(step_key, c.num_envs), env_state, actions)
            ep_return, ep_length = ep_return + t.reward, ep_length + 1
            ended = t.terminated | t.truncated
            record = Rollout(
                obs=obs,
                actions=actions,
                rewards=t.reward,
                terminated=t.terminated,
                truncated=t.truncated,
                final_obs=jnp.where(t.truncated[:, None], t.final_obs, 0.0),
                ended_return=jnp.where(ended, ep_return, jnp.nan),
                ended_length=jnp.where(ended, ep_length, 0),
            )
            ep_return, ep_length = jnp.where(ended, 0.0, ep_return), jnp.where(ended, 0, ep_length)
            return (t.state, t.obs, key, ep_return, ep_length), record

        start = (carry.env_state, carry.obs, carry.key, carry.episode_return, carry.episode_length)
        (env_state, obs, key, ep_return, ep_length), rollout = jax.lax.scan(one_step, start, None, c.n_steps)
        carry = carry._replace(
            env_state=env_state, obs=obs, key=key, episode_return=ep_return, episode_length=ep_length
        )
        return carry, rollout

    def iterate(self, carry: Carry) -> tuple[Carry, dict[str, jax.Array]]:
        """One TRPO iteration: collect a batch, then learn from it."""
        return self.learn(*self.collect(carry))

    def normalize(self, stats: Any, obs: jax.Array) -> jax.Array:
        """Observations as the actor sees them (unchanged when normalize_obs is off)."""
        c = self.config
        return normalize(stats, obs, c.obs_clip, jnp) if c.normalize_obs else obs

    def update(self, state: learner.LearnerState, batch: Batch, critic_lr_scale: Any) -> tuple[Any, dict]:
        return learner.update(state, batch, self.config, self.env.distribution, self.optimizer, critic_lr_scale)

    def learn(self, carry: Carry, rollout: Rollout) -> tuple[Carry, dict[str, jax.Array]]:
        """train_step on the collected batch (what TRPO._iterate does after its Sampler has
        collected), then the episode window for the metrics."""
        raw = Batch(
            obs=rollout.obs,
            actions=rollout.actions,
            rewards=rollout.rewards,
            terminated=rollout.terminated,
            truncated=rollout.truncated,
            final_obs=rollout.final_obs,
            last_obs=carry.obs,
        )
        train, train_stats = train_step(carry.train, raw, self.config, self.update, jnp)
        ended = rollout.ended_length > 0
        recent = push_episodes(carry.recent, rollout.ended_return, rollout.ended_length, ended)
        n = recent.valid.sum()
        metrics = {
            "rollout/ep_return_mean": jnp.where(n > 0, jnp.sum(recent.returns * recent.valid) / n, jnp.nan),
            "rollout/ep_len_mean": jnp.where(n > 0, jnp.sum(recent.lengths * recent.valid) / n, jnp.nan),
            "rollout/episodes": n.astype(jnp.float32),
            **train_stats,
        }
        carry = carry._replace(train=train, recent=recent)
        return carry, {name: metrics[name] for name in METRIC_NAMES}

    def run(self, carry: Carry, active: jax.Array, chunk: int) -> tuple[Carry, dict[str, jax.Array]]:
        """`chunk` scanned iterations of which the first `active` run (the rest leave the carry
        as it is), so the last, shorter chunk of a run reuses the same compiled program."""
        metric_shapes = jax.eval_shape(self.iterate, carry)[1]

        def body(carry, i):
            def idle(carry):
                return carry, jax.tree.map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype), metric_shapes)

            return jax.lax.cond(i < active, self.iterate, idle, carry)

        return jax.lax.scan(body, carry, jnp.arange(chunk))

    def evaluate(self, carry: Carry, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Deterministic returns and lengths of one episode per key, on fresh envs, acting on the
        final observation statistics (as TRPO.evaluate)."""
        env, dist = self.env, self.env.distribution
        actor, stats = carry.train.learner.actor, carry.train.obs_stats

        def episode(key):
            key, reset_key = jax.random.split(key)  # the same key use as JaxGymEnv.reset(seed=...)
            state, obs = env.reset(reset_key)

            def one_step(inner, _):
                state, obs, key, total, length, done = inner
                key, step_key = jax.random.split(key)
                action = dist.mode(actor_forward(actor, self.normalize(stats, obs[None])))[0]
                t = env.step(step_key, state, action)
                total = total + jnp.where(done, 0.0, t.reward)
                length = length + jnp.where(done, 0, 1)
                done = done | t.terminated | t.truncated
                return (t.state, t.obs, key, total, length, done), None

            start = (state, obs, key, jnp.zeros(()), jnp.zeros((), jnp.int32), jnp.zeros((), bool))
            (_, _, _, total, length, _), _ = jax.lax.scan(one_step, start, None, env.max_episode_steps)
            return total, length

        return jax.vmap(episode)(keys)


def eval_keys(episodes: int, seed: int) -> jax.Array:
    """Episode i of an evaluation starts from PRNGKey(seed + i), as TRPO.evaluate resets with seed + i."""
    return jax.vmap(jax.random.PRNGKey)(jnp.arange(seed, seed + episodes))


@partial(jax.jit, static_argnames=("program", "chunk"))
def run_seeds(program: Program, carry: Carry, active: jax.Array, chunk: int) -> tuple[Carry, dict[str, jax.Array]]:
    """Program.run vmapped over the leading (seed) axis of the carry."""
    return jax.vmap(partial(program.run, chunk=chunk), in_axes=(0, None))(carry, active)


@partial(jax.jit, static_argnames=("program",))
def init_seeds(program: Program, seeds: jax.Array) -> Carry:
    return jax.vmap(program.init)(seeds)


@partial(jax.jit, static_argnames=("program",))
def evaluate_seeds(program: Program, carry: Carry, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
    """[seeds, episodes] deterministic returns and lengths."""
    return jax.vmap(program.evaluate, in_axes=(0, None))(carry, keys)
