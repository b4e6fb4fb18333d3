"""Every shipped preset is valid: it parses, names only config fields, and trains an iteration."""

import pytest

from trpo import TRPO, TRPOConfig
from trpo.config import ConfigError
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
    assert presets.resolve(presets.AUTO, "NoPresetEnv-v0") == ({}, None)
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
