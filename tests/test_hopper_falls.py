"""benchmarks/hopper_falls.py: the end of an episode is named by the health condition that
failed, checked against Hopper-v5's own is_healthy."""

import sys
from pathlib import Path

import gymnasium as gym
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import hopper_falls  # noqa: E402


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({}, "unknown"),
        ({"qpos": (1, 0.65)}, "height"),
        ({"qpos": (2, 0.25)}, "angle"),
        ({"qpos": (2, -0.21)}, "angle"),
        ({"qvel": (3, 150.0)}, "state"),
        ({"qpos": (1, 0.6), "qvel": (0, -200.0)}, "height"),  # the first failed condition
    ],
)
def test_end_cause_names_the_condition_hopper_checks(change, cause):
    env = gym.make("Hopper-v5")
    env.reset(seed=0)
    data = env.unwrapped.data
    qpos, qvel = data.qpos.copy(), data.qvel.copy()
    for name, (i, value) in change.items():
        (qpos if name == "qpos" else qvel)[i] = value
    env.unwrapped.set_state(qpos, qvel)
    assert env.unwrapped.is_healthy == (cause == "unknown")
    assert hopper_falls.end_cause(qpos, qvel, terminated=True) == cause
    assert hopper_falls.end_cause(qpos, qvel, terminated=False) == "time"
    env.close()
