"""One TRPO iteration on a batch: advantages, the policy step, the critic fit.

`policy_step` is the function to hold against the paper (Schulman et al., 2015, section 6 and
appendix C). `update` chains the stages as one pure function, `policy_stage` (advantages and the
policy step) then `critic_stage` (the critic fit): the compiled training loop
(trpo.training.compiled) calls it inside its scan; the Learner jits the two stages apart, once per
config, so that the Gymnasium loop can start the next rollout between them.

Recurrent policies (a batch with episode_starts and initial states) run the same stages on whole
sequences: the actor's inputs are `Sequences` (the rollout, time-major, unrolled from the stored
initial state with resets at episode starts), so the surrogate, the KL, the Fisher-vector
product and the line search see each env's rollout as one sequence; the critic is fitted on
minibatches of whole env sequences.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from trpo.config import TRPOConfig
from trpo.learning.advantages import gae, next_state_values
from trpo.learning.batch import Batch
from trpo.learning.distributions import Distribution
from trpo.learning.networks import (
    Params,
    actor_forward,
    critic_forward,
    critic_sequence_values,
    init_actor,
    init_critic,
)
from trpo.learning.observations import ObservationSpec
from trpo.learning.recurrent import Sequences
from trpo.learning.trust_region import (
    backtracking_line_search,
    conjugate_gradient,
    linearized_fisher,
    scale_to_trust_region,
)


class LearnerState(NamedTuple):
    actor: Params
    critic: Params
    critic_opt: Any
    key: jax.Array


class PolicyStats(NamedTuple):
    kl: jax.Array
    surrogate_gain: jax.Array
    step_fraction: jax.Array
    line_search_accepted: jax.Array
    cg_residual: jax.Array
    entropy: jax.Array
    skipped: jax.Array


def compute_advantages(
    critic: Params, batch: Batch, gamma: float, gae_lambda: float, normalize: bool
) -> dict[str, jax.Array]:
    """GAE advantages (scaled to zero mean, unit std if `normalize`), lambda-returns
    (raw advantages + V) and V, flattened to [T * N]."""
    if batch.critic_state is not None:
        sequences = Sequences(batch.obs, batch.episode_starts, batch.critic_state)
        values, final_values, last_value = critic_sequence_values(critic, sequences, batch.final_obs, batch.last_obs)
    else:
        values = critic_forward(critic, batch.obs)
        last_value = critic_forward(critic, batch.last_obs)
        if "cnn" in critic:
            # final_obs is read only where an episode was truncated, rare with images (Atari's limit
            # is 108k frames): skip the CNN's pass over T * N images when no row needs it.
            final_values = jax.lax.cond(
                jnp.any(batch.truncated),
                lambda: critic_forward(critic, batch.final_obs),
                lambda: jnp.zeros(batch.truncated.shape, values.dtype),
            )
        else:
            final_values = critic_forward(critic, batch.final_obs)
    next_values = next_state_values(values, last_value, final_values, batch.truncated)
    advantages = gae(batch.rewards, values, next_values, batch.terminated, batch.truncated, gamma, gae_lambda)
    returns = (advantages + values).reshape(-1)
    advantages = advantages.reshape(-1)
    if normalize:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    return {"advantages": advantages, "returns": returns, "values": values.reshape(-1)}


def fisher_samples(obs: Any, k: int) -> Any:
    """Every k-th sample of each env's time series, for the Fisher estimate: [T, N, ...] ->
    [ceil(T * N / k), ...]. Taken in env-major order, so every env contributes (with k <= T);
    every k-th of the time-major flattening would take only N / gcd(k, N) of the envs (k = 4 on
    8 envs: envs 0 and 4). k = 1 is the whole batch, time-major, as the other stages see it.
    Sequences (a recurrent actor's input): every k-th env's whole sequence."""
    if isinstance(obs, Sequences):
        return obs if k == 1 else env_sequences(obs, slice(None, None, k))
    if k == 1:
        return jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), obs)
    return jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1).reshape(-1, *x.shape[2:])[::k], obs)


def env_sequences(seq: Sequences, envs: Any) -> Sequences:
    """The sequences of the envs `envs` (an index or slice over N)."""
    return Sequences(jax.tree.map(lambda x: x[:, envs], seq.obs), seq.starts[:, envs], seq.initial[envs])


def batch_inputs(batch: Batch, initial_state: Any) -> Any:
    """A network's inputs over the batch: a recurrent network's Sequences (the rollout unrolled
    from its stored `initial_state`, resetting at episode starts), else the observations
    flattened to [T * N, ...] (every observation part)."""
    if initial_state is not None:
        return Sequences(batch.obs, batch.episode_starts, initial_state)
    n = batch.rewards.size
    return jax.tree.map(lambda x: x.reshape(n, *x.shape[2:]), batch.obs)


def policy_step(
    actor: Params,
    obs: Any,
    actions: jax.Array,
    advantages: jax.Array,
    dist: Distribution,
    config: TRPOConfig,
    fisher_obs: Any = None,
) -> tuple[Params, PolicyStats]:
    """maximise L(theta) = mean(pi_theta(a|s) / pi_old(a|s) * A) s.t. mean KL(pi_old || pi_theta) <= max_kl
    (plus entropy_coef * mean entropy of pi_theta, when config.entropy_coef > 0).

    `obs`: the observations [B, ...], or a recurrent actor's Sequences (then `actions` and
    `advantages` are the flattened [T * N] rollout, time-major). `fisher_obs`: the samples the
    Fisher is estimated on (update passes fisher_samples of the batch); by default every
    fisher_subsample-th of `obs` (of its envs, for Sequences)."""
    theta_old, unravel = ravel_pytree(actor)
    old_dist = jax.lax.stop_gradient(actor_forward(actor, obs))
    old_log_prob = dist.log_prob(old_dist, actions)

    def surrogate(theta):
        new_dist = actor_forward(unravel(theta), obs)
        gain = jnp.mean(jnp.exp(dist.log_prob(new_dist, actions) - old_log_prob) * advantages)
        if config.entropy_coef == 0.0:
            return gain
        # The entropy bonus is part of the objective: g, and the line search's improvement test.
        return gain + config.entropy_coef * jnp.mean(dist.entropy(new_dist))

    def mean_kl(theta):
        return jnp.mean(dist.kl(old_dist, actor_forward(unravel(theta), obs)))

    def surrogate_and_kl(theta):
        return surrogate(theta), mean_kl(theta)

    # The Fisher may be estimated on every k-th sample (OpenAI Baselines: k = 5): CG's many
    # products get k times cheaper, while g, the step size and the line search use the whole batch.
    if fisher_obs is None and isinstance(obs, Sequences):
        fisher_obs = fisher_samples(obs, config.fisher_subsample)
    elif fisher_obs is None:
        fisher_obs = jax.tree.map(lambda x: x[:: config.fisher_subsample], obs)
    fisher_old = jax.lax.stop_gradient(actor_forward(actor, fisher_obs))
    fisher = linearized_fisher(
        lambda theta: actor_forward(unravel(theta), fisher_obs),
        lambda new_dist: jnp.mean(dist.kl(fisher_old, new_dist)),
        theta_old,
        config.cg_damping,
    )

    # XLA on CPU runs the backward pass of a convolution an order of magnitude slower inside a
    # loop body (trust_region._run_loop): CG's products (a transposed JVP) are unrolled for CNN
    # actors. The line search is forward passes only, which run as fast in a while_loop: it
    # stays one, and stops at the first accepted step instead of evaluating every fraction.
    unroll = "cnn" in actor
    # 1. g = grad L at theta_old; 2. s ~ F^-1 g; 3. full step beta * s on the KL boundary.
    g = jax.grad(surrogate)(theta_old)
    direction, residual = conjugate_gradient(fisher, g, config.cg_iters, config.cg_residual_tol, unroll)
    full_step = scale_to_trust_region(direction, fisher(direction), config.max_kl)
    finite = jnp.all(jnp.isfinite(full_step))
    full_step = jnp.where(finite, full_step, 0.0)

    # 4. backtracking line search, or the plain natural-gradient step.
    if config.npg:
        theta = jnp.where(finite, theta_old + full_step, theta_old)
        gain, kl = surrogate_and_kl(theta)
        gain = gain - surrogate(theta_old)
        accepted, fraction = finite.astype(theta.dtype), finite.astype(theta.dtype)
    else:
        result = backtracking_line_search(
            surrogate_and_kl,
            theta_old,
            full_step,
            config.max_kl,
            config.backtrack_coeff,
            config.backtrack_iters,
        )
        theta, accepted, fraction, kl, gain = result
    stats = PolicyStats(
        kl=kl,
        surrogate_gain=gain,
        step_fraction=fraction,
        line_search_accepted=accepted,
        cg_residual=jnp.sqrt(residual),
        entropy=jnp.mean(dist.entropy(old_dist)),
        skipped=(~finite).astype(theta.dtype),
    )
    return unravel(theta), stats


def value_loss(predicted: jax.Array, old: jax.Array, target: jax.Array, clip: float) -> jax.Array:
    """Mean squared error to the target; with clip > 0, PPO's pessimistic clipped form
    max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2), which stops V moving far from V_old."""
    squared = (predicted - target) ** 2
    if clip <= 0:
        return jnp.mean(squared)
    clipped = old + jnp.clip(predicted - old, -clip, clip)
    return jnp.mean(jnp.maximum(squared, (clipped - target) ** 2))


def fit_critic(
    critic: Params,
    opt_state: Any,
    key: jax.Array,
    obs: Any,
    returns: jax.Array,
    old_values: jax.Array,
    lr_scale: jax.Array,
    optimizer: optax.GradientTransformation,
    epochs: int,
    minibatch: int,
    value_clip: float = 0.0,
) -> tuple[Params, Any, jax.Array]:
    """`epochs` shuffled passes of Adam minibatches on the value loss to the returns, each Adam
    step multiplied by lr_scale (Adam's step is linear in its learning rate, so this is Adam at
    lr * lr_scale). Returns (critic, optimiser state, mean loss of the last epoch).

    `obs` as Sequences (a recurrent critic, returns and old_values flattened time-major [T * N]):
    minibatches of whole env sequences, minibatch // T envs each (at least one)."""
    if isinstance(obs, Sequences):
        n_steps = obs.starts.shape[0]
        returns, old_values = returns.reshape(n_steps, -1), old_values.reshape(n_steps, -1)
        n, minibatch = returns.shape[1], max(1, minibatch // n_steps)

        def take(idx):
            return env_sequences(obs, idx), returns[:, idx].reshape(-1), old_values[:, idx].reshape(-1)
    else:
        n = returns.shape[0]

        def take(idx):
            return jax.tree.map(lambda x: x[idx], obs), returns[idx], old_values[idx]

    n_minibatches = n // minibatch

    def loss_fn(params, o, r, v_old):
        return value_loss(critic_forward(params, o), v_old, r, value_clip)

    def minibatch_step(carry, idx):
        params, state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params, *take(idx))
        updates, state = optimizer.update(grads, state, params)
        updates = jax.tree.map(lambda u: u * lr_scale, updates)
        return (optax.apply_updates(params, updates), state), loss

    def epoch(carry, epoch_key):
        order = jax.random.permutation(epoch_key, n)[: n_minibatches * minibatch]
        carry, losses = scan(minibatch_step, carry, order.reshape(n_minibatches, minibatch))
        return carry, jnp.mean(losses)

    # XLA on CPU runs convolutions slowly inside loop bodies (see trust_region._run_loop):
    # unroll the loops for a CNN critic.
    scan = _unrolled_scan if "cnn" in critic else jax.lax.scan
    (critic, opt_state), epoch_losses = scan(epoch, (critic, opt_state), jax.random.split(key, epochs))
    return critic, opt_state, epoch_losses[-1]


def all_finite(tree: Any) -> jax.Array:
    """True when every element of every leaf is finite."""
    return jnp.all(jnp.array([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]))


def _unrolled_scan(f: Any, carry: Any, xs: jax.Array) -> tuple[Any, jax.Array]:
    """lax.scan(f, carry, xs) as straight-line code (xs a stacked array, ys scalars)."""
    ys = []
    for i in range(xs.shape[0]):
        carry, y = f(carry, xs[i])
        ys.append(y)
    return carry, jnp.stack(ys)


def explained_variance(predicted: jax.Array, target: jax.Array) -> jax.Array:
    """1 - Var(target - predicted) / Var(target): 1 is perfect, 0 is no better than a constant."""
    var = jnp.var(target)
    return jnp.where(var > 0, 1.0 - jnp.var(target - predicted) / var, jnp.nan)


def critic_optimizer(config: TRPOConfig) -> optax.GradientTransformation:
    """The critic's optimiser. One definition for the init (its state) and the critic stage (its
    updates): the two must agree, or the stage gets an optimiser state of another shape."""
    return optax.adam(config.critic_lr)


def init_state(
    key: jax.Array,
    config: TRPOConfig,
    dist: Distribution,
    obs: int | ObservationSpec,
    optimizer: optax.GradientTransformation,
) -> LearnerState:
    """Fresh actor, critic and critic optimiser for observations of a vector size or an
    ObservationSpec (images: a CNN each); the key is split as (actor, critic, learner)."""
    actor_key, critic_key, key = jax.random.split(key, 3)
    core = (config.recurrent, config.recurrent_size)
    actor = init_actor(actor_key, obs, config.hidden_sizes, dist, config.log_std_init, config.cnn, *core)
    critic = init_critic(critic_key, obs, config.critic_sizes, config.cnn, *core)
    return LearnerState(actor, critic, optimizer.init(critic), key)


def policy_stage(
    state: LearnerState, batch: Batch, config: TRPOConfig, dist: Distribution
) -> tuple[Params, dict[str, jax.Array], dict[str, jax.Array]]:
    """The first half of update(): advantages with the current critic, then the policy step.
    Returns (actor, targets for the critic fit, stats). A non-finite step or actor keeps the old
    actor bit for bit (stats["train/skipped"] is 1). The next rollout needs only this half."""
    targets = compute_advantages(state.critic, batch, config.gamma, config.gae_lambda, config.normalize_advantages)
    n = batch.rewards.size
    actions = batch.actions.reshape(n, *batch.actions.shape[2:])
    obs = batch_inputs(batch, batch.actor_state)
    # The Fisher's samples are taken per env, from the [T, N] layout (or whole env sequences).
    fisher_obs = fisher_samples(obs if isinstance(obs, Sequences) else batch.obs, config.fisher_subsample)
    actor, policy_stats = policy_step(state.actor, obs, actions, targets["advantages"], dist, config, fisher_obs)
    stats = {f"train/{name}": value for name, value in policy_stats._asdict().items()}
    stats["train/explained_variance"] = explained_variance(targets["values"], targets["returns"])
    skip = (stats["train/skipped"] > 0) | ~all_finite(actor)
    stats["train/skipped"] = skip.astype(stats["train/skipped"].dtype)
    actor = jax.tree.map(lambda old, new: jnp.where(skip, old, new), state.actor, actor)
    return actor, {"returns": targets["returns"], "values": targets["values"]}, stats


def critic_stage(
    state: LearnerState,
    batch: Batch,
    targets: dict[str, jax.Array],
    policy_skipped: jax.Array,
    config: TRPOConfig,
    optimizer: optax.GradientTransformation,
    critic_lr_scale: jax.Array | float = 1.0,
) -> tuple[Params, Any, jax.Array, dict[str, jax.Array]]:
    """The second half of update(): the critic fit on policy_stage's targets (its learning rate
    multiplied by critic_lr_scale). Returns (critic, optimiser state, key, stats). A skipped policy
    step or a non-finite critic, optimiser state or loss keeps the old critic and optimiser state
    bit for bit (stats["train/skipped"] is then 1)."""
    critic_obs = batch_inputs(batch, batch.critic_state)
    critic_key, key = jax.random.split(state.key)
    critic, critic_opt, value_loss = fit_critic(
        state.critic,
        state.critic_opt,
        critic_key,
        critic_obs,
        targets["returns"],
        targets["values"],
        critic_lr_scale,
        optimizer,
        config.critic_epochs,
        config.critic_minibatch,
        config.value_clip,
    )
    skip = (policy_skipped > 0) | ~all_finite((critic, critic_opt, value_loss))
    critic, critic_opt = jax.tree.map(
        lambda old, new: jnp.where(skip, old, new), (state.critic, state.critic_opt), (critic, critic_opt)
    )
    return critic, critic_opt, key, {"train/value_loss": value_loss, "train/skipped": skip.astype(value_loss.dtype)}


def merge_stats(policy: dict[str, Any], critic: dict[str, Any], xp: Any = jnp) -> dict[str, Any]:
    """One update's stats: the policy step's, the critic's loss, skipped if either stage was
    (`xp=np` on values already on the host: no device call)."""
    stats = {name: value for name, value in policy.items() if name != "train/explained_variance"}
    stats["train/skipped"] = xp.maximum(policy["train/skipped"], critic["train/skipped"])
    stats["train/value_loss"] = critic["train/value_loss"]
    stats["train/explained_variance"] = policy["train/explained_variance"]
    return stats


def update(
    state: LearnerState,
    batch: Batch,
    config: TRPOConfig,
    dist: Distribution,
    optimizer: optax.GradientTransformation,
    critic_lr_scale: jax.Array | float = 1.0,
) -> tuple[LearnerState, dict[str, jax.Array]]:
    """One TRPO iteration on a batch, as a pure function: advantages with the current critic,
    then the policy step, then the critic fit (its learning rate multiplied by critic_lr_scale).
    The compiled path (trpo.training.compiled) calls it inside its training scan; the Gymnasium
    path jits its two stages apart (Learner.update), so that the next rollout can start once the
    policy step is done.

    A non-finite value in the policy step (loss, gradient, step, new actor) skips the whole
    update: actor, critic and optimiser state stay as they were, bit for bit. A non-finite critic
    fit keeps the old critic and optimiser state; the policy step, made with the old critic's
    (finite) advantages, stands."""
    actor, targets, policy_stats = policy_stage(state, batch, config, dist)
    critic, critic_opt, key, critic_stats = critic_stage(
        state, batch, targets, policy_stats["train/skipped"], config, optimizer, critic_lr_scale
    )
    return LearnerState(actor, critic, critic_opt, key), merge_stats(policy_stats, critic_stats)


class Learner:
    """Holds the jitted update for one config, distribution and observation space (a vector
    size or an ObservationSpec)."""

    def __init__(self, config: TRPOConfig, dist: Distribution, obs: int | ObservationSpec):
        self.config = config
        self.dist = dist
        self.obs = obs
        self._policy_stage, self._critic_stage = _jitted_stages(config.replace(seed=0), dist)

    def init(self, key: jax.Array | int) -> LearnerState:
        """The initial state from a random key, or from an int seed (the key `jax.random.PRNGKey(seed)`,
        made inside the same jitted call, so that it costs no compilation of its own)."""
        from_key, from_seed = _jitted_inits(self.config.replace(seed=0), self.dist, self.obs)
        if isinstance(key, int):
            # PRNGKey keeps a seed's low 32 bits (JAX without x64), as it does outside jit.
            return from_seed(np.uint32(key % 2**32))
        return from_key(key)

    def update(
        self,
        state: LearnerState,
        batch: Batch,
        critic_lr_scale: float = 1.0,
        after_policy: Callable[[Params], Any] | None = None,
    ) -> tuple[LearnerState, dict[str, float]]:
        """Advantages with the current critic, then the policy step, then the critic fit (its
        learning rate multiplied by critic_lr_scale): update() in two jitted stages.

        `after_policy(actor)` is called with the new actor between the two, while the critic fit
        has not started: the Gymnasium loop starts the next rollout there, to run beside the
        critic fit. A non-finite value skips as update() says (stats["train/skipped"] is 1)."""
        actor, targets, policy_stats = self._policy_stage(state, batch)
        if after_policy is not None:
            after_policy(actor)
        critic, critic_opt, key, critic_stats = self._critic_stage(
            state, batch, targets, policy_stats["train/skipped"], critic_lr_scale=np.float32(critic_lr_scale)
        )
        # On the host: merged on the device, each of these small operations would compile its own program.
        stats = merge_stats(*jax.device_get((policy_stats, critic_stats)), xp=np)
        return LearnerState(actor, critic, critic_opt, key), {name: float(value) for name, value in stats.items()}


@lru_cache(maxsize=16)
def _jitted_inits(config: TRPOConfig, dist: Distribution, obs: int | ObservationSpec) -> tuple[Any, Any]:
    """The jitted init from a key and from an int seed, shared like _jitted_stages. One jitted call:
    eagerly, each orthogonal init compiles its own QR, seconds per shape."""
    init = partial(init_state, config=config, dist=dist, obs=obs, optimizer=critic_optimizer(config))

    def init_from_seed(seed: jax.Array) -> LearnerState:
        return init(jax.random.PRNGKey(seed))

    return jax.jit(init), jax.jit(init_from_seed)


@lru_cache(maxsize=16)
def _jitted_stages(config: TRPOConfig, dist: Distribution) -> tuple[Any, Any]:
    """The jitted policy and critic stages for a config, shared by every Learner with that config
    (the seed does not matter to them), so another agent in the same process (a reload, a second
    seed, a test) does not compile them again."""
    optimizer = critic_optimizer(config)
    return (
        jax.jit(partial(policy_stage, config=config, dist=dist)),
        jax.jit(partial(critic_stage, config=config, optimizer=optimizer)),
    )
