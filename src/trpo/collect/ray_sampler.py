"""RaySampler: the envs stepped by Ray actors, on this machine or a cluster, one batch joined here.

TRPO is synchronous: each iteration needs the whole batch before the next policy. So each
iteration the learner puts the actor's NumPy parameters and the observation statistics
in the object store once, every worker (one Ray actor owning `num_envs / workers` envs and the
action-noise stream of its env group) runs the ordinary `Sampler.collect` with them, and the
parts are joined along the env axis into the Batch the local sampler returns. Env groups
are seeded as in rollout.py, so a local run with the same `workers` collects the same batches.
A recurrent policy's states live in the workers (each keeps its envs' states across
iterations, as the local sampler does) and come back in the batch.

The observation statistics are not updated in the workers: the training step folds the joined
batch's raw observations into them after the rollout, exactly as with the local sampler.

A worker whose process dies (a crashed simulator, a lost node) is replaced by a new actor and
its part of the iteration is collected again; `worker_restarts` counts replacements.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from trpo.collect.rollout import Sampler, noise_stream
from trpo.config import TRPOConfig
from trpo.envs.make import EnvFactory
from trpo.envs.sync import SyncVectorEnv
from trpo.learning.batch import Batch
from trpo.learning.normalization import ObservationNormalizer, RunningStats

MAX_RESTARTS_PER_ITERATION = 3
"""replacements of one worker within one iteration before the run stops with an error"""

Episode = tuple[int, int, float, int]
"""(step index in the iteration, global env index, return, length) of a finished episode"""


class WorkerError(RuntimeError):
    """A sampler worker kept dying; the message says which and what to check."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise ImportError("sampler='ray' needs Ray. Fix: pip install 'trpo[ray]'") from error
    return ray


class SamplerWorker:
    """The body of one Ray actor: env group `group` (global envs group*K .. group*K + K - 1).

    Env i resets first with seed + i and the group draws noise from noise_stream(seed, group),
    as in the local sampler. A replacement (restart r >= 1) starts fresh episodes from
    seed + i + r * num_envs and noise_stream(seed, group, r), so it does not replay old data.
    """

    def __init__(
        self,
        env_factory: EnvFactory,
        env_name: str,
        config: TRPOConfig,
        group: int,
        restart: int = 0,
        rng_state: dict[str, Any] | None = None,
    ):
        per_worker = config.num_envs // config.workers
        self.offset = group * per_worker
        envs = SyncVectorEnv([env_factory] * per_worker, name=env_name)
        self.config = config
        self.sampler = Sampler(
            envs,
            config.n_steps,
            config.seed,
            rngs=[noise_stream(config.seed, group, restart)],
            reset_seed=config.seed + self.offset + restart * config.num_envs,
        )
        if rng_state is not None:
            self.load_rng_state(rng_state)

    def collect(self, shared: tuple[Any, RunningStats]) -> tuple[Batch, list[Episode], float]:
        """This group's part of the iteration, the episodes it finished, and its stepping time."""
        start = time.perf_counter()
        actor_np, obs_stats = shared
        normalizer = ObservationNormalizer(obs_stats, self.config.normalize_obs, self.config.obs_clip)
        raw = self.sampler.collect(actor_np, normalizer)
        # Episodes are appended step by step, env by env: the order of np.nonzero over [T, K].
        steps, envs = np.nonzero(raw.terminated | raw.truncated)
        finished = list(self.sampler.finished_episodes)[-len(steps) :] if len(steps) else []
        steps, envs = steps[len(steps) - len(finished) :], envs[len(envs) - len(finished) :]
        episodes = [
            (int(t), int(i) + self.offset, ret, length)
            for t, i, (ret, length) in zip(steps, envs, finished, strict=True)
        ]
        return raw, episodes, time.perf_counter() - start

    def rng_state(self) -> dict[str, Any]:
        return self.sampler.rng_state()[0]

    def load_rng_state(self, state: dict[str, Any]) -> None:
        self.sampler.load_rng_state([state])

    def pid(self) -> int:
        return os.getpid()


def join_parts(parts: Sequence[Batch]) -> Batch:
    """Worker batches [T, K, ...] side by side along the env axis: [T, workers * K, ...]."""

    def join(name: str, fields: Sequence[Any]) -> Any:
        if fields[0] is None:  # the recurrent fields of a feed-forward policy's batch
            return None
        axis = 0 if name in ("last_obs", "actor_state", "critic_state") else 1
        if isinstance(fields[0], dict):  # observation dicts: join each part
            return {k: np.concatenate([f[k] for f in fields], axis=axis) for k in fields[0]}
        return np.concatenate(fields, axis=axis)

    return Batch(*(join(name, fields) for name, fields in zip(Batch._fields, zip(*parts, strict=True), strict=True)))


class RaySampler:
    """Same contract as rollout.Sampler: collect(actor_np) -> Batch [T, num_envs, ...].

    Joins the Ray cluster at `address`, or starts a local Ray instance (shut down by close())
    when there is none in this process yet. Ray and the workers start at the first collect(), so
    an agent loaded only to act or evaluate never starts them.
    """

    def __init__(
        self,
        env_factory: EnvFactory,
        env_name: str,
        config: TRPOConfig,
        address: str | None = None,
    ):
        self._ray = import_ray()
        self.address = address
        self.config = config
        self._worker_args = (env_factory, env_name, config)
        self.workers: list[Any] = []
        self.owns_ray = False
        self._generation = [0] * config.workers
        self._rng_states = [noise_stream(config.seed, g).bit_generator.state for g in range(config.workers)]
        """the workers' noise-stream states to start them with"""
        self.worker_restarts = 0
        self.finished_episodes: deque[tuple[float, int]] = deque(maxlen=100)
        self.rng = noise_stream(config.seed, 0)
        """noise for TRPO.act in this process (the workers hold the rollout streams)"""
        self.timing: dict[str, float] = {}

    def _start_workers(self) -> None:
        ray = self._ray
        if not ray.is_initialized():
            self.owns_ray = True
            if self.address:
                ray.init(address=self.address, logging_level="WARNING")
            else:
                cpus = max(os.cpu_count() or 1, self.config.workers)
                ray.init(num_cpus=cpus, include_dashboard=False, logging_level="WARNING")
        self._remote_worker = ray.remote(num_cpus=1, max_restarts=0)(SamplerWorker)
        self.workers = [self._new_worker(g, 0, state) for g, state in enumerate(self._rng_states)]

    def _new_worker(self, group: int, restart: int, rng_state: dict[str, Any] | None = None) -> Any:
        return self._remote_worker.remote(*self._worker_args, group, restart, rng_state)

    def collect(
        self, actor_np: Any, normalizer: ObservationNormalizer, check_stop: Callable[[], None] | None = None
    ) -> Batch:
        """One iteration from all workers, acting on observations normalised by `normalizer`.
        `check_stop` (see trpo.training.interrupt) is called once the workers have answered: a remote
        rollout cannot stop between env steps."""
        ray = self._ray
        if not self.workers:
            self._start_workers()
        t0 = time.perf_counter()
        shared = ray.put((actor_np, normalizer.stats))
        calls = [worker.collect.remote(shared) for worker in self.workers]
        t1 = time.perf_counter()
        results = [self._result(g, call, shared) for g, call in enumerate(calls)]
        t2 = time.perf_counter()
        raw = join_parts([part for part, _, _ in results])
        episodes = sorted(episode for _, part_episodes, _ in results for episode in part_episodes)
        self.finished_episodes.extend((ret, length) for _, _, ret, length in episodes)
        t3 = time.perf_counter()
        slowest = max(worker_s for _, _, worker_s in results)
        self.timing = {
            "broadcast_s": t1 - t0,
            "worker_s": slowest,
            "gather_s": max(0.0, t2 - t1 - slowest),
            "join_s": t3 - t2,
        }
        if check_stop is not None:
            check_stop()
        return raw

    def _result(self, group: int, call: Any, shared: Any) -> tuple[Batch, list[Episode], float]:
        ray = self._ray
        for attempt in range(MAX_RESTARTS_PER_ITERATION + 1):
            try:
                return ray.get(call)
            except ray.exceptions.RayActorError as error:
                if attempt == MAX_RESTARTS_PER_ITERATION:
                    raise WorkerError(
                        f"sampler worker {group} died {attempt + 1} times in one iteration ({error}). "
                        "Check that the env runs in a fresh process on every node (same packages installed)."
                    ) from error
                self._replace(group)
                call = self.workers[group].collect.remote(shared)
        raise AssertionError("unreachable")

    def _replace(self, group: int) -> None:
        self._ray.kill(self.workers[group], no_restart=True)
        self._generation[group] += 1
        self.worker_restarts += 1
        self.workers[group] = self._new_worker(group, self._generation[group])

    def metrics(self) -> dict[str, float]:
        return {
            "rollout/worker_restarts": float(self.worker_restarts),
            **{f"time/ray_{name}": value for name, value in self.timing.items()},
        }

    def rng_state(self) -> list[dict[str, Any]]:
        """The workers' noise-generator states. A worker that has died keeps its last known state
        here: the next collect() replaces it, and its replacement draws a stream of its own."""
        if self.workers:
            try:
                self._rng_states = self._ray.get([worker.rng_state.remote() for worker in self.workers])
            except self._ray.exceptions.RayActorError:
                self._rng_states = [self._state_or_last(group) for group in range(len(self.workers))]
        return self._rng_states

    def _state_or_last(self, group: int) -> dict[str, Any]:
        try:
            return self._ray.get(self.workers[group].rng_state.remote())
        except self._ray.exceptions.RayActorError:
            return self._rng_states[group]

    def load_rng_state(self, states: list[dict[str, Any]]) -> None:
        """Continue the saved noise streams (ignored if they were saved with another number of groups)."""
        if len(states) != self.config.workers:
            return
        self._rng_states = list(states)
        if self.workers:
            self._ray.get([w.load_rng_state.remote(s) for w, s in zip(self.workers, states, strict=True)])

    def restore(
        self, rng_states: list[dict[str, Any]], finished_episodes: list[tuple[float, int]], restart_seed: int
    ) -> None:
        """Continue from a checkpoint: the saved noise streams and recent episodes. The workers
        start fresh episodes of their own (seeded as in SamplerWorker), so `restart_seed` is unused."""
        self.load_rng_state(rng_states)
        self.finished_episodes.clear()
        self.finished_episodes.extend(finished_episodes)

    def close(self) -> None:
        for worker in self.workers:
            self._ray.kill(worker, no_restart=True)
        self.workers = []
        if self.owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
        self.owns_ray = False
