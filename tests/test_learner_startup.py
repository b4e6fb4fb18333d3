"""What a Learner costs at start-up: an int seed gives the initial state of its PRNGKey, and the
first update compiles its two jitted stages and nothing else (a stray device operation outside
them compiles a program of its own in every process)."""

import logging

import jax
import numpy as np
import pytest

from tiny_learner import TINY, a_batch
from trpo.learning.distributions import Categorical
from trpo.learning.learner import Learner


@pytest.mark.parametrize("seed", [0, 7, 2**31, 2**32 + 5])  # past 2**32: PRNGKey keeps the low 32 bits
def test_an_int_seed_gives_the_state_of_its_prngkey(seed):
    learner = Learner(TINY, Categorical(2), obs=3)
    from_seed, from_key = learner.init(seed), learner.init(jax.random.PRNGKey(seed))
    for a, b in zip(jax.tree.leaves(from_seed), jax.tree.leaves(from_key), strict=True):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


def test_init_and_the_first_update_compile_only_the_learners_own_programs(caplog):
    # A config no other test uses, so that its stages are not in this process's jit cache yet.
    learner = Learner(TINY.replace(max_kl=0.0123), Categorical(2), obs=3)
    with caplog.at_level(logging.WARNING), jax.log_compiles(True):
        state = learner.init(3)
        _, stats = learner.update(state, a_batch(), critic_lr_scale=0.5)
    compiled = [r.getMessage().split()[1] for r in caplog.records if r.getMessage().startswith("Compiling ")]
    assert sorted(compiled) == ["jit(critic_stage)", "jit(init_from_seed)", "jit(policy_stage)"]
    assert stats["train/skipped"] == 0.0


def test_a_second_learner_with_the_same_config_compiles_nothing(caplog):
    # Another seed, a reload, a second agent in one process: the jitted init and stages are shared.
    config = TINY.replace(max_kl=0.0321)
    first = Learner(config, Categorical(2), obs=3)
    first.update(first.init(1), a_batch())
    second = Learner(config.replace(seed=9), Categorical(2), obs=3)
    with caplog.at_level(logging.WARNING), jax.log_compiles(True):
        second.update(second.init(9), a_batch())
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("Compiling ")] == []
