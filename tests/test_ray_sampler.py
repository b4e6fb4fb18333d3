"""The Ray sampler on a local Ray instance (started once for this module, 2 CPUs).

All tests here share one xdist group, so under `pytest -n 2 --dist loadgroup` they run in one
process and start Ray once.
"""

from __future__ import annotations

import json
import os
import sys

import gymnasium as gym
import numpy as np
import pytest

ray = pytest.importorskip("ray")

from trpo.agent import TRPO  # noqa: E402
from trpo.cli import main  # noqa: E402
from trpo.config import TRPOConfig  # noqa: E402
from trpo.rollout import RawBatch  # noqa: E402

pytestmark = pytest.mark.xdist_group("ray")

# Env classes defined here travel to the workers by value (the workers cannot import tests/).
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def record_batches(agent: TRPO) -> list[RawBatch]:
    """Copies of every batch the agent's sampler returns from now on."""
    batches: list[RawBatch] = []
    collect = agent.sampler.collect

    def recording(actor_np):
        raw = collect(actor_np)
        batches.append(RawBatch(*(np.copy(x) for x in raw)))
        return raw

    agent.sampler.collect = recording
    return batches


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_ray_batches_equal_local_batches_with_the_same_env_groups(env_id):
    # 3 iterations of 4 envs x 96 steps: Pendulum truncates at 200 steps, so final_obs is
    # exercised; the policy and the normaliser change between iterations.
    config = TRPOConfig(num_envs=4, n_steps=96, workers=2, seed=3, critic_minibatch=128)
    runs = {}
    for sampler in ("local", "ray"):
        agent = TRPO(env_id, config.replace(sampler=sampler))
        batches = record_batches(agent)
        metrics = []
        agent.learn(3 * config.batch_size, callback=metrics.append)
        runs[sampler] = (batches, metrics, agent.normalizer.state(), agent.sampler.rng_state())
        agent.close()
    (local, local_metrics, local_norm, local_rngs), (remote, remote_metrics, remote_norm, remote_rngs) = runs.values()
    assert len(local) == len(remote) == 3
    for local_batch, remote_batch in zip(local, remote, strict=True):
        assert local_batch.obs.shape == (96, 4, local_batch.obs.shape[2])
        for name, a, b in zip(RawBatch._fields, local_batch, remote_batch, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=name)
    if env_id == "Pendulum-v1":
        assert local[2].truncated.sum() == 4  # every env hit its time limit once, at step 200
    for name in ("mean", "var", "count"):
        np.testing.assert_array_equal(local_norm[name], remote_norm[name])
    for key in ("rollout/ep_return_mean", "rollout/episodes", "train/kl"):
        assert [m[key] for m in local_metrics] == pytest.approx([m[key] for m in remote_metrics], nan_ok=True)
    assert local_rngs == remote_rngs
    assert remote_metrics[-1]["rollout/worker_restarts"] == 0


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
    config = TRPOConfig(num_envs=4, n_steps=n_steps, workers=2, seed=0, sampler="ray", critic_minibatch=64)
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
            "100000",
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
