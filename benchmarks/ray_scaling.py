"""Scaling of the Ray sampler on an env that costs a fixed time per step.

    .venv/bin/python benchmarks/ray_scaling.py [--step-ms 1.0] [--iterations 8] [--cost sleep|spin]

Measures here, on one machine:
  A. training steps/s (rollout + update) of CartPole-v1 made to cost `step_ms` per step, with
     8 envs x 128 steps per iteration: the local sampler, Ray with 1 worker, Ray with 2 workers;
  B. the Ray sampler's own per-iteration cost (broadcast, gather, join) with 1..8 workers that
     return a canned 8-env part at once, so nothing but Ray's overhead is timed;
  C. the learner update time at the batch sizes of 1, 8 and 64 workers of 8 envs;
and projects steps/s for 8 and 64 workers (one core each, 8 envs each) as
  T(W) = per-worker stepping time + U(batch of W workers) + a + b * W,
with a + b * W fitted to B. Medians throughout; prints a Markdown report.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import gymnasium as gym
import jax
import numpy as np
import ray

from trpo.collect.ray_sampler import RaySampler
from trpo.config import TRPOConfig
from trpo.envs.sync import make_vector_env
from trpo.learning.batch import Batch
from trpo.learning.learner import Learner
from trpo.learning.normalization import ObservationNormalizer
from trpo.training.agent import TRPO

ENVS, STEPS = 8, 128


class FixedCostPerStep(gym.Wrapper):
    """Each step costs `seconds` more: asleep (an external simulator) or spinning (CPU-bound)."""

    def __init__(self, env: gym.Env, seconds: float, spin: bool):
        super().__init__(env)
        self.seconds, self.spin = seconds, spin

    def step(self, action):
        if self.spin:
            end = time.perf_counter() + self.seconds
            while time.perf_counter() < end:
                pass
        else:
            time.sleep(self.seconds)
        return super().step(action)


def slow_cartpole(seconds: float, spin: bool):
    return lambda: FixedCostPerStep(gym.make("CartPole-v1"), seconds, spin)


def training_speed(factory, sampler: str, workers: int, iterations: int) -> dict[str, float]:
    config = TRPOConfig(num_envs=ENVS, n_steps=STEPS, sampler=sampler, workers=workers)
    agent = TRPO(factory, config)
    metrics: list[dict[str, float]] = []
    agent.learn((iterations + 1) * config.batch_size, callback=metrics.append)
    agent.close()
    timed = metrics[1:]  # the first iteration compiles the learner and starts the workers
    median = lambda key: statistics.median(m[key] for m in timed)
    iteration_s = statistics.median(m["time/rollout_s"] + m["time/update_s"] for m in timed)
    out = {
        "sps": config.batch_size / iteration_s,
        "rollout_s": median("time/rollout_s"),
        "update_s": median("time/update_s"),
    }
    for key in ("broadcast_s", "gather_s", "join_s", "worker_s"):
        if f"time/ray_{key}" in timed[0]:
            out[key] = median(f"time/ray_{key}")
    return out


@ray.remote(num_cpus=1)
class CannedWorker:
    """Returns an 8-env, 128-step part at once: times Ray's overhead, not stepping."""

    def __init__(self, obs_dim: int):
        rng = np.random.default_rng(0)
        self.part = Batch(
            obs=rng.standard_normal((STEPS, ENVS, obs_dim)).astype(np.float32),
            actions=rng.integers(0, 2, (STEPS, ENVS)),
            rewards=np.ones((STEPS, ENVS), np.float32),
            terminated=np.zeros((STEPS, ENVS), bool),
            truncated=np.zeros((STEPS, ENVS), bool),
            final_obs=np.zeros((STEPS, ENVS, obs_dim), np.float32),
            last_obs=np.zeros((ENVS, obs_dim), np.float32),
        )

    def collect(self, shared):
        return self.part, [], 0.0


def ray_overhead(workers: int, repeats: int) -> float:
    """Median seconds of RaySampler.collect around workers that do no work."""
    config = TRPOConfig(num_envs=ENVS * workers, n_steps=STEPS, sampler="ray", workers=workers)
    probe = gym.make("CartPole-v1")
    obs_dim = probe.observation_space.shape[0]
    sampler = RaySampler(lambda: gym.make("CartPole-v1"), "CartPole-v1", config)
    sampler.workers = [CannedWorker.remote(obs_dim) for _ in range(workers)]
    agent_params = TRPO("CartPole-v1", TRPOConfig())._actor_np
    times = []
    for _ in range(repeats + 2):
        start = time.perf_counter()
        sampler.collect(agent_params, ObservationNormalizer.fresh(obs_dim, True, 10))
        times.append(time.perf_counter() - start)
    for worker in sampler.workers:
        ray.kill(worker)
    return statistics.median(times[2:])


def update_time(num_envs: int, repeats: int) -> float:
    """Median seconds of one learner update on a random CartPole-shaped batch of num_envs x 128."""
    config = TRPOConfig(num_envs=num_envs, n_steps=STEPS)
    probe = make_vector_env("CartPole-v1", 1)
    learner = Learner(config, probe.distribution, probe.obs_dim)
    state = learner.init(jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    batch = Batch(
        obs=rng.standard_normal((STEPS, num_envs, 4)).astype(np.float32),
        actions=rng.integers(0, 2, (STEPS, num_envs)),
        rewards=np.ones((STEPS, num_envs), np.float32),
        terminated=rng.random((STEPS, num_envs)) < 0.02,
        truncated=np.zeros((STEPS, num_envs), bool),
        final_obs=np.zeros((STEPS, num_envs, 4), np.float32),
        last_obs=np.zeros((num_envs, 4), np.float32),
    )
    learner.update(state, batch)  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        learner.update(state, batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--step-ms", type=float, default=1.0)
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--cost", choices=["sleep", "spin"], default="sleep")
    args = parser.parse_args()
    ray.init(num_cpus=8, include_dashboard=False, logging_level="WARNING")
    factory = slow_cartpole(args.step_ms / 1000, args.cost == "spin")

    print(f"# Ray sampler scaling: CartPole-v1 + {args.step_ms} ms per step ({args.cost}), {os.cpu_count()} cores\n")
    print(f"## A. training, {ENVS} envs x {STEPS} steps per iteration, median of {args.iterations} iterations\n")
    print("| sampler | workers | steps/s | rollout s | update s | broadcast s | gather s | join s |")
    print("|---|---|---|---|---|---|---|---|")
    runs = {}
    for sampler, workers in (("local", 1), ("ray", 1), ("ray", 2)):
        r = runs[(sampler, workers)] = training_speed(factory, sampler, workers, args.iterations)
        extra = " | ".join(f"{r[k] * 1e3:.2f} ms" if k in r else "-" for k in ("broadcast_s", "gather_s", "join_s"))
        print(f"| {sampler} | {workers} | {r['sps']:.0f} | {r['rollout_s']:.3f} | {r['update_s']:.3f} | {extra} |")
    ratio = runs[("ray", 2)]["sps"] / runs[("ray", 1)]["sps"]
    ratio_local = runs[("ray", 2)]["sps"] / runs[("local", 1)]["sps"]
    print(f"\n2 workers / 1 worker: **{ratio:.2f}x**; 2 Ray workers / local sampler: {ratio_local:.2f}x\n")

    print("## B. Ray sampler overhead per iteration (workers return a canned 8-env part)\n")
    print("| workers | collect overhead ms |")
    print("|---|---|")
    overhead = {}
    for workers in (1, 2, 4, 8):
        overhead[workers] = ray_overhead(workers, repeats=30)
        print(f"| {workers} | {overhead[workers] * 1e3:.2f} |")
    xs = np.array(list(overhead), float)
    b, a = np.polyfit(xs, np.array(list(overhead.values())), 1)
    print(f"\nfit: overhead(W) = {a * 1e3:.2f} ms + {b * 1e3:.2f} ms x W\n")

    print("## C. learner update time by batch size (8 envs x 128 steps per worker)\n")
    print("| workers | batch | update s |")
    print("|---|---|---|")
    updates = {}
    for workers in (1, 8, 64):
        updates[workers] = update_time(ENVS * workers, repeats=3 if workers < 64 else 2)
        print(f"| {workers} | {ENVS * STEPS * workers} | {updates[workers]:.3f} |")

    stepping = runs[("ray", 1)]["worker_s"]
    print("\n## Projection: one core per worker, 8 envs x 128 steps each\n")
    print(f"per-worker stepping time (measured, 1 worker): {stepping:.3f} s\n")
    print("| workers | batch | stepping s | update s | Ray overhead s | iteration s | steps/s | vs 1 worker |")
    print("|---|---|---|---|---|---|---|---|")
    base = None
    for workers in (1, 2, 8, 64):
        update = updates.get(workers, np.interp(workers, list(updates), list(updates.values())))
        over = a + b * workers
        total = stepping + update + over
        sps = ENVS * STEPS * workers / total
        base = base or sps
        print(
            f"| {workers} | {ENVS * STEPS * workers} | {stepping:.3f} | {update:.3f} | {over:.4f} | {total:.3f} "
            f"| {sps:.0f} | {sps / base:.1f}x |"
        )
    ray.shutdown()


if __name__ == "__main__":
    main()
