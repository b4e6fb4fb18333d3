"""JAX env adapters: the same-step autoreset and time-limit rules of trpo.envs, and the
Gymnasium wrapper that lets TRPO.load / evaluate work on gymnax: and brax: ids."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trpo.envs.errors import EnvError
from trpo.envs.jax_envs import JaxGymEnv, is_jax_env_id, make_jax_env
from trpo.envs.make import env_factory
from trpo.learning.distributions import Categorical, DiagGaussian

pytest.importorskip("gymnax")


def rollout(env, steps, action, seed=0):
    """`steps` jitted steps with a constant action; returns the stacked Transitions."""
    state, obs = env.reset(jax.random.PRNGKey(seed))

    def body(carry, key):
        state, _ = carry
        t = env.step(key, state, action)
        return (t.state, t.obs), t

    _, transitions = jax.jit(lambda s, o: jax.lax.scan(body, (s, o), jax.random.split(jax.random.PRNGKey(1), steps)))(
        state, obs
    )
    return obs, transitions


def test_ids_and_spaces():
    assert is_jax_env_id("gymnax:CartPole-v1") and is_jax_env_id("brax:ant") and not is_jax_env_id("CartPole-v1")
    cartpole = make_jax_env("gymnax:CartPole-v1")
    assert cartpole.obs_dim == 4 and cartpole.distribution == Categorical(2) and cartpole.max_episode_steps == 500
    pendulum = make_jax_env("gymnax:Pendulum-v1")
    assert pendulum.distribution == DiagGaussian(1) and pendulum.max_episode_steps == 200


def test_unknown_id_names_close_matches():
    with pytest.raises(EnvError, match="gymnax:CartPole-v1"):
        make_jax_env("gymnax:CartPol-v1")
    with pytest.raises(EnvError, match="not a JAX env id"):
        make_jax_env("jumanji:Snake-v1")


def test_termination_resets_in_the_same_step():
    # Pushing left every step tips the pole within a few dozen steps: terminated, not truncated.
    env = make_jax_env("gymnax:CartPole-v1")
    _, t = rollout(env, 100, jnp.int32(0))
    ends = np.flatnonzero(np.asarray(t.terminated))
    assert len(ends) >= 2 and not np.asarray(t.truncated).any()
    end = ends[0]
    # The final observation is past the threshold (|theta| > 12 degrees or |x| > 2.4); the
    # returned observation is a fresh reset (every component within +-0.05).
    final = np.asarray(t.final_obs[end])
    assert abs(final[2]) > 0.2094 or abs(final[0]) > 2.4
    assert np.all(np.abs(np.asarray(t.obs[end])) <= 0.05)
    # Inside an episode the next step starts from the returned observation.
    assert np.allclose(t.final_obs[end - 1], t.obs[end - 1])


def test_time_limit_truncates_at_max_steps():
    # Pendulum never terminates; gymnax cuts it at 200 steps.
    env = make_jax_env("gymnax:Pendulum-v1")
    _, t = rollout(env, 450, jnp.zeros(1))
    assert np.flatnonzero(np.asarray(t.truncated)).tolist() == [199, 399]
    assert not np.asarray(t.terminated).any()
    assert not np.allclose(t.final_obs[199], t.obs[199])  # final observation kept, obs is the reset one


def test_gymnasium_wrapper_replays_a_seed():
    env = env_factory("gymnax:CartPole-v1")()
    assert isinstance(env, JaxGymEnv)
    first, _ = env.reset(seed=7)
    obs_a = [env.step(1)[0] for _ in range(5)]
    again, _ = env.reset(seed=7)
    obs_b = [env.step(1)[0] for _ in range(5)]
    assert np.array_equal(first, again) and np.array_equal(np.stack(obs_a), np.stack(obs_b))
    total, done = 0.0, False
    env.reset(seed=0)
    while not done:
        obs, reward, terminated, truncated, _ = env.step(0)
        total += reward
        done = terminated or truncated
    assert terminated and not truncated and 5 <= total < 100 and obs.dtype == np.float32


def test_brax_env_step_and_time_limit():
    pytest.importorskip("brax")
    from trpo.envs.jax_envs import _brax_env

    env = _brax_env("brax:fast", "fast", episode_length=7)
    assert env.distribution == DiagGaussian(env.action_space.shape[0])
    _, t = rollout(env, 15, jnp.zeros(env.action_space.shape))
    assert np.flatnonzero(np.asarray(t.truncated)).tolist() == [6, 13]
    assert np.all(np.isfinite(np.asarray(t.obs)))
