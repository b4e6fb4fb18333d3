"""Every shipped preset is valid: it parses, names only config fields, and trains an iteration."""

import gymnasium as gym
import numpy as np
import pytest

from trpo import TRPO, TRPOConfig
from trpo.config import ConfigError
from trpo.envs.errors import EnvError
from trpo.runs import presets


# The Atari preset serves every ALE/ id; tests/test_atari.py trains with it (cut down: a full
# 512-step CNN iteration is too slow for the suite).
@pytest.mark.parametrize("name", [name for name in presets.available() if name != presets.ATARI])
def test_preset_loads_and_trains_one_iteration(name):
    path = presets.preset_path(name)
    assert path.read_text().startswith("#"), f"{path.name} must start with a comment saying where it comes from"
    values, source = presets.resolve(presets.AUTO, name)
    assert source == path.name and values
    config, make_kwargs = presets.for_env(name)
    assert config == TRPOConfig.from_dict({k: v for k, v in values.items() if k != "make_kwargs"})
    agent = TRPO(name, config, make_kwargs=make_kwargs)
    metrics = []
    agent.learn(1, callback=metrics.append)  # rounds up to one whole iteration
    agent.close()
    assert len(metrics) == 1
    assert metrics[0]["global_step"] == config.batch_size


def test_resolve_none_auto_file_and_unknown(tmp_path):
    assert presets.resolve(presets.NONE, "CartPole-v1") == ({}, None)
    assert presets.resolve(presets.NONE, "MountainCarContinuous-v0") == ({}, None)
    with pytest.raises(EnvError, match="unknown environment id 'NoPresetEnv-v0'"):
        presets.resolve(presets.AUTO, "NoPresetEnv-v0")  # its family needs its spaces
    custom = tmp_path / "mine.yaml"
    custom.write_text("max_kl: 0.05\n")
    assert presets.resolve(str(custom), "CartPole-v1") == ({"max_kl": 0.05}, str(custom))
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        presets.resolve("nope", "CartPole-v1")


def test_make_kwargs_are_split_from_the_config_fields_and_parsed_from_flags():
    values = {"max_kl": 0.02, "make_kwargs": {"include_cfrc_ext_in_observation": False}}
    assert presets.split_make_kwargs(values) == ({"max_kl": 0.02}, {"include_cfrc_ext_in_observation": False})
    assert presets.split_make_kwargs({"max_kl": 0.02}) == ({"max_kl": 0.02}, {})
    with pytest.raises(ConfigError, match="make_kwargs must be a mapping"):
        presets.split_make_kwargs({"make_kwargs": ["a", "b"]})
    # Flag values are YAML: bools, numbers and lists keep their types, and format_ is the inverse.
    parsed = presets.parse_make_kwargs(["a=false", "b=0.5", "c=[1, 2]", "d=text", "e=null"])
    assert parsed == {"a": False, "b": 0.5, "c": [1, 2], "d": "text", "e": None}
    assert presets.parse_make_kwargs(presets.format_make_kwargs(parsed)) == parsed
    for bad in ("no_equals", "=1", "not an id=1"):
        with pytest.raises(ConfigError, match="give KEY=VALUE pairs"):
            presets.parse_make_kwargs([bad])


def test_the_shipped_presets_are_found():
    # The parametrised test above would pass with none (an empty parameter set only skips).
    assert {"CartPole-v1", "Hopper-v5", "atari", "gymnax:CartPole-v1"} <= set(presets.available())


class ImageEnv(gym.Env):
    """A made-up env with no preset: an 8x8 grey image and a continuous action."""

    observation_space = gym.spaces.Box(0, 255, (8, 8, 1), np.uint8)
    action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)


class NarrowActionEnv(gym.Env):
    """A made-up env with no preset whose actions lie in [-0.4, 0.4], like Humanoid's."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.Box(-0.4, 0.4, (2,), np.float32)


def box(*shape, dtype=np.float32):
    return gym.spaces.Box(0, 1, shape, dtype)


def test_the_family_comes_from_the_spaces():
    image = box(84, 84, 4, dtype=np.uint8)
    assert presets.family_of_spaces(box(3), box(2)) == "continuous"
    assert presets.family_of_spaces(box(3), gym.spaces.Discrete(4)) == "discrete"
    assert presets.family_of_spaces(box(3), gym.spaces.MultiDiscrete([2, 3])) == "discrete"
    assert presets.family_of_spaces(box(3), gym.spaces.MultiBinary(4)) == "discrete"
    # An image decides it whatever the actions: the CNN's settings matter more.
    assert presets.family_of_spaces(image, gym.spaces.Discrete(4)) == "image"
    assert presets.family_of_spaces(gym.spaces.Dict({"cam": image, "pos": box(3)}), box(2)) == "image"
    # A float Box of rank 3 is not an image (images are uint8).
    assert presets.family_of_spaces(box(8, 8, 3), gym.spaces.Discrete(2)) == "discrete"


def family_values(name, action_space=None):
    return presets.family_values(name, action_space)


def test_the_initial_log_std_is_relative_to_the_action_bounds():
    assert presets.log_std_offset(gym.spaces.Box(-1, 1, (3,))) == 0.0
    assert presets.log_std_offset(gym.spaces.Box(-2, 2, (1,))) == pytest.approx(np.log(2))
    # Mean of the dims' log half-ranges: (log 1 + log 4) / 2 = log 2.
    assert presets.log_std_offset(gym.spaces.Box(np.array([-1, 0]), np.array([1, 8]))) == pytest.approx(np.log(2))
    assert presets.log_std_offset(gym.spaces.Box(-np.inf, np.inf, (2,))) == 0.0
    assert presets.log_std_offset(gym.spaces.Discrete(3)) == 0.0
    # The family file's -0.5 is relative: -0.5 + log 0.4 = -1.4163 for bounds of [-0.4, 0.4].
    assert presets.read_yaml(presets.family_path("continuous"))[presets.RELATIVE_LOG_STD] == -0.5
    assert family_values("continuous", gym.spaces.Box(-0.4, 0.4, (17,)))["log_std_init"] == -1.4163
    values, source = presets.resolve(presets.AUTO, NarrowActionEnv)
    assert source == "family:continuous" and values["log_std_init"] == -1.4163
    assert presets.RELATIVE_LOG_STD not in values


def test_auto_gives_an_env_without_a_preset_its_family_and_a_preset_still_wins():
    mcc_actions = gym.spaces.Box(-1.0, 1.0, (1,))
    assert presets.resolve(presets.AUTO, "MountainCarContinuous-v0") == (
        family_values("continuous", mcc_actions),
        "family:continuous",
    )
    assert presets.resolve(presets.AUTO, "Acrobot-v1") == (family_values("discrete"), "family:discrete")
    assert presets.resolve(presets.AUTO, ImageEnv) == (family_values("image"), "family:image")
    # The image family is the Atari preset, whose own ALE/ ids keep getting it by name.
    assert family_values("image") == presets.read_yaml(presets.preset_path(presets.ATARI))
    # A named preset wins over the family; `family` asks for the family anyway.
    assert presets.resolve(presets.AUTO, "Pendulum-v1")[1] == "Pendulum-v1.yaml"
    # Pendulum's torque lies in [-2, 2]: log_std_init -0.5 + log 2 = 0.1931.
    values, source = presets.resolve(presets.FAMILY, "Pendulum-v1")
    assert source == "family:continuous" and values["log_std_init"] == 0.1931
    # An explicit family, whatever the env's spaces (no Box: the relative log-std as it is).
    assert presets.resolve("family:continuous", "CartPole-v1") == (family_values("continuous"), "family:continuous")
    with pytest.raises(ConfigError, match="unknown family 'robots': use family:continuous, family:discrete"):
        presets.resolve("family:robots", "CartPole-v1")
    # The Python API: the same resolution, from an id or a factory.
    config, make_kwargs = presets.for_env("MountainCarContinuous-v0")
    assert config == TRPOConfig.from_dict(family_values("continuous", mcc_actions)) and make_kwargs == {}
    assert presets.for_env(ImageEnv)[0].cnn == "nature"
    assert presets.for_env("MountainCarContinuous-v0", presets.NONE)[0] == TRPOConfig()
    # The compiled path's ids keep their presets and nothing else.
    assert presets.resolve(presets.AUTO, "gymnax:Acrobot-v1") == ({}, None)


@pytest.mark.parametrize(("family", "env_id"), [("continuous", "MountainCarContinuous-v0"), ("discrete", "Acrobot-v1")])
def test_family_files_are_valid_say_where_they_come_from_and_train_an_iteration(family, env_id):
    path = presets.family_path(family)
    assert path.read_text().startswith("#"), f"{path} must start with a comment saying where it comes from"
    assert family not in presets.available()  # families are not env presets
    config, make_kwargs = presets.for_env(env_id, f"family:{family}")
    assert config == TRPOConfig.from_dict(family_values(family, gym.make(env_id).action_space))
    agent = TRPO(env_id, config, make_kwargs=make_kwargs)
    agent.learn(1)  # rounds up to one whole iteration
    agent.close()
    assert agent.global_step == config.batch_size


def test_describe_says_which_family_and_why():
    assert presets.describe("family:continuous", "MountainCarContinuous-v0") == (
        "preset: family:continuous (the defaults for Box actions; MountainCarContinuous-v0 has no tuned preset; "
        "src/trpo/runs/presets/families/continuous.yaml)"
    )
    assert presets.describe("family:discrete", "Hopper-v5") == (
        "preset: family:discrete (the defaults for discrete actions; Hopper-v5's tuned preset is not used; "
        "src/trpo/runs/presets/families/discrete.yaml)"
    )
    assert presets.describe("Pendulum-v1.yaml", "Pendulum-v1") == "preset: Pendulum-v1.yaml"
    assert presets.describe(None, "Pendulum-v1") == "preset: none (the TRPOConfig defaults)"
