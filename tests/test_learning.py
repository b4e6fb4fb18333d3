"""Short learning runs that must succeed: the whole pipeline, judged by a deterministic eval."""

import pytest

from trpo import TRPO, TRPOConfig
from trpo.runs.presets import resolve

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("seed", [0, 1])
def test_cartpole_is_solved_within_100k_steps_with_defaults(seed):
    agent = TRPO("CartPole-v1", TRPOConfig(seed=seed)).learn(100_000)
    assert agent.global_step <= 100_000 + TRPOConfig().batch_size
    result = agent.evaluate(episodes=10)
    assert result["mean"] >= 475, result


def test_pendulum_reaches_minus_300_within_200k_steps_with_its_preset():
    values, source = resolve("auto", "Pendulum-v1")
    assert source == "Pendulum-v1.yaml"
    agent = TRPO("Pendulum-v1", TRPOConfig.from_dict(values)).learn(200_000)
    assert agent.global_step <= 200_000
    result = agent.evaluate(episodes=10)
    assert result["mean"] >= -300, result
