"""MultiCategorical and Bernoulli against independent derivations: the Fisher-vector product
against a dense J^T M J with each distribution's Fisher written by hand, the analytic KL and
entropy against Monte-Carlo estimates, and NumPy sampling against the probabilities."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from trpo.config import TRPOConfig
from trpo.learning.distributions import Bernoulli, MultiCategorical
from trpo.learning.learner import policy_step
from trpo.learning.networks import actor_forward, init_actor
from trpo.learning.trust_region import fisher_vector_product

MULTI = MultiCategorical(nvec=(3, 2, 4))
BITS = Bernoulli(num_bits=3)
DISTS = [MULTI, BITS]
IDS = ["multicategorical", "bernoulli"]


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def fisher_in_logits(dist, logits):
    """Fisher of one sample's distribution in its logits.

    MultiCategorical: block diagonal, one block diag(p_c) - p_c p_c^T per component (the
    components are independent, so no cross terms). Bernoulli: diag(p_i (1 - p_i)).
    """
    logits = np.asarray(logits, np.float64)
    if isinstance(dist, MultiCategorical):
        fisher = np.zeros((logits.size, logits.size))
        start = 0
        for n in dist.nvec:
            p = softmax(logits[start : start + n])
            fisher[start : start + n, start : start + n] = np.diag(p) - np.outer(p, p)
            start += n
        return fisher
    p = 1.0 / (1.0 + np.exp(-logits))
    return np.diag(p * (1.0 - p))


def tiny_policy(dist, seed=0, obs_dim=3, batch=6):
    actor = init_actor(jax.random.PRNGKey(seed), obs_dim, (5,), dist, 0.0)
    actor = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), actor)
    # A larger head than the 0.01 init, so probabilities are far from uniform.
    actor["mlp"][-1]["w"] = actor["mlp"][-1]["w"] * 80.0
    obs = jax.random.normal(jax.random.PRNGKey(seed + 1), (batch, obs_dim), jnp.float64)
    return actor, obs


@pytest.mark.parametrize("dist", DISTS, ids=IDS)
def test_fisher_vector_product_matches_dense_fisher(x64, dist):
    actor, obs = tiny_policy(dist)
    theta, unravel = ravel_pytree(actor)
    old = jax.lax.stop_gradient(actor_forward(actor, obs))

    def mean_kl(t):
        return jnp.mean(dist.kl(old, actor_forward(unravel(t), obs)))

    # F = mean_i J_i^T M_i J_i, J_i the Jacobian of sample i's logits in the parameters.
    dense = np.zeros((theta.size, theta.size))
    for o in obs:
        jac = np.asarray(jax.jacobian(lambda t, o=o: actor_forward(unravel(t), o[None])[0])(theta))
        dense += jac.T @ fisher_in_logits(dist, actor_forward(actor, o[None])[0]) @ jac
    dense /= len(obs)
    assert np.abs(dense).max() > 1e-3  # not a vacuous comparison
    damping = 0.02
    rng = np.random.default_rng(0)
    for _ in range(3):
        v = rng.standard_normal(theta.size)
        fv = fisher_vector_product(mean_kl, theta, jnp.asarray(v), damping)
        np.testing.assert_allclose(fv, (dense + damping * np.eye(theta.size)) @ v, rtol=1e-7, atol=1e-10)


def random_logits(dist, seed):
    rng = np.random.default_rng(seed)
    return jnp.asarray(2.0 * rng.standard_normal(dist.num_outputs), jnp.float64)


@pytest.mark.parametrize("dist", DISTS, ids=IDS)
def test_analytic_kl_and_entropy_match_monte_carlo(x64, dist):
    p, q = random_logits(dist, 1), random_logits(dist, 2)
    n = 200_000
    actions = dist.sample(jax.random.PRNGKey(0), jnp.broadcast_to(p, (n, p.size)))
    log_p = dist.log_prob(jnp.broadcast_to(p, (n, p.size)), actions)
    log_q = dist.log_prob(jnp.broadcast_to(q, (n, q.size)), actions)
    # KL(p || q) = E_p[log p(a) - log q(a)], H(p) = E_p[-log p(a)]; 5 standard errors of slack.
    for estimate_terms, exact in (
        (log_p - log_q, dist.kl(p[None], q[None])[0]),
        (-log_p, dist.entropy(p[None])[0]),
    ):
        terms = np.asarray(estimate_terms)
        assert abs(terms.mean() - float(exact)) < 5 * terms.std() / np.sqrt(n)
    assert float(dist.kl(p[None], p[None])[0]) == pytest.approx(0.0, abs=1e-12)
    assert float(dist.kl(p[None], q[None])[0]) > 0.05


def test_log_prob_is_the_sum_over_independent_components(x64):
    # MultiCategorical: log p(a) = sum_c log softmax(z_c)[a_c], computed here by hand.
    logits = np.asarray(random_logits(MULTI, 3))
    action = np.array([2, 0, 3])
    expected = sum(np.log(softmax(logits[s : s + n])[a]) for s, n, a in zip((0, 3, 5), MULTI.nvec, action, strict=True))
    assert float(MULTI.log_prob(jnp.asarray(logits)[None], jnp.asarray(action)[None])[0]) == pytest.approx(expected)
    # Bernoulli: log p(a) = sum_i a_i log s(z_i) + (1 - a_i) log(1 - s(z_i)).
    z = np.asarray(random_logits(BITS, 4))
    bits = np.array([1, 0, 1])
    s = 1.0 / (1.0 + np.exp(-z))
    expected = np.sum(bits * np.log(s) + (1 - bits) * np.log(1 - s))
    assert float(BITS.log_prob(jnp.asarray(z)[None], jnp.asarray(bits)[None])[0]) == pytest.approx(expected)


@pytest.mark.parametrize("dist", DISTS, ids=IDS)
def test_numpy_sampling_follows_the_probabilities(dist):
    logits = np.asarray(random_logits(dist, 5), np.float32)
    rng = np.random.default_rng(0)
    n = 100_000
    actions = dist.sample_numpy(rng, np.broadcast_to(logits, (n, logits.size)), deterministic=False)
    if isinstance(dist, MultiCategorical):
        start = 0
        for c, k in enumerate(dist.nvec):
            freq = np.bincount(actions[:, c], minlength=k) / n
            np.testing.assert_allclose(freq, softmax(logits[start : start + k]), atol=0.01)
            start += k
    else:
        np.testing.assert_allclose(actions.mean(axis=0), 1.0 / (1.0 + np.exp(-logits)), atol=0.01)
    mode = dist.sample_numpy(rng, logits[None], deterministic=True)[0]
    np.testing.assert_array_equal(mode, np.asarray(dist.mode(jnp.asarray(logits))))


@pytest.mark.parametrize("dist", DISTS, ids=IDS)
def test_accepted_policy_steps_satisfy_the_trust_region(dist):
    key1, key2, key3, key4 = jax.random.split(jax.random.PRNGKey(0), 4)
    actor = init_actor(key1, 4, (16,), dist, 0.0)
    obs = jax.random.normal(key2, (64, 4))
    actions = dist.sample(key3, actor_forward(actor, obs))
    advantages = jax.random.normal(key4, (64,))
    config = TRPOConfig(max_kl=0.02)
    new_actor, stats = policy_step(actor, obs, actions, advantages, dist, config)
    assert float(stats.line_search_accepted) == 1.0
    kl = float(jnp.mean(dist.kl(actor_forward(actor, obs), actor_forward(new_actor, obs))))
    assert 0.0 < kl <= config.max_kl * (1 + 1e-5)
