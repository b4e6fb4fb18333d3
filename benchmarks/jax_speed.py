"""Speed of the compiled path (trpo.training.compiled) on gymnax CartPole; numbers go to docs/benchmarks-jax.md.

    python benchmarks/jax_speed.py solve [--seed S]     # time to a solved CartPole, from process start
    python benchmarks/jax_speed.py throughput            # env steps/s of rollouts and of whole training
    python benchmarks/jax_speed.py seeds                # 1 seed vs 16 seeds in one program

`solve` is meant to run in a fresh process (imports and compiles included): it trains the
gymnax:CartPole-v1 preset in chunks of 5 iterations and after each chunk runs the compiled
deterministic evaluation (10 episodes), stopping at the first mean >= 475. Set TRPO_JAX_CACHE=off
for a cold compile, or leave JAX's persistent cache on to measure a warm start.
Wall times on a shared machine are noisy: each line also gives the process CPU time.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from trpo.config import TRPOConfig  # noqa: E402
from trpo.envs.jax_envs import make_jax_env  # noqa: E402
from trpo.runs import presets  # noqa: E402
from trpo.training import compiled  # noqa: E402
from trpo.training.compile_cache import enable_compilation_cache  # noqa: E402

ENV_ID = "gymnax:CartPole-v1"


def preset_config(**changes) -> TRPOConfig:
    values, _ = presets.resolve("auto", ENV_ID)
    return TRPOConfig.from_dict(values).replace(**changes)


def load() -> str:
    return os.getloadavg()[0].__format__(".1f")


def solve(seed: int, chunk: int, max_iterations: int) -> dict:
    enable_compilation_cache()
    env = make_jax_env(ENV_ID)
    config = preset_config(seed=seed)
    program = compiled.Program(env, config)
    carry = compiled.init_seeds(program, jnp.asarray([seed]))
    t = time.perf_counter()
    step = compiled.run_seeds.lower(program, carry, jnp.int32(chunk), chunk).compile()
    keys = compiled.eval_keys(10, 10_000)
    evaluate = compiled.evaluate_seeds.lower(program, carry, keys).compile()
    compile_s = time.perf_counter() - t
    iterations, mean = 0, 0.0
    while iterations < max_iterations:
        carry, _ = step(carry, jnp.int32(chunk))
        iterations += chunk
        mean = float(np.mean(evaluate(carry, keys)[0]))
        if mean >= 475:
            break
    return {
        "seed": seed,
        "solved": mean >= 475,
        "eval_mean": mean,
        "iterations": iterations,
        "env_steps": iterations * config.batch_size,
        "compile_s": round(compile_s, 2),
        "wall_s_from_start": round(time.perf_counter() - START, 2),
        "process_cpu_s": round(time.process_time(), 2),
        "load_avg_1min": load(),
    }


def timed(fn, *args, repeats: int = 3) -> float:
    """Median wall seconds of fn(*args) after one warm-up call."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def throughput() -> list[dict]:
    env = make_jax_env(ENV_ID)
    rows = []
    for num_envs in (1, 64, 1024, 4096):
        config = preset_config(num_envs=num_envs, n_steps=128, critic_minibatch=min(8192, num_envs * 128))
        program = compiled.Program(env, config)
        carry = program.init(jnp.int32(0))
        collect = jax.jit(program.collect)
        rollout_s = timed(collect, carry)
        row = {"num_envs": num_envs, "n_steps": 128, "rollout_steps_per_s": round(num_envs * 128 / rollout_s)}
        if 64 <= num_envs <= 1024:  # at 4096 envs one update on 524k samples takes minutes on 2 cores
            carries = compiled.init_seeds(program, jnp.asarray([0]))
            run = jax.jit(lambda c, p=program: compiled.run_seeds(p, c, jnp.int32(2), chunk=2))
            train_s = timed(run, carries) / 2
            row["training_steps_per_s"] = round(num_envs * 128 / train_s)
        row["load_avg_1min"] = load()
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def seeds(iterations: int) -> list[dict]:
    env = make_jax_env(ENV_ID)
    rows = []
    for label, config in (
        ("preset (32 envs x 64 steps)", preset_config()),
        ("small (4 envs x 32 steps)", preset_config(num_envs=4, n_steps=32, critic_minibatch=64)),
    ):
        program = compiled.Program(env, config)
        result = {"config": label}
        for count in (1, 16):
            carry = compiled.init_seeds(program, jnp.arange(count))
            t = time.perf_counter()
            step = compiled.run_seeds.lower(program, carry, jnp.int32(iterations), iterations).compile()
            compile_s = time.perf_counter() - t
            train_s = timed(lambda c, s=step: s(c, jnp.int32(iterations)), carry, repeats=1)
            result[f"{count}_seeds"] = {"compile_s": round(compile_s, 2), "train_s": round(train_s, 2)}
        one, many = result["1_seeds"], result["16_seeds"]
        result["ratio_train"] = round(many["train_s"] / one["train_s"], 2)
        result["ratio_with_compile"] = round(
            (many["train_s"] + many["compile_s"]) / (one["train_s"] + one["compile_s"]), 2
        )
        result["iterations"] = iterations
        result["load_avg_1min"] = load()
        rows.append(result)
        print(json.dumps(result), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["solve", "throughput", "seeds"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=5)
    parser.add_argument("--max-iterations", type=int, default=150)
    parser.add_argument("--iterations", type=int, default=20, help="training iterations for `seeds`")
    args = parser.parse_args()
    if args.what == "solve":
        print(json.dumps(solve(args.seed, args.chunk, args.max_iterations)))
    elif args.what == "throughput":
        throughput()
    else:
        seeds(args.iterations)


if __name__ == "__main__":
    main()
