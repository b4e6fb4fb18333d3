"""Faults during training: a bad env stops the run after a checkpoint; a non-finite update is
skipped with the parameters unchanged (a non-finite critic fit: the critic's), counted, and
warned about once."""

import itertools
import warnings

import jax
import numpy as np
import pytest

from faulty_envs import FaultyEnv
from tiny_learner import TINY, a_batch
from trpo import TRPO
from trpo.envs.errors import EnvFault
from trpo.learning.learner import Learner
from trpo.training import checkpoint
from trpo.training.checkpoint import CheckpointDir
from trpo.training.interrupt import TrainingInterrupted


def second_env_fails(fault, at_step):
    """A factory whose second env made (env index 1 of the vector) has the fault."""
    made = itertools.count()

    def factory():
        env = FaultyEnv(fault, at_step)
        env.fails = next(made) == 1
        return env

    return factory


def leaves_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def test_env_fault_stops_after_saving_the_last_completed_iteration(tmp_path):
    # The fault comes at env step 80: in the third iteration (steps 65..96 of each env). An env
    # that raises takes the same path (tests/test_cli_errors.py runs it through the CLI).
    agent = TRPO(second_env_fails("nan_reward", 80), TINY)
    checkpoints = CheckpointDir(tmp_path / "checkpoints")
    good = {}
    with pytest.raises(EnvFault, match=r"\(index 1\) .* at its step 80") as error:
        agent.learn(10 * 64, callback=lambda m: good.update(actor=agent.state.actor), checkpoints=checkpoints)
    assert error.value.global_step == 128 and error.value.checkpoint is not None
    arrays, meta = checkpoint.load(tmp_path / "checkpoints")
    assert meta["global_step"] == 128 and meta["iteration"] == 2
    restored = TRPO.load(tmp_path / "checkpoints", env=FaultyEnv)
    assert leaves_equal(restored.state.actor, good["actor"])


def test_a_stop_request_between_env_steps_saves_and_raises(tmp_path):
    agent = TRPO(FaultyEnv, TINY)
    calls = itertools.count(1)

    def stop_at_step_100():
        if next(calls) == 100:
            raise TrainingInterrupted(15)

    with pytest.raises(TrainingInterrupted, match="stopped by SIGTERM") as error:
        agent.learn(10 * 64, checkpoints=CheckpointDir(tmp_path / "c"), check_stop=stop_at_step_100)
    assert error.value.exit_code == 143 and error.value.global_step == 3 * 64
    assert checkpoint.load(tmp_path / "c")[1]["global_step"] == 3 * 64


def test_a_checkpoint_of_an_interrupted_batch_saves_the_noise_streams_from_before_it(tmp_path):
    """Stopped at env step 80 (in the third iteration, steps 65..96), the checkpoint is that of
    iteration 2: its NumPy generator state must be the one an uninterrupted run has after 2
    iterations, not the one after the partial batch drew 16 steps of noise. A run resumed from it
    then draws the same noise as the uninterrupted run."""
    config = TINY.replace(workers=2)  # two env groups: two noise streams, both saved
    uninterrupted = TRPO("Pendulum-v1", config).learn(2 * 64)
    expected = uninterrupted.sampler.rng_state()

    agent = TRPO("Pendulum-v1", config)
    calls = itertools.count(1)

    def stop_at_step_80():
        if next(calls) == 80:
            raise TrainingInterrupted(2)

    with pytest.raises(TrainingInterrupted):
        agent.learn(10 * 64, checkpoints=CheckpointDir(tmp_path / "c"), check_stop=stop_at_step_80)
    assert agent.sampler.rng_state() != expected  # the partial batch drew from the live streams
    meta = checkpoint.load(tmp_path / "c")[1]
    assert meta["iteration"] == 2 and meta["numpy_rng"] == expected
    resumed = TRPO.load(tmp_path / "c")
    for rng, reference in zip(resumed.sampler.rngs, uninterrupted.sampler.rngs, strict=True):
        np.testing.assert_array_equal(rng.standard_normal(5), reference.standard_normal(5))
    for a in (uninterrupted, agent, resumed):
        a.close()


def test_non_finite_updates_are_skipped_counted_and_warned_about_once(monkeypatch):
    agent = TRPO(FaultyEnv, TINY)
    before = jax.device_get(agent.state)
    collect = agent.sampler.collect

    def collect_with_a_nan_reward(*args):
        batch = collect(*args)
        batch.rewards[3, 1] = np.nan  # as if an env's NaN had slipped past the check
        return batch

    monkeypatch.setattr(agent.sampler, "collect", collect_with_a_nan_reward)
    rows = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        agent.learn(3 * 64, callback=rows.append)
    skipped_warnings = [w for w in caught if "skipped an update" in str(w.message)]
    assert len(skipped_warnings) == 1 and issubclass(skipped_warnings[0].category, RuntimeWarning)
    assert [r["train/skipped_updates"] for r in rows] == [1.0, 2.0, 3.0]
    after = jax.device_get(agent.state)
    assert leaves_equal(before.actor, after.actor)
    assert leaves_equal(before.critic, after.critic) and leaves_equal(before.critic_opt, after.critic_opt)


def test_a_non_finite_critic_fit_keeps_the_old_critic_and_the_policy_step_stands(monkeypatch):
    """The policy step is made with the old critic's finite advantages, and the next rollout
    starts with its actor while the critic fit runs: only the critic and its optimiser state
    stay as they were."""
    from trpo.learning.distributions import Categorical

    learner = Learner(TINY, Categorical(2), obs=3)
    state = learner.init(jax.random.PRNGKey(0))
    updated, stats = learner.update(state, a_batch())
    assert stats["train/skipped"] == 0.0 and not leaves_equal(updated.actor, state.actor)

    import trpo.learning.learner as learner_module

    fit = learner_module.fit_critic

    def diverging_fit(*args):
        critic, opt_state, loss = fit(*args)
        return jax.tree.map(lambda x: x * np.nan, critic), opt_state, loss

    # The learner's stages are jitted pure functions, cached per config: trace them anew with the patch.
    monkeypatch.setattr(learner_module, "fit_critic", diverging_fit)
    learner_module._jitted_stages.cache_clear()
    try:
        kept, stats = Learner(TINY, Categorical(2), obs=3).update(state, a_batch())
    finally:
        learner_module._jitted_stages.cache_clear()
    assert stats["train/skipped"] == 1.0
    assert leaves_equal(kept.actor, updated.actor) and leaves_equal(kept.critic, state.critic)
    assert leaves_equal(kept.critic_opt, state.critic_opt)
