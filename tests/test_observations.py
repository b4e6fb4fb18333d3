"""ObservationSpec encoding, the normaliser on observation dicts, and the CNN's shapes."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trpo.envs.errors import EnvError
from trpo.envs.spaces import observation_spec
from trpo.learning.distributions import Categorical
from trpo.learning.networks import actor_forward, critic_forward, init_actor, init_critic
from trpo.learning.normalization import ObservationNormalizer, init_stats, update_stats
from trpo.learning.observations import IMAGE, VECTOR, ObservationSpec

Box, Discrete = gym.spaces.Box, gym.spaces.Discrete


def test_dict_of_box_and_discrete_is_one_hot_and_concatenated_in_key_order():
    # gymnasium sorts Dict keys: "a" (Box 2x2) then "b" (Discrete 3).
    space = gym.spaces.Dict({"b": Discrete(3), "a": Box(-1.0, 1.0, (2, 2))})
    spec = ObservationSpec.from_space(space)
    assert spec.vector_dim == 4 + 3 and spec.image is None and spec.keys == (VECTOR,)
    batch = spec.encode([{"a": np.array([[1, 2], [3, 4]]), "b": 2}, {"a": np.zeros((2, 2)), "b": 0}])
    # Without an image, observations are the vector part alone: a plain array.
    np.testing.assert_array_equal(batch, [[1, 2, 3, 4, 0, 0, 1], [0, 0, 0, 0, 1, 0, 0]])


def test_nested_tuple_matches_the_equivalent_dict():
    tuple_space = gym.spaces.Tuple((Discrete(2), gym.spaces.Tuple((Box(0.0, 1.0, (3,)), Discrete(4)))))
    spec = ObservationSpec.from_space(tuple_space)
    out = spec.encode([(1, (np.array([0.1, 0.2, 0.3]), 3))])
    np.testing.assert_allclose(out, [[0, 1, 0.1, 0.2, 0.3, 0, 0, 0, 1]], rtol=1e-6)


def test_images_are_stored_height_width_channels_whatever_the_env_layout():
    rng = np.random.default_rng(0)
    hwc = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    chw = np.moveaxis(hwc, -1, 0)
    for space, raw in (
        (Box(0, 255, (6, 5, 3), np.uint8), hwc),
        (Box(0, 255, (3, 6, 5), np.uint8), chw),
    ):
        spec = ObservationSpec.from_space(space)
        assert spec.image.shape == (6, 5, 3) and spec.vector_dim == 0
        out = spec.encode([raw])
        assert out[IMAGE].dtype == np.uint8
        np.testing.assert_array_equal(out[IMAGE][0], hwc)
    gray = ObservationSpec.from_space(Box(0, 255, (6, 5), np.uint8))
    np.testing.assert_array_equal(gray.encode([hwc[..., 0]])[IMAGE][0], hwc[..., :1])
    # A float Box of the same shape is a vector, not an image.
    assert ObservationSpec.from_space(Box(0.0, 1.0, (6, 5, 3))).vector_dim == 90


def test_dict_with_an_image_and_vectors_and_batched_encoding():
    space = gym.spaces.Dict({"pixels": Box(0, 255, (4, 4, 1), np.uint8), "speed": Box(-1.0, 1.0, (2,))})
    spec = ObservationSpec.from_space(space)
    assert spec.keys == (VECTOR, IMAGE) and spec.vector_dim == 2
    single = space.sample()
    encoded, is_single = spec.encode_any(single)
    assert is_single and encoded[IMAGE].shape == (1, 4, 4, 1)
    batch = {"pixels": np.stack([single["pixels"]] * 3), "speed": np.stack([single["speed"]] * 3)}
    encoded, is_single = spec.encode_any(batch)
    assert not is_single and encoded[VECTOR].shape == (3, 2)
    np.testing.assert_allclose(encoded[VECTOR][2], single["speed"])


def test_unsupported_spaces_name_the_problem():
    with pytest.raises(EnvError, match="more than one image"):
        observation_spec(gym.spaces.Tuple((Box(0, 255, (8, 8), np.uint8), Box(0, 255, (8, 8), np.uint8))))
    with pytest.raises(EnvError, match="unsupported observation space Text.* at text"):
        observation_spec(gym.spaces.Dict({"text": gym.spaces.Text(5)}))


def test_normaliser_touches_the_vector_part_only():
    image = np.full((4, 3, 3, 1), 200, np.uint8)
    vectors = np.array([[0.0, 10.0], [2.0, 10.0], [4.0, 30.0], [6.0, 30.0]], np.float32)
    norm = ObservationNormalizer(update_stats(init_stats((2,)), vectors), enabled=True, clip=10.0)
    out = norm({VECTOR: vectors, IMAGE: image})
    assert out[IMAGE] is image
    # mean (3, 20), std (sqrt(5), 10)
    np.testing.assert_allclose(out[VECTOR][0], [-3 / np.sqrt(5), -1.0], rtol=1e-5)
    assert ObservationNormalizer.fresh(0, enabled=True, clip=10.0).enabled is False


@pytest.mark.parametrize(("shape", "cnn"), [((36, 36, 4), "nature"), ((5, 5, 2), "small")])
def test_cnn_actor_and_critic_shapes_and_leading_dimensions(shape, cnn):
    space = gym.spaces.Dict({"image": Box(0, 255, shape, np.uint8), "v": Box(-1.0, 1.0, (3,))})
    spec = ObservationSpec.from_space(space)
    dist = Categorical(num_actions=4)
    actor = init_actor(jax.random.PRNGKey(0), spec, (16,), dist, 0.0, cnn)
    critic = init_critic(jax.random.PRNGKey(1), spec, (16,), cnn)
    obs = spec.allocate(2, 3)
    obs[IMAGE][...] = np.random.default_rng(0).integers(0, 256, obs[IMAGE].shape, dtype=np.uint8)
    logits = jax.jit(actor_forward)(actor, obs)
    values = jax.jit(critic_forward)(critic, obs)
    assert logits.shape == (2, 3, 4) and values.shape == (2, 3)
    # The same observation gives the same output whatever the batch layout.
    flat = {k: v.reshape(6, *v.shape[2:]) for k, v in obs.items()}
    np.testing.assert_allclose(jax.jit(actor_forward)(actor, flat).reshape(2, 3, 4), logits, rtol=1e-5, atol=1e-6)


def test_nature_cnn_refuses_images_too_small_for_it():
    # 35 pixels: the 8x8 stride-4 and 4x4 stride-2 layers leave 2x2, the 3x3 layer nothing.
    spec = ObservationSpec.from_space(Box(0, 255, (35, 35, 1), np.uint8))
    with pytest.raises(ValueError, match="too small for the 'nature' CNN; use cnn='small'"):
        init_actor(jax.random.PRNGKey(0), spec, (), Categorical(num_actions=2), 0.0, "nature")


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding"),
    [
        (84, 8, 4, "VALID"),
        (20, 4, 2, "VALID"),
        (9, 3, 1, "VALID"),
        (5, 3, 1, "SAME"),
        (7, 4, 2, "SAME"),
        (6, 3, 2, "SAME"),
    ],
)
def test_conv2d_as_patches_times_kernel_is_xlas_convolution_values_and_gradients(size, kernel, stride, padding):
    """networks.conv2d (image patches @ kernel) against jax.lax.conv_general_dilated, the
    independent reference, for the Nature CNN's three layers and SAME padding with odd and even
    totals; gradients in both the input and the kernel."""
    from trpo.learning.networks import Conv, conv2d

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((2, size, size, 3)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((kernel, kernel, 3, 5)), jnp.float32)

    def reference(x, w):
        return jax.lax.conv_general_dilated(x, w, (stride, stride), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def ours(x, w):
        return conv2d(x, Conv(w, jnp.zeros(5), stride, padding))

    np.testing.assert_allclose(ours(x, w), reference(x, w), rtol=1e-4, atol=1e-4)
    weights = jnp.asarray(rng.standard_normal(reference(x, w).shape), jnp.float32)
    grads = [jax.grad(lambda x, w, f=f: jnp.sum(f(x, w) * weights), argnums=(0, 1))(x, w) for f in (ours, reference)]
    for got, want in zip(*grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


def test_cnn_advantages_skip_the_final_observations_only_when_no_episode_was_truncated():
    """compute_advantages runs a CNN critic over final_obs only if some row is truncated: the
    result equals GAE with the final values computed directly, with and without truncations."""
    from trpo.learning.advantages import gae, next_state_values
    from trpo.learning.batch import Batch
    from trpo.learning.learner import compute_advantages

    spec = ObservationSpec.from_space(Box(0, 255, (12, 12, 2), np.uint8))
    critic = init_critic(jax.random.PRNGKey(1), spec, (8,), "small")
    rng = np.random.default_rng(0)

    def images(*lead):
        return {IMAGE: rng.integers(0, 256, (*lead, 12, 12, 2), dtype=np.uint8)}

    for truncated_rows in ([], [(3, 1)]):
        truncated = np.zeros((6, 2), bool)
        for t, n in truncated_rows:
            truncated[t, n] = True
        batch = Batch(images(6, 2), np.zeros((6, 2), np.int64), rng.standard_normal((6, 2)).astype(np.float32),
                      np.zeros((6, 2), bool), truncated, images(6, 2), images(2))  # fmt: skip
        got = jax.jit(compute_advantages, static_argnums=(2, 3, 4))(critic, batch, 0.9, 0.8, False)
        values = critic_forward(critic, batch.obs)
        next_values = next_state_values(
            values, critic_forward(critic, batch.last_obs), critic_forward(critic, batch.final_obs), truncated
        )
        want = gae(batch.rewards, values, next_values, batch.terminated, truncated, 0.9, 0.8)
        np.testing.assert_allclose(got["advantages"], np.asarray(want).reshape(-1), rtol=1e-5, atol=1e-5)
