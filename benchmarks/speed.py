"""Speed of trpo against sb3-contrib TRPO and against the environments' own speed, in one run.

For each env, measurements each in a fresh process (so peak memory and start-up are its own),
repeats interleaved, medians in the table:
- ceiling: random actions through the vector-env driver that `trpo train` uses (no policy, no update);
- trpo cold: `trpo.runs.run.train` (what `trpo train` runs: CSV + TensorBoard logs, checkpoints)
  with an empty JAX compilation cache; trpo warm: the same run again with the cache the cold run
  filled (what every run after the first costs);
- sb3: sb3-contrib TRPO with the same settings, torch at one thread.
MLP envs use rl-baselines3-zoo's MuJoCo TRPO settings for both learners: 2 envs x 1024 steps, 20
critic epochs of minibatch 128 (320 Adam steps), 25 CG iterations, max KL 0.01, 10 line-search
steps of 0.8, 64x64 tanh MLPs, observation normalisation, no reward normalisation. ALE ids use
trpo's Atari preset (Nature CNN) for both, on trpo's own Atari preprocessing.

Two speeds per learner: whole run (steps / seconds from before the learner's imports to the end
of its last iteration: imports, env and network setup, compilation and the training) and steady
state (steps after the first iteration / their seconds). Run with `make bench` (writes
docs/benchmarks.md) or `python benchmarks/speed.py --help`.
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

ENVS = ("HalfCheetah-v5", "CartPole-v1", "ALE/Pong-v5")
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
KINDS = ("ceiling", "trpo_cold", "trpo_warm", "sb3")


def is_atari(env_id: str) -> bool:
    return env_id.startswith("ALE/")


def settings_for(env_id: str) -> dict:
    """The learners' shared settings: the zoo's MuJoCo TRPO settings, or trpo's Atari preset."""
    if not is_atari(env_id):
        return dict(SETTINGS, normalize_rewards=False)
    from trpo.runs import presets

    values, _ = presets.resolve("auto", env_id)
    values, _ = presets.split_make_kwargs(values, source=env_id)
    return values


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def random_actions(space, steps: int, num_envs: int, seed: int):
    """[steps, num_envs, ...] uniformly random actions of a Discrete or Box action space: what the
    ceiling steps the envs with."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if hasattr(space, "n"):
        return rng.integers(0, space.n, (steps, num_envs))
    return rng.uniform(space.low, space.high, (steps, num_envs, *space.shape)).astype(np.float32)


# --- one measurement per process ------------------------------------------------------------------
def measure_ceiling(env_id: str, steps: int, vec: str, seed: int) -> dict:
    from trpo.envs.vector import make_vector_env

    num_envs = settings_for(env_id)["num_envs"]
    envs = make_vector_env(env_id, num_envs, vec, seed=seed)
    envs.reset(seed=seed)
    actions = random_actions(envs.action_space, 1024, num_envs, seed)
    vector_steps = steps // num_envs
    start = time.perf_counter()
    for t in range(vector_steps):
        envs.step(actions[t % 1024])
    wall = time.perf_counter() - start
    envs.close()
    return {"sps": vector_steps * num_envs / wall, "peak_mb": peak_rss_mb()}


def measure_trpo(env_id: str, steps: int, vec: str, seed: int) -> dict:
    """`trpo train` as a function; the compilation cache is the one TRPO_JAX_CACHE names (the
    driver gives a cold run an empty folder and the warm run the same folder again)."""
    start = time.perf_counter()
    import csv

    from trpo.config import TRPOConfig
    from trpo.runs.run import RunOptions, train

    config = TRPOConfig.from_dict({**settings_for(env_id), "seed": seed, "vec": vec}, source="speed.py")
    stamps: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        options = RunOptions(
            total_steps=steps,
            run_dir=Path(tmp) / "run",
            eval_episodes=1,
            quiet=True,
            on_iteration=lambda agent, metrics: stamps.append(time.perf_counter()),
        )
        summary = train(env_id, config, options)
        with open(Path(tmp) / "run" / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
    batch = config.batch_size
    return {
        "whole_sps": summary["total_steps"] / (stamps[-1] - start),
        "whole_s": stamps[-1] - start,
        "sps": batch * (len(stamps) - 1) / (stamps[-1] - stamps[0]),
        "first_iteration_s": stamps[0] - start,
        "setup_s": summary["setup_s"],
        "compile_s": summary["compile_s"],
        "rollout_ms": 1e3 * statistics.median(float(r["time/rollout_s"]) for r in rows[1:]),
        "update_ms": 1e3 * statistics.median(float(r["time/update_s"]) for r in rows[1:]),
        "steps": summary["total_steps"],
        "eval_return": summary["eval"]["mean"],
        "peak_mb": peak_rss_mb(),
    }


def sb3_env(env_id: str, num_envs: int, seed: int):
    """sb3's vector env: gymnasium.make for MLP envs; trpo's own Atari preprocessing for ALE ids."""
    from stable_baselines3.common.env_util import make_vec_env

    if not is_atari(env_id):
        return make_vec_env(env_id, n_envs=num_envs, seed=seed)
    from trpo.envs.make import env_factory

    return make_vec_env(env_factory(env_id, train=True), n_envs=num_envs, seed=seed)


def measure_sb3(env_id: str, steps: int, vec: str, seed: int) -> dict:
    start = time.perf_counter()
    import torch
    from sb3_contrib import TRPO
    from stable_baselines3.common.vec_env import VecNormalize

    # One intra-op thread: on this shared 2-core machine torch's default (2 OpenMP threads) ran
    # sb3-contrib's update 40x slower (threads spinning on busy cores); 1 thread is its best here.
    torch.set_num_threads(1)
    s = settings_for(env_id)
    envs = sb3_env(env_id, s["num_envs"], seed)
    if is_atari(env_id):
        # trpo's actor and critic each have their own Nature CNN; sb3 shares one by default.
        policy, policy_kwargs = "CnnPolicy", {"net_arch": {"pi": [], "vf": []}, "share_features_extractor": False}
    else:
        envs = VecNormalize(envs, norm_obs=True, norm_reward=False)
        policy = "MlpPolicy"
        policy_kwargs = {"net_arch": {"pi": [64, 64], "vf": [64, 64]}, "activation_fn": torch.nn.Tanh}
    model = TRPO(
        policy,
        envs,
        n_steps=s["n_steps"],
        batch_size=s["critic_minibatch"],
        n_critic_updates=s["critic_epochs"],
        learning_rate=s["critic_lr"],
        cg_max_steps=s["cg_iters"],
        cg_damping=s["cg_damping"],
        target_kl=s["max_kl"],
        line_search_max_iter=s.get("backtrack_iters", 10),
        line_search_shrinking_factor=s.get("backtrack_coeff", 0.8),
        gamma=s["gamma"],
        gae_lambda=s["gae_lambda"],
        sub_sampling_factor=s.get("fisher_subsample", 1),
        policy_kwargs=policy_kwargs,
        seed=seed,
        device="cpu",
        verbose=0,
    )
    times: dict[str, list[float]] = {"collect_rollouts": [], "train": []}
    for name in times:
        method = getattr(model, name)

        def timed(*args, _method=method, _name=name, **kwargs):
            begin = time.perf_counter()
            out = _method(*args, **kwargs)
            times[_name].append(time.perf_counter() - begin)
            return out

        setattr(model, name, timed)
    learn_start = time.perf_counter()
    model.learn(steps)
    end = time.perf_counter()
    rollout, update = times["collect_rollouts"], times["train"]
    batch = s["num_envs"] * s["n_steps"]
    first = rollout[0] + update[0]
    return {
        "whole_sps": model.num_timesteps / (end - start),
        "whole_s": end - start,
        "sps": (model.num_timesteps - batch) / (end - learn_start - first),
        "first_iteration_s": learn_start + first - start,
        "rollout_ms": 1e3 * statistics.median(rollout[1:]),
        "update_ms": 1e3 * statistics.median(update[1:]),
        "steps": model.num_timesteps,
        "peak_mb": peak_rss_mb(),
    }


MEASURES = {"ceiling": measure_ceiling, "trpo_cold": measure_trpo, "trpo_warm": measure_trpo, "sb3": measure_sb3}


# --- the driver: interleaved repeats, medians, the markdown table --------------------------------
def run_one(kind: str, env_id: str, steps: int, vec: str, seed: int, cache: Path) -> dict:
    cmd = [sys.executable, __file__, "--one", kind, "--env", env_id, "--steps", str(steps), "--vec", vec]
    cmd += ["--seed", str(seed)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TRPO_JAX_CACHE": str(cache)}
    load = os.getloadavg()[0]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} on {env_id} failed:\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "load": load}


def median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def table(results: dict, envs: list[str]) -> str:
    head = (
        "| env | steps | load at starts | ceiling steps/s | trpo whole run cold / warm | sb3-contrib whole run "
        "| trpo / sb3 whole run cold / warm | trpo steady | sb3-contrib steady | trpo / sb3 steady "
        "| trpo steady / ceiling | ms per rollout trpo / sb3 | ms per update trpo / sb3 | trpo compile s cold / warm "
        "| peak MB trpo / sb3 |\n"
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
    )
    lines = []
    for env_id in envs:
        c, cold, warm, s = (results[env_id][k] for k in KINDS)
        loads = [r["load"] for k in KINDS for r in results[env_id][k]]
        whole = {name: median(rs, "whole_sps") for name, rs in (("cold", cold), ("warm", warm), ("sb3", s))}
        steady, steady_sb3 = median(warm, "sps"), median(s, "sps")
        lines.append(
            f"| {env_id} | {median(warm, 'steps'):,.0f} | {min(loads):.1f}-{max(loads):.1f} | {median(c, 'sps'):,.0f} "
            f"| {whole['cold']:,.0f} / {whole['warm']:,.0f} | {whole['sb3']:,.0f} "
            f"| {whole['cold'] / whole['sb3']:.1f}x / {whole['warm'] / whole['sb3']:.1f}x "
            f"| {steady:,.0f} | {steady_sb3:,.0f} | {steady / steady_sb3:.1f}x | {steady / median(c, 'sps'):.0%} "
            f"| {median(warm, 'rollout_ms'):,.0f} / {median(s, 'rollout_ms'):,.0f} "
            f"| {median(warm, 'update_ms'):,.0f} / {median(s, 'update_ms'):,.0f} "
            f"| {median(cold, 'compile_s'):.1f} / {median(warm, 'compile_s'):.1f} "
            f"| {median(warm, 'peak_mb'):,.0f} / {median(s, 'peak_mb'):,.0f} |"
        )
    return head + "\n".join(lines) + "\n"


def runs_table(results: dict, envs: list[str]) -> str:
    """Every measurement, in the order run, with the load average when it started."""
    rows = ["| env | repeat | kind | load at start | whole-run steps/s | steady steps/s |", "|---|--:|---|--:|--:|--:|"]
    for env_id in envs:
        for kind in KINDS:
            for i, r in enumerate(results[env_id][kind]):
                whole = f"{r['whole_sps']:,.0f}" if "whole_sps" in r else ""
                rows.append(f"| {env_id} | {i + 1} | {kind} | {r['load']:.1f} | {whole} | {r['sps']:,.0f} |")
    return "\n".join(rows) + "\n"


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
    parser.add_argument("--envs", nargs="+", default=list(ENVS), help="ALE/ ids use trpo's Atari preset")
    parser.add_argument("--steps", type=int, default=100_000, help="env steps per learner run (MLP envs)")
    parser.add_argument("--atari-steps", type=int, default=2048, help="env steps per learner run (ALE/ ids)")
    parser.add_argument("--ceiling-steps", type=int, default=10 * BATCH, help="env steps of the ceiling")
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
    results: dict = {env_id: {k: [] for k in KINDS} for env_id in args.envs}
    with tempfile.TemporaryDirectory() as caches:
        for repeat in range(args.repeats):
            for env_id in args.envs:
                # trpo_cold compiles into an empty cache; trpo_warm reads what it wrote.
                cache = Path(caches) / f"{repeat}-{env_id.replace('/', '_')}"
                for kind in KINDS:
                    steps = args.atari_steps if is_atari(env_id) else args.steps
                    steps = args.ceiling_steps if kind == "ceiling" else steps
                    r = run_one(kind, env_id, steps, args.vec, args.seed + repeat, cache)
                    results[env_id][kind].append(r)
                    whole = f"whole {r['whole_sps']:9,.0f}" if "whole_sps" in r else " " * 15
                    print(
                        f"[{repeat + 1}/{args.repeats}] {env_id:15s} {kind:9s} load {r['load']:4.1f} {whole} "
                        f"steady {r['sps']:9,.0f} steps/s",
                        flush=True,
                    )
    text = table(results, args.envs)
    print(text)
    if args.out:
        write_doc(args.out, text, results, command, started, host, args)
    return 0


def write_doc(path: Path, text: str, results: dict, command: str, started: str, host: str, args) -> None:
    settings = ", ".join(f"{k}={v}" for k, v in SETTINGS.items())
    atari = [e for e in args.envs if is_atari(e)]
    atari_note = ""
    if atari:
        preset = ", ".join(f"{k}={v}" for k, v in settings_for(atari[0]).items())
        atari_note = (
            f"\nALE ids ({', '.join(atari)}): trpo's Atari preset for both learners ({preset}), on trpo's own Atari "
            "preprocessing (sb3-contrib gets the same env factory); sb3-contrib's `CnnPolicy` (Nature CNN, "
            "separate actor and critic networks, linear heads) with `sub_sampling_factor` = fisher_subsample. "
            f"Learners run {args.atari_steps} steps.\n"
        )
    raw = json.dumps(results, indent=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""# Speed: trpo against sb3-contrib TRPO and the environments' own speed

Written by `benchmarks/speed.py` ({started}). Command: `{command}`
(`make bench` runs `python benchmarks/speed.py --out docs/benchmarks.md`).

Machine: {host}. Versions: {versions()}. No GPU: everything runs on the CPU.

Settings, the same for both learners on the MLP envs (rl-baselines3-zoo's MuJoCo TRPO settings,
used for CartPole-v1 too): {settings}; 64x64 tanh MLPs; observations normalised (sb3-contrib:
`VecNormalize(norm_reward=False)`), rewards not. trpo vector-env backend: `{args.vec}`.
{atari_note}
{text}
How to read it:
- Medians over {args.repeats} repeats, interleaved (per env: ceiling, trpo cold, trpo warm, sb3-contrib,
  then the next env, then the next repeat), each in a fresh process. Learners run {args.steps} env
  steps on the MLP envs; the ceiling {args.ceiling_steps} steps.
- *load at starts*: the lowest and highest 1-minute load average when this env's measurements
  started (2 cores: above 2 the measurements waited for a core; the table below lists each).
- *whole run*: steps / seconds from before the learner's imports to the end of its last
  iteration, so imports, making the envs, initialising the networks, JIT compilation (trpo) or
  torch's warm-up (sb3-contrib) and all of training are in it. trpo *cold* starts with an empty
  JAX compilation cache, *warm* with the cache the cold run filled (every run after the first;
  see docs/usage.md, "The compilation cache").
- *steady*: steps after the first iteration / their seconds (trpo: the warm run; the next
  rollout runs beside the critic fit, so a steady iteration costs about the rollout plus the
  policy step).
- *ceiling*: uniformly random actions through the same vector-env driver `trpo train` uses, with
  no policy and no update: the speed of the simulator plus the driver.
- trpo is `trpo.runs.run.train` (what `trpo train` does, CSV and TensorBoard logging and
  checkpoints included); sb3-contrib has no file logging here (verbose=0) and runs torch with one
  thread (`torch.set_num_threads(1)`): with torch's default of one OpenMP thread per core, its
  updates were up to 40x slower on this shared machine.
- ms per rollout / update: medians over the steady iterations (trpo's rollout runs in a thread
  beside the previous critic fit).
- peak MB: the measuring process's peak resident memory (includes the libraries: JAX, torch).
- The machine is shared (2 cores, other jobs running): absolute numbers move between runs;
  ratios measured side by side move less.

Every measurement:

{runs_table(results, list(results))}
<details><summary>Raw results (every repeat)</summary>

```json
{raw}
```
</details>
"""
    )


if __name__ == "__main__":
    sys.exit(main())
