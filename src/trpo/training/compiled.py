"""Whole TRPO training as one compiled JAX program, on JAX-native envs (trpo.envs.jax_envs).

Each iteration is collect then trpo.training.train_step.train_step, inside `lax.scan`:
1. trpo.collect.jax_sampler.collect: `n_steps` steps of `num_envs` envs, acting with
   observations normalised by the statistics from before this batch (as the NumPy Sampler does);
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

from trpo.collect import jax_sampler
from trpo.collect.jax_sampler import JaxSamplerState
from trpo.config import TRPOConfig
from trpo.envs.jax_envs import JaxEnv
from trpo.learning import learner
from trpo.learning.batch import Batch
from trpo.learning.networks import actor_forward, actor_step
from trpo.learning.recurrent import zeros as zero_state
from trpo.training.logger import METRIC_COLUMNS
from trpo.training.train_step import TrainState, init_train_state, train_step

ENV_KEY_SALT = 1
"""the env and action-noise key is fold_in(PRNGKey(seed), ENV_KEY_SALT); PRNGKey(seed) inits the learner"""


class Carry(NamedTuple):
    """Everything one seed's training carries from iteration to iteration."""

    train: TrainState
    sampler: JaxSamplerState
    """the collector's state: envs, current observations, key, episodes under way and finished"""


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
        return learner.critic_optimizer(self.config)

    def init(self, seed: jax.Array) -> Carry:
        c, env = self.config, self.env
        root = jax.random.PRNGKey(seed)
        state = learner.init_state(root, c, env.distribution, env.obs_dim, self.optimizer)
        return Carry(
            train=init_train_state(state, env.obs_dim, c.num_envs, jnp),
            sampler=jax_sampler.reset(env, c, jax.random.fold_in(root, ENV_KEY_SALT)),
        )

    def collect(self, carry: Carry) -> tuple[Carry, Batch]:
        """n_steps steps of every env with the current actor, acting on frozen statistics."""
        train = carry.train
        learner_state = train.learner
        sampler, batch = jax_sampler.collect(
            self.env, self.config, learner_state.actor, train.obs_stats, carry.sampler, learner_state.critic
        )
        return carry._replace(sampler=sampler), batch

    def iterate(self, carry: Carry) -> tuple[Carry, dict[str, jax.Array]]:
        """One TRPO iteration: collect a batch, then learn from it."""
        return self.learn(*self.collect(carry))

    def update(self, state: learner.LearnerState, batch: Batch, critic_lr_scale: Any) -> tuple[Any, dict]:
        return learner.update(state, batch, self.config, self.env.distribution, self.optimizer, critic_lr_scale)

    def learn(self, carry: Carry, batch: Batch) -> tuple[Carry, dict[str, jax.Array]]:
        """train_step on the collected batch: what TRPO._iterate does after its Sampler has collected."""
        train, train_stats = train_step(carry.train, batch, self.config, self.update, jnp)
        metrics = {**jax_sampler.episode_metrics(carry.sampler.recent), **train_stats}
        return carry._replace(train=train), {name: metrics[name] for name in METRIC_NAMES}

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
            c = self.config
            # A recurrent actor carries its state through the episode (None: feed-forward).
            memory = zero_state(c.recurrent, c.recurrent_size, 1) if c.recurrent != "none" else None

            def one_step(inner, _):
                state, obs, key, total, length, done, memory = inner
                key, step_key = jax.random.split(key)
                x = jax_sampler.acting_obs(stats, obs[None], self.config)
                if memory is None:
                    params = actor_forward(actor, x)
                else:
                    params, memory = actor_step(actor, x, memory)
                action = dist.mode(params)[0]
                t = env.step(step_key, state, action)
                total = total + jnp.where(done, 0.0, t.reward)
                length = length + jnp.where(done, 0, 1)
                done = done | t.terminated | t.truncated
                return (t.state, t.obs, key, total, length, done, memory), None

            start = (state, obs, key, jnp.zeros(()), jnp.zeros((), jnp.int32), jnp.zeros((), bool), memory)
            (_, _, _, total, length, _, _), _ = jax.lax.scan(one_step, start, None, env.max_episode_steps)
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
