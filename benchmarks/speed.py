"""Speed of trpo against sb3-contrib TRPO and against the environments' own speed, in one run.

For each env, three measurements, each in a fresh process (so peak memory is its own):
- ceiling: random actions through the vector-env driver that `trpo train` uses (no policy, no update);
- trpo: `trpo.runs.run.train` (what `trpo train` runs: CSV + TensorBoard logs, checkpoints);
- sb3: sb3-contrib TRPO with the same settings.
Settings for both learners are rl-baselines3-zoo's MuJoCo TRPO settings, on every env: 2 envs x
1024 steps, 20 critic epochs of minibatch 128 (320 Adam steps), 25 CG iterations, max KL 0.01,
10 line-search steps of 0.8, 64x64 tanh MLPs, observation normalisation, no reward normalisation.

Steps/s are steady state: the first iteration (trpo's JIT compile, torch's warm-up) is left out and
reported apart (trpo: compile_s). Repeats are interleaved (ceiling, trpo, sb3, ceiling, trpo, sb3,
...) and the table shows medians. Run with `make bench` (writes docs/benchmarks.md) or
`python benchmarks/speed.py --help`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ENVS = ("CartPole-v1", "HalfCheetah-v5", "Hopper-v5")
NUM_ENVS, N_STEPS = 2, 1024
BATCH = NUM_ENVS * N_STEPS
SETTINGS = {
    "num_envs": NUM_ENVS,
    "n_steps": N_STEPS,
    "critic_epochs": 20,
    "critic_minibatch": 128,
    "critic_lr": 1e-3,
    "cg_iters": 25,
    "cg_damping": 0.1,
    "max_kl": 0.01,
    "backtrack_iters": 10,
    "backtrack_coeff": 0.8,
    "gamma": 0.99,
    "gae_lambda": 0.95,
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --- one measurement per process ------------------------------------------------------------------
def measure_ceiling(env_id: str, steps: int, vec: str, seed: int) -> dict:
    import numpy as np

    from trpo.envs.vector import make_vector_env

    envs = make_vector_env(env_id, NUM_ENVS, vec, seed=seed)
    envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    space = envs.action_space
    if hasattr(space, "n"):
        actions = rng.integers(0, space.n, (N_STEPS, NUM_ENVS))
    else:
        actions = rng.uniform(space.low, space.high, (N_STEPS, NUM_ENVS, *space.shape)).astype(np.float32)
    vector_steps = steps // NUM_ENVS
    start = time.perf_counter()
    for t in range(vector_steps):
        envs.step(actions[t % N_STEPS])
    wall = time.perf_counter() - start
    envs.close()
    return {"sps": vector_steps * NUM_ENVS / wall, "peak_mb": peak_rss_mb()}


def measure_trpo(env_id: str, steps: int, vec: str, seed: int) -> dict:
    import csv

    from trpo.config import TRPOConfig
    from trpo.runs.run import RunOptions, train

    config = TRPOConfig(**SETTINGS, seed=seed, vec=vec)
    with tempfile.TemporaryDirectory() as tmp:
        options = RunOptions(total_steps=steps + BATCH, run_dir=Path(tmp) / "run", eval_episodes=1, quiet=True)
        summary = train(env_id, config, options)
        with open(Path(tmp) / "run" / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
    update_wall_ms, update_cpu_ms = time_one_update(env_id, config)
    rollout = [float(r["time/rollout_s"]) for r in rows]
    update = [float(r["time/update_s"]) for r in rows]
    first = rollout[0] + update[0]  # the first iteration compiles the update
    steady_wall = summary["wall_s"] - first  # includes logging and checkpoints
    return {
        "sps": (summary["total_steps"] - BATCH) / steady_wall,
        "rollout_s": sum(rollout[1:]),
        "update_s": sum(update[1:]),
        "update_ms": 1e3 * statistics.median(update[1:]),
        "compile_s": summary["compile_s"],
        "update_alone_ms": update_wall_ms,
        "update_alone_cpu_ms": update_cpu_ms,
        "summary_sps": summary["sps"],
        "peak_mb": peak_rss_mb(),
    }


def time_one_update(env_id: str, config, repeats: int = 15) -> tuple[float, float]:
    """Median wall and CPU (process) ms of Learner.update alone on one batch of this env's
    transitions: policy step + 20 x 16 critic minibatches + advantages + stats to host."""
    import jax
    import numpy as np

    from trpo.learning.normalization import update_stats, vector_part
    from trpo.training.agent import TRPO
    from trpo.training.train_step import normalize_batch

    agent = TRPO(env_id, config)
    raw = agent.sampler.collect(agent._actor_np, agent.normalizer)
    obs_stats = update_stats(agent.train_state.obs_stats, vector_part(raw.obs))
    batch = normalize_batch(obs_stats, agent.train_state.reward_stats, raw, config, np)
    agent.learner.update(agent.state, batch)  # compile
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        jax.block_until_ready(agent.learner.update(agent.state, batch))
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    agent.close()
    return 1e3 * statistics.median(wall), 1e3 * statistics.median(cpu)


def measure_sb3(env_id: str, steps: int, vec: str, seed: int) -> dict:
    import torch
    from sb3_contrib import TRPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    # One intra-op thread: on this shared 2-core machine torch's default (2 OpenMP threads) ran
    # sb3-contrib's update 40x slower (threads spinning on busy cores); 1 thread is its best here.
    torch.set_num_threads(1)
    envs = VecNormalize(make_vec_env(env_id, n_envs=NUM_ENVS, seed=seed), norm_obs=True, norm_reward=False)
    model = TRPO(
        "MlpPolicy",
        envs,
        n_steps=N_STEPS,
        batch_size=SETTINGS["critic_minibatch"],
        n_critic_updates=SETTINGS["critic_epochs"],
        learning_rate=SETTINGS["critic_lr"],
        cg_max_steps=SETTINGS["cg_iters"],
        cg_damping=SETTINGS["cg_damping"],
        target_kl=SETTINGS["max_kl"],
        line_search_max_iter=SETTINGS["backtrack_iters"],
        line_search_shrinking_factor=SETTINGS["backtrack_coeff"],
        gamma=SETTINGS["gamma"],
        gae_lambda=SETTINGS["gae_lambda"],
        policy_kwargs={"net_arch": {"pi": [64, 64], "vf": [64, 64]}, "activation_fn": torch.nn.Tanh},
        seed=seed,
        device="cpu",
        verbose=0,
    )
    times: dict[str, list[float]] = {"collect_rollouts": [], "train": []}
    for name in times:
        method = getattr(model, name)

        def timed(*args, _method=method, _name=name, **kwargs):
            start = time.perf_counter()
            out = _method(*args, **kwargs)
            times[_name].append(time.perf_counter() - start)
            return out

        setattr(model, name, timed)
    start = time.perf_counter()
    model.learn(steps + BATCH)
    wall = time.perf_counter() - start
    rollout, update = times["collect_rollouts"], times["train"]
    first = rollout[0] + update[0]
    return {
        "sps": (model.num_timesteps - BATCH) / (wall - first),
        "rollout_s": sum(rollout[1:]),
        "update_s": sum(update[1:]),
        "update_ms": 1e3 * statistics.median(update[1:]),
        "peak_mb": peak_rss_mb(),
    }


MEASURES = {"ceiling": measure_ceiling, "trpo": measure_trpo, "sb3": measure_sb3}


# --- the driver: interleaved repeats, medians, the markdown table --------------------------------
def run_one(kind: str, env_id: str, steps: int, vec: str, seed: int) -> dict:
    cmd = [sys.executable, __file__, "--one", kind, "--env", env_id, "--steps", str(steps), "--vec", vec]
    cmd += ["--seed", str(seed)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode != 0:
        raise RuntimeError(f"{kind} on {env_id} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def table(results: dict, envs: list[str]) -> str:
    head = (
        "| env | ceiling steps/s | trpo steps/s | sb3-contrib steps/s | trpo / sb3 | trpo / ceiling "
        "| rollout share trpo / sb3 | ms per update trpo / sb3 | trpo update alone ms (CPU ms) "
        "| trpo compile s | peak MB trpo / sb3 |\n"
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
    )
    lines = []
    for env_id in envs:
        c, t, s = (results[env_id][k] for k in ("ceiling", "trpo", "sb3"))

        def share(rs):
            return median([{"x": r["rollout_s"] / (r["rollout_s"] + r["update_s"])} for r in rs], "x")

        lines.append(
            f"| {env_id} | {median(c, 'sps'):,.0f} | {median(t, 'sps'):,.0f} | {median(s, 'sps'):,.0f} "
            f"| {median(t, 'sps') / median(s, 'sps'):.2f}x | {median(t, 'sps') / median(c, 'sps'):.0%} "
            f"| {share(t):.0%} / {share(s):.0%} | {median(t, 'update_ms'):.1f} / {median(s, 'update_ms'):.1f} "
            f"| {median(t, 'update_alone_ms'):.1f} ({median(t, 'update_alone_cpu_ms'):.1f}) "
            f"| {median(t, 'compile_s'):.1f} | {median(t, 'peak_mb'):,.0f} / {median(s, 'peak_mb'):,.0f} |"
        )
    return head + "\n".join(lines) + "\n"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, load average {load:.1f} at start"


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for pkg in ("trpo", "jax", "numpy", "gymnasium", "mujoco", "torch", "stable_baselines3", "sb3-contrib"):
        try:
            out.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            out.append(f"{pkg} (not installed)")
    return ", ".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=list(ENVS))
    parser.add_argument("--steps", type=int, default=10 * BATCH, help="timed env steps per learner run")
    parser.add_argument("--ceiling-steps", type=int, default=10 * BATCH, help="timed env steps of the ceiling")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--vec", default="sync", help="trpo's vector-env backend (the ceiling uses the same)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write the table into")
    parser.add_argument("--one", choices=sorted(MEASURES), help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(MEASURES[args.one](args.env, args.steps, args.vec, args.seed)))
        return 0

    command = "python benchmarks/speed.py " + " ".join(sys.argv[1:])
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    host = machine()
    results: dict = {env_id: {k: [] for k in MEASURES} for env_id in args.envs}
    for repeat in range(args.repeats):
        for env_id in args.envs:
            for kind in MEASURES:
                steps = args.ceiling_steps if kind == "ceiling" else args.steps
                r = run_one(kind, env_id, steps, args.vec, args.seed + repeat)
                results[env_id][kind].append(r)
                print(f"[{repeat + 1}/{args.repeats}] {env_id:15s} {kind:8s} {r['sps']:9,.0f} steps/s", flush=True)
    text = table(results, args.envs)
    print(text)
    if args.out:
        write_doc(args.out, text, results, command, started, host, args)
    return 0


def write_doc(path: Path, text: str, results: dict, command: str, started: str, host: str, args) -> None:
    settings = ", ".join(f"{k}={v}" for k, v in SETTINGS.items())
    raw = json.dumps(results, indent=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""# Speed: trpo against sb3-contrib TRPO and the environments' own speed

Written by `benchmarks/speed.py` ({started}). Command: `{command}` (what `make bench` runs).

Machine: {host}. Versions: {versions()}. No GPU: everything runs on the CPU.

Settings, the same for both learners and every env (rl-baselines3-zoo's MuJoCo TRPO settings,
used for CartPole-v1 too): {settings}; 64x64 tanh MLPs; observations normalised (sb3-contrib:
`VecNormalize(norm_reward=False)`), rewards not. trpo vector-env backend: `{args.vec}`.

{text}
How to read it:
- steps/s are medians over {args.repeats} interleaved repeats (ceiling, trpo, sb3, ceiling, ...),
  each in a fresh process; learners run {args.steps} timed env steps after one untimed first
  iteration (trpo's JIT compile, reported as *trpo compile s*; torch's warm-up), the ceiling
  {args.ceiling_steps} steps.
- ceiling: uniformly random actions through the same vector-env driver `trpo train` uses,
  with no policy and no update: the speed of the simulator plus the driver.
- trpo steps/s is `trpo.runs.run.train` (what `trpo train` does, logging and checkpoints included);
  sb3-contrib has no file logging here (verbose=0).
- sb3-contrib runs torch with one thread (`torch.set_num_threads(1)`): with torch's default of
  one OpenMP thread per core, its updates were up to 40x slower on this shared machine.
- rollout share: time collecting transitions / (that + time in the update).
- ms per update: median wall time of one update on {BATCH} samples (advantages, policy step with
  CG and line search, 320 critic Adam steps, and for trpo the host-side statistics).
- trpo update alone: `Learner.update` on one batch of {BATCH} transitions, timed by itself
  (median of 15, after compiling), in wall ms and in CPU ms of the process (CPU time counts
  every thread and is not stretched by waiting for a core on a busy machine).
- peak MB: the measuring process's peak resident memory (includes the libraries: JAX, torch).
- The machine is shared (2 cores, other jobs running): absolute numbers move between runs;
  ratios measured side by side move less.

<details><summary>Raw results (every repeat)</summary>

```json
{raw}
```
</details>
"""
    )


if __name__ == "__main__":
    sys.exit(main())
