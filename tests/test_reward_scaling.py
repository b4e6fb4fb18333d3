"""Reward scaling by the running std of the discounted return, against direct derivations."""

import jax.numpy as jnp
import numpy as np
import pytest

from trpo.learning.normalization import (
    discounted_return_traces,
    discounted_return_traces_jax,
    init_reward_stats,
    scale_rewards,
    update_reward_stats,
)


def direct_traces(carry, rewards, ends, gamma):
    """y_t = sum_{k=s..t} gamma^(t-k) r_k (+ gamma^(t-s+1) carry when no episode ended before t),
    with s the first step after the latest episode end before t: summed term by term."""
    steps, n = rewards.shape
    out = np.zeros((steps, n))
    for i in range(n):
        for t in range(steps):
            ended_before = [k for k in range(t) if ends[k, i]]
            start = ended_before[-1] + 1 if ended_before else 0
            total = sum(gamma ** (t - k) * rewards[k, i] for k in range(start, t + 1))
            if not ended_before:
                total += gamma ** (t + 1) * carry[i]
            out[t, i] = total
    return out


def random_stream(seed, steps=12, n=3):
    rng = np.random.default_rng(seed)
    rewards = rng.normal(size=(steps, n))
    ends = rng.random((steps, n)) < 0.2
    return rewards, ends


@pytest.mark.parametrize("seed", range(3))
def test_traces_match_the_discounted_sums_written_out(seed):
    rewards, ends = random_stream(seed)
    carry = np.array([0.5, -1.0, 2.0])
    traces, _ = discounted_return_traces(carry, rewards, ends, gamma=0.9)
    np.testing.assert_allclose(traces, direct_traces(carry, rewards, ends, 0.9), rtol=1e-12)


def test_traces_carry_over_between_batches():
    rewards, ends = random_stream(7, steps=20)
    whole, whole_carry = discounted_return_traces(np.zeros(3), rewards, ends, 0.99)
    first, carry = discounted_return_traces(np.zeros(3), rewards[:8], ends[:8], 0.99)
    second, last_carry = discounted_return_traces(carry, rewards[8:], ends[8:], 0.99)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-12)
    np.testing.assert_allclose(last_carry, whole_carry, rtol=1e-12)


def test_trace_restarts_after_an_episode_end():
    # One env: rewards 1, 1 | end | 1. y = 1, 1 + g, then restart: 1.
    traces, carry = discounted_return_traces(
        np.zeros(1), np.ones((3, 1)), np.array([[False], [True], [False]]), gamma=0.5
    )
    np.testing.assert_allclose(traces[:, 0], [1.0, 1.5, 1.0])
    np.testing.assert_allclose(carry, [1.0])


@pytest.mark.parametrize("xp", [np, jnp], ids=["numpy", "jax"])
def test_scaler_divides_by_the_std_of_all_traces_seen_and_clips(xp):
    rewards, ends = random_stream(1, steps=30)
    stats = init_reward_stats(3, xp)
    for part in (slice(0, 10), slice(10, None)):
        stats = update_reward_stats(stats, xp.asarray(rewards[part]), xp.asarray(ends[part]), 0.95, xp)
    traces = direct_traces(np.zeros(3), rewards, ends, 0.95)
    np.testing.assert_allclose(stats.trace, traces[-1] * ~ends[-1], rtol=1e-5)
    expected = np.clip(rewards / np.sqrt(traces.var() + 1e-8), -0.5, 0.5)
    scaled = np.asarray(scale_rewards(stats, xp.asarray(rewards), 0.5, xp))
    np.testing.assert_allclose(scaled, expected, rtol=1e-5)
    assert scaled.dtype == np.float32 and np.abs(scaled).max() <= 0.5
    assert np.any(np.abs(expected) == 0.5)  # the clip bound is reached in this stream


def test_jax_traces_equal_the_numpy_traces():
    rewards, ends = random_stream(4, steps=25)
    carry = np.array([0.5, -1.0, 2.0])
    expected, expected_carry = discounted_return_traces(carry, rewards, ends, 0.9)
    got, got_carry = discounted_return_traces_jax(jnp.asarray(carry, jnp.float32), jnp.asarray(rewards), ends, 0.9)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_carry, expected_carry, rtol=1e-5, atol=1e-6)
