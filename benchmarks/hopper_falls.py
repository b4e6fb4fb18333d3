"""Why do a trained Hopper's episodes end? Plays deterministic episodes of saved agents and says,
per episode, the return, the length, what ended it (the time limit, or which of Hopper-v5's health
conditions failed: height, torso angle, a state entry out of range) and the forward speed.

With gamma 0.99, 2 Hopper seeds of 10 settled on a gait faster than the good seeds' that sinks
below the healthy height after about 330 steps: benchmarks/quality_notes.md, "Hopper's split".

    python benchmarks/hopper_falls.py benchmarks/out/quality/Hopper-v5/seed*/agent_1000000.npz
    python benchmarks/hopper_falls.py --episodes 2 runs/my_run/checkpoints/latest
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from replay import replay

ENV_ID = "Hopper-v5"
EVAL_SEED = 10000
"""episode e starts from reset(seed=EVAL_SEED + e), as the final eval of a run does"""
# Hopper-v5's defaults (healthy_z_range, healthy_angle_range, healthy_state_range)
Z_RANGE, ANGLE_RANGE, STATE_RANGE = (0.7, float("inf")), (-0.2, 0.2), (-100.0, 100.0)


def end_cause(qpos: np.ndarray, qvel: np.ndarray, terminated: bool) -> str:
    """'time' for an episode cut by the time limit, else the first failed health condition:
    'height' (qpos[1] out of Z_RANGE), 'angle' (qpos[2] out of ANGLE_RANGE) or 'state' (an entry
    of qpos[2:], qvel out of STATE_RANGE), checked as Hopper-v5 does."""
    if not terminated:
        return "time"
    z, angle = qpos[1], qpos[2]
    if not Z_RANGE[0] < z < Z_RANGE[1]:
        return "height"
    if not ANGLE_RANGE[0] < angle < ANGLE_RANGE[1]:
        return "angle"
    state = np.concatenate([qpos[2:], qvel])
    if not np.all((STATE_RANGE[0] < state) & (state < STATE_RANGE[1])):
        return "state"
    return "unknown"


def play(path: str, episodes: int) -> list[tuple[float, int, str, float]]:
    """(return, steps, end_cause, forward speed in m/s) of deterministic episodes of the agent."""
    played = replay(path, ENV_ID, episodes, EVAL_SEED, lambda env: (env.data.qpos.copy(), env.data.qvel.copy()))
    out = []
    for ret, steps, states, terminated in zip(
        played.returns, played.lengths, played.readings, played.terminated, strict=True
    ):
        (start, _), (qpos, qvel) = states[0], states[-1]
        speed = (float(qpos[0]) - float(start[0])) / (steps * played.dt)
        out.append((ret, steps, end_cause(qpos, qvel, terminated), speed))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("agents", nargs="+", help="agent files: agent_STEPS.npz or a run's checkpoints/latest")
    parser.add_argument("--episodes", type=int, default=5)
    args = parser.parse_args(argv)
    print("| agent | mean return | mean steps | speed (m/s) | per episode: return / steps (end) |")
    print("|---|--:|--:|--:|---|")
    for path in args.agents:
        played = play(path, args.episodes)
        episodes = ", ".join(f"{ret:.0f} / {n} ({cause})" for ret, n, cause, _ in played)
        mean = np.mean(np.array([p[:2] + p[3:] for p in played]), axis=0)
        print(f"| {path} | {mean[0]:.0f} | {mean[1]:.0f} | {mean[2]:.2f} | {episodes} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
