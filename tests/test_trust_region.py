"""The trust-region numerics against independent dense derivations, in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from trpo.config import TRPOConfig
from trpo.learning.distributions import Bernoulli, Categorical, DiagGaussian, MultiCategorical
from trpo.learning.learner import policy_step
from trpo.learning.networks import actor_forward, init_actor
from trpo.learning.trust_region import (
    backtracking_line_search,
    conjugate_gradient,
    fisher_vector_product,
    linearized_fisher,
    scale_to_trust_region,
)


def random_spd(rng, n):
    a = rng.standard_normal((n, n))
    return a @ a.T / n + 0.5 * np.eye(n)


@pytest.mark.parametrize("n", [1, 3, 8, 20])
def test_conjugate_gradient_matches_dense_solve(x64, n):
    rng = np.random.default_rng(n)
    a, b = random_spd(rng, n), rng.standard_normal(n)
    x, rr = conjugate_gradient(lambda v: jnp.asarray(a) @ v, jnp.asarray(b), iters=n, residual_tol=0.0)
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(rr, np.sum((b - a @ np.asarray(x)) ** 2), atol=1e-10)


def test_conjugate_gradient_is_exact_after_n_iterations_not_before(x64):
    # Eigenvalues 1..6, all distinct: CG needs all n = 6 iterations.
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    a = q @ np.diag(np.arange(1.0, 7.0)) @ q.T
    b = rng.standard_normal(6)
    exact = np.linalg.solve(a, b)
    x5, _ = conjugate_gradient(lambda v: jnp.asarray(a) @ v, jnp.asarray(b), iters=5, residual_tol=0.0)
    x6, _ = conjugate_gradient(lambda v: jnp.asarray(a) @ v, jnp.asarray(b), iters=6, residual_tol=0.0)
    assert np.linalg.norm(np.asarray(x5) - exact) > 1e-6
    np.testing.assert_allclose(x6, exact, rtol=1e-9, atol=1e-10)


def test_conjugate_gradient_stops_on_residual_tolerance(x64):
    # A = 2I is solved in one iteration; the residual is then 0 and later iterations must not run
    # (they would divide 0 by 0).
    b = jnp.arange(1.0, 5.0)
    x, rr = conjugate_gradient(lambda v: 2.0 * v, b, iters=10, residual_tol=1e-12)
    np.testing.assert_allclose(x, b / 2.0)
    assert rr == 0.0


def test_conjugate_gradient_survives_residual_underflow():
    # float32 with no tolerance: the residual underflows to 0 after enough iterations; the
    # solution must stay finite and correct rather than turn into 0/0.
    a = np.diag(np.linspace(1.0, 3.0, 5)).astype(np.float32)
    b = np.ones(5, np.float32)
    x, _ = conjugate_gradient(lambda v: jnp.asarray(a) @ v, jnp.asarray(b), iters=200, residual_tol=0.0)
    np.testing.assert_allclose(x, b / np.diag(a), rtol=1e-5)


# --- the Fisher-vector product --------------------------------------------------------------


def tiny_policy(dist, seed=0, obs_dim=3, batch=7):
    key = jax.random.PRNGKey(seed)
    actor = init_actor(key, obs_dim, (5,), dist, log_std_init=-0.3)
    # A larger head than the 0.01 init, so the Fisher is not dominated by one term.
    actor = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), actor)
    actor["mlp"][-1]["w"] = actor["mlp"][-1]["w"] * 50.0
    obs = jax.random.normal(jax.random.PRNGKey(seed + 1), (batch, obs_dim), jnp.float64)
    return actor, obs


def distribution_fisher(dist, params_one):
    """Fisher of one sample's distribution in its own parameters, written out by hand.

    Gaussian in (mean, log_std): diag(1 / sigma^2) for the means, 2 for each log std, no cross
    terms. Categorical in logits z: diag(p) - p p^T. MultiCategorical: that block per component,
    no cross terms (the components are independent). Bernoulli in logits: p (1 - p) per bit.
    """
    if isinstance(dist, DiagGaussian):
        mean, log_std = params_one
        return np.diag(np.concatenate([np.exp(-2.0 * np.asarray(log_std)), 2.0 * np.ones(mean.shape[-1])]))
    logits = np.asarray(params_one)
    if isinstance(dist, Bernoulli):
        p = 1.0 / (1.0 + np.exp(-logits))
        return np.diag(p * (1.0 - p))
    sizes = dist.nvec if isinstance(dist, MultiCategorical) else (dist.num_actions,)
    fisher = np.zeros((logits.size, logits.size))
    start = 0
    for size in sizes:
        z = logits[start : start + size]
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        fisher[start : start + size, start : start + size] = np.diag(p) - np.outer(p, p)
        start += size
    return fisher


def dense_fisher_jtmj(dist, actor, obs):
    """F = mean_i J_i^T M_i J_i with J_i the Jacobian of sample i's distribution parameters."""
    theta, unravel = ravel_pytree(actor)

    def dist_params(theta, o):
        out = actor_forward(unravel(theta), o[None])
        if isinstance(dist, DiagGaussian):
            return jnp.concatenate([out[0][0], out[1]])
        return out[0]

    fisher = np.zeros((theta.size, theta.size))
    for o in obs:
        jac = np.asarray(jax.jacobian(dist_params)(theta, o))
        params_one = actor_forward(actor, o[None])
        params_one = (params_one[0][0], params_one[1]) if isinstance(dist, DiagGaussian) else params_one[0]
        fisher += jac.T @ distribution_fisher(dist, params_one) @ jac
    return fisher / len(obs)


def mean_kl_fn(dist, actor, obs):
    theta, unravel = ravel_pytree(actor)
    old = jax.lax.stop_gradient(actor_forward(actor, obs))
    return theta, lambda t: jnp.mean(dist.kl(old, actor_forward(unravel(t), obs)))


DISTS = [DiagGaussian(action_dim=2), Categorical(num_actions=4)]
ALL_DISTS = [*DISTS, MultiCategorical(nvec=(3, 2)), Bernoulli(num_bits=3)]
ALL_IDS = ["gaussian", "categorical", "multicategorical", "bernoulli"]


@pytest.mark.parametrize("dist", ALL_DISTS, ids=ALL_IDS)
def test_fisher_vector_product_matches_dense_fisher(x64, dist):
    actor, obs = tiny_policy(dist)
    theta, kl = mean_kl_fn(dist, actor, obs)
    damping = 0.05
    hessian = np.asarray(jax.hessian(kl)(theta))
    jtmj = dense_fisher_jtmj(dist, actor, obs)
    # Two independent routes to the same matrix agree with each other ...
    np.testing.assert_allclose(hessian, jtmj, rtol=1e-7, atol=1e-10)
    # ... and with the matrix-free product, for several directions.
    rng = np.random.default_rng(0)
    for _ in range(3):
        v = jnp.asarray(rng.standard_normal(theta.size))
        fv = fisher_vector_product(kl, theta, v, damping)
        np.testing.assert_allclose(fv, (jtmj + damping * np.eye(theta.size)) @ np.asarray(v), rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("dist", ALL_DISTS, ids=ALL_IDS)
def test_linearized_fisher_matches_dense_fisher(x64, dist):
    """J^T H J through linearize + transpose equals the hand-written mean_i J_i^T M_i J_i."""
    actor, obs = tiny_policy(dist, seed=5)
    theta, unravel = ravel_pytree(actor)
    old = jax.lax.stop_gradient(actor_forward(actor, obs))
    damping = 0.05
    matvec = linearized_fisher(
        lambda t: actor_forward(unravel(t), obs), lambda q: jnp.mean(dist.kl(old, q)), theta, damping
    )
    fisher = dense_fisher_jtmj(dist, actor, obs) + damping * np.eye(theta.size)
    rng = np.random.default_rng(2)
    for _ in range(3):
        v = rng.standard_normal(theta.size)
        np.testing.assert_allclose(matvec(jnp.asarray(v)), fisher @ v, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("dist", DISTS, ids=["gaussian", "categorical"])
def test_natural_gradient_direction_matches_dense_solve(x64, dist):
    actor, obs = tiny_policy(dist, seed=3)
    theta, kl = mean_kl_fn(dist, actor, obs)
    damping = 0.1
    g = jnp.asarray(np.random.default_rng(1).standard_normal(theta.size))
    fisher = dense_fisher_jtmj(dist, actor, obs) + damping * np.eye(theta.size)
    direction, _ = conjugate_gradient(
        lambda v: fisher_vector_product(kl, theta, v, damping), g, iters=theta.size, residual_tol=0.0
    )
    np.testing.assert_allclose(direction, np.linalg.solve(fisher, np.asarray(g)), rtol=1e-5, atol=1e-8)


def test_full_step_lies_on_the_quadratic_kl_boundary(x64):
    # beta = sqrt(2 delta / s^T F s) makes the quadratic model 1/2 (beta s)^T F (beta s) = delta.
    rng = np.random.default_rng(2)
    fisher = random_spd(rng, 5)
    s = jnp.asarray(rng.standard_normal(5))
    step = np.asarray(scale_to_trust_region(s, jnp.asarray(fisher) @ s, max_kl=0.03))
    assert 0.5 * step @ fisher @ step == pytest.approx(0.03, rel=1e-12)


# --- the line search -------------------------------------------------------------------------


def test_line_search_accepts_the_first_fraction_that_satisfies_both_conditions(x64):
    # KL(theta) = theta^2 / 2 and surrogate = theta, from theta_old = 0, full step 1, max_kl 0.1:
    # fractions 0.5^k; KL <= 0.1 needs fraction <= sqrt(0.2) = 0.447, first is 0.5^2 = 0.25.
    result = backtracking_line_search(
        lambda t: (t[0], 0.5 * t[0] ** 2),
        jnp.zeros(1),
        jnp.ones(1),
        max_kl=0.1,
        backtrack_coeff=0.5,
        backtrack_iters=10,
    )
    assert float(result.accepted) == 1.0
    assert float(result.step_fraction) == 0.25
    np.testing.assert_allclose(result.theta, [0.25])
    assert float(result.kl) == pytest.approx(0.5 * 0.25**2)
    assert float(result.surrogate_gain) == pytest.approx(0.25)


def test_line_search_keeps_theta_bit_for_bit_when_nothing_is_accepted():
    theta_old = jnp.asarray(np.random.default_rng(0).standard_normal(11), jnp.float32)
    # The surrogate only gets worse along the step: nothing may be accepted.
    result = backtracking_line_search(
        lambda t: (-jnp.sum((t - theta_old) ** 2), jnp.zeros(())),
        theta_old,
        jnp.full(11, 0.3, jnp.float32),
        max_kl=0.01,
        backtrack_coeff=0.8,
        backtrack_iters=10,
    )
    assert float(result.accepted) == 0.0
    assert float(result.kl) == 0.0 and float(result.surrogate_gain) == 0.0 and float(result.step_fraction) == 0.0
    assert np.asarray(result.theta).tobytes() == np.asarray(theta_old).tobytes()


def random_policy_problem(dist, seed, batch=64, obs_dim=4):
    key = jax.random.PRNGKey(seed)
    k1, k2, k3, k4 = jax.random.split(key, 4)
    actor = init_actor(k1, obs_dim, (16, 16), dist, 0.0)
    obs = jax.random.normal(k2, (batch, obs_dim))
    actions = dist.sample(k3, actor_forward(actor, obs))
    advantages = jax.random.normal(k4, (batch,))
    return actor, obs, actions, advantages


@pytest.mark.parametrize("dist", DISTS, ids=["gaussian", "categorical"])
@pytest.mark.parametrize("seed", range(4))
def test_accepted_policy_steps_satisfy_the_trust_region(dist, seed):
    actor, obs, actions, advantages = random_policy_problem(dist, seed)
    # A large max_kl makes the quadratic model wrong enough that backtracking is needed at times.
    config = TRPOConfig(max_kl=[0.01, 0.05, 0.5, 2.0][seed], cg_iters=10)
    new_actor, stats = policy_step(actor, obs, actions, advantages, dist, config)
    assert float(stats.line_search_accepted) == 1.0
    # Recompute KL and the surrogate gain independently of the learner.
    old, new = actor_forward(actor, obs), actor_forward(new_actor, obs)
    kl = float(jnp.mean(dist.kl(old, new)))
    ratio = jnp.exp(dist.log_prob(new, actions) - dist.log_prob(old, actions))
    gain = float(jnp.mean(ratio * advantages) - jnp.mean(advantages))
    assert kl <= config.max_kl * (1 + 1e-5)
    assert gain > 0
    assert stats.kl == pytest.approx(kl, rel=1e-4, abs=1e-7)
    assert stats.surrogate_gain == pytest.approx(gain, rel=1e-3, abs=1e-7)


def test_policy_step_with_no_possible_improvement_leaves_actor_bit_for_bit():
    dist = DiagGaussian(action_dim=2)
    actor, obs, actions, _ = random_policy_problem(dist, seed=5)
    # Zero advantages: no step can have a positive surrogate gain.
    new_actor, stats = policy_step(actor, obs, actions, jnp.zeros(obs.shape[0]), dist, TRPOConfig())
    assert float(stats.line_search_accepted) == 0.0
    assert float(stats.kl) == 0.0
    for old, new in zip(jax.tree.leaves(actor), jax.tree.leaves(new_actor), strict=True):
        assert np.asarray(old).tobytes() == np.asarray(new).tobytes()


def test_fisher_subsampling_solves_with_the_dense_fisher_of_every_kth_sample():
    # OpenAI Baselines' FVP on every k-th sample: the step must be the natural step under the
    # Fisher of obs[::k] (written out as J^T M J on those samples), and it must differ from the
    # full-batch one. NPG with exact CG makes the step (F_k + damping I)^-1 g, scaled to max_kl.
    dist, k = DiagGaussian(action_dim=2), 3
    actor, obs, actions, advantages = random_policy_problem(dist, seed=11, batch=12)
    config = TRPOConfig(npg=True, fisher_subsample=k, cg_iters=200, cg_residual_tol=0.0, max_kl=0.01)
    new_actor, _ = policy_step(actor, obs, actions, advantages, dist, config)
    theta_old, _ = ravel_pytree(actor)
    delta = np.asarray(ravel_pytree(new_actor)[0] - theta_old, np.float64)
    with jax.enable_x64(True):
        actor64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), actor)
        obs64 = jnp.asarray(obs, jnp.float64)
        theta64, unravel = ravel_pytree(actor64)
        old = actor_forward(actor64, obs64)

        def surrogate(t):
            new = actor_forward(unravel(t), obs64)
            return jnp.mean(jnp.exp(dist.log_prob(new, actions) - dist.log_prob(old, actions)) * advantages)

        g = np.asarray(jax.grad(surrogate)(theta64))
        damped = lambda f: f + config.cg_damping * np.eye(theta64.size)
        sub = np.linalg.solve(damped(dense_fisher_jtmj(dist, actor64, obs64[::k])), g)
        full = np.linalg.solve(damped(dense_fisher_jtmj(dist, actor64, obs64)), g)
    cosine = lambda a, b: a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    assert cosine(delta, sub) == pytest.approx(1.0, abs=1e-5)
    assert cosine(delta, full) < 0.999
