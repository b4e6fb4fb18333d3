"""The return of a uniformly random policy on each MuJoCo env of benchmarks/quality.py: the 0 of
the normalised scores in docs/results.md ((score - random) / (target - random)).

    python benchmarks/random_scores.py            # prints the RANDOM mapping quality.py holds
"""

from __future__ import annotations

import argparse
import sys

import gymnasium as gym
import numpy as np

ENVS = [
    "HalfCheetah-v5",
    "Hopper-v5",
    "Walker2d-v5",
    "Ant-v5",
    "Swimmer-v5",
    "Reacher-v5",
    "InvertedPendulum-v5",
    "InvertedDoublePendulum-v5",
    "Pusher-v5",
    "Humanoid-v5",
]


def random_return(env_id: str, episodes: int) -> float:
    """Mean return of `episodes` episodes of uniform random actions (episode i from reset(seed=i),
    actions from action_space.seed(0))."""
    env = gym.make(env_id)
    env.action_space.seed(0)
    returns = []
    for i in range(episodes):
        env.reset(seed=i)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return float(np.mean(returns))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=100)
    args = parser.parse_args(argv)
    print("RANDOM = {")
    for env_id in ENVS:
        print(f'    "{env_id}": {random_return(env_id, args.episodes):.1f},', flush=True)
    print("}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
