"""The Ray sampler on a local Ray instance (2 CPUs), started once per test process that runs
tests of this module (under `pytest -n 2`, at most two)."""

from __future__ import annotations

import json
import os
import sys

import gymnasium as gym
import numpy as np
import pytest

ray = pytest.importorskip("ray")

from trpo.cli import main  # noqa: E402
from trpo.collect.rollout import noise_stream  # noqa: E402
from trpo.config import TRPOConfig  # noqa: E402
from trpo.learning.batch import Batch  # noqa: E402
from trpo.training.agent import TRPO  # noqa: E402

# Ray starts its processes with fork + exec, which is safe next to JAX's threads.
pytestmark = pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")

# Env classes defined here travel to the workers by value (the workers cannot import tests/).
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def record_batches(agent: TRPO, inputs: list | None = None) -> list[Batch]:
    """Copies of every batch the agent's sampler returns from now on (and, into `inputs`, the
    actor parameters and normaliser state each collect started from)."""
    batches: list[Batch] = []
    collect = agent.sampler.collect

    def recording(actor_np, normalizer, check_stop=None):
        if inputs is not None:
            inputs.append((actor_np, normalizer))
        raw = collect(actor_np, normalizer, check_stop)
        batches.append(Batch(*(np.copy(x) for x in raw)))
        return raw

    agent.sampler.collect = recording
    return batches


@pytest.mark.parametrize("recurrent", ["none", "gru"])
def test_ray_batches_equal_local_batches_with_the_same_env_groups(recurrent):
    # A local run with 2 env groups trains 3 iterations (the policy and the normaliser change
    # between them); a Ray sampler with 2 workers, given the same parameters and normaliser
    # state each iteration, must return the same batches bit for bit. Pendulum truncates at
    # 200 steps, so final_obs is exercised. (tests/test_rollout_groups.py checks the group
    # partition for discrete actions too, without Ray.) A recurrent policy's batches carry the
    # states each worker kept across the iterations, and the episode starts.
    env_id = "Pendulum-v1" if recurrent == "none" else "trpo/PendulumNoVel-v1"
    config = TRPOConfig(num_envs=4, n_steps=96, workers=2, seed=3, critic_minibatch=128, critic_epochs=2)
    config = config.replace(recurrent=recurrent, recurrent_size=8)
    local = TRPO(env_id, config)
    inputs: list = []
    local_batches = record_batches(local, inputs)
    local.learn(3 * config.batch_size)

    remote = TRPO(env_id, config.replace(sampler="ray"))
    assert remote.envs.num_envs == 1  # the rollout envs live in the workers
    assert remote.sampler.rng_state() == [noise_stream(3, g).bit_generator.state for g in range(2)]
    for (actor_np, normalizer), local_batch in zip(inputs, local_batches, strict=True):
        remote_batch = remote.sampler.collect(actor_np, normalizer)
        assert remote_batch.obs.shape == local_batch.obs.shape == (96, 4, local_batch.obs.shape[2])
        for name, a, b in zip(Batch._fields, local_batch, remote_batch, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=name)
    if recurrent != "none":
        assert np.any(local_batches[2].actor_state) and np.any(local_batches[2].critic_state)
    assert local_batches[2].truncated.sum() == 4  # every env hit its time limit once, at step 200
    assert list(remote.sampler.finished_episodes) == list(local.sampler.finished_episodes)
    assert remote.sampler.rng_state() == local.sampler.rng_state()
    assert remote.sampler.metrics()["rollout/worker_restarts"] == 0
    remote.close()
    local.close()


class DieOnce(gym.Wrapper):
    """Kills its whole process at its `die_at`-th step if no env has done so yet (the marker file
    records that one has), as a crashing simulator or a lost node would."""

    def __init__(self, env: gym.Env, marker: str, die_at: int):
        super().__init__(env)
        self.marker, self.die_at, self.steps = marker, die_at, 0

    def step(self, action):
        self.steps += 1
        if self.steps == self.die_at:
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                pass
            else:
                os._exit(1)
        return super().step(action)


def test_dead_workers_are_replaced_and_their_part_collected_again(tmp_path):
    marker = str(tmp_path / "died")
    n_steps = 32
    factory = lambda: DieOnce(gym.make("CartPole-v1"), marker, die_at=n_steps + 5)  # mid iteration 2
    config = TRPOConfig(
        num_envs=4, n_steps=n_steps, workers=2, seed=0, sampler="ray", critic_minibatch=64, critic_epochs=2
    )
    agent = TRPO(factory, config)
    batches = record_batches(agent)
    metrics: list[dict[str, float]] = []

    def after_iteration(m):
        metrics.append(m)
        if m["iteration"] == 3:
            ray.kill(agent.sampler.workers[1], no_restart=True)  # between iterations 3 and 4

    agent.learn(4 * config.batch_size, callback=after_iteration)
    pids = ray.get([w.pid.remote() for w in agent.sampler.workers])
    agent.close()
    assert os.path.exists(marker)
    assert [m["rollout/worker_restarts"] for m in metrics] == [0, 1, 1, 2]
    assert agent.iteration == 4 and agent.global_step == 4 * config.batch_size
    assert len(set(pids)) == 2 and os.getpid() not in pids
    for batch in batches:
        assert batch.obs.shape == (n_steps, 4, 4)
        assert np.all(np.isfinite(batch.obs))


def test_cartpole_is_solved_by_trpo_train_with_the_ray_sampler(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = main(
        [
            "train",
            "CartPole-v1",
            "--sampler",
            "ray",
            "--workers",
            "2",
            "--envs-per-worker",
            "4",
            "--total-steps",
            "99328",  # 97 iterations of 1024 steps
            "--seed",
            "1",
            "--run-dir",
            str(run_dir),
            "--quiet",
            "--checkpoint-every",
            "0",
        ]
    )
    assert code == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["total_steps"] <= 100_000
    assert summary["eval"]["mean"] >= 475, summary
    header = (run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "rollout/worker_restarts" in header


def test_ray_workers_cut_episodes_at_the_training_time_limit():
    # The workers make their envs from the agent's training factory, so train_time_limit reaches them.
    config = TRPOConfig(num_envs=2, n_steps=60, workers=2, seed=0, critic_minibatch=60, critic_epochs=1)
    agent = TRPO("Pendulum-v1", config.replace(sampler="ray", train_time_limit=20))
    batches = record_batches(agent)
    agent.learn(config.batch_size)
    assert batches[0].truncated.sum() == 6  # both envs at steps 20, 40 and 60
    assert [length for _, length in agent.sampler.finished_episodes] == [20] * 6
    assert agent.evaluate(1)["lengths"] == [200]
    agent.close()
