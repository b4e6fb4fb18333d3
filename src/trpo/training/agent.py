"""The public TRPO class: learn(), act(), evaluate(), save(), load().

Data flows one way: envs -> Sampler -> batch -> Learner -> new parameters -> Sampler. The
logger and the checkpoint directory only watch.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from trpo.collect.rollout import Sampler, noise_stream
from trpo.config import TRPOConfig
from trpo.envs.errors import EnvFault
from trpo.envs.make import EnvFactory, env_factory, make_one
from trpo.envs.vector import VectorEnv, make_vector_env
from trpo.learning.batch import Batch
from trpo.learning.learner import Learner, LearnerState
from trpo.learning.networks import acting_forward, acting_step, to_acting
from trpo.learning.normalization import ObservationNormalizer, RunningStats
from trpo.learning.recurrent import zeros
from trpo.training import checkpoint
from trpo.training.compile_cache import enable_compilation_cache
from trpo.training.episode_memory import EpisodeMemory
from trpo.training.evaluation import DEFAULT_EVAL_SEED, play_episodes, render_factory, with_video
from trpo.training.interrupt import TrainingInterrupted
from trpo.training.logger import episode_metrics, metrics_row
from trpo.training.train_step import (
    TrainState,
    checkpoint_meta,
    init_train_state,
    restore_state,
    state_arrays,
    train_step,
)

Callback = Callable[[dict[str, float]], Any]
"""Called after every iteration with its metrics; returning False stops training."""


class TRPO:
    """Trust Region Policy Optimization on a Gymnasium environment.

    >>> agent = TRPO("CartPole-v1", TRPOConfig(seed=1)).learn(100_000)
    >>> agent.evaluate(episodes=10)["mean"]
    """

    def __init__(
        self,
        env: str | EnvFactory,
        config: TRPOConfig | None = None,
        make_kwargs: dict[str, Any] | None = None,
        ray_address: str | None = None,
        total_steps: int | None = None,
    ):
        """`total_steps`: the run's budget, where it is known. With critic_lr_decay the critic's
        learning rate reaches 0 there, however many learn() calls it takes; without it, at the
        end of each learn() call."""
        # Before anything is jitted: JAX decides at the first compilation whether to use the cache.
        enable_compilation_cache()
        self.config = config or TRPOConfig()
        self.env_id = env if isinstance(env, str) else getattr(env, "__name__", "custom")
        self.make_kwargs = dict(make_kwargs or {})
        self._env = env
        c = self.config
        self.env_factory = env_factory(env, train=True, time_limit=c.train_time_limit, **self.make_kwargs)
        self.eval_env_factory = env_factory(env, train=False, **self.make_kwargs)
        """evaluation envs: the same as training except for Atari (whole games, raw rewards) and
        train_time_limit (evaluation plays whole episodes)"""
        # With the Ray sampler the rollout envs live in the workers; one local env gives the spaces.
        local = c.sampler == "local"
        self.envs: VectorEnv = make_vector_env(
            env,
            c.num_envs if local else 1,
            c.vec if local else "sync",
            seed=c.seed,
            time_limit=c.train_time_limit,
            **self.make_kwargs,
        )
        self.obs_spec = self.envs.obs_spec
        self.learner = Learner(c, self.envs.distribution, self.obs_spec)
        learner_state = self.learner.init(c.seed)
        self.train_state: TrainState = init_train_state(learner_state, self.obs_spec.vector_dim, c.num_envs)
        self.total_steps = total_steps
        self.sampler = self._make_sampler(ray_address)
        self._rng_at_batch_start = self.sampler.rng_state()
        """the noise generators' state before the batch under way (what an interrupted batch saves)"""
        self._warned_skipped = False
        self.compile_s = 0.0
        self._compiled = False
        self.train_wall_s = 0.0
        self._actor_np = to_acting(self.state.actor, self.state.critic)
        self._next_batch: NextBatch | None = None
        """the next batch, under way in a thread beside the critic fit (see _iterate)"""

    @property
    def state(self) -> LearnerState:
        """Actor, critic, critic optimiser state and key."""
        return self.train_state.learner

    @property
    def global_step(self) -> int:
        return int(self.train_state.global_step)

    @property
    def iteration(self) -> int:
        return int(self.train_state.iteration)

    @property
    def skipped_updates(self) -> int:
        return int(self.train_state.skipped_updates)

    @property
    def normalizer(self) -> ObservationNormalizer:
        """The current observation statistics, as the actor normalises with them."""
        return self._normalizer_of(self.train_state.obs_stats)

    def _normalizer_of(self, obs_stats: RunningStats) -> ObservationNormalizer:
        return ObservationNormalizer(obs_stats, self.config.normalize_obs, self.config.obs_clip)

    def _make_sampler(self, ray_address: str | None) -> Any:
        c = self.config
        if c.sampler == "ray":
            from trpo.collect.ray_sampler import RaySampler

            return RaySampler(self.env_factory, self.env_id, c, ray_address)
        rngs = [noise_stream(c.seed, group) for group in range(c.workers)]
        return Sampler(self.envs, c.n_steps, c.seed, rngs=rngs)

    # ------------------------------------------------------------------------------------------
    def learn(
        self,
        steps: int,
        callback: Callback | None = None,
        logger: Any = None,
        checkpoints: checkpoint.CheckpointDir | None = None,
        checkpoint_every: int = 0,
        check_stop: Callable[[], None] | None = None,
    ) -> TRPO:
        """Train for `steps` more environment steps (rounded up to whole iterations).

        Each iteration's metrics go to `logger.write` and `callback`; a callback that returns
        False stops training after that iteration. With `checkpoints`, a checkpoint is written
        every `checkpoint_every` iterations (0: only at the end) and at the end. `check_stop` is
        called after every env step and may raise (trpo.training.interrupt.StopOnSignal.check does on
        Ctrl-C or SIGTERM).

        If an env fails (EnvFault) or `check_stop` raises, the batch under way is dropped, a
        checkpoint of the last completed iteration is written (with `checkpoints`), and the
        exception is re-raised with `checkpoint` (its path or None) and `global_step` set on it.
        """
        batch_size = self.config.batch_size
        iterations = max(1, math.ceil(steps / batch_size))
        budget = self.total_steps if self.total_steps is not None else self.global_step + iterations * batch_size
        horizon = math.ceil(budget / batch_size) * batch_size
        self.train_state = self.train_state._replace(lr_horizon=np.asarray(horizon, np.int64))
        start = time.perf_counter()
        # The next rollout runs beside the critic fit, except after the last iteration (and with
        # the Ray sampler, whose workers already run apart, and with a recurrent policy, whose
        # rollout steps the critic's core too: the critic is still being fitted).
        overlap = self.config.sampler == "local" and self.config.recurrent == "none"
        try:
            for k in range(iterations):
                metrics = self._iterate(check_stop, collect_next=overlap and k + 1 < iterations)
                if logger is not None:
                    logger.write(metrics)
                if checkpoints is not None and checkpoint_every and self.iteration % checkpoint_every == 0:
                    self.save_checkpoint(checkpoints)
                if callback is not None and callback(metrics) is False:
                    break
        except (EnvFault, TrainingInterrupted) as error:
            # Parameters, statistics and counters are those of the last completed iteration: the
            # partial batch never reached them. The noise generators did draw for it, so the
            # checkpoint takes their state from the start of the batch.
            if checkpoints is not None:
                error.checkpoint = self.save_checkpoint(checkpoints, rng_state=self._rng_at_batch_start)
            else:
                error.checkpoint = None
            error.global_step = self.global_step
            raise
        finally:
            self.train_wall_s += time.perf_counter() - start
        if checkpoints is not None:
            self.save_checkpoint(checkpoints)
        return self

    def _iterate(self, check_stop: Callable[[], None] | None = None, collect_next: bool = False) -> dict[str, float]:
        """One iteration: the batch (collected now, or already under way), then train_step. With
        `collect_next`, the next batch starts in a thread as soon as the policy step is done: it
        needs only the new actor and the observation statistics with this batch taken in, and
        the envs then step while the critic fit runs. The batches, and so every number, are the
        same as collecting after the update."""
        t0 = time.perf_counter()
        if self._next_batch is not None:
            under_way, self._next_batch = self._next_batch, None
            self._rng_at_batch_start = under_way.rng_state
            raw, rollout_s = under_way.result()
        else:
            self._rng_at_batch_start = self.sampler.rng_state()
            raw = self.sampler.collect(self._actor_np, self.normalizer, check_stop)
            rollout_s = time.perf_counter() - t0
        episodes = episode_metrics(self.sampler.finished_episodes)  # before the next batch adds to them
        t1 = time.perf_counter()

        def collect_next_batch(actor: Any, obs_stats: RunningStats) -> None:
            self._next_batch = NextBatch(self.sampler, to_acting(actor), self._normalizer_of(obs_stats), check_stop)

        self.train_state, stats = train_step(
            self.train_state,
            raw,
            self.config,
            self.learner.update,
            after_policy=collect_next_batch if collect_next else None,
        )
        self._actor_np = to_acting(self.state.actor, self.state.critic)
        t2 = time.perf_counter()
        if not self._compiled:
            # The first update in a process compiles the jitted stages; later ones reuse them.
            self.compile_s, self._compiled = t2 - t1, True
        skipped = int(stats.pop("train/skipped"))
        if skipped and not self._warned_skipped:
            self._warned_skipped = True
            warnings.warn(
                f"iteration {self.iteration}: skipped an update with a non-finite loss, gradient or step "
                "(parameters unchanged). Later skips are only counted, in train/skipped_updates",
                RuntimeWarning,
                stacklevel=2,
            )
        times = {"sps": self.config.batch_size / (t2 - t0), "rollout_s": rollout_s, "update_s": t2 - t1}
        metrics = metrics_row(
            self.global_step,
            self.iteration,
            {**times, "compile_s": self.compile_s},
            episodes,
            stats,
            self.skipped_updates,
            self.sampler.metrics(),
        )
        return metrics

    # ------------------------------------------------------------------------------------------
    def act(
        self, obs: Any, deterministic: bool = False, rng: np.random.Generator | None = None, state: Any = None
    ) -> Any:
        """Actions for one observation as the env gives it, or a batch of them (a leading
        dimension on every array); Box actions are clipped to the space bounds.

        Stochastic actions draw from `rng`, or else from the training sampler's generator (which
        a checkpoint saves, so a loaded agent draws the same actions as the one saved).

        A recurrent policy (config.recurrent lstm or gru) returns (actions, state): pass that
        state back with the env's next observation, and state=None with an episode's first
        observation (a fresh zero state). For a batch of envs the state is [B, S]; set the rows
        of envs that start a new episode to 0."""
        encoded, single = self.obs_spec.encode_any(obs)
        recurrent = "core" in self._actor_np
        if state is not None and not recurrent:
            raise ValueError("state= is for recurrent policies; this agent's policy is feed-forward (recurrent='none')")
        normalized = self.normalizer(encoded)
        if recurrent:
            c = self.config
            if state is None:
                batch = len(next(iter(normalized.values())) if isinstance(normalized, dict) else normalized)
                state = zeros(c.recurrent, c.recurrent_size, batch, xp=np)
            else:
                state = np.asarray(state, np.float32)[None] if single else np.asarray(state, np.float32)
            params, state = acting_step(self._actor_np, normalized, state)
        else:
            params = acting_forward(self._actor_np, normalized)
        actions = self.envs.distribution.sample_numpy(self.sampler.rng if rng is None else rng, params, deterministic)
        space = self.envs.action_space
        if isinstance(space, gym.spaces.Box):
            actions = np.clip(actions, space.low, space.high)
        actions = actions[0] if single else actions
        if recurrent:
            return actions, state[0] if single else state
        return actions

    def evaluate(
        self,
        episodes: int = 10,
        seed: int = DEFAULT_EVAL_SEED,
        deterministic: bool = True,
        video_dir: str | Path | None = None,
    ) -> dict[str, Any]:
        """Play `episodes` whole episodes on a fresh env (episode i reset with seed + i) and
        return {mean, std, episodes, returns, lengths} of the raw, undiscounted returns.
        Stochastic evaluation draws from its own generator seeded with `seed`, so it is
        repeatable and leaves training's random stream alone. With `video_dir`, every episode
        is recorded as an MP4 there (needs `pip install 'trpo[video]'`). An env that raises or
        returns a NaN or infinite observation or reward stops it with an EnvFault."""
        if video_dir is None:
            env = make_one(self.eval_env_factory, self.env_id)
        else:
            env = with_video(make_one(render_factory(self._env, self.make_kwargs), self.env_id), Path(video_dir))
        rng = np.random.default_rng(seed)
        if "core" in self._actor_np:
            env = EpisodeMemory(env, lambda obs, state: self.act(obs, deterministic, rng, state))
            act = env.act
        else:

            def act(obs: Any) -> np.ndarray:
                return self.act(obs, deterministic, rng)

        try:
            return play_episodes(env, act, episodes, seed, self.env_id)
        finally:
            env.close()

    # ------------------------------------------------------------------------------------------
    def _checkpoint_contents(
        self, rng_state: list[dict[str, Any]] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, counters = state_arrays(self.train_state)
        under_way = self._next_batch
        if under_way is not None:
            # The state is that of the last completed iteration: the noise streams and the
            # episodes as they were before the batch under way began.
            rng_state = under_way.rng_state if rng_state is None else rng_state
        meta = checkpoint_meta(
            self.env_id,
            self.make_kwargs,
            self.config,
            self.envs.obs_spec,
            self.envs.action_space,
            counters,
            self.train_wall_s,
            self.sampler.rng_state() if rng_state is None else rng_state,
            list(self.sampler.finished_episodes) if under_way is None else under_way.episodes,
        )
        return arrays, meta

    def save_checkpoint(
        self, checkpoints: checkpoint.CheckpointDir, rng_state: list[dict[str, Any]] | None = None
    ) -> Path:
        """Write a checkpoint of the current state; `rng_state` replaces the noise generators'
        current state (an interrupted batch saves theirs from before it)."""
        arrays, meta = self._checkpoint_contents(rng_state)
        return checkpoints.write(self.iteration, arrays, meta)

    def save(self, path: str | Path) -> None:
        """Everything needed to act and to continue training, written atomically to `path`."""
        arrays, meta = self._checkpoint_contents()
        checkpoint.save(Path(path), arrays, meta)

    @classmethod
    def load(cls, path: str | Path, env: str | EnvFactory | None = None, **config_changes: Any) -> TRPO:
        """Restore an agent saved by save() (or a run directory's checkpoint). Envs start fresh
        episodes: their simulator state is not part of a checkpoint."""
        arrays, meta = checkpoint.load(Path(path))
        config = TRPOConfig.from_dict(meta["config"], source=f"{path} config").replace(**config_changes)
        agent = cls(env if env is not None else meta["env_id"], config, meta.get("make_kwargs"))
        agent.restore(arrays, meta, str(path))
        return agent

    def restore(self, arrays: dict[str, np.ndarray], meta: dict[str, Any], source: str) -> None:
        # Checkpoints from before images were supported hold only the vector size.
        saved = meta.get("observation") or f"vector of size {meta['obs_dim']}"
        here = self.envs.obs_spec.describe
        if (saved, meta["action_space"]) != (here, str(self.envs.action_space)):
            raise checkpoint.CheckpointError(
                f"{source}: the checkpoint is from {meta.get('env_id')} (observations: {saved}; actions: "
                f"{meta['action_space']}), but {self.env_id} has observations: {here}; actions: "
                f"{self.envs.action_space}: load it with the env it was trained on"
            )
        state = restore_state(self.train_state, arrays, meta, source)
        # The envs start fresh episodes (below): their running discounted returns restart at 0.
        self.train_state = state._replace(
            reward_stats=state.reward_stats._replace(trace=self.train_state.reward_stats.trace)
        )
        rng_state = meta["numpy_rng"]
        # The simulators' states are not saved: the envs start fresh episodes, seeded from the
        # run's seed and iteration so that a resumed run is itself repeatable.
        restart_seed = int(np.random.SeedSequence([self.config.seed, int(meta["iteration"])]).generate_state(1)[0])
        self.sampler.restore(
            rng_state if isinstance(rng_state, list) else [rng_state],
            [(float(r), int(n)) for r, n in meta.get("finished_episodes", [])],
            restart_seed,
        )
        self.envs.env_steps = self.global_step // self.config.num_envs
        self.train_wall_s = float(meta.get("train_wall_s", 0.0))
        self._actor_np = to_acting(self.state.actor, self.state.critic)

    def close(self) -> None:
        if self._next_batch is not None:
            self._next_batch.thread.join()  # the envs must not close under a rollout
            self._next_batch = None
        self.sampler.close()
        if self.config.sampler != "local":
            self.envs.close()


class NextBatch:
    """The next batch, collected in a thread (the envs step while the critic fit runs; XLA and
    MuJoCo release the GIL). Holds what a checkpoint of the last completed iteration needs: the
    noise streams' state and the finished episodes from before the batch began."""

    def __init__(self, sampler: Sampler, actor_np: Any, normalizer: ObservationNormalizer, check_stop: Any):
        self.rng_state = sampler.rng_state()
        self.episodes = list(sampler.finished_episodes)
        self._batch: Batch | None = None
        self._error: BaseException | None = None
        self._seconds = 0.0
        self.thread = threading.Thread(
            target=self._collect, args=(sampler, actor_np, normalizer, check_stop), name="trpo-rollout", daemon=True
        )
        self.thread.start()

    def _collect(self, sampler: Sampler, actor_np: Any, normalizer: ObservationNormalizer, check_stop: Any) -> None:
        start = time.perf_counter()
        try:
            self._batch = sampler.collect(actor_np, normalizer, check_stop)
        except BaseException as error:  # re-raised in the training thread by result()
            self._error = error
        self._seconds = time.perf_counter() - start

    def result(self) -> tuple[Batch, float]:
        """The batch and the seconds its collection took; raises what the collection raised
        (an EnvFault, or TrainingInterrupted from check_stop)."""
        self.thread.join()
        if self._error is not None:
            raise self._error
        assert self._batch is not None
        return self._batch, self._seconds
