"""Where a steady iteration of `trpo train` spends its time, part by part, against the env's own speed.

    python benchmarks/iteration_profile.py [--envs HalfCheetah-v5 CartPole-v1] [--repeats 9] [--out FILE]

For each env, with benchmarks/speed.py's settings (the rows of docs/benchmarks.md), after three
warm-up iterations, the median over --repeats of each part of an iteration: READING below says
what each column times, and the bound they set.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import speed  # noqa: E402  (the shared settings)

COLUMNS = (
    "ceiling",
    "rollout",
    "acting",
    "policy stage",
    "critic stage",
    "rollout beside critic",
    "iteration",
)


READING = """How to read it (milliseconds per iteration, that is per batch; medians):
- *ceiling*: the batch's steps with uniformly random actions through the same vector env: the
  simulator and the driver, no policy.
- *rollout*: `Sampler.collect` with the current actor, alone (acting, the batch's bookkeeping).
- *acting*: the actor's forward and sampling alone, step by step over one batch.
- *policy stage*, *critic stage*: the two jitted halves of the update, each alone.
- *rollout beside critic*: a rollout in a thread while the critic stage runs, as in training.
- *iteration*: the time between the ends of consecutive iterations of one `learn()` call.
- *bound*: the next rollout needs the new actor, so an iteration takes at least the ceiling plus
  the policy stage: steady / ceiling cannot pass ceiling / (ceiling + policy stage), however cheap
  acting and the bookkeeping become.
"""


def bound(ceiling_ms: float, policy_ms: float) -> float:
    """The largest steady / ceiling ratio a batch-synchronous iteration can reach: the rollout at
    the ceiling's speed plus the policy step that must come before it."""
    return ceiling_ms / (ceiling_ms + policy_ms)


def median_ms(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def profile(env_id: str, repeats: int) -> dict[str, float]:
    import jax
    import numpy as np

    from trpo import TRPO, TRPOConfig
    from trpo.collect.acting import RolloutActor
    from trpo.training.train_step import normalize_batch

    config = TRPOConfig.from_dict({**speed.settings_for(env_id), "seed": 0, "vec": "sync"}, source="profile")
    agent = TRPO(env_id, config)
    agent.learn(3 * config.batch_size)
    sampler, envs, learner = agent.sampler, agent.envs, agent.learner
    actions = speed.random_actions(envs.action_space, config.n_steps, config.num_envs, seed=0)
    rng = np.random.default_rng(0)

    def ceiling() -> None:
        for t in range(config.n_steps):
            envs.step(actions[t])

    def rollout() -> None:
        sampler.collect(agent._actor_np, agent.normalizer)

    raw = sampler.collect(agent._actor_np, agent.normalizer)
    observations = raw.obs

    def acting() -> None:
        actor = RolloutActor(
            agent._actor_np, envs.distribution, agent.normalizer, rng, config.n_steps, config.num_envs, envs.obs_dim
        )
        out = np.empty_like(actions[0])
        for t in range(config.n_steps):
            actor.act(t, observations[t], out)

    state = agent.train_state
    batch = normalize_batch(state.obs_stats, state.reward_stats, raw, config, np)

    def policy_stage() -> None:
        jax.block_until_ready(learner._policy_stage(state.learner, batch))

    _, targets, stats = learner._policy_stage(state.learner, batch)

    def critic_stage() -> None:
        skipped = stats["train/skipped"]
        jax.block_until_ready(
            learner._critic_stage(state.learner, batch, targets, skipped, critic_lr_scale=np.float32(1.0))
        )

    def rollout_beside_critic() -> None:
        thread = threading.Thread(target=rollout)
        thread.start()
        critic_stage()
        thread.join()

    parts = (ceiling, rollout, acting, policy_stage, critic_stage, rollout_beside_critic)
    result = {name: median_ms(part, repeats) for name, part in zip(COLUMNS[:-1], parts, strict=True)}
    # A steady iteration: the time between the ends of consecutive iterations of one learn() call,
    # whose next rollout runs beside the critic fit.
    stamps: list[float] = []
    agent.learn((repeats + 1) * config.batch_size, callback=lambda _: stamps.append(time.perf_counter()))
    result["iteration"] = 1e3 * statistics.median(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    result["batch"] = config.batch_size
    agent.close()
    return result


def table(results: dict[str, dict[str, float]]) -> str:
    head = (
        "| env | batch | " + " | ".join(f"{name} ms" for name in COLUMNS) + " | steady / ceiling | bound |\n"
        "|---|" + "--:|" * (len(COLUMNS) + 3) + "\n"
    )
    rows = []
    for env_id, ms in results.items():
        cells = " | ".join(f"{ms[name]:.1f}" for name in COLUMNS)
        steady = ms["ceiling"] / ms["iteration"]
        limit = bound(ms["ceiling"], ms["policy stage"])
        rows.append(f"| {env_id} | {ms['batch']:,.0f} | {cells} | {steady:.0%} | {limit:.0%} |")
    note = (
        "\nMilliseconds per iteration (one batch), medians. steady / ceiling = ceiling / iteration;"
        " bound = ceiling / (ceiling + policy stage).\n"
    )
    return head + "\n".join(rows) + "\n" + note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=["HalfCheetah-v5", "CartPole-v1"])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--out", type=Path, default=None, help="also write the table (markdown) here")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    results = {env_id: profile(env_id, args.repeats) for env_id in args.envs}
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python benchmarks/iteration_profile.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = (
        "# Where a steady iteration's time goes\n\n"
        f"Written by `{command.strip()}` on {when}, {platform.machine()}, {os.cpu_count()} cores, load average"
        f" {load:.2f} at the start; benchmarks/speed.py's settings (the rows of docs/benchmarks.md).\n\n"
        + table(results)
        + "\n"
        + READING
    )
    print(text)
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
