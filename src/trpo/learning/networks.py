"""Actor and critic networks as plain parameter pytrees, with a JAX forward and a NumPy forward.

Parameters are nested dicts of arrays, so the learner can flatten them for the trust-region
step and the sampler can run the same forward in NumPy (no framework call per env step).
Init follows the strongest published TRPO/PPO runs: orthogonal weights with gain sqrt(2) in
hidden layers, 0.01 on the policy head, 1.0 on the value head, zero biases.

Input is a vector [..., D] or an observation dict (see trpo.learning.observations): its "image" part
(uint8 [..., H, W, C]) is scaled to [0, 1] and goes through a CNN ("cnn" in the parameters,
JAX only); the CNN features, concatenated with the "vector" part, feed the MLP. Actor and critic
each have their own CNN, as in OpenAI Baselines' trpo_mpi, so the policy step moves only the actor's.

A recurrent network ("core" in the parameters: an LSTM or GRU, trpo.learning.recurrent) runs its
core on those features and feeds the core's output to the MLP (SB3's RecurrentPPO layout). It is
called on `Sequences` (a rollout, time-major, with its episode starts and initial state; the
outputs come flattened to [T * N, ...]), or one step at a time with `actor_step`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from trpo.learning.distributions import DiagGaussian, Distribution
from trpo.learning.observations import IMAGE, VECTOR, ObservationSpec
from trpo.learning.recurrent import Sequences, init_core, unroll
from trpo.learning.recurrent import step as core_step

Params = dict[str, Any]


@jax.tree_util.register_dataclass
@dataclass
class Conv:
    """One convolution layer; stride and padding travel with it as static pytree metadata, so
    the parameters alone say how to run the CNN."""

    w: Any
    """kernel [kh, kw, in, out]"""
    b: Any
    stride: int = field(default=1, metadata={"static": True})
    padding: str = field(default="VALID", metadata={"static": True})


@dataclass(frozen=True)
class CnnArchitecture:
    convs: tuple[tuple[int, int, int], ...]
    """(output channels, kernel size, stride) per layer, each followed by a ReLU"""
    padding: str
    dense: int
    """width of the ReLU layer after the convolutions (the CNN's feature size)"""


CNNS = {
    # Mnih et al. (2015), "Human-level control through deep reinforcement learning": for 84x84 frames.
    "nature": CnnArchitecture(convs=((32, 8, 4), (64, 4, 2), (64, 3, 1)), padding="VALID", dense=512),
    # For small images (a few pixels per side), where the Nature strides would leave nothing.
    "small": CnnArchitecture(convs=((16, 3, 1), (32, 3, 1)), padding="SAME", dense=128),
}


def _dense(key: jax.Array, n_in: int, n_out: int, gain: float) -> Params:
    w = jax.nn.initializers.orthogonal(scale=gain)(key, (n_in, n_out), jnp.float32)
    return {"w": w, "b": jnp.zeros((n_out,), jnp.float32)}


def init_mlp(key: jax.Array, sizes: list[int], head_gain: float) -> list[Params]:
    """Layers sizes[0] -> ... -> sizes[-1]; hidden layers get gain sqrt(2), the last head_gain."""
    keys = jax.random.split(key, len(sizes) - 1)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        gain = head_gain if i == len(sizes) - 2 else math.sqrt(2.0)
        layers.append(_dense(keys[i], n_in, n_out, gain))
    return layers


def mlp(layers: list[Params], x: Any, xp: Any = jnp) -> Any:
    """tanh MLP with a linear last layer; xp is jax.numpy or numpy."""
    for layer in layers[:-1]:
        x = xp.tanh(x @ layer["w"] + layer["b"])
    return x @ layers[-1]["w"] + layers[-1]["b"]


def rescale_vector_inputs(params: Params, old_mean: Any, old_std: Any, new_mean: Any, new_std: Any) -> Params:
    """The same network for inputs normalised with new statistics: the first MLP layer's rows
    that read the observation vector (the last rows; CNN features come first) absorb the change,
    so that for every raw x, layer((x - new_mean) / new_std) == layer((x - old_mean) / old_std)
    (exact up to rounding where neither normalisation clips). With z_old = (new_std * z_new +
    new_mean - old_mean) / old_std: W' = diag(new_std / old_std) W and b' = b + ((new_mean -
    old_mean) / old_std) W. Keeps the policy that collected a batch unchanged when the statistics
    take the batch in (trpo.training.train_step), as PopArt does for a value head's outputs.

    A recurrent network reads the observation through its core's input weights (x @ wi + h @ wh
    + b, every gate): those rows and biases absorb the change there, the MLP is left alone."""
    core = params.get("core")
    first = params["mlp"][0]
    w, b = (core.wi, core.b) if core is not None else (first["w"], first["b"])
    d = np.shape(old_mean)[-1]
    vector_rows = w[w.shape[0] - d :]
    ratio = jnp.asarray(new_std / old_std, w.dtype)
    shift = jnp.asarray((new_mean - old_mean) / old_std, w.dtype)
    w = jnp.concatenate([w[: w.shape[0] - d], vector_rows * ratio[:, None]], axis=0)
    b = b + shift @ vector_rows
    if core is not None:
        return {**params, "core": replace(core, wi=w, b=b)}
    return {**params, "mlp": [{**first, "w": w, "b": b}, *params["mlp"][1:]]}


def _conv_output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    return math.ceil(size / stride) if padding == "SAME" else (size - kernel) // stride + 1


def init_cnn(key: jax.Array, image_hwc: tuple[int, int, int], architecture: str) -> Params:
    """A CNN for images of shape (H, W, C), orthogonal init with gain sqrt(2) (ReLU layers)."""
    if architecture not in CNNS:
        raise ValueError(f"unknown cnn {architecture!r}; choose one of: {', '.join(CNNS)}")
    arch = CNNS[architecture]
    h, w, channels = image_hwc
    keys = jax.random.split(key, len(arch.convs) + 1)
    convs = []
    for k, (out, kernel, stride) in zip(keys, arch.convs, strict=False):
        h = _conv_output_size(h, kernel, stride, arch.padding)
        w = _conv_output_size(w, kernel, stride, arch.padding)
        if h < 1 or w < 1:
            raise ValueError(
                f"images of {image_hwc[0]}x{image_hwc[1]} pixels are too small for the {architecture!r} CNN; "
                "use cnn='small' (or larger images)"
            )
        init = jax.nn.initializers.orthogonal(scale=math.sqrt(2.0), column_axis=-1)
        kernel_w = init(k, (kernel, kernel, channels, out), jnp.float32)
        convs.append(Conv(kernel_w, jnp.zeros((out,), jnp.float32), stride, arch.padding))
        channels = out
    dense = _dense(keys[-1], h * w * channels, arch.dense, math.sqrt(2.0))
    return {"convs": convs, "dense": dense}


def image_patches(x: jax.Array, kernel: int, stride: int, padding: str) -> jax.Array:
    """[B, H, W, C] -> [B, H', W', kernel * kernel * C]: each output position's receptive field,
    ordered (row, column, channel) as an HWIO kernel reshaped to [kernel * kernel * C, out]. Made of
    strided slices, whose transpose is a padded add; padding as jax.lax.conv_general_dilated's."""
    _, height, width, _ = x.shape
    if padding == "SAME":
        out_h, out_w = -(-height // stride), -(-width // stride)
        pad_h = max((out_h - 1) * stride + kernel - height, 0)
        pad_w = max((out_w - 1) * stride + kernel - width, 0)
        x = jnp.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    else:
        out_h, out_w = (height - kernel) // stride + 1, (width - kernel) // stride + 1
    rows, cols = stride * (out_h - 1) + 1, stride * (out_w - 1) + 1
    return jnp.concatenate(
        [x[:, i : i + rows : stride, j : j + cols : stride, :] for i in range(kernel) for j in range(kernel)], axis=-1
    )


def conv2d(x: jax.Array, conv: Conv) -> jax.Array:
    """The convolution of NHWC images with an HWIO kernel, as one matrix product of the image
    patches: XLA on CPU runs the gradient of that (a matrix product and a padded add) about 1.5-2x
    faster than a convolution's gradient (Nature CNN, 512 frames: 3.2-3.8 s against 5.4-5.9 s on
    this 2-core machine under load; the forward pass costs about the same, 1.7-1.9 s against 1.5-1.7 s),
    and TRPO's update is mostly gradients and Fisher-vector products."""
    kernel, out = conv.w.shape[0], conv.w.shape[-1]
    return image_patches(x, kernel, conv.stride, conv.padding) @ conv.w.reshape(-1, out)


def cnn(params: Params, image: jax.Array) -> jax.Array:
    """Features [..., F] of uint8 images [..., H, W, C], scaled to [0, 1] first."""
    lead = image.shape[:-3]
    x = image.reshape(-1, *image.shape[-3:]).astype(jnp.float32) / 255.0
    for conv in params["convs"]:
        x = jax.nn.relu(conv2d(x, conv) + conv.b)
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(x @ params["dense"]["w"] + params["dense"]["b"])
    return x.reshape(*lead, x.shape[-1])


def _input_size(key: jax.Array, obs: int | ObservationSpec, cnn_name: str) -> tuple[int, Params]:
    """(MLP input width, {"cnn": ...} if the observation holds an image)."""
    if isinstance(obs, int):
        return obs, {}
    if obs.image is None:
        return obs.vector_dim, {}
    encoder = init_cnn(key, obs.image.shape, cnn_name)
    return obs.vector_dim + CNNS[cnn_name].dense, {"cnn": encoder}


def features(params: Params, obs: Any, xp: Any = jnp) -> Any:
    """The MLP's input: the observation vector, or [CNN(image), vector] for an observation dict."""
    if not isinstance(obs, dict):
        return obs
    if "cnn" not in params:
        return obs[VECTOR]
    parts = [cnn(params["cnn"], obs[IMAGE])]
    if VECTOR in obs:
        parts.append(obs[VECTOR])
    return jnp.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]


def init_actor(
    key: jax.Array,
    obs: int | ObservationSpec,
    hidden: tuple[int, ...],
    dist: Distribution,
    log_std_init: float,
    cnn_name: str = "nature",
    recurrent: str = "none",
    recurrent_size: int = 64,
) -> Params:
    """Actor for `obs` (a vector size, or an ObservationSpec); the head outputs dist's parameters.
    `recurrent` ("lstm", "gru"): a core of `recurrent_size` units between the encoder and the MLP."""
    cnn_key, mlp_key = jax.random.split(key)
    n_in, params = _input_size(cnn_key, obs, cnn_name)
    n_in, mlp_key = _add_core(params, mlp_key, n_in, recurrent, recurrent_size)
    params["mlp"] = init_mlp(mlp_key, [n_in, *hidden, dist.num_outputs], head_gain=0.01)
    if isinstance(dist, DiagGaussian):
        params["log_std"] = jnp.full((dist.action_dim,), log_std_init, jnp.float32)
    return params


def init_critic(
    key: jax.Array,
    obs: int | ObservationSpec,
    hidden: tuple[int, ...],
    cnn_name: str = "nature",
    recurrent: str = "none",
    recurrent_size: int = 64,
) -> Params:
    cnn_key, mlp_key = jax.random.split(key)
    n_in, params = _input_size(cnn_key, obs, cnn_name)
    n_in, mlp_key = _add_core(params, mlp_key, n_in, recurrent, recurrent_size)
    params["mlp"] = init_mlp(mlp_key, [n_in, *hidden, 1], head_gain=1.0)
    return params


def _add_core(params: Params, key: jax.Array, n_in: int, recurrent: str, size: int) -> tuple[int, jax.Array]:
    """Add a recurrent core on the n_in features (none: unchanged); returns the MLP's input width
    and its key. The core's key is split off the MLP's, so non-recurrent networks keep their init."""
    if recurrent == "none":
        return n_in, key
    core_key, key = jax.random.split(key)
    params["core"] = init_core(core_key, n_in, size, recurrent)
    return size, key


def _sequence_features(params: Params, seq: Sequences) -> jax.Array:
    """The core's outputs over a rollout, flattened time-major to [T * N, H]."""
    outputs, _ = unroll(params["core"], features(params, seq.obs), seq.starts, seq.initial)
    return outputs.reshape(-1, outputs.shape[-1])


def _head_input(params: Params, obs: Any, xp: Any) -> Any:
    return _sequence_features(params, obs) if isinstance(obs, Sequences) else features(params, obs, xp)


def actor_forward(params: Params, obs: Any, xp: Any = jnp) -> Any:
    """Distribution parameters for a batch of (normalised) observations, or for Sequences (a
    recurrent actor; flattened to [T * N, ...])."""
    out = mlp(params["mlp"], _head_input(params, obs, xp), xp)
    if "log_std" in params:
        return (out, params["log_std"])
    return out


def critic_forward(params: Params, obs: Any, xp: Any = jnp) -> Any:
    return mlp(params["mlp"], _head_input(params, obs, xp), xp)[..., 0]


def actor_step(params: Params, obs: Any, state: Any, xp: Any = jnp) -> tuple[Any, Any]:
    """A recurrent actor's step: (distribution parameters, new state) for observations [N, ...]
    and the state [N, S] before them (already reset where an episode starts)."""
    x, state = core_step(params["core"], features(params, obs, xp), state, xp)
    out = mlp(params["mlp"], x, xp)
    return ((out, params["log_std"]) if "log_std" in params else out), state


def critic_state_step(params: Params, obs: Any, state: Any, xp: Any = jnp) -> Any:
    """The new state of a recurrent critic's core after observations [N, ...] (no value head)."""
    return core_step(params["core"], features(params, obs, xp), state, xp)[1]


def critic_sequence_values(
    params: Params, seq: Sequences, final_obs: Any, last_obs: Any
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A recurrent critic over a rollout: V(obs) [T, N]; V(final_obs[t]) [T, N], the core stepped
    from the state after step t (the episode truncated at t continues into its final observation);
    V(last_obs) [N], from the state after the last step."""
    core = params["core"]
    outputs, states = unroll(core, features(params, seq.obs), seq.starts, seq.initial)
    final_out, _ = core_step(core, features(params, final_obs), states)
    last_out, _ = core_step(core, features(params, last_obs), states[-1])

    def head(x):
        return mlp(params["mlp"], x)[..., 0]

    return head(outputs), head(final_out), head(last_out)


def to_numpy(params: Params) -> Params:
    """A float32 NumPy copy of a parameter pytree, for acting without JAX."""
    return jax.tree.map(lambda a: np.asarray(a, dtype=np.float32), params)


_jitted_actor_forward = jax.jit(actor_forward)
_jitted_actor_step = jax.jit(actor_step)
_jitted_critic_state_step = jax.jit(critic_state_step)


def to_acting(actor: Params, critic: Params | None = None) -> Params:
    """The actor's parameters for acting: a NumPy copy for MLP actors (no framework call per
    env step); JAX arrays kept on the device for CNN actors, which act through one jitted call.

    A recurrent actor also carries the critic's encoder and core (under "critic", given
    `critic`): the sampler steps the critic's core beside the actor's, so the batch holds the
    critic's state at the rollout's start too."""
    acting = actor if "cnn" in actor else to_numpy(actor)
    if critic is not None and "core" in actor:
        encoder = {k: v for k, v in critic.items() if k != "mlp"}
        acting = {**acting, "critic": encoder if "cnn" in critic else to_numpy(encoder)}
    return acting


def acting_step(acting_params: Params, obs: Any, state: Any) -> tuple[Any, Any]:
    """actor_step on acting parameters: NumPy, or one jitted call for CNN actors."""
    if "cnn" in acting_params:
        params, state = _jitted_actor_step(_without_critic(acting_params), obs, state)
        return jax.tree.map(np.asarray, params), np.asarray(state)
    return actor_step(acting_params, obs, state, np)


def acting_critic_state(acting_params: Params, obs: Any, state: Any) -> Any:
    """critic_state_step on the critic part of acting parameters (see to_acting)."""
    critic = acting_params["critic"]
    if "cnn" in critic:
        return np.asarray(_jitted_critic_state_step(critic, obs, state))
    return critic_state_step(critic, obs, state, np)


def _without_critic(acting_params: Params) -> Params:
    return {k: v for k, v in acting_params.items() if k != "critic"}


def acting_forward(acting_params: Params, obs: Any) -> Any:
    """Distribution parameters as NumPy arrays, for a batch of normalised observations."""
    if "cnn" in acting_params:
        return jax.tree.map(np.asarray, _jitted_actor_forward(acting_params, obs))
    return actor_forward(acting_params, obs, np)
