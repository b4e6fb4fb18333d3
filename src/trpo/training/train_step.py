"""The training state and one training step: what both training paths do with a collected batch.

`train_step(state, raw_batch)` folds the batch into the observation and reward statistics,
normalises the batch with them, scales the rewards, sets the critic's learning-rate schedule,
runs `learner.update` and counts. The Gymnasium path (trpo.training.agent) calls it after its NumPy
sampler collected a batch, with `xp=np` (float64 statistics on the host; the update is jitted);
the compiled path (trpo.training.compiled) calls it inside its scan after its JAX collector, with
`xp=jnp`. There is no other copy of these stages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from trpo.config import TRPOConfig
from trpo.learning.batch import Batch
from trpo.learning.learner import LearnerState
from trpo.learning.networks import rescale_vector_inputs
from trpo.learning.normalization import (
    EPSILON,
    RewardStats,
    RunningStats,
    init_reward_stats,
    init_stats,
    normalize,
    scale_rewards,
    update_reward_stats,
    update_stats,
    vector_part,
)
from trpo.learning.observations import ObservationSpec
from trpo.training import checkpoint
from trpo.version import __version__

Update = Callable[[LearnerState, Batch, Any], tuple[LearnerState, dict[str, Any]]]
"""learner.update with its config bound: (state, normalised batch, critic lr scale) -> (state, stats)"""


class TrainState(NamedTuple):
    """Everything training carries from one iteration to the next."""

    learner: LearnerState
    """actor, critic, critic optimiser state, and the learner's random key"""
    obs_stats: RunningStats
    """running statistics of the raw observations (their vector part)"""
    reward_stats: RewardStats
    """running statistics of the discounted returns, and each env's running trace"""
    global_step: Any
    iteration: Any
    skipped_updates: Any
    """updates skipped for a non-finite value, so far"""
    lr_horizon: Any
    """global step at which a decayed critic learning rate reaches 0 (0: not set yet). The run's
    budget where it is known, so that training in several calls follows one schedule"""


def init_train_state(learner: LearnerState, obs_dim: int, num_envs: int, xp: Any = np) -> TrainState:
    int_type = np.int64 if xp is np else jnp.int32
    zero = xp.zeros((), int_type)
    return TrainState(
        learner=learner,
        obs_stats=init_stats((obs_dim,), xp),
        reward_stats=init_reward_stats(num_envs, xp),
        global_step=zero,
        iteration=zero,
        skipped_updates=zero,
        lr_horizon=zero,
    )


def linear_decay(step: Any, horizon: Any, xp: Any = np) -> Any:
    """Learning-rate multiplier 1 - step / horizon, floored at 0 (1 when there is no horizon)."""
    fraction = step / xp.maximum(horizon, 1)
    return xp.where(horizon > 0, xp.maximum(0.0, 1.0 - fraction), 1.0)


def normalize_batch(stats: RunningStats, reward_stats: RewardStats, raw: Batch, config: TRPOConfig, xp: Any) -> Batch:
    """The batch as the learner sees it: observations normalised, rewards scaled (each only where
    the config asks for it)."""

    def obs(o: Any) -> Any:
        if not config.normalize_obs:
            return np.asarray(o, np.float32) if xp is np and not isinstance(o, dict) else o
        return normalize(stats, o, config.obs_clip, xp)

    rewards = raw.rewards
    if config.normalize_rewards:
        rewards = scale_rewards(reward_stats, raw.rewards, config.reward_clip, xp)
    elif xp is np:
        rewards = np.asarray(rewards, np.float32)
    return raw._replace(obs=obs(raw.obs), rewards=rewards, final_obs=obs(raw.final_obs), last_obs=obs(raw.last_obs))


def keep_networks_under_new_statistics(
    learner: LearnerState, old: RunningStats, new: RunningStats, xp: Any = np
) -> LearnerState:
    """The actor and the critic rewritten for observations normalised with `new` instead of
    `old`, computing the same outputs (networks.rescale_vector_inputs). Before any data the
    statistics (0 and 1) are a placeholder, not a normalisation the networks have learnt under:
    the first batch replaces them and the networks keep their weights (an initial actor's output
    hardly depends on its input, its head is scaled by 0.01). Rescaling then would shrink or blow
    up the initial weights by the raw observations' scale: CartPole's defaults, seed 0, ended at
    138 instead of 500."""
    seen = old.count > 0
    old_mean = xp.where(seen, old.mean, new.mean)
    old_std = xp.sqrt(xp.where(seen, old.var, new.var) + EPSILON)
    new_std = xp.sqrt(new.var + EPSILON)

    def rescale(params):
        return rescale_vector_inputs(params, old_mean, old_std, new.mean, new_std)

    return learner._replace(actor=rescale(learner.actor), critic=rescale(learner.critic))


def train_step(
    state: TrainState,
    raw: Batch,
    config: TRPOConfig,
    update: Update,
    xp: Any = np,
    after_policy: Callable[[Any, RunningStats], Any] | None = None,
) -> tuple[TrainState, dict[str, Any]]:
    """One iteration's learning from a raw batch (observations as the envs gave them).

    The observation statistics take in the batch first and the batch is normalised with them,
    so the update and the next rollout work in one normalisation (as in OpenAI Baselines). pi_old
    in the policy step is then the actor on the batch so renormalised, not exactly the policy that
    collected it; with `exact_pi_old` the first layers of the actor and the critic absorb the
    change of statistics (networks.rescale_vector_inputs), so that pi_old is exactly the collecting
    policy and the critic the one that valued the batch. Rewards are scaled by the return
    statistics with this batch taken in. Returns the new state and the update's statistics
    (train/*, train/skipped among them).

    `after_policy(actor, obs_stats)`, for Learner.update (the Gymnasium path): called once the
    policy step is done, with the new actor and the statistics with this batch taken in, which
    is all the next rollout needs.

    Measured at 1M steps (presets, final deterministic eval, seeds 0 and 1): Hopper-v5 3419 and
    3293 without, 1243 and 2727 with `exact_pi_old`; Walker2d-v5 5318 and 5366 without, 4538 and
    4347 with (docs/results.md, "pi_old and the observation statistics"). A third order, normalising the batch
    with the statistics from before it and folding it in afterwards (pi_old exact, but the updated
    policy then acts under statistics it was not optimised for), gave Hopper 1824 and 3666 (seeds
    0, 1; 3419 and 3293 without) and Walker2d 4382 and 1050 (5318 and 5366)."""
    obs_stats, reward_stats, learner = state.obs_stats, state.reward_stats, state.learner
    if config.normalize_rewards:
        ends = raw.terminated | raw.truncated
        reward_stats = update_reward_stats(reward_stats, raw.rewards, ends, config.gamma, xp)
    if config.normalize_obs and np.shape(obs_stats.mean) != (0,):
        obs_stats = update_stats(obs_stats, vector_part(raw.obs), xp)
        if config.exact_pi_old:
            learner = keep_networks_under_new_statistics(learner, state.obs_stats, obs_stats, xp)
    batch = normalize_batch(obs_stats, reward_stats, raw, config, xp)
    lr_scale = linear_decay(state.global_step, state.lr_horizon, xp) if config.critic_lr_decay else 1.0
    if after_policy is None:
        learner, stats = update(learner, batch, lr_scale)
    else:
        new_stats = obs_stats
        learner, stats = update(learner, batch, lr_scale, after_policy=lambda a: after_policy(a, new_stats))
    skipped = xp.asarray(stats["train/skipped"]).astype(state.skipped_updates.dtype)
    state = TrainState(
        learner=learner,
        obs_stats=obs_stats,
        reward_stats=reward_stats,
        global_step=state.global_step + config.batch_size,
        iteration=state.iteration + 1,
        skipped_updates=state.skipped_updates + skipped,
        lr_horizon=state.lr_horizon,
    )
    return state, stats


# --- checkpoints: the state as named arrays plus counters and metadata ------------------------
COUNTERS = ("global_step", "iteration", "skipped_updates", "lr_horizon")


def state_arrays(state: TrainState) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """The state as a checkpoint holds it: named arrays, and the counters (for its metadata)."""
    obs, rewards = state.obs_stats, state.reward_stats
    arrays = {
        **checkpoint.flatten_tree("actor", state.learner.actor),
        **checkpoint.flatten_tree("critic", state.learner.critic),
        **checkpoint.flatten_tree("critic_opt", state.learner.critic_opt),
        "key": np.asarray(state.learner.key),
        **{f"obs_norm/{k}": np.asarray(v, np.float64) for k, v in obs._asdict().items()},
        **{f"reward_norm/{k}": np.asarray(v, np.float64) for k, v in rewards.returns._asdict().items()},
        "reward_norm/trace": np.asarray(rewards.trace, np.float64),
    }
    return arrays, {name: int(getattr(state, name)) for name in COUNTERS}


def restore_state(
    like: TrainState, arrays: dict[str, np.ndarray], meta: dict[str, Any], source: str, xp: Any = np
) -> TrainState:
    """The state state_arrays saved, shaped and typed like `like` (a fresh state of the same
    setup). Checkpoints of earlier versions lack the reward trace and the horizon: they start at 0."""
    learner = LearnerState(
        actor=checkpoint.unflatten_tree("actor", like.learner.actor, arrays, source),
        critic=checkpoint.unflatten_tree("critic", like.learner.critic, arrays, source),
        critic_opt=checkpoint.unflatten_tree("critic_opt", like.learner.critic_opt, arrays, source),
        key=arrays["key"],
    )
    learner = jax.tree.map(jnp.asarray, learner)

    def stats(prefix: str, template: RunningStats) -> RunningStats:
        saved = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix) and k != "reward_norm/trace"}
        if not saved:
            return template
        return RunningStats(*(xp.asarray(saved[name], template.mean.dtype) for name in RunningStats._fields))

    trace = arrays.get("reward_norm/trace")
    reward_stats = RewardStats(
        stats("reward_norm/", like.reward_stats.returns),
        like.reward_stats.trace if trace is None else xp.asarray(trace, like.reward_stats.trace.dtype),
    )
    counters = {name: xp.asarray(int(meta.get(name, 0)), like.global_step.dtype) for name in COUNTERS}
    return TrainState(learner, stats("obs_norm/", like.obs_stats), reward_stats, **counters)


def checkpoint_meta(
    env_id: str,
    make_kwargs: dict[str, Any],
    config: TRPOConfig,
    observation: ObservationSpec,
    action_space: Any,
    counters: dict[str, int],
    train_wall_s: float,
    numpy_rng: list[dict[str, Any]],
    finished_episodes: list[tuple[float, int]],
    **extra: Any,
) -> dict[str, Any]:
    """A checkpoint's metadata, the same on both paths: what made the run (env, config, spaces),
    state_arrays' counters, the NumPy noise streams, the recent finished episodes."""
    return {
        "trpo_version": __version__,
        "env_id": env_id,
        "make_kwargs": dict(make_kwargs),
        "config": config.to_dict(),
        "obs_dim": observation.vector_dim,
        "observation": observation.describe,
        "action_space": str(action_space),
        **counters,
        "train_wall_s": train_wall_s,
        "numpy_rng": numpy_rng,
        "finished_episodes": [(float(r), int(n)) for r, n in finished_episodes],
        **extra,
    }
