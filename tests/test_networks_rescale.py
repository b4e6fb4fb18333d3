"""networks.rescale_vector_inputs: the first layer absorbs a change of observation statistics,
checked against the plain definition (the same outputs on raw observations), vector and image
observations alike."""

import gymnasium as gym
import jax
import numpy as np
import pytest

from trpo.learning.distributions import DiagGaussian
from trpo.learning.networks import actor_forward, init_actor, rescale_vector_inputs
from trpo.learning.observations import IMAGE, VECTOR, ObservationSpec


def normalise(x, mean, std):
    return (x - mean) / std


@pytest.mark.parametrize("with_image", [False, True])
def test_same_outputs_on_raw_observations_under_either_statistics(with_image):
    rng = np.random.default_rng(0)
    d = 5
    dist = DiagGaussian(2)
    if with_image:
        space = gym.spaces.Dict(
            {"camera": gym.spaces.Box(0, 255, (6, 6, 1), np.uint8), "joints": gym.spaces.Box(-1.0, 1.0, (d,))}
        )
        spec = ObservationSpec.from_space(space)
        assert spec.image is not None and spec.vector_dim == d
        params = init_actor(jax.random.PRNGKey(0), spec, (16,), dist, 0.0, "small")
    else:
        params = init_actor(jax.random.PRNGKey(0), d, (16,), dist, 0.0)
    # Stronger first-layer weights than the init, so a wrong row or sign shows in the outputs.
    params["mlp"][0]["w"] = params["mlp"][0]["w"] * 3.0
    old_mean, old_std = rng.normal(size=d), rng.uniform(0.5, 2.0, size=d)
    new_mean, new_std = rng.normal(size=d), rng.uniform(0.5, 2.0, size=d)
    raw = rng.normal(size=(7, d)) * 2.0

    def obs(vector):
        vector = np.asarray(vector, np.float32)
        if not with_image:
            return vector
        image = np.random.default_rng(1).integers(0, 255, size=(7, 6, 6, 1), dtype=np.uint8)
        return {IMAGE: image, VECTOR: vector}

    rewritten = rescale_vector_inputs(params, old_mean, old_std, new_mean, new_std)
    before = actor_forward(params, obs(normalise(raw, old_mean, old_std)))[0]
    after = actor_forward(rewritten, obs(normalise(raw, new_mean, new_std)))[0]
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-5)
    unchanged = actor_forward(params, obs(normalise(raw, new_mean, new_std)))[0]
    assert np.abs(unchanged - before).max() > 1e-3  # without the rewrite the outputs differ
    if with_image:  # the CNN features' rows are not touched
        rows = params["mlp"][0]["w"].shape[0] - d
        np.testing.assert_array_equal(rewritten["mlp"][0]["w"][:rows], params["mlp"][0]["w"][:rows])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_recurrent_core_absorbs_the_change(kind):
    """A recurrent actor reads the observation through its core's input weights: one step from the
    same state gives the same outputs and the same new state on raw observations either way."""
    from trpo.learning.networks import actor_step
    from trpo.learning.recurrent import state_size

    rng = np.random.default_rng(0)
    d = 4
    params = init_actor(jax.random.PRNGKey(0), d, (16,), DiagGaussian(2), 0.0, recurrent=kind, recurrent_size=6)
    old_mean, old_std = rng.normal(size=d), rng.uniform(0.5, 2.0, size=d)
    new_mean, new_std = rng.normal(size=d), rng.uniform(0.5, 2.0, size=d)
    raw = rng.normal(size=(7, d)) * 2.0
    state = rng.normal(size=(7, state_size(kind, 6))).astype(np.float32)
    rewritten = rescale_vector_inputs(params, old_mean, old_std, new_mean, new_std)
    np.testing.assert_array_equal(rewritten["mlp"][0]["w"], params["mlp"][0]["w"])
    before = actor_step(params, np.float32(normalise(raw, old_mean, old_std)), state)
    after = actor_step(rewritten, np.float32(normalise(raw, new_mean, new_std)), state)
    np.testing.assert_allclose(after[0][0], before[0][0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(after[1], before[1], rtol=1e-4, atol=1e-5)
    unchanged = actor_step(params, np.float32(normalise(raw, new_mean, new_std)), state)[1]
    assert np.abs(unchanged - before[1]).max() > 1e-3  # without the rewrite the state differs
