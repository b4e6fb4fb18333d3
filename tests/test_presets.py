"""Every shipped preset is valid: it parses, names only config fields, and trains an iteration."""

import pytest

from trpo import TRPO, TRPOConfig, presets
from trpo.config import ConfigError


# The Atari preset serves every ALE/ id; tests/test_atari.py trains with it (cut down: a full
# 512-step CNN iteration is too slow for the suite).
@pytest.mark.parametrize("name", [name for name in presets.available() if name != presets.ATARI])
def test_preset_loads_and_trains_one_iteration(name):
    path = presets.preset_path(name)
    assert path.read_text().startswith("#"), f"{path.name} must start with a comment saying where it comes from"
    values, source = presets.resolve(presets.AUTO, name)
    assert source == path.name and values
    config = TRPOConfig.from_dict(values, source=name)
    agent = TRPO(name, config)
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
