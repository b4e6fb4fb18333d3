"""GAE against hand-computed arrays and against a per-episode reference on real env batches."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from trpo.collect.rollout import Sampler
from trpo.envs.sync import SyncVectorEnv
from trpo.learning.advantages import gae, next_state_values
from trpo.learning.batch import Batch
from trpo.learning.normalization import ObservationNormalizer

# Three steps of one env, gamma = lambda = 0.5 (so gamma * lambda = 0.25), rewards 1, 2, 3,
# V = 1 everywhere, V after the last step = 4.
REWARDS = np.array([[1.0], [2.0], [3.0]])
VALUES = np.ones((3, 1))
LAST_VALUE = np.array([4.0])


def advantages_for(terminated, truncated, final_values):
    terminated = np.array(terminated, bool)[:, None]
    truncated = np.array(truncated, bool)[:, None]
    next_values = next_state_values(
        jnp.asarray(VALUES), jnp.asarray(LAST_VALUE), jnp.asarray(final_values, float)[:, None], truncated
    )
    return np.asarray(gae(jnp.asarray(REWARDS), jnp.asarray(VALUES), next_values, terminated, truncated, 0.5, 0.5))[
        :, 0
    ]


def test_gae_within_one_episode(x64):
    # delta = r + 0.5 * V(next) - V = [1 + 0.5 - 1, 2 + 0.5 - 1, 3 + 0.5 * 4 - 1] = [0.5, 1.5, 4]
    # A2 = 4, A1 = 1.5 + 0.25 * 4 = 2.5, A0 = 0.5 + 0.25 * 2.5 = 1.125
    np.testing.assert_allclose(advantages_for([0, 0, 0], [0, 0, 0], [0, 0, 0]), [1.125, 2.5, 4.0])


def test_gae_terminated_episode_has_no_bootstrap_and_no_carry(x64):
    # Terminated at t=1: delta1 = 2 + 0 - 1 = 1 and A1 = delta1 (nothing flows back from t=2).
    # A2 = 4 (a new episode), A0 = 0.5 + 0.25 * 1 = 0.75
    np.testing.assert_allclose(advantages_for([0, 1, 0], [0, 0, 0], [0, 0, 0]), [0.75, 1.0, 4.0])


def test_gae_truncated_episode_bootstraps_from_the_true_final_observation(x64):
    # Truncated at t=1 with V(final observation) = 6: delta1 = 2 + 0.5 * 6 - 1 = 4, A1 = 4;
    # A0 = 0.5 + 0.25 * 4 = 1.5; A2 = 4 (the next episode, unaffected).
    np.testing.assert_allclose(advantages_for([0, 0, 0], [0, 1, 0], [0, 6.0, 0]), [1.5, 4.0, 4.0])


def test_gae_with_lambda_one_is_discounted_return_minus_value(x64):
    rng = np.random.default_rng(0)
    rewards, values = rng.standard_normal((6, 2)), rng.standard_normal((6, 2))
    last = rng.standard_normal(2)
    zeros = np.zeros((6, 2), bool)
    next_values = next_state_values(jnp.asarray(values), jnp.asarray(last), jnp.zeros((6, 2)), zeros)
    adv = np.asarray(gae(jnp.asarray(rewards), jnp.asarray(values), next_values, zeros, zeros, 0.9, 1.0))
    returns = np.zeros((6, 2))
    running = last
    for t in reversed(range(6)):
        running = rewards[t] + 0.9 * running
        returns[t] = running
    np.testing.assert_allclose(adv, returns - values, rtol=1e-10)


# --- batches from real Gymnasium envs -----------------------------------------------------------


def short_cartpole():
    # Random actions end CartPole episodes after about 22 steps: a 20-step time limit gives both
    # truncations and terminations in a short batch.
    return gym.make("CartPole-v1", max_episode_steps=20)


def test_vector_driver_matches_gymnasium_same_step_autoreset():
    n, steps = 3, 60
    ours = SyncVectorEnv([short_cartpole] * n)
    theirs = gym.vector.SyncVectorEnv([short_cartpole] * n, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    obs_ours = ours.reset(seed=7).copy()
    obs_theirs, _ = theirs.reset(seed=[7 + i for i in range(n)])
    np.testing.assert_array_equal(obs_ours, obs_theirs)
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(steps):
        actions = rng.integers(0, 2, n)
        obs, rewards, terminated, truncated, final_obs = ours.step(actions)
        o, r, term, trunc, info = theirs.step(actions)
        np.testing.assert_array_equal(obs, o)
        np.testing.assert_array_equal(rewards, r)
        np.testing.assert_array_equal(terminated, term)
        np.testing.assert_array_equal(truncated, trunc & ~term)
        for i in np.flatnonzero(term | trunc):
            np.testing.assert_array_equal(final_obs[i], info["final_obs"][i])
            ended += 1
    assert ended > 5


def reference_advantages(batch, value_fn, gamma, lam):
    """Plain per-env loop, episode by episode, written independently of gae()."""
    steps, n = batch.rewards.shape
    out = np.zeros((steps, n))
    for i in range(n):
        t_end = steps
        for t in reversed(range(steps)):
            done = batch.terminated[t, i] or batch.truncated[t, i]
            if done:
                t_end = t + 1
            # Bootstrap for this step's next state:
            if batch.terminated[t, i]:
                next_v = 0.0
            elif batch.truncated[t, i]:
                next_v = value_fn(batch.final_obs[t, i])
            elif t == steps - 1:
                next_v = value_fn(batch.last_obs[i])
            else:
                next_v = value_fn(batch.obs[t + 1, i])
            delta = batch.rewards[t, i] + gamma * next_v - value_fn(batch.obs[t, i])
            carry = 0.0 if (done or t + 1 >= t_end or t == steps - 1) else out[t + 1, i]
            out[t, i] = delta + gamma * lam * carry
    return out


def test_gae_on_a_real_batch_matches_a_per_episode_reference(x64):
    envs = SyncVectorEnv([short_cartpole] * 2)
    sampler = Sampler(envs, n_steps=80, seed=3)
    actor = {"mlp": [{"w": np.zeros((4, 2), np.float32), "b": np.zeros(2, np.float32)}]}
    batch = sampler.collect(actor, ObservationNormalizer.fresh(4, enabled=False, clip=10.0))
    assert batch.terminated.any() and batch.truncated.any()
    w = np.array([0.3, -0.2, 0.5, 0.1])
    value_fn = lambda o: float(np.asarray(o, np.float64) @ w)
    values = np.asarray(batch.obs, np.float64) @ w
    next_values = next_state_values(
        jnp.asarray(values),
        jnp.asarray(np.asarray(batch.last_obs, np.float64) @ w),
        jnp.asarray(np.asarray(batch.final_obs, np.float64) @ w),
        batch.truncated,
    )
    ours = gae(
        jnp.asarray(batch.rewards, float),
        jnp.asarray(values),
        next_values,
        batch.terminated,
        batch.truncated,
        0.99,
        0.95,
    )
    np.testing.assert_allclose(ours, reference_advantages(batch, value_fn, 0.99, 0.95), rtol=1e-6)


def test_sampler_batch_never_crosses_an_episode_boundary():
    envs = SyncVectorEnv([short_cartpole] * 2)
    sampler = Sampler(envs, n_steps=40, seed=1)
    actor = {"mlp": [{"w": np.zeros((4, 2), np.float32), "b": np.zeros(2, np.float32)}]}
    batch = sampler.collect(actor, ObservationNormalizer.fresh(4, enabled=False, clip=10.0))
    # After every episode end, the next stored observation is a fresh reset state: CartPole resets
    # uniformly in [-0.05, 0.05], which a 20-step episode's final state essentially never is.
    for t, i in zip(*np.nonzero(batch.terminated[:-1] | batch.truncated[:-1]), strict=True):
        assert np.all(np.abs(batch.obs[t + 1, i]) <= 0.05)
        assert np.any(np.abs(batch.final_obs[t, i]) > 0.05) or batch.terminated[t, i]


@pytest.mark.parametrize("gamma", [0.9, 1.0])
def test_gae_lambda_zero_is_one_step_td_error(x64, gamma):
    rng = np.random.default_rng(1)
    rewards, values, nxt = rng.standard_normal((3, 5, 2))
    term = rng.random((5, 2)) < 0.3
    trunc = (rng.random((5, 2)) < 0.3) & ~term
    adv = gae(jnp.asarray(rewards), jnp.asarray(values), jnp.asarray(nxt), term, trunc, gamma, 0.0)
    np.testing.assert_allclose(adv, rewards + gamma * (~term) * nxt - values, rtol=1e-12)


# --- property-based: gae() against a plain loop on random data -----------------------------------


def plain_gae(rewards, values, last_values, final_values, terminated, truncated, gamma, lam):
    """Textbook GAE, one env and one step at a time, with the time-limit rule spelled out."""
    steps, n = rewards.shape
    out = np.zeros((steps, n))
    for i in range(n):
        for t in reversed(range(steps)):
            if terminated[t, i]:
                next_value = 0.0  # no value after a terminal state
            elif truncated[t, i]:
                next_value = final_values[t, i]  # the state the time limit cut off
            elif t == steps - 1:
                next_value = last_values[i]  # the batch ends mid-episode
            else:
                next_value = values[t + 1, i]
            delta = rewards[t, i] + gamma * next_value - values[t, i]
            episode_goes_on = not (terminated[t, i] or truncated[t, i]) and t < steps - 1
            out[t, i] = delta + (gamma * lam * out[t + 1, i] if episode_goes_on else 0.0)
    return out


# One shape and gamma, lambda as traced arguments: a single compilation serves every example.
gae_jit = jax.jit(gae)


@st.composite
def gae_cases(draw, steps=12, n=3):
    reals = st.floats(-10, 10, allow_nan=False, width=64)
    arrays = [draw(hnp.arrays(np.float64, shape, elements=reals)) for shape in [(steps, n)] * 3 + [(n,)]]
    terminated = draw(hnp.arrays(bool, (steps, n)))
    truncated = draw(hnp.arrays(bool, (steps, n))) & ~terminated  # as the vector env reports them
    gamma = draw(st.floats(0.01, 1.0))
    lam = draw(st.floats(0.0, 1.0))
    return (*arrays, terminated, truncated, gamma, lam)


@settings(max_examples=200, deadline=None)
@given(case=gae_cases())
def test_gae_matches_a_plain_loop_on_random_rewards_values_and_masks(case):
    rewards, values, final_values, last_values, terminated, truncated, gamma, lam = case
    with jax.enable_x64(True):
        next_values = next_state_values(
            jnp.asarray(values), jnp.asarray(last_values), jnp.asarray(final_values), truncated
        )
        ours = gae_jit(jnp.asarray(rewards), jnp.asarray(values), next_values, terminated, truncated, gamma, lam)
        expected = plain_gae(rewards, values, last_values, final_values, terminated, truncated, gamma, lam)
        np.testing.assert_allclose(np.asarray(ours), expected, rtol=1e-10, atol=1e-10)


# --- compute_advantages: the learner's targets from a batch and the critic --------------------


def numpy_value(critic, o):
    """The critic's MLP written out in numpy (tanh hidden layers, linear head)."""
    x = np.asarray(o, np.float64)
    layers = critic["mlp"]
    for layer in layers[:-1]:
        x = np.tanh(x @ np.asarray(layer["w"]) + np.asarray(layer["b"]))
    return float((x @ np.asarray(layers[-1]["w"]) + np.asarray(layers[-1]["b"]))[0])


def reference_targets(critic, batch, gamma, lam):
    """GAE per env by a backward loop over its steps, with the bootstrap rule spelled out:
    terminated -> no bootstrap; truncated -> V(true final observation); otherwise V(next obs),
    and V(last_obs) after the batch's last step. Nothing flows back across an episode end."""
    steps, envs = batch.rewards.shape
    advantages, values = np.zeros((steps, envs)), np.zeros((steps, envs))
    for n in range(envs):
        carry = 0.0
        for t in reversed(range(steps)):
            v = numpy_value(critic, batch.obs[t, n])
            if batch.terminated[t, n]:
                next_v, carry = 0.0, 0.0
            elif batch.truncated[t, n]:
                next_v, carry = numpy_value(critic, batch.final_obs[t, n]), 0.0
            elif t + 1 < steps:
                next_v = numpy_value(critic, batch.obs[t + 1, n])
            else:
                next_v = numpy_value(critic, batch.last_obs[n])
            carry = batch.rewards[t, n] + gamma * next_v - v + gamma * lam * carry
            advantages[t, n], values[t, n] = carry, v
    return advantages, values


@pytest.mark.parametrize("normalize", [False, True])
def test_compute_advantages_against_a_per_env_reference(x64, normalize):
    from trpo.learning.learner import compute_advantages
    from trpo.learning.networks import init_critic

    steps, envs, dim, gamma, lam = 7, 3, 2, 0.9, 0.8
    rng = np.random.default_rng(0)
    critic = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), init_critic(jax.random.PRNGKey(0), dim, (5,)))
    terminated, truncated = np.zeros((steps, envs), bool), np.zeros((steps, envs), bool)
    terminated[2, 0] = True  # env 0: an episode ends at t = 2 ...
    truncated[5, 0] = True  # ... and the next one is cut off by the time limit at t = 5
    truncated[3, 1] = True  # env 1: a time limit at t = 3; env 2 runs through the batch
    final_obs = np.where(truncated[..., None], rng.standard_normal((steps, envs, dim)), 0.0)
    batch = Batch(
        obs=rng.standard_normal((steps, envs, dim)),
        actions=np.zeros((steps, envs)),
        rewards=rng.standard_normal((steps, envs)),
        terminated=terminated,
        truncated=truncated,
        final_obs=final_obs,
        last_obs=rng.standard_normal((envs, dim)),
    )
    out = compute_advantages(critic, jax.tree.map(jnp.asarray, batch), gamma, lam, normalize)
    advantages, values = reference_targets(critic, batch, gamma, lam)
    # Flattened time-major, as the learner flattens the observations: index t * N + n.
    np.testing.assert_allclose(out["values"], values.reshape(-1), rtol=1e-12)
    np.testing.assert_allclose(out["returns"], (advantages + values).reshape(-1), rtol=1e-12)
    expected = advantages.reshape(-1)
    if normalize:
        expected = (expected - expected.mean()) / (expected.std() + 1e-8)
    np.testing.assert_allclose(out["advantages"], expected, rtol=1e-10, atol=1e-12)
