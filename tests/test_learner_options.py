"""The critic's implementation choices (value clipping, learning-rate decay) and the new config
fields, against hand derivations."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from trpo.config import ConfigError, TRPOConfig
from trpo.learning.learner import fisher_samples, fit_critic, value_loss
from trpo.learning.networks import critic_forward, init_critic
from trpo.training.train_step import linear_decay


def test_value_loss_without_clip_is_the_mean_squared_error():
    # errors 1, -2 -> (1 + 4) / 2 = 2.5
    assert float(value_loss(jnp.array([1.0, 0.0]), jnp.zeros(2), jnp.array([0.0, 2.0]), 0.0)) == 2.5


def test_value_loss_with_clip_takes_the_pessimistic_branch():
    # Sample 1: V=3, V_old=0, R=4, c=1: unclipped (3-4)^2 = 1, clipped V' = 0+1 = 1 -> (1-4)^2 = 9 -> 9.
    # Sample 2: V=0.5, V_old=0, R=0: both branches (0.5)^2 = 0.25 (inside the clip range) -> 0.25.
    # Sample 3: V=-3, V_old=0, R=-4: unclipped 1, clipped V'=-1 -> 9 -> 9.
    # Sample 4: V=3, V_old=0, R=0: unclipped 9, clipped V'=1 -> 1 -> max 9.
    predicted = jnp.array([3.0, 0.5, -3.0, 3.0])
    target = jnp.array([4.0, 0.0, -4.0, 0.0])
    loss = value_loss(predicted, jnp.zeros(4), target, 1.0)
    assert float(loss) == pytest.approx((9 + 0.25 + 9 + 9) / 4)


def critic_problem(seed=0, n=64, obs_dim=3):
    keys = jax.random.split(jax.random.PRNGKey(seed), 3)
    critic = init_critic(keys[0], obs_dim, (8,))
    obs = jax.random.normal(keys[1], (n, obs_dim))
    returns = jax.random.normal(keys[2], (n,)) * 3.0
    return critic, obs, returns


def run_fit(lr, lr_scale, value_clip=0.0, epochs=3):
    critic, obs, returns = critic_problem()
    optimizer = optax.adam(lr)
    old_values = critic_forward(critic, obs)
    return fit_critic(
        critic,
        optimizer.init(critic),
        jax.random.PRNGKey(5),
        obs,
        returns,
        old_values,
        jnp.float32(lr_scale),
        optimizer,
        epochs=epochs,
        minibatch=16,
        value_clip=value_clip,
    )


def test_scaled_critic_step_equals_adam_at_the_scaled_learning_rate():
    # Adam's update is lr * m_hat / (sqrt(v_hat) + eps): linear in lr, so scaling the update by
    # 0.25 must equal running Adam with lr / 4 from the same state.
    scaled, _, _ = run_fit(1e-2, 0.25)
    reference, _, _ = run_fit(2.5e-3, 1.0)
    for a, b in zip(jax.tree.leaves(scaled), jax.tree.leaves(reference), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_zero_learning_rate_scale_leaves_the_critic_unchanged():
    critic, _, _ = critic_problem()
    fitted, _, _ = run_fit(1e-2, 0.0)
    for a, b in zip(jax.tree.leaves(critic), jax.tree.leaves(fitted), strict=True):
        np.testing.assert_array_equal(a, b)


def test_value_clip_slows_the_critic_fit():
    critic, obs, returns = critic_problem()
    clipped, _, _ = run_fit(3e-2, 1.0, value_clip=0.01, epochs=5)
    free, _, _ = run_fit(3e-2, 1.0, value_clip=0.0, epochs=5)
    before = critic_forward(critic, obs)
    moved = lambda params: float(jnp.max(jnp.abs(critic_forward(params, obs) - before)))
    mse = lambda params: float(jnp.mean((critic_forward(params, obs) - returns) ** 2))
    assert mse(free) < mse(clipped)
    assert moved(clipped) < moved(free)


def test_linear_decay():
    assert linear_decay(0, 1000) == 1.0
    assert linear_decay(250, 1000) == 0.75
    assert linear_decay(1000, 1000) == 0.0
    assert linear_decay(1500, 1000) == 0.0
    assert linear_decay(10, 0) == 1.0


@pytest.mark.parametrize(
    "field, value",
    [("fisher_subsample", 0), ("fisher_subsample", 10_000), ("value_clip", -0.1), ("reward_clip", 0.0)],
)
def test_config_rejects_bad_new_fields(field, value):
    with pytest.raises(ConfigError, match=field):
        TRPOConfig(**{field: value})


def test_fisher_samples_take_every_env():
    # obs[t, n] = 10 t + n, T = 6 steps, N = 4 envs, k = 2. Every 2nd sample of the time-major
    # flattening (10t + n in order 0, 1, 2, 3, 10, ...) holds only envs 0 and 2; every 2nd of each
    # env's series holds all four: 12 samples, 3 per env (t = 0, 2, 4).
    obs = jnp.asarray(10 * np.arange(6)[:, None] + np.arange(4)[None, :], jnp.float32)[..., None]
    time_major = np.asarray(obs).reshape(-1)[::2]
    assert sorted(set(time_major.astype(int) % 10)) == [0, 2]
    picked = np.asarray(fisher_samples(obs, 2))[:, 0].astype(int)
    assert picked.shape == (12,) and sorted(picked) == sorted(10 * t + n for n in range(4) for t in (0, 2, 4))
    # k = 1 keeps the batch's own (time-major) order, as every other stage sees it.
    np.testing.assert_array_equal(fisher_samples(obs, 1), np.asarray(obs).reshape(24, 1))


def test_update_estimates_the_fisher_on_every_env():
    # With the Fisher on 2 of 4 envs' states the natural step would be another one: update's
    # step must equal policy_step's given fisher_samples, and differ from every-kth time-major.
    from trpo.learning.batch import Batch
    from trpo.learning.distributions import DiagGaussian
    from trpo.learning.learner import compute_advantages, init_state, policy_step, update

    dist, config = (
        DiagGaussian(action_dim=1),
        TRPOConfig(hidden_sizes=(8,), fisher_subsample=2, npg=True, critic_minibatch=16),
    )
    optimizer = optax.adam(config.critic_lr)
    state = init_state(jax.random.PRNGKey(0), config, dist, 3, optimizer)
    rng = np.random.default_rng(0)
    steps, envs = 8, 4
    batch = Batch(
        obs=jnp.asarray(rng.normal(size=(steps, envs, 3)) * (1 + np.arange(envs))[None, :, None], jnp.float32),
        actions=jnp.asarray(rng.normal(size=(steps, envs, 1)), jnp.float32),
        rewards=jnp.asarray(rng.normal(size=(steps, envs)), jnp.float32),
        terminated=jnp.zeros((steps, envs), bool),
        truncated=jnp.zeros((steps, envs), bool),
        final_obs=jnp.zeros((steps, envs, 3)),
        last_obs=jnp.zeros((envs, 3)),
    )
    new_state, stats = update(state, batch, config, dist, optimizer)
    assert stats["train/skipped"] == 0
    advantages = compute_advantages(state.critic, batch, config.gamma, config.gae_lambda, True)["advantages"]
    flat = batch.obs.reshape(-1, 3)
    args = (state.actor, flat, batch.actions.reshape(-1, 1), advantages, dist, config)
    every_env, _ = policy_step(*args, fisher_samples(batch.obs, 2))
    two_envs, _ = policy_step(*args)
    theta_old = ravel_pytree(state.actor)[0]
    step = lambda actor: np.asarray(ravel_pytree(actor)[0] - theta_old, np.float64)
    cosine = lambda a, b: a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    assert cosine(step(new_state.actor), step(every_env)) > 0.9999
    assert cosine(step(new_state.actor), step(two_envs)) < 0.999
