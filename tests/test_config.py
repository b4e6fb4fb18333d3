import pytest

from trpo.config import ConfigError, TRPOConfig


def test_defaults_are_valid_and_round_trip():
    config = TRPOConfig()
    assert TRPOConfig.from_dict(config.to_dict()) == config
    assert config.batch_size == config.num_envs * config.n_steps


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("max_kl", 0.0, "max_kl=0.0 is invalid: must be > 0"),
        ("max_kl", -1.0, "must be > 0"),
        ("gamma", 0.0, "gamma=0.0 is invalid: must be in (0, 1]"),
        ("gamma", 1.5, "must be in (0, 1]"),
        ("gae_lambda", -0.1, "must be in [0, 1]"),
        ("gae_lambda", 1.01, "must be in [0, 1]"),
        ("num_envs", 0, "num_envs=0 is invalid: must be a positive integer"),
        ("n_steps", -5, "must be a positive integer"),
        ("cg_iters", 0, "must be a positive integer"),
        ("critic_epochs", 0, "must be a positive integer"),
        ("backtrack_coeff", 1.0, "must be in (0, 1)"),
        ("hidden_sizes", (), "hidden_sizes=() is invalid"),
        ("hidden_sizes", (64, 0), "must be one or more positive integers"),
        ("critic_minibatch", 10_000, "must be <= num_envs * n_steps = 1024"),
        ("critic_lr", 0.0, "must be > 0"),
    ],
)
def test_invalid_values_name_the_field_and_the_range(field, value, words):
    with pytest.raises(ConfigError) as error:
        TRPOConfig(**{field: value})
    assert words in str(error.value)


def test_unknown_keys_are_named():
    with pytest.raises(ConfigError, match="unknown key.*max_kll"):
        TRPOConfig.from_dict({"max_kll": 0.02}, source="preset x.yaml")


def test_from_dict_accepts_lists_for_hidden_sizes():
    assert TRPOConfig.from_dict({"hidden_sizes": [32, 16]}).hidden_sizes == (32, 16)
