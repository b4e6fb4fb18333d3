"""Sampler: steps the vector env with the current policy, in NumPy, and fills a batch.

Acting is one NumPy forward of the actor per env group: a 64x64 MLP costs a few
microseconds there, against tens for a jitted JAX call, and it is the per-step cost that
decides speed on cheap simulators. Actors with a CNN (image observations) run one jitted JAX
call per env group instead, where the convolutions dominate (networks.acting_forward).

Observations are dicts of arrays ({"vector": [..., D], "image": [..., H, W, C]}), written by
the env's ObservationSpec (trpo.learning.observations).

Seeding. The envs are split into equal, contiguous groups (one per Ray worker; a single group
by default). Env i resets first with seed + i; group g draws its action noise from its own
NumPy Generator, `noise_stream(seed, g)`, whose stream does not depend on the number of groups
or on the process the group runs in. A local run with `workers=W` therefore collects exactly
the batches of a Ray run with W workers, and each step costs one actor forward and one noise
draw per group, not per env.

Recurrent actors (a "core" in the acting parameters) keep each env's actor and critic state
across steps and rollouts (acting.RecurrentMemory), reset them where an episode starts, and
store in the batch the states before the rollout's first step and the episode-start flags,
from which the learner unrolls the same sequences.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from trpo.collect.acting import RecurrentMemory, RecurrentRolloutActor, RolloutActor
from trpo.envs.vector import VectorEnv
from trpo.learning.batch import Batch
from trpo.learning.distributions import Distribution
from trpo.learning.networks import acting_forward
from trpo.learning.normalization import ObservationNormalizer
from trpo.learning.observations import Observation, copy, parts, tree_index


def noise_stream(seed: int, group: int, restart: int = 0) -> np.random.Generator:
    """The action-noise Generator of env group `group` (of its `restart`-th replacement worker):
    child `group` of SeedSequence(seed), whatever the number of groups."""
    spawn_key = (group,) if restart == 0 else (group, restart)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=spawn_key))


class Sampler:
    """Steps `envs` with the actor. `rngs` holds one noise Generator per env group (default: one
    group, `noise_stream(seed, 0)`); the envs reset with `reset_seed` (default: `seed`)."""

    def __init__(
        self,
        envs: VectorEnv,
        n_steps: int,
        seed: int,
        rngs: Sequence[np.random.Generator] | None = None,
        reset_seed: int | None = None,
    ):
        self.envs = envs
        self.dist: Distribution = envs.distribution
        self.n_steps = n_steps
        self.rngs = list(rngs) if rngs is not None else [noise_stream(seed, 0)]
        n = envs.num_envs
        if n % len(self.rngs):
            raise ValueError(f"{n} envs cannot be split into {len(self.rngs)} equal groups")
        size = n // len(self.rngs)
        self._groups = [slice(g * size, (g + 1) * size) for g in range(len(self.rngs))]
        self.obs = copy(envs.reset(seed=seed if reset_seed is None else reset_seed))
        self.memory: RecurrentMemory | None = None
        """recurrent actors only: each env's states, made at the first rollout"""
        self._buffers = self._allocate()
        self._spare: Batch | None = None
        """a second set of buffers, made on the second collect: the batch collect() returned last
        stays intact while the next one is collected (in a thread, beside the critic fit)"""
        self._collected = False

    def _allocate(self) -> Batch:
        n_steps, n, spec = self.n_steps, self.envs.num_envs, self.envs.obs_spec
        action_shape = self.envs.action_space.shape
        action_dtype = np.float32 if np.issubdtype(self.envs.action_space.dtype, np.floating) else np.int64
        return Batch(
            obs=spec.allocate(n_steps, n),
            actions=np.zeros((n_steps, n, *action_shape), action_dtype),
            rewards=np.zeros((n_steps, n), np.float32),
            terminated=np.zeros((n_steps, n), bool),
            truncated=np.zeros((n_steps, n), bool),
            final_obs=spec.allocate(n_steps, n),
            last_obs=spec.allocate(n),
        )

    @property
    def rng(self) -> np.random.Generator:
        """The first group's Generator; TRPO.act draws from it."""
        return self.rngs[0]

    @property
    def finished_episodes(self) -> Sequence[tuple[float, int]]:
        return self.envs.finished_episodes

    def rng_state(self) -> list[dict[str, Any]]:
        return [rng.bit_generator.state for rng in self.rngs]

    def load_rng_state(self, states: list[dict[str, Any]]) -> None:
        """Continue the saved noise streams (ignored if they were saved with another number of groups)."""
        if len(states) != len(self.rngs):
            return
        for rng, state in zip(self.rngs, states, strict=True):
            rng.bit_generator.state = state

    def restore(
        self, rng_states: list[dict[str, Any]], finished_episodes: list[tuple[float, int]], restart_seed: int
    ) -> None:
        """Continue from a checkpoint: the saved noise streams and recent episodes; the envs
        start fresh episodes, reset with `restart_seed` (their own state is not saved)."""
        self.load_rng_state(rng_states)
        episodes = self.envs.finished_episodes
        episodes.clear()
        episodes.extend(finished_episodes)
        for current, reset in zip(parts(self.obs), parts(self.envs.reset(seed=restart_seed)), strict=True):
            current[:] = reset
        self.memory = None  # fresh episodes start from zero states

    def act(
        self, actor_np: Any, normalizer: ObservationNormalizer, raw_obs: Observation, deterministic: bool = False
    ) -> np.ndarray:
        """`actor_np`: the actor as networks.to_acting gives it; `normalizer`: the observation
        statistics it acts with."""
        if len(self.rngs) == 1:
            params = acting_forward(actor_np, normalizer(raw_obs))
            return self.dist.sample_numpy(self.rng, params, deterministic)
        # One forward per group on exactly the rows a worker owning that group would see, so
        # the numbers match a Ray run bit for bit.
        return np.concatenate(
            [
                self.dist.sample_numpy(
                    rng, acting_forward(actor_np, normalizer(tree_index(raw_obs, rows))), deterministic
                )
                for rng, rows in zip(self.rngs, self._groups, strict=True)
            ]
        )

    def collect(
        self, actor_np: Any, normalizer: ObservationNormalizer, check_stop: Callable[[], None] | None = None
    ) -> Batch:
        """n_steps steps of every env with the actor's NumPy parameters, acting on observations
        normalised by `normalizer`. The returned arrays are reused by the call after next (two
        sets of buffers take turns). `check_stop`, called after every env step, may raise to
        abandon the batch (see trpo.training.interrupt)."""
        if self._spare is None and self._collected:
            self._spare = self._allocate()
        if self._collected:
            self._buffers, self._spare = self._spare, self._buffers
        self._collected = True
        b = self._buffers
        if "core" in actor_np:
            b = self._buffers = self._recurrent_buffers(actor_np)
        # (buffer, current) array pairs: one for vector observations, one per part with an image.
        obs_parts = list(zip(parts(b.obs), parts(self.obs), strict=True))
        final_parts = list(zip(parts(b.final_obs), parts(b.last_obs), strict=True))
        for part, _ in final_parts:
            part.fill(0)
        envs, groups = self.envs, self._groups
        # One actor per env group, on that group's rows and noise stream, as in act().
        memory = self.memory
        if memory is not None:
            actors = [
                RecurrentRolloutActor(actor_np, self.dist, normalizer, rng, memory, rows)
                for rng, rows in zip(self.rngs, groups, strict=True)
            ]
        else:
            actors = [
                RolloutActor(actor_np, self.dist, normalizer, rng, self.n_steps, rows.stop - rows.start, envs.obs_dim)
                for rng, rows in zip(self.rngs, groups, strict=True)
            ]
        single = len(groups) == 1
        for t in range(self.n_steps):
            for buffer, current in obs_parts:
                buffer[t] = current
            if memory is not None:
                b.episode_starts[t] = memory.starts
            for actor, rows in zip(actors, groups, strict=True):
                actor.act(t, self.obs if single else tree_index(self.obs, rows), out=b.actions[t, rows])
            obs, b.rewards[t], b.terminated[t], truncated, final_obs = envs.step(b.actions[t])
            b.truncated[t] = truncated
            if truncated.any():
                for (buffer, _), final in zip(final_parts, parts(final_obs), strict=True):
                    buffer[t, truncated] = final[truncated]
            for (_, current), new in zip(obs_parts, parts(obs), strict=True):
                current[:] = new
            if memory is not None:
                np.logical_or(b.terminated[t], truncated, out=memory.starts)
            if check_stop is not None:
                check_stop()
        for (_, last), (_, current) in zip(final_parts, obs_parts, strict=True):
            last[:] = current
        return b

    def _recurrent_buffers(self, acting_params: Any) -> Batch:
        """The buffers with the recurrent fields, holding the states before this rollout (a fresh
        memory, all episodes starting, at the first rollout or after a restore)."""
        if self.memory is None or not self.memory.fits(acting_params):
            self.memory = RecurrentMemory(acting_params, self.envs.num_envs)
        b = self._buffers
        starts = b.episode_starts if b.episode_starts is not None else np.zeros(b.rewards.shape, bool)
        memory = self.memory
        return b._replace(episode_starts=starts, actor_state=memory.actor.copy(), critic_state=memory.critic.copy())

    def metrics(self) -> dict[str, float]:
        """Sampler-specific metrics of the last collect (none for the local sampler)."""
        return {}

    def close(self) -> None:
        self.envs.close()
