"""The critic's implementation choices (value clipping, learning-rate decay) and the new config
fields, against hand derivations."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from trpo.config import ConfigError, TRPOConfig
from trpo.learning.learner import fit_critic, value_loss
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
