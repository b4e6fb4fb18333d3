"""Recurrent policies: the cores, resets at episode starts, the sequence Fisher, and the sampler's
actions against the learner's unroll of the same rollout."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from test_trust_region import distribution_fisher
from trpo.collect.rollout import Sampler
from trpo.envs.vector import make_vector_env
from trpo.learning.distributions import Categorical, DiagGaussian
from trpo.learning.learner import compute_advantages, fisher_samples
from trpo.learning.networks import actor_forward, actor_step, critic_forward, init_actor, init_critic, to_acting
from trpo.learning.normalization import ObservationNormalizer, init_stats
from trpo.learning.recurrent import Sequences, init_core, reset, state_size, step, unroll
from trpo.learning.trust_region import fisher_vector_product, linearized_fisher

CORES = ["lstm", "gru"]


def to64(tree):
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tree)


@pytest.mark.parametrize("kind", CORES)
def test_numpy_step_is_the_jax_step(kind):
    core = init_core(jax.random.PRNGKey(0), 3, 5, kind)
    core = dataclasses.replace(core, b=core.b + 0.3)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    state = np.random.default_rng(1).standard_normal((4, state_size(kind, 5))).astype(np.float32)
    out_j, state_j = step(core, jnp.asarray(x), jnp.asarray(state))
    core_np = jax.tree.map(np.asarray, core)
    out_n, state_n = step(core_np, x, state, np)
    np.testing.assert_allclose(out_n, out_j, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state_n, state_j, rtol=1e-5, atol=1e-6)


def test_lstm_step_by_hand():
    """One LSTM step written out: with every weight 0 and biases (i, f, g, o) = (0, 1, 0.5, 0),
    c' = sigmoid(1) c + sigmoid(0) tanh(0.5), h' = sigmoid(0) tanh(c')."""
    core = init_core(jax.random.PRNGKey(0), 2, 1, "lstm")
    core = dataclasses.replace(
        core, wi=jnp.zeros_like(core.wi), wh=jnp.zeros_like(core.wh), b=jnp.array([0.0, 1.0, 0.5, 0.0])
    )
    h, state = step(core, jnp.ones((1, 2)), jnp.array([[0.7, 2.0]]))  # [h, c] = [0.7, 2.0]
    sigmoid = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    c = sigmoid(1.0) * 2.0 + 0.5 * np.tanh(0.5)
    np.testing.assert_allclose(state, [[0.5 * np.tanh(c), c]], rtol=1e-6)
    np.testing.assert_allclose(h, [[0.5 * np.tanh(c)]], rtol=1e-6)


@pytest.mark.parametrize("kind", CORES)
def test_unroll_is_the_loop_of_steps_with_resets(kind):
    core = init_core(jax.random.PRNGKey(1), 2, 4, kind)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 2)).astype(np.float32)
    starts = rng.random((6, 3)) < 0.3
    initial = rng.standard_normal((3, state_size(kind, 4))).astype(np.float32)
    outputs, states = unroll(core, jnp.asarray(x), jnp.asarray(starts), jnp.asarray(initial))
    state = initial
    for t in range(6):
        state = np.where(starts[t][:, None], 0.0, state)
        out, state = step(jax.tree.map(np.asarray, core), x[t], state, np)
        np.testing.assert_allclose(outputs[t], out, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(states[t], state, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", CORES)
def test_no_state_crosses_an_episode_start(kind):
    """Outputs from an episode start on depend only on that episode's observations: changing every
    observation before the boundary (and the initial state) leaves them unchanged bit for bit,
    while the outputs before the boundary do change."""
    dist = Categorical(num_actions=3)
    actor = init_actor(jax.random.PRNGKey(2), 2, (8,), dist, 0.0, recurrent=kind, recurrent_size=6)
    rng = np.random.default_rng(0)
    obs = rng.standard_normal((7, 2, 2)).astype(np.float32)
    starts = np.zeros((7, 2), bool)
    starts[4, 0] = starts[2, 1] = True  # env 0 starts an episode at t=4, env 1 at t=2
    initial = rng.standard_normal((2, state_size(kind, 6))).astype(np.float32)
    before = np.asarray(actor_forward(actor, Sequences(obs, starts, initial))).reshape(7, 2, 3)
    changed = obs.copy()
    changed[:4, 0] += 5.0
    changed[:2, 1] -= 3.0
    after = np.asarray(actor_forward(actor, Sequences(changed, starts, initial + 1.0))).reshape(7, 2, 3)
    np.testing.assert_array_equal(after[4:, 0], before[4:, 0])
    np.testing.assert_array_equal(after[2:, 1], before[2:, 1])
    assert not np.allclose(after[:4, 0], before[:4, 0]) and not np.allclose(after[:2, 1], before[:2, 1])


def tiny_sequences(dist, kind, seed=0, steps=4, envs=2):
    actor = to64(init_actor(jax.random.PRNGKey(seed), 2, (), dist, -0.3, recurrent=kind, recurrent_size=3))
    # A larger head than the 0.01 init, so the Fisher is not dominated by one term.
    actor["mlp"][-1]["w"] = actor["mlp"][-1]["w"] * 50.0
    rng = np.random.default_rng(seed)
    starts = np.zeros((steps, envs), bool)
    starts[2, 1] = True
    seq = Sequences(
        jnp.asarray(rng.standard_normal((steps, envs, 2))),
        jnp.asarray(starts),
        jnp.asarray(rng.standard_normal((envs, state_size(kind, 3)))),
    )
    return actor, seq


def dense_sequence_fisher(dist, actor, seq):
    """F = mean_i J_i^T M_i J_i over the T * N steps, J_i the Jacobian of step i's distribution
    parameters in theta through the whole unroll (each step depends on the earlier ones), M_i
    that distribution's own Fisher (test_trust_region.distribution_fisher)."""
    theta, unravel = ravel_pytree(actor)

    def flat_params(t):
        out = actor_forward(unravel(t), seq)
        if isinstance(dist, DiagGaussian):
            return jnp.concatenate([out[0], jnp.broadcast_to(out[1], out[0].shape)], axis=1)
        return out

    jac = np.asarray(jax.jacobian(flat_params)(theta))  # [T * N, outputs, theta]
    params = np.asarray(flat_params(theta))
    fisher = np.zeros((theta.size, theta.size))
    for i in range(params.shape[0]):
        if isinstance(dist, DiagGaussian):
            a = dist.action_dim
            one = (params[i, :a], params[i, a:])
            # The log std is shared by every step: its Jacobian rows are those of the shared vector.
            fisher += jac[i].T @ distribution_fisher(dist, one) @ jac[i]
        else:
            fisher += jac[i].T @ distribution_fisher(dist, params[i]) @ jac[i]
    return fisher / params.shape[0]


@pytest.mark.parametrize("kind", CORES)
@pytest.mark.parametrize(
    "dist", [DiagGaussian(action_dim=2), Categorical(num_actions=3)], ids=["gaussian", "categorical"]
)
def test_sequence_fisher_vector_product_matches_the_dense_fisher(x64, dist, kind):
    actor, seq = tiny_sequences(dist, kind)
    theta, unravel = ravel_pytree(actor)
    old = jax.lax.stop_gradient(actor_forward(actor, seq))

    def kl(t):
        return jnp.mean(dist.kl(old, actor_forward(unravel(t), seq)))

    dense = dense_sequence_fisher(dist, actor, seq)
    # Two independent routes to the matrix: the KL's Hessian and J^T M J.
    np.testing.assert_allclose(np.asarray(jax.hessian(kl)(theta)), dense, rtol=1e-7, atol=1e-10)
    damping = 0.05
    products = [
        linearized_fisher(
            lambda t: actor_forward(unravel(t), seq), lambda q: jnp.mean(dist.kl(old, q)), theta, damping
        ),
        lambda v: fisher_vector_product(kl, theta, v, damping),
    ]
    rng = np.random.default_rng(1)
    for _ in range(3):
        v = rng.standard_normal(theta.size)
        for matvec in products:
            np.testing.assert_allclose(
                matvec(jnp.asarray(v)), (dense + damping * np.eye(theta.size)) @ v, rtol=1e-7, atol=1e-10
            )


def test_fisher_subsampling_keeps_whole_sequences_of_every_kth_env():
    seq = Sequences(jnp.arange(24.0).reshape(4, 6), jnp.zeros((4, 6), bool), jnp.arange(12.0).reshape(6, 2))
    sub = fisher_samples(seq, 2)
    np.testing.assert_array_equal(sub.obs, np.asarray(seq.obs)[:, [0, 2, 4]])
    np.testing.assert_array_equal(sub.initial, np.asarray(seq.initial)[[0, 2, 4]])


class RecordingCategorical(Categorical):
    """Categorical that records the parameters the sampler drew each step's actions from."""

    def __init__(self, num_actions, record):
        object.__setattr__(self, "num_actions", num_actions)
        object.__setattr__(self, "record", record)

    def sample_numpy(self, rng, params, deterministic):
        self.record.append(np.array(params))
        return super().sample_numpy(rng, params, deterministic)


@pytest.mark.parametrize("kind", CORES)
def test_learner_log_probs_of_a_rollout_equal_the_samplers(kind):
    """Two rollouts of 30 steps on CartPoleNoVel (random-policy episodes last ~20 steps, so
    episodes end inside the rollouts and the second starts from a carried state): the learner's
    unroll from the stored initial states and episode starts gives the log-probabilities of the
    actions that the sampler computed step by step, and the critic's stored state at the second
    rollout's start is the critic unrolled over the first."""
    envs = make_vector_env("trpo/CartPoleNoVel-v1", 3, "sync", seed=0)
    dist = envs.distribution
    actor = init_actor(jax.random.PRNGKey(0), 2, (8,), dist, 0.0, recurrent=kind, recurrent_size=5)
    actor["mlp"][-1]["w"] = actor["mlp"][-1]["w"] * 100.0  # a policy far from uniform
    critic = init_critic(jax.random.PRNGKey(1), 2, (8,), recurrent=kind, recurrent_size=5)
    record = []
    sampler = Sampler(envs, 30, seed=0)
    sampler.dist = RecordingCategorical(dist.num_actions, record)
    stats = init_stats((2,))._replace(mean=np.array([0.1, -0.2]), var=np.array([0.5, 2.0]))
    normalizer = ObservationNormalizer(stats, True, 10.0)
    acting = to_acting(actor, critic)
    batches = []
    for _ in range(2):
        raw = sampler.collect(acting, normalizer)
        batches.append(jax.tree.map(np.copy, raw))
        first = record[-30:]
    for b in batches:
        assert b.episode_starts[1:].any()  # episodes end inside each rollout
        np.testing.assert_array_equal(b.episode_starts[1:], b.terminated[:-1] | b.truncated[:-1])
    assert batches[0].episode_starts[0].all() and not np.any(batches[0].actor_state)
    second = batches[1]
    obs = normalizer(second.obs)
    learner = actor_forward(actor, Sequences(obs, second.episode_starts, second.actor_state))
    collected = np.concatenate(first)  # [T * N, actions], time-major as the learner flattens
    actions = second.actions.reshape(-1)
    np.testing.assert_allclose(dist.log_prob(learner, actions), dist.log_prob(collected, actions), rtol=1e-5, atol=1e-5)
    # The critic's state carried into the second rollout: its core unrolled over the first.
    first_batch = batches[0]
    _, states = unroll(
        critic["core"], normalizer(first_batch.obs), first_batch.episode_starts, first_batch.critic_state
    )
    carried = reset(states[-1], first_batch.terminated[-1] | first_batch.truncated[-1])
    np.testing.assert_allclose(reset(second.critic_state, second.episode_starts[0]), carried, rtol=1e-5, atol=1e-5)
    sampler.close()


def test_recurrent_advantages_never_look_across_an_episode_end():
    """Changing the observations of one episode leaves the values (and so the advantages) of the
    next episode in the same env unchanged: the critic is reset at the episode start too."""
    from trpo.learning.batch import Batch

    critic = init_critic(jax.random.PRNGKey(3), 2, (8,), recurrent="gru", recurrent_size=4)
    rng = np.random.default_rng(0)
    t, n = 6, 2
    starts = np.zeros((t, n), bool)
    starts[3, 0] = True
    terminated = np.zeros((t, n), bool)
    terminated[2, 0] = True
    obs = rng.standard_normal((t, n, 2)).astype(np.float32)
    batch = Batch(
        obs=obs,
        actions=np.zeros((t, n), np.int64),
        rewards=np.ones((t, n), np.float32),
        terminated=terminated,
        truncated=np.zeros((t, n), bool),
        final_obs=np.zeros((t, n, 2), np.float32),
        last_obs=rng.standard_normal((n, 2)).astype(np.float32),
        episode_starts=starts,
        actor_state=np.zeros((n, 4), np.float32),
        critic_state=rng.standard_normal((n, 4)).astype(np.float32),
    )
    base = compute_advantages(critic, batch, 0.99, 0.95, normalize=False)
    changed_obs = obs.copy()
    changed_obs[:3, 0] += 4.0
    changed = compute_advantages(critic, batch._replace(obs=changed_obs), 0.99, 0.95, normalize=False)
    values, changed_values = (np.asarray(x["values"]).reshape(t, n) for x in (base, changed))
    np.testing.assert_array_equal(changed_values[3:, 0], values[3:, 0])
    advantages, changed_advantages = (np.asarray(x["advantages"]).reshape(t, n) for x in (base, changed))
    np.testing.assert_array_equal(changed_advantages[3:, 0], advantages[3:, 0])
    assert not np.allclose(changed_values[:3, 0], values[:3, 0])
    # The critic on Sequences is the same network as critic_sequence_values' unroll.
    flat = critic_forward(critic, Sequences(obs, starts, batch.critic_state))
    np.testing.assert_allclose(np.asarray(flat).reshape(t, n), values, rtol=1e-6)


def test_actor_step_is_one_step_of_the_sequence_forward():
    dist = DiagGaussian(action_dim=2)
    actor = init_actor(jax.random.PRNGKey(4), 3, (8,), dist, 0.0, recurrent="lstm", recurrent_size=4)
    obs = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    state = np.zeros((5, 8), np.float32)
    seq = actor_forward(actor, Sequences(obs, np.zeros((2, 5), bool), state))
    mean0, state = actor_step(jax.tree.map(np.asarray, actor), obs[0], state, np)
    mean1, _ = actor_step(jax.tree.map(np.asarray, actor), obs[1], state, np)
    np.testing.assert_allclose(seq[0], np.concatenate([mean0[0], mean1[0]]), rtol=1e-5, atol=1e-6)
