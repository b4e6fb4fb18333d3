"""The search space of trpo tune: the shipped file loads, every kind of mistake is one SpaceError
naming the entry, and a trial's values become a valid TRPOConfig."""

import optuna
import pytest

from trpo.config import TRPOConfig
from trpo.tune.space import Param, SpaceError, default_space_path, load_space, parse_param, sample_config


def test_the_shipped_space_loads_and_names_the_issue_s_parameters():
    names = {p.name for p in load_space()}
    assert default_space_path().is_file()
    assert names == {
        "max_kl",
        "num_envs",
        "n_steps",
        "gamma",
        "gae_lambda",
        "critic_epochs",
        "critic_minibatch",
        "critic_lr",
        "log_std_init",
        "normalize_rewards",
        "hidden_sizes",
    }


@pytest.mark.parametrize(
    "name, spec, message",
    [
        ("max_kll", {"low": 0.001, "high": 0.1}, "'max_kll' is not a TRPOConfig field; known fields:"),
        ("max_kl", {"low": 0.1, "high": 0.01}, "max_kl: low=0.1 must be below high=0.01"),
        ("max_kl", {"low": 0.0, "high": 0.1, "log": True}, "a log range needs low > 0"),
        ("max_kl", {"low": -0.1, "high": 0.1}, "-0.1 is out of range: max_kl=-0.1 is invalid: must be > 0"),
        ("gamma", {"choices": [0.9, 1.5]}, "1.5 is out of range: gamma=1.5 is invalid: must be in (0, 1]"),
        ("critic_epochs", {"low": 1.5, "high": 10}, "critic_epochs is an integer field: give integer bounds"),
        ("num_envs", {"choices": [4, "8"]}, "'8' is not a int like the field's default 8"),
        ("normalize_rewards", {"low": 0, "high": 1}, "a bool field takes choices: [...], not a range"),
        ("max_kl", {"low": 0.001, "hi": 0.1}, "unknown key(s) hi; use low, high, log, step, choices"),
        ("max_kl", {"low": 0.001}, "a range needs both low and high"),
        ("gamma", {"choices": []}, "choices must be a non-empty list"),
        ("gamma", {"choices": [0.9, 0.9]}, "repeat a value"),
        ("max_kl", 0.01, "give {low: A, high: B}"),
        ("max_kl", {"low": 0.001, "high": 0.1, "log": True, "step": 0.001}, "give log or step, not both"),
        ("hidden_sizes", {"choices": [[64, 64], [0]]}, "hidden_sizes=(0,) is invalid"),
        ("critic_hidden_sizes", {"choices": [None, [0]]}, "critic_hidden_sizes=(0,) is invalid"),
        ("critic_hidden_sizes", {"choices": [None, 256]}, "256 is not a list of widths or None"),
    ],
)
def test_a_bad_entry_is_one_error_naming_it(name, spec, message):
    with pytest.raises(SpaceError) as error:
        parse_param(name, spec, "space.yaml")
    assert message in str(error.value)
    assert str(error.value).startswith("space.yaml: ")


def test_a_bad_file_is_one_error(tmp_path):
    with pytest.raises(SpaceError, match="does not exist"):
        load_space(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("max_kl: {low: 0.01\n")
    with pytest.raises(SpaceError, match="does not parse as YAML"):
        load_space(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- max_kl\n")
    with pytest.raises(SpaceError, match="must map TRPOConfig fields to ranges"):
        load_space(listed)


def test_ranges_keep_the_field_type():
    assert parse_param("critic_epochs", {"low": 5, "high": 30}).is_int
    floats = parse_param("max_kl", {"low": 1, "high": 2})  # integer bounds of a float field are floats
    assert (floats.low, floats.high, floats.is_int) == (1.0, 2.0, False)


def test_a_trial_s_values_become_the_config_and_lists_round_trip():
    space = [
        parse_param("hidden_sizes", {"choices": [[32, 32], [256, 256]]}),
        parse_param("max_kl", {"low": 0.001, "high": 0.1, "log": True}),
        parse_param("normalize_rewards", {"choices": [False, True]}),
    ]
    trial = optuna.trial.FixedTrial({"hidden_sizes": "[256, 256]", "max_kl": 0.02, "normalize_rewards": True})
    config, notes = sample_config(space, trial, TRPOConfig(gamma=0.9))
    assert config == TRPOConfig(gamma=0.9, hidden_sizes=(256, 256), max_kl=0.02, normalize_rewards=True)
    assert notes == {}


def test_critic_minibatch_is_capped_at_the_batch():
    space = [Param("num_envs", choices=(2,)), Param("n_steps", choices=(64,))]
    space.append(Param("critic_minibatch", choices=(512,)))
    trial = optuna.trial.FixedTrial({"num_envs": 2, "n_steps": 64, "critic_minibatch": 512})
    config, notes = sample_config(space, trial, TRPOConfig())
    # batch = 2 * 64 = 128 < 512
    assert config.critic_minibatch == 128
    assert notes == {"critic_minibatch_capped": "512 -> 128 (the batch)"}


def test_the_critic_s_widths_can_be_searched_with_none_for_the_actor_s():
    space = [parse_param("critic_hidden_sizes", {"choices": [None, [256, 256]]})]
    wide, _ = sample_config(space, optuna.trial.FixedTrial({"critic_hidden_sizes": "[256, 256]"}), TRPOConfig())
    same, _ = sample_config(space, optuna.trial.FixedTrial({"critic_hidden_sizes": None}), TRPOConfig())
    assert wide.critic_sizes == (256, 256) and same.critic_sizes == (64, 64)
