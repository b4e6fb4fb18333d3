"""JAX-native environments (gymnax, Brax) behind one pure interface, for the compiled path.

An id with a prefix names one: `gymnax:CartPole-v1` (any gymnax id), `brax:ant` (any Brax env
name; episodes are cut at 1000 steps, Brax's training default). `make_jax_env` returns a JaxEnv
of two pure functions for ONE env, which trpo.training.compiled vmaps over envs and seeds:
- reset(key) -> (state, obs)
- step(key, state, action) -> Transition, with the same-step autoreset of trpo.envs.sync: where an
  episode ended, `obs` is the first observation of the next episode and `final_obs` the true last
  one; `truncated` (time limit) is never set together with `terminated`.
Observations are flattened to float32 [obs_dim]; Box actions are clipped to the space before the
env sees them (the policy stays an unbounded Gaussian).

`JaxGymEnv` wraps one such env as a Gymnasium env, so the rest of trpo (TRPO.load, evaluate,
`trpo eval`) works on these ids unchanged.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from trpo.envs.errors import EnvError
from trpo.envs.spaces import action_distribution
from trpo.learning.distributions import Distribution

PREFIXES = ("gymnax:", "brax:")
BRAX_EPISODE_LENGTH = 1000
GYMNAX_INSTALL = "pip install 'trpo[gymnax]' && pip install --no-deps gymnax==1.0.1"
BRAX_INSTALL = "pip install 'trpo[brax]'"


class Transition(NamedTuple):
    state: Any
    obs: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    final_obs: jax.Array
    """the observation the step produced (before any reset): valid where an episode ended"""


@dataclass(frozen=True, eq=False)
class JaxEnv:
    env_id: str
    observation_space: gym.spaces.Box
    action_space: gym.spaces.Space
    max_episode_steps: int
    reset: Callable[[jax.Array], tuple[Any, jax.Array]]
    step: Callable[[jax.Array, Any, jax.Array], Transition]

    @property
    def obs_dim(self) -> int:
        return int(self.observation_space.shape[0])

    @property
    def distribution(self) -> Distribution:
        return action_distribution(self.action_space)


def is_jax_env_id(env_id: Any) -> bool:
    return isinstance(env_id, str) and env_id.startswith(PREFIXES)


def make_jax_env(env_id: str) -> JaxEnv:
    """The JaxEnv for `gymnax:NAME` or `brax:NAME`; EnvError names the fix for a bad id."""
    prefix, _, name = env_id.partition(":")
    if prefix == "gymnax":
        return _gymnax_env(env_id, name)
    if prefix == "brax":
        return _brax_env(env_id, name)
    raise EnvError(f"{env_id!r} is not a JAX env id: use gymnax:NAME (e.g. gymnax:CartPole-v1) or brax:NAME")


def _unknown(env_id: str, name: str, known: list[str], prefix: str) -> EnvError:
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(prefix + c for c in close)}?" if close else ""
    return EnvError(f"unknown environment id {env_id!r}.{hint} Known: {', '.join(prefix + k for k in sorted(known))}")


def _flat(x: jax.Array) -> jax.Array:
    return jnp.ravel(x).astype(jnp.float32)


def _obs_space(dim: int) -> gym.spaces.Box:
    return gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)


def _gymnax_env(env_id: str, name: str) -> JaxEnv:
    try:
        import gymnax
        from gymnax.environments import spaces
    except ImportError as error:
        raise EnvError(f"{env_id} needs gymnax, which is not installed ({error}). Fix: {GYMNAX_INSTALL}") from error
    if name not in gymnax.registered_envs:
        raise _unknown(env_id, name, list(gymnax.registered_envs), "gymnax:")
    env, params = gymnax.make(name)
    obs_space, act_space = env.observation_space(params), env.action_space(params)
    if isinstance(act_space, spaces.Discrete):
        action_space: gym.spaces.Space = gym.spaces.Discrete(int(act_space.n))
        clip = None
    elif isinstance(act_space, spaces.Box) and len(act_space.shape) == 1:
        low = np.broadcast_to(np.asarray(act_space.low, np.float32), act_space.shape)
        high = np.broadcast_to(np.asarray(act_space.high, np.float32), act_space.shape)
        action_space = gym.spaces.Box(low, high, act_space.shape, np.float32)
        clip = (jnp.asarray(low), jnp.asarray(high))
    else:
        raise EnvError(f"{env_id}: unsupported action space {act_space}; supported: Discrete or a 1-d Box")
    if not isinstance(obs_space, spaces.Box):
        raise EnvError(f"{env_id}: unsupported observation space {obs_space}; supported: Box")

    def reset(key: jax.Array) -> tuple[Any, jax.Array]:
        obs, state = env.reset(key, params)
        return state, _flat(obs)

    def step(key: jax.Array, state: Any, action: jax.Array) -> Transition:
        if clip is not None:
            action = jnp.clip(action, *clip)
        # gymnax >= 1.0 resets where an episode ended and keeps the last observation in info.
        obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)
        terminated = jnp.asarray(terminated, bool)
        truncated = jnp.asarray(truncated, bool) & ~terminated
        return Transition(
            state, _flat(obs), jnp.asarray(reward, jnp.float32), terminated, truncated, _flat(info["final_observation"])
        )

    obs_dim = math.prod(obs_space.shape)
    return JaxEnv(env_id, _obs_space(obs_dim), action_space, int(params.max_steps_in_episode), reset, step)


def _brax_env(env_id: str, name: str, episode_length: int = BRAX_EPISODE_LENGTH) -> JaxEnv:
    try:
        from brax import envs as brax_envs
    except ImportError as error:
        raise EnvError(f"{env_id} needs brax, which is not installed ({error}). Fix: {BRAX_INSTALL}") from error
    known = sorted(brax_envs._envs)  # brax keeps its registry in this module-level dict
    if name not in known:
        raise _unknown(env_id, name, known, "brax:")
    env = brax_envs.get_environment(name)
    action_space = gym.spaces.Box(-1.0, 1.0, (env.action_size,), np.float32)

    def reset(key: jax.Array) -> tuple[Any, jax.Array]:
        state = env.reset(key)
        return (state, jnp.int32(0)), _flat(state.obs)

    def step(key: jax.Array, state: Any, action: jax.Array) -> Transition:
        brax_state, t = state
        stepped = env.step(brax_state, jnp.clip(action, -1.0, 1.0))
        t = t + 1
        terminated = stepped.done > 0.5
        truncated = (t >= episode_length) & ~terminated
        done = terminated | truncated
        fresh = env.reset(key)
        next_state = jax.tree.map(lambda a, b: jnp.where(done, a, b), fresh, stepped)
        obs = jnp.where(done, fresh.obs, stepped.obs)
        return Transition(
            (next_state, jnp.where(done, 0, t)),
            _flat(obs),
            jnp.asarray(stepped.reward, jnp.float32),
            terminated,
            truncated,
            _flat(stepped.obs),
        )

    return JaxEnv(env_id, _obs_space(env.observation_size), action_space, episode_length, reset, step)


@lru_cache(maxsize=32)
def _jitted_env(env_id: str) -> tuple[JaxEnv, Any, Any]:
    """One JaxEnv and its jitted reset and step per id, shared by every JaxGymEnv of that id (a
    vector of N wrappers compiles once, not N times)."""
    env = make_jax_env(env_id)
    return env, jax.jit(env.reset), jax.jit(env.step)


class JaxGymEnv(gym.Env):
    """One JAX env as a Gymnasium env (numpy in and out, one jitted call per step), for
    evaluation and the rest of trpo's Gymnasium tooling. reset(seed=s) starts from key s."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, env_id: str):
        self.env, self._reset, self._step = _jitted_env(env_id)
        self.observation_space = self.env.observation_space
        self.action_space = self.env.action_space
        self._key: jax.Array | None = None
        self._state: Any = None

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None or self._key is None:
            self._key = jax.random.PRNGKey(seed if seed is not None else int(self.np_random.integers(2**31)))
        self._key, key = jax.random.split(self._key)
        self._state, obs = self._reset(key)
        return np.asarray(obs), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._key, key = jax.random.split(self._key)
        t = self._step(key, self._state, jnp.asarray(action))
        self._state = t.state
        terminated, truncated = bool(t.terminated), bool(t.truncated)
        obs = t.final_obs if terminated or truncated else t.obs
        return np.asarray(obs), float(t.reward), terminated, truncated, {}
