import numpy as np

from trpo.normalization import ObservationNormalizer, RunningMeanStd


def test_batched_updates_equal_statistics_of_all_data():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(1000, 4))
    stats = RunningMeanStd((4,))
    for chunk in np.array_split(data, [1, 10, 300, 301, 999]):
        stats.update(chunk)
    np.testing.assert_allclose(stats.mean, data.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.var, data.var(0), rtol=1e-10)
    assert stats.count == 1000


def test_normaliser_scales_and_clips():
    norm = ObservationNormalizer(2, enabled=True, clip=3.0)
    norm.update(np.array([[0.0, 10.0], [2.0, 10.0]]))  # mean (1, 10), var (1, 0)
    out = norm(np.array([[3.0, 10.0], [1.0, 11.0]], np.float32))
    np.testing.assert_allclose(out, [[2.0, 0.0], [0.0, 3.0]], atol=1e-4)
    assert out.dtype == np.float32


def test_disabled_normaliser_is_identity():
    norm = ObservationNormalizer(2, enabled=False, clip=1.0)
    norm.update(np.ones((3, 2)))
    np.testing.assert_array_equal(norm(np.array([[5.0, -7.0]])), [[5.0, -7.0]])
