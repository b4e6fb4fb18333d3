"""Env errors a user can fix (ids, missing packages, spaces) and env faults during stepping."""

import sys

import gymnasium as gym
import numpy as np
import pytest

from faulty_envs import FaultyEnv, TextObservationEnv
from trpo.envs.errors import EnvError, EnvFault
from trpo.envs.make import check_env_id, make_one
from trpo.envs.spaces import action_distribution
from trpo.envs.sync import SyncVectorEnv


def test_unknown_env_id_suggests_the_closest_registered_ids():
    with pytest.raises(EnvError, match=r"unknown environment id 'Pendulum-v0'\. Did you mean: Pendulum-v1"):
        check_env_id("Pendulum-v0")
    with pytest.raises(EnvError, match="unknown environment id 'qqqqqq'. See gymnasium.pprint_registry"):
        check_env_id("qqqqqq")


def test_module_prefixed_ids_import_the_module_that_registers_them():
    check_env_id("faulty_envs:faulty/Healthy-v0")
    with pytest.raises(EnvError, match=r"no_such_module.*install the package it names"):
        check_env_id("no_such_module:Env-v0")


def hide_module(monkeypatch, module, *cached_prefixes):
    """Make `import module` fail as if it were not installed, and forget cached importers of it."""
    for name in list(sys.modules):
        if name == module or name.startswith(module + ".") or name.startswith(cached_prefixes):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)


@pytest.mark.parametrize(
    "env_id, module, cached, extra",
    [
        ("HalfCheetah-v5", "mujoco", ("gymnasium.envs.mujoco",), "mujoco"),
        ("LunarLander-v3", "Box2D", ("gymnasium.envs.box2d",), "box2d"),
    ],
)
def test_missing_optional_dependency_names_the_extra(monkeypatch, env_id, module, cached, extra):
    hide_module(monkeypatch, module, *cached)
    with pytest.raises(
        EnvError, match=rf"{env_id} needs a package that is not installed .* pip install 'trpo\[{extra}\]'"
    ):
        make_one(lambda: gym.make(env_id), env_id)


def test_atari_id_without_ale_py_names_the_atari_extra(monkeypatch):
    hide_module(monkeypatch, "ale_py")
    with pytest.raises(EnvError, match=r"ALE/Pong-v5 needs a package .* pip install 'trpo\[atari\]'"):
        check_env_id("ALE/Pong-v5")


@pytest.mark.parametrize(
    "space, kind",
    [
        (gym.spaces.MultiBinary([2, 2]), "action"),
        (gym.spaces.Box(-1, 1, (2, 2)), "action"),
        (gym.spaces.Text(max_length=4), "observation"),
    ],
)
def test_unsupported_space_is_named_with_the_supported_ones(space, kind):
    if kind == "action":
        with pytest.raises(
            EnvError, match=r"unsupported action space .*; supported: Box \(1-D, continuous\), Discrete, MultiDiscrete"
        ):
            action_distribution(space)
    else:
        with pytest.raises(
            EnvError, match=r"unsupported observation space Text\(.*; supported: Box \(vectors of any shape"
        ):
            SyncVectorEnv([TextObservationEnv])


def step_until_fault(envs, steps=200):
    envs.reset(seed=0)
    for _ in range(steps):
        envs.step(np.ones(envs.num_envs, np.int64))


@pytest.mark.parametrize(
    "fault, at_step, words",
    [
        ("nan_reward", 7, r"env faulty \(index 1\) returned a non-finite reward \(nan\) at its step 7\."),
        # Step 50 ends an episode: the infinite value is in the final observation.
        ("inf_obs", 50, r"env faulty \(index 1\) returned a non-finite final observation \(inf\) at its step 50\."),
        ("inf_obs", 13, r"env faulty \(index 1\) returned a non-finite observation \(inf\) at its step 13\."),
        ("raise", 9, r"env faulty \(index 1\) raised RuntimeError in step\(\) at its step 9: simulator exploded"),
    ],
)
def test_env_fault_names_the_env_index_and_the_step(fault, at_step, words):
    envs = SyncVectorEnv([FaultyEnv, lambda: _failing(fault, at_step), FaultyEnv], name="faulty")
    with pytest.raises(EnvFault, match=words) as error:
        step_until_fault(envs)
    assert (error.value.env_index, error.value.env_step) == (1, at_step)
    if fault == "raise":
        assert isinstance(error.value.__cause__, RuntimeError)


def _failing(fault, at_step):
    env = FaultyEnv(fault, at_step)
    env.fails = True
    return env


def test_healthy_envs_step_without_a_fault():
    envs = SyncVectorEnv([FaultyEnv] * 2, name="faulty")
    step_until_fault(envs, steps=120)
    assert envs.env_steps == 120
