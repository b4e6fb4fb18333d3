"""benchmarks/replay.py: the episodes it plays are the agent's evaluation episodes, and it reads
the simulator once after the reset and once after every step."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from replay import replay  # noqa: E402
from trpo import TRPO, TRPOConfig  # noqa: E402


def test_replay_plays_the_evaluation_episodes_and_reads_every_step(tmp_path):
    path = tmp_path / "agent.npz"
    config = TRPOConfig(num_envs=1, n_steps=16, critic_minibatch=16, hidden_sizes=(8,), seed=3)
    TRPO("InvertedPendulum-v5", config).save(path)
    evaluation = TRPO.load(path).evaluate(3, seed=500)
    played = replay(str(path), "InvertedPendulum-v5", 3, 500, lambda env: float(env.data.qpos[0]))
    assert played.returns == evaluation["returns"] and played.lengths == evaluation["lengths"]
    assert [len(r) for r in played.readings] == [n + 1 for n in evaluation["lengths"]]
    # an untrained pole falls (termination) long before the 1000-step limit
    assert played.terminated == [True, True, True] and max(evaluation["lengths"]) < 1000
    assert played.readings[0][0] != played.readings[0][-1]  # the cart moved
    assert played.dt == 0.04  # InvertedPendulum-v5: frame_skip 2 x timestep 0.02


def test_replay_uses_the_make_kwargs_the_agent_was_trained_with(tmp_path):
    # Ant's preset trains with make_kwargs; a replay must play in that env, not gym.make's default.
    path = tmp_path / "agent.npz"
    config = TRPOConfig(num_envs=1, n_steps=16, critic_minibatch=16, hidden_sizes=(8,), seed=3)
    TRPO("InvertedPendulum-v5", config, make_kwargs={"reset_noise_scale": 0.3}).save(path)
    evaluation = TRPO.load(path).evaluate(2, seed=500)
    played = replay(str(path), "InvertedPendulum-v5", 2, 500, lambda env: env._reset_noise_scale)
    assert played.readings[0][0] == 0.3
    assert played.returns == evaluation["returns"] and played.lengths == evaluation["lengths"]
