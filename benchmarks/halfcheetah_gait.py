"""Is a trained HalfCheetah upright or on its back? Plays deterministic episodes of saved agents
and reads the torso's pitch (qpos[2], radians) at every step.

HalfCheetah never terminates and its reward ignores orientation, so some runs learn to push
themselves along upside down (|pitch| near pi), a local optimum at about 2000 where upright runs
reach 4000-6000: benchmarks/quality_notes.md, "HalfCheetah's split".

    python benchmarks/halfcheetah_gait.py benchmarks/out/quality/HalfCheetah-v5/seed*/agent_1000000.npz
    python benchmarks/halfcheetah_gait.py --episodes 2 runs/my_run/checkpoints/latest
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from replay import replay

ENV_ID = "HalfCheetah-v5"
EVAL_SEED = 1000
"""episode e starts from reset(seed=EVAL_SEED + e)"""


def wrapped(pitch: np.ndarray) -> np.ndarray:
    """Angles in [-pi, pi): the pitch accumulates whole turns when the cheetah rolls over."""
    return (np.asarray(pitch) + np.pi) % (2 * np.pi) - np.pi


def upside_down_share(pitch: np.ndarray) -> float:
    """The share of steps with the torso past vertical (|pitch| > pi / 2)."""
    return float(np.mean(np.abs(wrapped(pitch)) > np.pi / 2))


def play(path: str, episodes: int) -> list[tuple[float, np.ndarray]]:
    """(return, pitch after each step) of deterministic episodes of the agent saved at `path`."""
    played = replay(path, ENV_ID, episodes, EVAL_SEED, lambda env: float(env.data.qpos[2]))
    return [(ret, np.array(pitch[1:])) for ret, pitch in zip(played.returns, played.readings, strict=True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("agents", nargs="+", help="agent files: agent_STEPS.npz or a run's checkpoints/latest")
    parser.add_argument("--episodes", type=int, default=5)
    args = parser.parse_args(argv)
    print("| agent | mean return | median abs pitch (rad) | steps upside down | per episode: return (upside down) |")
    print("|---|--:|--:|--:|---|")
    for path in args.agents:
        played = play(path, args.episodes)
        pitch = np.concatenate([p for _, p in played])
        episodes = ", ".join(f"{ret:.0f} ({upside_down_share(p):.0%})" for ret, p in played)
        print(
            f"| {path} | {np.mean([ret for ret, _ in played]):.0f} | {np.median(np.abs(wrapped(pitch))):.2f} | "
            f"{upside_down_share(pitch):.0%} | {episodes} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
