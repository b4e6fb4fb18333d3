"""Where a CNN learner's compute goes, and the speed that compute alone allows on this machine.

For each image env, with benchmarks/speed.py's settings (the rows of `make bench`): one real
batch is collected, then XLA's cost analysis counts the floating-point operations of the compiled
policy stage (advantages, gradient, CG with its Fisher-vector products, line search), of the
critic stage (the fit) and of acting (the actor on every step of the batch). A float32 matrix
product (jnp.dot, n x n) measures what this machine's cores give at best; dividing it by the
FLOPs per env step gives the compute ceiling: the steps per second the learner could reach if
every operation ran at matmul speed and the env cost nothing. A speed target above that ceiling
needs fewer FLOPs (other settings), not faster code.

XLA counts a loop's body once. CNN learners unroll CG and the critic fit (learner.py: XLA:CPU
runs a convolution's gradient slowly inside loops), so those are counted whole; the line search
stays a loop and counts one trial, so the FLOPs are a lower bound and the ceiling an upper one.
MLP learners keep every loop, and their count would mean nothing: this script takes image envs.

    python benchmarks/flop_budget.py                       # ALE/Pong-v5 -> docs/benchmarks-flops.md
    python benchmarks/flop_budget.py --envs ALE/Breakout-v5 --out /tmp/flops.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402  (the settings of `make bench`)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks-flops.md"
MATMUL_SIZES = (1024, 2048, 4096)


def flops_of(compiled: Any) -> float:
    """XLA's count of floating-point operations in a compiled program (a while loop's body is
    counted once: the line search's, which stops at its first accepted trial, not always the
    first; on Pong's measured batch it was the third)."""
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, list) else analysis
    return float(analysis["flops"])


def stage_flops(env_id: str) -> dict[str, float]:
    """FLOPs of the policy stage, the critic stage and acting over one batch of env_id."""
    import jax

    from trpo import TRPO
    from trpo.config import TRPOConfig
    from trpo.learning.networks import actor_forward

    values = speed.settings_for(env_id)
    config = TRPOConfig.from_dict({**values, "seed": 0}, source="benchmarks/speed.py")
    agent = TRPO(env_id, config)
    learner = agent.learner
    policy_stage, critic_stage = learner._policy_stage, learner._critic_stage
    seen: dict[str, tuple] = {}

    def record(name: str, stage: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen[name] = (args, kwargs)
            return stage(*args, **kwargs)

        return call

    learner._policy_stage, learner._critic_stage = record("policy", policy_stage), record("critic", critic_stage)
    try:
        agent.learn(config.batch_size)
    finally:
        agent.close()
    state, batch = seen["policy"][0]
    if "cnn" not in state.actor:
        raise SystemExit(f"{env_id} has no image observations: its learner keeps its loops, which XLA counts once")
    one_step = jax.tree.map(lambda x: x[0], batch.obs)  # the observations of all envs at one step
    acting = jax.jit(actor_forward).lower(state.actor, one_step).compile()
    return {
        "steps": config.batch_size,
        "policy": flops_of(policy_stage.lower(*seen["policy"][0], **seen["policy"][1]).compile()),
        "critic": flops_of(critic_stage.lower(*seen["critic"][0], **seen["critic"][1]).compile()),
        "acting": flops_of(acting) * config.n_steps,
    }


def matmul_flops_per_s(sizes: tuple[int, ...] = MATMUL_SIZES, repeats: int = 8) -> float:
    """The best float32 matrix-product throughput over the sizes (FLOP/s, best of `repeats`)."""
    import jax
    import jax.numpy as jnp

    best = 0.0
    for n in sizes:
        a = jnp.ones((n, n), jnp.float32)
        product = jax.jit(lambda a: a @ a)
        product(a).block_until_ready()
        for _ in range(repeats):
            start = time.perf_counter()
            product(a).block_until_ready()
            best = max(best, 2 * n**3 / (time.perf_counter() - start))
    return best


def table(rows: dict[str, dict[str, float]], peak: float) -> str:
    lines = [
        "| env | steps per batch | policy stage GFLOP (at least) | critic stage GFLOP | acting GFLOP "
        "| MFLOP per env step | compute ceiling, steps/s |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for env_id, f in rows.items():
        per_step = (f["policy"] + f["critic"] + f["acting"]) / f["steps"]
        lines.append(
            f"| {env_id} | {f['steps']:,} | {f['policy'] / 1e9:.1f} | {f['critic'] / 1e9:.1f} | "
            f"{f['acting'] / 1e9:.1f} | {per_step / 1e6:.1f} | {peak / per_step:,.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=["ALE/Pong-v5"])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    rows = {env_id: stage_flops(env_id) for env_id in args.envs}
    peak = matmul_flops_per_s()
    text = "\n".join(
        [
            "# FLOPs per iteration and the compute ceiling",
            "",
            f"Written by `python benchmarks/flop_budget.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
            f"{load:.1f} at the start. Settings: benchmarks/speed.py's (the rows of docs/benchmarks.md).",
            "",
            f"This machine's float32 matrix product (jnp.dot, best over n = {', '.join(map(str, MATMUL_SIZES))}): "
            f"**{peak / 1e9:.0f} GFLOP/s**. The compute ceiling is that divided by the FLOPs per env step: "
            "the speed if every operation ran at matmul speed and the env cost nothing. The line search "
            "counts one trial (XLA counts a loop's body once), so the FLOPs are a lower bound and the "
            "ceiling an upper one. docs/benchmarks.md's steady steps/s for the same env, divided by the "
            "ceiling, is the share of matmul speed the whole learner reaches.",
            "",
            table(rows, peak),
            "",
        ]
    )
    print(text)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
