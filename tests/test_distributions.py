"""Distributions: log-prob against textbook formulas, KL and entropy against Monte Carlo."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trpo.learning.distributions import Categorical, DiagGaussian


def gaussian_params(seed=0, batch=3, dim=2):
    rng = np.random.default_rng(seed)
    return (jnp.asarray(rng.standard_normal((batch, dim))), jnp.asarray(rng.uniform(-1, 0.5, dim)))


def test_gaussian_log_prob_is_the_normal_density(x64):
    mean, log_std = gaussian_params()
    x = jnp.asarray(np.random.default_rng(1).standard_normal((3, 2)))
    sigma = np.exp(np.asarray(log_std))
    density = np.prod(np.exp(-((x - mean) ** 2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi)), axis=-1)
    np.testing.assert_allclose(DiagGaussian(2).log_prob((mean, log_std), x), np.log(density), rtol=1e-12)


def test_categorical_log_prob_is_log_softmax(x64):
    logits = jnp.asarray([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]])
    p = np.exp(np.asarray(logits)) / np.exp(np.asarray(logits)).sum(-1, keepdims=True)
    np.testing.assert_allclose(Categorical(3).log_prob(logits, jnp.asarray([1, 2])), np.log([p[0, 1], p[1, 2]]))


@pytest.mark.parametrize("dist", [DiagGaussian(2), Categorical(4)], ids=["gaussian", "categorical"])
def test_kl_and_entropy_match_monte_carlo(x64, dist):
    rng = np.random.default_rng(2)
    if isinstance(dist, DiagGaussian):
        p = gaussian_params(3, batch=2)
        q = (p[0] + 0.3, p[1] - 0.2)
    else:
        p = jnp.asarray(rng.standard_normal((2, 4)))
        q = jnp.asarray(rng.standard_normal((2, 4)))
    n = 400_000
    if isinstance(dist, DiagGaussian):  # the log std is shared by the batch: only the mean repeats
        many = lambda d: (jnp.broadcast_to(d[0], (n, *d[0].shape)), d[1])
    else:
        many = lambda d: jnp.broadcast_to(d, (n, *d.shape))
    samples = dist.sample(jax.random.PRNGKey(0), many(p))
    logp = dist.log_prob(many(p), samples)
    logq = dist.log_prob(many(q), samples)
    # KL(p||q) = E_p[log p - log q]; H(p) = -E_p[log p]; standard error ~ 1e-3 here.
    np.testing.assert_allclose(dist.kl(p, q), jnp.mean(logp - logq, axis=0), atol=0.01)
    np.testing.assert_allclose(dist.entropy(p), -jnp.mean(logp, axis=0), atol=0.01)
    np.testing.assert_allclose(dist.kl(p, p), 0.0, atol=1e-12)


@pytest.mark.parametrize("dist", [DiagGaussian(2), Categorical(3)], ids=["gaussian", "categorical"])
def test_numpy_sampling_matches_the_distribution(dist):
    rng = np.random.default_rng(0)
    if isinstance(dist, DiagGaussian):
        params = (np.array([[0.5, -1.0]], np.float32).repeat(100_000, 0), np.array([0.0, -1.0], np.float32))
        x = dist.sample_numpy(rng, params, deterministic=False)
        np.testing.assert_allclose(x.mean(0), [0.5, -1.0], atol=0.01)
        np.testing.assert_allclose(x.std(0), [1.0, math.exp(-1.0)], rtol=0.01)
        assert np.array_equal(dist.sample_numpy(rng, params, deterministic=True), params[0])
    else:
        logits = np.log(np.array([[0.2, 0.5, 0.3]], np.float32)).repeat(100_000, 0)
        x = dist.sample_numpy(rng, logits, deterministic=False)
        np.testing.assert_allclose(np.bincount(x, minlength=3) / len(x), [0.2, 0.5, 0.3], atol=0.01)
        assert np.all(dist.sample_numpy(rng, logits, deterministic=True) == 1)
