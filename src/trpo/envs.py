"""Make environments and step them as one vector, with the autoreset rule the learner relies on.

`SyncVectorEnv` steps a list of Gymnasium envs in this process. When an episode ends at a step
(terminated or truncated) it records the true final observation and resets that env at once, so
the next observation returned is the first of a new episode ("same-step" autoreset, like
Gymnasium's AutoresetMode.SAME_STEP). Every transition in a batch therefore belongs to one
episode and truncation can bootstrap from the real final observation.

Observations are written into dict buffers by the env's ObservationSpec (trpo.observations):
{"vector": [N, D] float32} for a Box, plus {"image": [N, H, W, C] uint8} for image spaces.
"""

from __future__ import annotations

import difflib
import importlib
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from trpo.distributions import Bernoulli, Categorical, DiagGaussian, Distribution, MultiCategorical
from trpo.observations import ObservationSpaceError, ObservationSpec, parts

EnvFactory = Callable[[], gym.Env]

SUPPORTED_ACTIONS = "Box (1-D, continuous), Discrete, MultiDiscrete (1-D) or MultiBinary (1-D)"

_EXTRA_FOR_MODULE = {"mujoco": "mujoco", "Box2D": "box2d", "box2d": "box2d", "ale_py": "atari"}


class EnvError(ValueError):
    """An env id or space that trpo cannot use; the message says why and what to do."""


class EnvFault(RuntimeError):
    """An env raised, or returned a non-finite observation or reward, while training: the run stops.
    `env_index` and `env_step` say which env and at which of its steps."""

    def __init__(self, message: str, env_index: int, env_step: int):
        super().__init__(message)
        self.env_index = env_index
        self.env_step = env_step


def raised_fault(error: Exception, env: str, method: str, when: str, env_index: int, env_step: int) -> EnvFault:
    """The EnvFault for an exception the env's own code raised: which env, in which call, when,
    and the line of the env's code that raised it."""
    frame = traceback.extract_tb(error.__traceback__)[-1]
    return EnvFault(
        f"env {env} raised {type(error).__name__} in {method}() {when}: {error} "
        f"(raised at {frame.filename}:{frame.lineno})",
        env_index,
        env_step,
    )


def check_finite(name: str, env_steps: int, rewards: np.ndarray, obs: Any, final_obs: Any) -> None:
    """A NaN or infinite observation or reward would silently poison the normaliser and the
    update: every vector-env backend calls this after each step, to stop at the step where one
    appears, naming the env and the step. Only float parts can hold non-finite values (image
    parts are uint8)."""
    n = len(rewards)
    checked = [("reward", rewards[:, None])]
    for what, values in (("observation", obs), ("final observation", final_obs)):
        checked += [(what, part.reshape(n, -1)) for part in parts(values) if part.dtype.kind == "f"]
    if all(np.isfinite(values).all() for _, values in checked):
        return
    for what, values in checked:
        bad_rows = ~np.isfinite(values).all(axis=1)
        if bad_rows.any():
            i = int(np.argmax(bad_rows))
            shown = values[i][~np.isfinite(values[i])][0]
            raise EnvFault(
                f"env {name} (index {i}) returned a non-finite {what} ({shown}) at its step {env_steps}. "
                "Fix the env, or wrap it to clip or replace such values",
                i,
                env_steps,
            )


def env_factory(env: str | EnvFactory, train: bool = True, **make_kwargs: Any) -> EnvFactory:
    """A zero-argument callable that makes one env: from a registered id or a user factory.
    `train=False` gives the evaluation variant where it differs (Atari: whole games, raw rewards)."""
    if callable(env):
        return env
    if env.startswith(("gymnax:", "brax:")):
        # JAX-native envs (trpo.jax_envs), wrapped as Gymnasium envs; checked here so a bad id fails early.
        from trpo.jax_envs import JaxGymEnv, make_jax_env

        make_jax_env(env)
        return lambda: JaxGymEnv(env)
    check_env_id(env)
    from trpo import atari

    env_id = env

    def make() -> gym.Env:
        try:
            if atari.is_atari_id(env_id):
                return atari.make_atari(env_id, train, **make_kwargs)
            return gym.make(env_id, **make_kwargs)
        except TypeError as error:
            if not make_kwargs:
                raise
            raise EnvError(
                f"{env_id} does not accept the gymnasium.make arguments {make_kwargs} ({error}). Fix "
                "--make-kwargs or the preset's make_kwargs: the env's documentation lists its arguments"
            ) from error

    return make


def check_env_id(env_id: str) -> None:
    """Raise EnvError unless gym.make can find `env_id`: a registered id, "module:Id" (the module
    registers Id when imported), or an Atari id once ale-py is installed."""
    if ":" in env_id:
        module, env_id = env_id.split(":", 1)
        _import_for(module, env_id)
    elif env_id.startswith("ALE/"):
        # Checked even when the ids are registered: the envs cannot be made without ale-py.
        _import_for("ale_py", env_id)
        if env_id not in gym.registry:
            from trpo import atari

            atari.register_atari()
    if env_id in gym.registry:
        return
    close = difflib.get_close_matches(env_id, list(gym.registry), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise EnvError(f"unknown environment id {env_id!r}.{hint} See gymnasium.pprint_registry() for all ids.")


def _import_for(module: str, env_id: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise EnvError(_missing_package_message(env_id, error)) from error


def _missing_package_message(name: str, error: Exception) -> str:
    module = getattr(error, "name", None) or str(error)
    extra = next((x for m, x in _EXTRA_FOR_MODULE.items() if m in module), None)
    fix = f"pip install 'trpo[{extra}]'" if extra else "install the package it names"
    return f"{name} needs a package that is not installed ({error}). Fix: {fix}"


def make_one(factory: EnvFactory, name: str = "env") -> gym.Env:
    """Call the factory, turning a missing optional dependency into the extra to install."""
    try:
        return factory()
    except (ImportError, gym.error.DependencyNotInstalled) as error:
        raise EnvError(_missing_package_message(name, error)) from error


def action_distribution(space: gym.Space) -> Distribution:
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return DiagGaussian(action_dim=int(space.shape[0]))
    if isinstance(space, gym.spaces.Discrete):
        if int(space.start) != 0:
            raise EnvError(f"unsupported action space {space}: Discrete actions must start at 0")
        return Categorical(num_actions=int(space.n))
    if isinstance(space, gym.spaces.MultiDiscrete) and space.nvec.ndim == 1:
        if np.any(space.start != 0):
            raise EnvError(f"unsupported action space {space}: MultiDiscrete actions must start at 0")
        return MultiCategorical(nvec=tuple(int(n) for n in space.nvec))
    if isinstance(space, gym.spaces.MultiBinary) and np.ndim(space.n) == 0:
        return Bernoulli(num_bits=int(space.n))
    raise EnvError(f"unsupported action space {space}; supported: {SUPPORTED_ACTIONS}")


def observation_spec(space: gym.Space) -> ObservationSpec:
    try:
        return ObservationSpec.from_space(space)
    except ObservationSpaceError as error:
        raise EnvError(str(error)) from error


def _records_game_statistics(env: gym.Env) -> bool:
    """Whether a RecordEpisodeStatistics wrapper below the training wrappers reports the real
    game's return and length (the Atari stack does); then those are what we log."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.RecordEpisodeStatistics):
            return True
        env = env.env
    return False


class VectorEnvBase:
    """What every vector-env backend (trpo.vec) shares: the spaces, the arrays step() returns,
    action clipping, the finite check and the episode bookkeeping. A backend implements
    _reset_envs and _step_envs (fill _obs, _rewards, _terminated, _truncated, _final_obs and call
    _add_rewards / _end_episode), plus render and close.

    step() returns arrays owned by this object (overwritten by the next call):
    obs {key: [N, ...]} (the next observation; the first of a new episode where one ended),
    rewards [N], terminated [N], truncated [N], final_obs {key: [N, ...]} (valid where an episode ended).
    """

    def __init__(self, num_envs: int, observation_space: gym.Space, action_space: gym.Space, name: str):
        self.num_envs = num_envs
        self.observation_space = observation_space
        self.action_space = action_space
        self.distribution = action_distribution(action_space)
        self.obs_spec = observation_spec(observation_space)
        self.obs_dim = self.obs_spec.vector_dim
        """size of the observations' vector part (all of a Box observation)"""
        self.name = name
        self.env_steps = 0
        """steps taken by each env so far (a resumed agent sets it to global_step // num_envs)"""
        n = num_envs
        self._obs = self.obs_spec.allocate(n)
        self._final_obs = self.obs_spec.allocate(n)
        self._rewards = np.zeros(n, np.float32)
        self._terminated = np.zeros(n, bool)
        self._truncated = np.zeros(n, bool)
        self._episode_return = np.zeros(n, np.float64)
        self._episode_length = np.zeros(n, np.int64)
        self.finished_episodes: deque[tuple[float, int]] = deque(maxlen=100)
        """(return, length) of the latest finished episodes, in raw env rewards (whole games for Atari)"""
        box = isinstance(action_space, gym.spaces.Box)
        self._clip = (action_space.low, action_space.high) if box else None
        self._clipped = np.zeros((n, *action_space.shape), action_space.dtype) if box else None

    def reset(self, seed: int | None = None) -> Any:
        self._reset_envs(seed)
        self._episode_return[:] = 0
        self._episode_length[:] = 0
        self._check_finite()
        return self._obs

    def step(self, actions: np.ndarray) -> tuple[Any, ...]:
        if self._clip is not None:
            # The policy is an unbounded Gaussian; only the env sees the clipped action.
            low, high = self._clip
            actions = np.maximum(np.minimum(actions, high, out=self._clipped), low, out=self._clipped)
        self.env_steps += 1
        self._step_envs(actions)
        self._check_finite()
        return self._obs, self._rewards, self._terminated, self._truncated, self._final_obs

    def _reset_envs(self, seed: int | None) -> None:
        raise NotImplementedError

    def _step_envs(self, actions: np.ndarray) -> None:
        raise NotImplementedError

    def _add_rewards(self, rewards: Any, envs: Any = slice(None)) -> None:
        """One more step, earning `rewards`, in the current episodes of `envs` (indices; default all)."""
        self._episode_return[envs] += rewards
        self._episode_length[envs] += 1

    def _end_episode(self, i: int, record: bool = True) -> None:
        """Env i's episode ended: record its (return, length) unless told not to, and start counting anew."""
        if record:
            self.finished_episodes.append((float(self._episode_return[i]), int(self._episode_length[i])))
        self._episode_return[i] = 0
        self._episode_length[i] = 0

    def _check_finite(self) -> None:
        check_finite(self.name, self.env_steps, self._rewards, self._obs, self._final_obs)

    def _require_plain_vector(self) -> None:
        """The async and EnvPool backends ravel observations, so they take only plain Box ones."""
        if not self.obs_spec.is_plain_vector:
            raise EnvError(
                f"observation space {self.observation_space} needs vec='sync' (the async and EnvPool backends "
                "take plain Box observations only)"
            )


class SyncVectorEnv(VectorEnvBase):
    """N envs stepped in turn in this process, with same-step autoreset; takes every supported
    observation space (Dict, Tuple, images: see trpo.observations)."""

    def __init__(self, factories: Sequence[EnvFactory], name: str = "env"):
        self.envs = [make_one(f, name) for f in factories]
        super().__init__(len(self.envs), self.envs[0].observation_space, self.envs[0].action_space, name)
        self._game_statistics = _records_game_statistics(self.envs[0])

    def _reset_envs(self, seed: int | None) -> None:
        write = self.obs_spec.write
        for i, env in enumerate(self.envs):
            obs, _ = self._call(i, env.reset, seed=None if seed is None else seed + i)
            write(self._obs, i, obs)

    def _step_envs(self, actions: np.ndarray) -> None:
        write = self.obs_spec.write
        for i, env in enumerate(self.envs):
            obs, reward, terminated, truncated, info = self._call(i, env.step, actions[i])
            self._rewards[i] = reward
            self._terminated[i] = terminated
            self._truncated[i] = truncated and not terminated
            self._add_rewards(reward, i)
            if terminated or truncated:
                write(self._final_obs, i, obs)
                # With game statistics (Atari) the episode logged is the whole game, not each life.
                self._end_episode(i, record=not self._game_statistics)
                if self._game_statistics and "episode" in info:
                    game = info["episode"]
                    self.finished_episodes.append((float(game["r"]), int(game["l"])))
                obs, _ = self._call(i, env.reset)
            write(self._obs, i, obs)

    def _call(self, i: int, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """env.step / env.reset, turning any exception into an EnvFault that names the env."""
        try:
            return method(*args, **kwargs)
        except Exception as error:
            when = f"at its step {self.env_steps}"
            raise raised_fault(error, f"{self.name} (index {i})", method.__name__, when, i, self.env_steps) from error

    def render(self) -> Any:
        return self.envs[0].render()

    def close(self) -> None:
        for env in self.envs:
            env.close()


def make_vector_env(env: str | EnvFactory, num_envs: int, name: str | None = None, **make_kwargs: Any) -> SyncVectorEnv:
    factory = env_factory(env, train=True, **make_kwargs)
    name = name or (env if isinstance(env, str) else getattr(env, "__name__", "env factory"))
    return SyncVectorEnv([factory] * num_envs, name=name)
