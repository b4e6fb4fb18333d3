import jax.numpy as jnp
import numpy as np

from trpo.learning.normalization import ObservationNormalizer, init_stats, normalize, update_stats


def test_batched_updates_equal_statistics_of_all_data():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(1000, 4))
    stats = init_stats((4,))
    for chunk in np.array_split(data, [1, 10, 300, 301, 999]):
        stats = update_stats(stats, chunk)
    np.testing.assert_allclose(stats.mean, data.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.var, data.var(0), rtol=1e-10)
    assert stats.count == 1000 and stats.mean.dtype == np.float64


def test_jax_statistics_follow_the_same_formula_in_float32():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, (n, 3)).astype(np.float32) for n in (5, 1, 40)]
    host, device = init_stats((3,)), init_stats((3,), jnp)
    for b in batches:
        host, device = update_stats(host, b), update_stats(device, jnp.asarray(b), jnp)
    assert device.mean.dtype == jnp.float32 and float(device.count) == host.count == 46
    np.testing.assert_allclose(device.mean, host.mean, rtol=1e-5)
    np.testing.assert_allclose(device.var, host.var, rtol=1e-5)
    # Normalised observations agree (clip 1.5 bites on some entries).
    obs = rng.normal(3.0, 4.0, (8, 3)).astype(np.float32)
    got = normalize(device, jnp.asarray(obs), 1.5, jnp)
    np.testing.assert_allclose(got, normalize(host, obs, 1.5), atol=1e-5)
    assert np.abs(np.asarray(got)).max() == np.float32(1.5)


def test_normaliser_scales_and_clips():
    stats = update_stats(init_stats((2,)), np.array([[0.0, 10.0], [2.0, 10.0]]))  # mean (1, 10), var (1, 0)
    norm = ObservationNormalizer(stats, enabled=True, clip=3.0)
    out = norm(np.array([[3.0, 10.0], [1.0, 11.0]], np.float32))
    np.testing.assert_allclose(out, [[2.0, 0.0], [0.0, 3.0]], atol=1e-4)
    assert out.dtype == np.float32


def test_disabled_normaliser_is_identity():
    stats = update_stats(init_stats((2,)), np.ones((3, 2)))
    norm = ObservationNormalizer(stats, enabled=False, clip=1.0)
    np.testing.assert_array_equal(norm(np.array([[5.0, -7.0]])), [[5.0, -7.0]])
