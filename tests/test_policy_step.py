"""policy_step against a dense, independent derivation of the whole TRPO step, in float64.

The reference below never calls the learner: it builds the Fisher as mean_i J_i^T M_i J_i from
per-sample Jacobians and hand-written distribution Fishers (tests/test_trust_region.py), solves
F s = g with numpy, scales s to the quadratic KL boundary, and walks the backtracking fractions
itself, recomputing the KL and the surrogate gain of every candidate. policy_step must land on
exactly the first candidate that satisfies both conditions, or on theta_old bit for bit when none
does.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from test_trust_region import dense_fisher_jtmj
from trpo.config import TRPOConfig
from trpo.learning.distributions import Categorical, DiagGaussian
from trpo.learning.learner import policy_step
from trpo.learning.networks import actor_forward, init_actor

DISTS = [DiagGaussian(action_dim=2), Categorical(num_actions=3)]


def problem(dist, seed, batch=24, obs_dim=3):
    """A small float64 actor (one hidden layer of 6) with a non-trivial head, a batch and advantages."""
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(seed), 4)
    actor = init_actor(k1, obs_dim, (6,), dist, log_std_init=-0.2)
    actor = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), actor)
    actor["mlp"][-1]["w"] = actor["mlp"][-1]["w"] * 30.0
    obs = jax.random.normal(k2, (batch, obs_dim), jnp.float64)
    actions = dist.sample(k3, actor_forward(actor, obs))
    advantages = jax.random.normal(k4, (batch,), jnp.float64)
    return actor, obs, actions, advantages


def reference_candidates(dist, actor, obs, actions, advantages, config):
    """The line search's candidates theta_old + c^k * beta * s, k = 0 .. backtrack_iters - 1, each
    with its KL and surrogate gain, computed from the dense Fisher."""
    theta_old, unravel = ravel_pytree(actor)
    old = actor_forward(actor, obs)
    old_log_prob = np.asarray(dist.log_prob(old, actions))

    def surrogate(theta):
        new = actor_forward(unravel(theta), obs)
        bonus = config.entropy_coef * jnp.mean(dist.entropy(new))
        return jnp.mean(jnp.exp(dist.log_prob(new, actions) - old_log_prob) * advantages) + bonus

    g = np.asarray(jax.grad(surrogate)(theta_old))
    fisher = dense_fisher_jtmj(dist, actor, obs) + config.cg_damping * np.eye(theta_old.size)
    s = np.linalg.solve(fisher, g)
    full_step = np.sqrt(2.0 * config.max_kl / (s @ fisher @ s)) * s
    base = float(surrogate(theta_old))
    candidates = []
    for k in range(config.backtrack_iters):
        fraction = config.backtrack_coeff**k
        theta = np.asarray(theta_old) + fraction * full_step
        new = actor_forward(unravel(jnp.asarray(theta)), obs)
        kl = float(jnp.mean(dist.kl(old, new)))
        gain = float(surrogate(jnp.asarray(theta))) - base
        candidates.append((fraction, theta, kl, gain))
    return candidates


def first_acceptable(candidates, max_kl):
    for k, (_, _, kl, gain) in enumerate(candidates):
        if kl <= max_kl and gain > 0:
            return k
    return None


# Cases where the quadratic model misjudges the full step and backtracking is needed: a large
# max_kl for the Gaussian; for the categorical (whose KL saturates, so the quadratic model
# overestimates it) a light damping, whose step reaches into directions of low curvature.
CASES = [(DISTS[0], 0, dict(max_kl=1.5)), (DISTS[1], 0, dict(max_kl=0.3, cg_damping=1e-3))]


def exact_config(n_params, **changes):
    # Exact CG (as many iterations as parameters, no early stop) so that CG's s is the dense solve.
    return TRPOConfig(cg_iters=n_params, cg_residual_tol=0.0, backtrack_coeff=0.7, backtrack_iters=10, **changes)


@pytest.mark.parametrize("entropy_coef", [0.0, 0.2], ids=["no-bonus", "entropy-bonus"])
@pytest.mark.parametrize(("dist", "seed", "changes"), CASES, ids=["gaussian", "categorical"])
def test_line_search_takes_the_first_acceptable_fraction_of_the_natural_step(x64, dist, seed, changes, entropy_coef):
    # With an entropy bonus the reference adds it to its surrogate (in g and in the improvement test).
    actor, obs, actions, advantages = problem(dist, seed)
    config = exact_config(ravel_pytree(actor)[0].size, entropy_coef=entropy_coef, **changes)
    max_kl = config.max_kl
    candidates = reference_candidates(dist, actor, obs, actions, advantages, config)
    k = first_acceptable(candidates, max_kl)
    # The case is chosen so that the full step is rejected and a shorter one accepted.
    assert k is not None and k >= 1, [(round(kl, 3), round(gain, 4)) for _, _, kl, gain in candidates]

    new_actor, stats = policy_step(actor, obs, actions, advantages, dist, config)
    fraction, theta, kl, gain = candidates[k]
    assert float(stats.line_search_accepted) == 1.0
    assert float(stats.step_fraction) == pytest.approx(fraction, rel=1e-12)
    np.testing.assert_allclose(ravel_pytree(new_actor)[0], theta, rtol=1e-6, atol=1e-9)
    assert float(stats.kl) == pytest.approx(kl, rel=1e-6)
    assert float(stats.surrogate_gain) == pytest.approx(gain, rel=1e-6)


@pytest.mark.parametrize(("dist", "seed", "changes"), CASES, ids=["gaussian", "categorical"])
def test_a_rejected_nonzero_step_leaves_the_actor_bit_for_bit(x64, dist, seed, changes):
    # The same problems with the line search cut off before its first acceptable fraction: every
    # candidate it may try breaks the trust region or loses surrogate, so the step is refused.
    actor, obs, actions, advantages = problem(dist, seed)
    config = exact_config(ravel_pytree(actor)[0].size, **changes)
    max_kl = config.max_kl
    k = first_acceptable(reference_candidates(dist, actor, obs, actions, advantages, config), max_kl)
    config = config.replace(backtrack_iters=k)
    candidates = reference_candidates(dist, actor, obs, actions, advantages, config)
    assert first_acceptable(candidates, max_kl) is None
    full_step = candidates[0][1] - np.asarray(ravel_pytree(actor)[0])
    assert np.linalg.norm(full_step) > 0.1  # a real step was on the table

    new_actor, stats = policy_step(actor, obs, actions, advantages, dist, config)
    assert float(stats.line_search_accepted) == 0.0
    assert float(stats.step_fraction) == 0.0 and float(stats.kl) == 0.0 and float(stats.surrogate_gain) == 0.0
    for old, new in zip(jax.tree.leaves(actor), jax.tree.leaves(new_actor), strict=True):
        assert np.asarray(old).tobytes() == np.asarray(new).tobytes()


@pytest.mark.parametrize("dist", DISTS, ids=["gaussian", "categorical"])
def test_npg_step_is_the_scaled_dense_natural_gradient(x64, dist):
    # NPG takes the full step beta * (F + damping I)^-1 g: direction and length both checked.
    actor, obs, actions, advantages = problem(dist, seed=4)
    config = exact_config(ravel_pytree(actor)[0].size, max_kl=0.02, npg=True)
    candidates = reference_candidates(dist, actor, obs, actions, advantages, config)
    new_actor, stats = policy_step(actor, obs, actions, advantages, dist, config)
    assert float(stats.step_fraction) == 1.0 and float(stats.line_search_accepted) == 1.0
    np.testing.assert_allclose(ravel_pytree(new_actor)[0], candidates[0][1], rtol=1e-6, atol=1e-9)
    assert float(stats.kl) == pytest.approx(candidates[0][2], rel=1e-6)


def test_an_entropy_bonus_alone_widens_a_gaussian_by_the_closed_form_step(x64):
    # With zero advantages the objective is entropy_coef * mean entropy, whose gradient is
    # entropy_coef on each log-std and 0 on the mean network. The Gaussian's Fisher is
    # diag(1 / sigma^2, 2) in (mean, log-std), with no cross terms, so the natural step moves
    # only the log-stds, each by delta with d * delta^2 * (2 + damping) / 2 = max_kl (the damped
    # quadratic KL model on the boundary, d action dims). Its exact KL,
    # d * (exp(-2 delta) / 2 - 1 / 2 + delta), is below max_kl, so the full step is accepted,
    # and the objective gains entropy_coef * d * delta.
    dist = DiagGaussian(action_dim=2)
    actor, obs, actions, _ = problem(dist, seed=3)
    config = exact_config(ravel_pytree(actor)[0].size, max_kl=0.01, cg_damping=0.1, entropy_coef=0.05)
    new_actor, stats = policy_step(actor, obs, actions, jnp.zeros(obs.shape[0]), dist, config)

    d, delta = dist.action_dim, np.sqrt(2 * 0.01 / (2 * (2 + 0.1)))
    np.testing.assert_allclose(new_actor["log_std"], np.asarray(actor["log_std"]) + delta, rtol=1e-9)
    for old, new in zip(jax.tree.leaves(actor["mlp"]), jax.tree.leaves(new_actor["mlp"]), strict=True):
        np.testing.assert_allclose(new, old, rtol=0, atol=1e-12)
    assert float(stats.step_fraction) == 1.0
    assert float(stats.kl) == pytest.approx(d * (np.exp(-2 * delta) / 2 - 0.5 + delta), rel=1e-9)
    assert float(stats.surrogate_gain) == pytest.approx(0.05 * d * delta, rel=1e-9)


@pytest.mark.parametrize(("dist", "seed", "changes"), CASES, ids=["gaussian", "categorical"])
def test_the_entropy_bonus_changes_the_step(x64, dist, seed, changes):
    # The step with the bonus matches the reference (the test above); here, it is not the step
    # without it, so the bonus is not lost on the way.
    actor, obs, actions, advantages = problem(dist, seed)
    config = exact_config(ravel_pytree(actor)[0].size, entropy_coef=0.2, **changes)
    with_bonus, _ = policy_step(actor, obs, actions, advantages, dist, config)
    without, _ = policy_step(actor, obs, actions, advantages, dist, config.replace(entropy_coef=0.0))
    assert np.abs(ravel_pytree(with_bonus)[0] - ravel_pytree(without)[0]).max() > 1e-3
