import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trpo.config import ConfigError, TRPOConfig
from trpo.runs import presets


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
        ("hidden_sizes", (64, 0), "must be positive integers"),
        ("critic_hidden_sizes", (256, -1), "critic_hidden_sizes=(256, -1) is invalid: must be positive integers"),
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


def test_the_critic_takes_the_actors_widths_unless_given_its_own():
    assert TRPOConfig(hidden_sizes=(32,)).critic_sizes == (32,)
    wide = TRPOConfig.from_dict({"hidden_sizes": [32], "critic_hidden_sizes": [256, 256]})
    assert wide.critic_hidden_sizes == (256, 256) and wide.critic_sizes == (256, 256)
    assert TRPOConfig(critic_hidden_sizes=()).critic_sizes == ()  # a linear critic
    assert TRPOConfig.from_dict(wide.to_dict()) == wide
    # A config saved before the field existed loads with the critic as wide as the actor.
    saved = {k: v for k, v in TRPOConfig().to_dict().items() if k != "critic_hidden_sizes"}
    assert TRPOConfig.from_dict(saved).critic_sizes == (64, 64)


# --- property-based: validation accepts exactly the documented ranges ----------------------------

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
anything_numeric = st.one_of(finite, st.just(float("nan")), st.integers(-5, 5), st.just(float("inf")))

# Each field's allowed range, written out from the docs rather than from validate().
ALLOWED = {
    "gamma": lambda v: 0 < v <= 1,
    "gae_lambda": lambda v: 0 <= v <= 1,
    "max_kl": lambda v: v > 0,
    "cg_damping": lambda v: v >= 0,
    "cg_residual_tol": lambda v: v >= 0,
    "backtrack_coeff": lambda v: 0 < v < 1,
    "critic_lr": lambda v: v > 0,
    "obs_clip": lambda v: v > 0,
    "entropy_coef": lambda v: 0 <= v < float("inf"),
}


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(ALLOWED)), value=anything_numeric)
def test_float_fields_accept_exactly_their_range(field, value):
    if ALLOWED[field](value):
        assert getattr(TRPOConfig(**{field: value}), field) == value
    else:
        with pytest.raises(ConfigError, match=rf"^{field}=.* is invalid: must be"):
            TRPOConfig(**{field: value})


COUNTS = ("num_envs", "n_steps", "cg_iters", "backtrack_iters", "critic_epochs")


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(COUNTS), value=st.one_of(st.integers(-3, 40), st.floats(0.5, 3.5), st.booleans()))
def test_counts_must_be_positive_integers(field, value):
    ok = type(value) is int and value > 0
    if ok:
        TRPOConfig(**{field: value}, critic_minibatch=1)
    else:
        with pytest.raises(ConfigError, match=rf"^{field}=.* is invalid: must be a positive integer"):
            TRPOConfig(**{field: value}, critic_minibatch=1)


@settings(max_examples=200, deadline=None)
@given(num_envs=st.integers(1, 16), n_steps=st.integers(1, 64), minibatch=st.integers(1, 1200))
def test_critic_minibatch_must_fit_in_the_batch(num_envs, n_steps, minibatch):
    values = {"num_envs": num_envs, "n_steps": n_steps, "critic_minibatch": minibatch}
    if minibatch <= num_envs * n_steps:
        assert TRPOConfig(**values).batch_size == num_envs * n_steps
    else:
        with pytest.raises(ConfigError, match=rf"must be <= num_envs \* n_steps = {num_envs * n_steps}$"):
            TRPOConfig(**values)


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(-2, 300), max_size=4))
def test_hidden_sizes_must_be_positive_widths(sizes):
    # No widths at all is valid: a linear head on the inputs.
    if all(s > 0 for s in sizes):
        assert TRPOConfig.from_dict({"hidden_sizes": sizes}).hidden_sizes == tuple(sizes)
    else:
        with pytest.raises(ConfigError, match="hidden_sizes=.* is invalid: must be positive integers"):
            TRPOConfig.from_dict({"hidden_sizes": sizes})


def test_preset_yaml_that_does_not_parse_or_has_unknown_keys(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("max_kl: [0.01\n")
    with pytest.raises(ConfigError, match=r"preset .*broken.yaml does not parse as YAML"):
        presets.resolve(str(broken), "CartPole-v1")
    listed = tmp_path / "list.yaml"
    listed.write_text("- max_kl\n")
    with pytest.raises(ConfigError, match="must be a mapping of config fields, got list"):
        presets.resolve(str(listed), "CartPole-v1")
    unknown = r"unknown preset 'nope': use 'auto', 'none', 'family', 'family:continuous', .*a YAML file, or one of: "
    with pytest.raises(ConfigError, match=unknown):
        presets.resolve("nope", "CartPole-v1")
