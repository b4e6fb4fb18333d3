"""Recurrent policies on partially observed envs: a recurrent TRPO policy against the MLP on the
same observations and against an MLP on a stack of the last 4 observations.

    python benchmarks/recurrent.py                      # both envs, 3 seeds, every config
    python benchmarks/recurrent.py --envs cartpole --seeds 0 --configs gru mlp

Each run trains with the Python API and ends with trpo's deterministic evaluation (10 episodes on
fresh envs, the one `trpo train` writes to summary.json); its result goes to
OUT/ENV/CONFIG/seedN.json, and a run whose file exists is not trained again (the script resumes).
The tables go to OUT/results.md (docs/recurrent.md embeds them).

Hyperparameters are the same for every config of an env (its shipped preset, GRU aside); only
the network (or the frame stack) differs. CartPoleNoVel: the library defaults with rollouts of 32
steps x 8 envs (as rl-baselines3-zoo's RecurrentPPO for this env), max_kl 0.02, critic minibatches
of 64 steps (2 whole env sequences: 40 Adam steps per iteration) and exact_pi_old; how they were
chosen is in docs/recurrent.md. PendulumNoVel: the Pendulum-v1 preset (gamma 0.9, 4 envs x 500
steps, max_kl 0.02) and exact_pi_old.

trpo has no frame-stacking option for vector observations: the `stack4` config wraps the env in
Gymnasium's FrameStackObservation(4) + FlattenObservation, as a user would through TRPO's env
factory.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

ENVS = {
    # name: (env id, steps, target, hyperparameters)
    "cartpole": (
        "trpo/CartPoleNoVel-v1",
        200_000,
        475.0,
        {"n_steps": 32, "max_kl": 0.02, "critic_minibatch": 64, "exact_pi_old": True},
    ),
    "pendulum": (
        "trpo/PendulumNoVel-v1",
        1_000_000,
        -300.0,
        {"gamma": 0.9, "num_envs": 4, "n_steps": 500, "max_kl": 0.02, "exact_pi_old": True},
    ),
}
CONFIGS = {
    "gru": {"recurrent": "gru", "recurrent_size": 64},
    "lstm": {"recurrent": "lstm", "recurrent_size": 64},
    "mlp": {},
    "stack4": {},
}
DESCRIPTION = {
    "gru": "GRU (64) + MLP 64x64",
    "lstm": "LSTM (64) + MLP 64x64",
    "mlp": "MLP 64x64 on the same observations",
    "stack4": "MLP 64x64 on the last 4 observations (frame stack)",
}


def frame_stack(env_id: str, frames: int = 4) -> Any:
    def make() -> gym.Env:
        return gym.wrappers.FlattenObservation(gym.wrappers.FrameStackObservation(gym.make(env_id), frames))

    make.__name__ = f"{env_id}+stack{frames}"
    return make


def train_one(env_name: str, config_name: str, seed: int) -> dict[str, Any]:
    from trpo import TRPO, TRPOConfig

    env_id, steps, _, hyper = ENVS[env_name]
    config = TRPOConfig(seed=seed, **hyper, **CONFIGS[config_name])
    env = frame_stack(env_id) if config_name == "stack4" else env_id
    start = time.perf_counter()
    agent = TRPO(env, config, total_steps=steps).learn(steps)
    wall = time.perf_counter() - start
    result = agent.evaluate(episodes=10)
    agent.close()
    return {
        "env_id": env_id,
        "config": config_name,
        "seed": seed,
        "steps": agent.global_step,
        "wall_s": round(wall, 1),
        "eval": result["mean"],
        "eval_std": result["std"],
        "hyperparameters": config.to_dict(),
    }


def table(out: Path, env_names: list[str]) -> str:
    lines = []
    for env_name in env_names:
        env_id, steps, target, _ = ENVS[env_name]
        lines += [
            f"### {env_id}, {steps:,} steps (target: {target:g})",
            "",
            "| policy | eval per seed | mean ± std | wall s per run |",
            "|---|---|---|---|",
        ]
        for config_name in CONFIGS:
            runs = [json.loads(p.read_text()) for p in sorted((out / env_name / config_name).glob("seed*.json"))]
            if not runs:
                continue
            evals = [r["eval"] for r in runs]
            per_seed = ", ".join(f"{r['eval']:.1f} (seed {r['seed']})" for r in runs)
            wall = np.mean([r["wall_s"] for r in runs])
            lines.append(
                f"| {DESCRIPTION[config_name]} | {per_seed} | {np.mean(evals):.1f} ± {np.std(evals):.1f} | {wall:.0f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", choices=list(ENVS), default=list(ENVS))
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=["gru", "mlp", "stack4"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/recurrent"))
    args = parser.parse_args()
    for env_name in args.envs:
        for config_name in args.configs:
            for seed in args.seeds:
                path = args.out / env_name / config_name / f"seed{seed}.json"
                if path.exists():
                    continue
                result = train_one(env_name, config_name, seed)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(result, indent=1))
                print(
                    f"{env_name} {config_name} seed {seed}: eval {result['eval']:.1f} in {result['wall_s']:.0f} s",
                    flush=True,
                )
    text = table(args.out, args.envs)
    (args.out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
