"""The family defaults' development suite: train each env with its family's defaults
(`--preset family`: the continuous, discrete or image family from its spaces, never its own
preset), evaluate deterministically, and write docs/results-defaults.md beside the tuned presets'
numbers (docs/results.md) and the published ones.

    python benchmarks/defaults.py                          # the whole suite (make defaults)
    python benchmarks/defaults.py --envs Acrobot-v1 --seeds 0 --report-only

The suite: classic control at rl-baselines3-zoo's TRPO budgets (hyperparams/trpo.yml) and the
eight MuJoCo v5 envs of docs/results.md at 1M steps, 3 seeds each. The runs are quality.py's
(benchmarks/quality.py: OUT/ENV/seedS, checkpoints, eval_STEPS.json), so the suite is resumable
the same way: a finished run keeps its result while its family's values are unchanged, and a
run cut off continues from its latest checkpoint.

The report also lists the candidate settings tried while choosing the continuous family: `trpo
train` runs under benchmarks/out/sweep/NAME/ENV/seedS (their config.yaml and summary.json).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from trpo.config import TRPOConfig
from trpo.runs import presets

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402  (benchmarks/quality.py: the runs, their resumability, the published MuJoCo numbers)
import quality_runs  # noqa: E402

ROOT = quality.ROOT
OUT = ROOT / "benchmarks" / "out" / "defaults"
SWEEP = ROOT / "benchmarks" / "out" / "sweep"
RESULTS = ROOT / "docs" / "results-defaults.md"
TUNED = ROOT / "docs" / "results-runs.csv"
NOTES = Path(__file__).resolve().parent / "defaults_notes.md"
PRESET = "family"
M = quality.M


@dataclass(frozen=True)
class Zoo:
    """rl-baselines3-zoo's tuned TRPO (benchmark.md: one trained agent, deterministic eval over
    ~150k steps, mean ± std over episodes) and its budget (hyperparams/trpo.yml n_timesteps)."""

    mean: float
    std: float
    steps: int


ZOO = {
    "CartPole-v1": Zoo(500.0, 0.0, 100_000),
    "Acrobot-v1": Zoo(-83.1, 18.6, 100_000),
    "MountainCar-v0": Zoo(-107.3, 13.2, 100_000),
    "MountainCarContinuous-v0": Zoo(92.5, 0.4, 50_000),
    "Pendulum-v1": Zoo(-174.6, 127.6, 100_000),
}
MUJOCO = list(quality.PUBLISHED)
SUITE = {env: zoo.steps for env, zoo in ZOO.items()} | {env: M for env in MUJOCO}
"""env -> budget"""


COSTLY = ("Humanoid-v5",)


def run_dir(out: Path, env_id: str, seed: int) -> Path:
    return out / env_id / f"seed{seed}"


def plan_jobs(envs: list[str], seeds: list[int], out: Path) -> list[quality.Job]:
    """quality.py's jobs at the suite's budgets (one per env), seed by seed and in the suite's
    order (classic control first), Humanoid's last: a suite cut off by time leaves as many envs
    with a first seed as it can."""
    order = [e for e in envs if e not in COSTLY] + [e for e in envs if e in COSTLY]
    return [
        quality.Job(e, s, (SUITE[e],), run_dir(out, e, s), quality.EVAL_EPISODES, PRESET)
        for costly in (False, True)
        for s in seeds
        for e in order
        if (e in COSTLY) == costly
    ]


# --- the numbers beside ours ----------------------------------------------------------------


def tuned_results(path: Path = TUNED) -> dict[str, tuple[float, float, int]]:
    """env -> (mean, std (population), seeds) of the tuned presets at 1M steps: the runs behind
    docs/results.md, from its runs file (quality_runs), made with each env's current preset."""
    rows = quality_runs.read_rows(path)
    found = {}
    for env_id in sorted({r["env_id"] for r in rows}):
        scores = [r["eval_mean"] for r in quality.collect(env_id, quality.SEEDS, quality.M, rows)]
        if scores:
            found[env_id] = (float(np.mean(scores)), float(np.std(scores)), len(scores))
    return found


def target(env_id: str, tuned: dict[str, tuple[float, float, int]]) -> tuple[float | None, str]:
    """The number the family default must reach, and where it comes from: classic control, the
    zoo's tuned TRPO; MuJoCo, 80% of the tuned preset's mean and sb3-contrib's figure where it
    has one, whichever is higher."""
    if env_id in ZOO:
        return ZOO[env_id].mean, "zoo"
    parts = []
    if env_id in tuned:
        mean = tuned[env_id][0]
        # 80% of a negative mean (Reacher) is the number 20% further from zero.
        parts.append((0.8 * mean if mean >= 0 else 1.2 * mean, "80% of tuned"))
    sb3 = quality.PUBLISHED[env_id].sb3
    if sb3 is not None:
        parts.append((float(sb3[0]), "sb3-contrib"))
    if not parts:
        return None, "–"
    return max(parts)


def collect(env_id: str, seeds: list[int], out: Path) -> list[dict[str, Any]]:
    """The evals of the env's runs made with its family's current values (a run of older values
    is stale: the next run redoes it, and it is not reported)."""
    records = []
    for seed in seeds:
        path = quality.eval_path(run_dir(out, env_id, seed), SUITE[env_id])
        if path.exists():
            record = json.loads(path.read_text())
            if quality.same_run(record, env_id, seed, PRESET):
                records.append(record)
    return records


def family_name(env_id: str) -> str:
    return quality.resolved(env_id, PRESET)[2] or "none"


def results_table(
    envs: list[str], seeds: list[int], out: Path, tuned: dict[str, tuple[float, float, int]]
) -> tuple[str, list[str]]:
    """The markdown table, and one summary line per env (measured or pending, target met or not)."""
    head = (
        "| env | family | steps | family defaults: final deterministic eval, mean ± std over seeds (per seed) |"
        " tuned preset (docs/results.md) | published TRPO | target | met |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    rows, lines = [], []
    for env_id in envs:
        records = collect(env_id, seeds, out)
        means = [r["eval"]["mean"] for r in records]
        goal, goal_source = target(env_id, tuned)
        steps = f"{SUITE[env_id] / 1000:g}k" if SUITE[env_id] < M else f"{SUITE[env_id] / M:g}M"
        if means:
            mean, std = float(np.mean(means)), float(np.std(means))
            per_seed = ", ".join(f"{r['eval']['mean']:.1f} (seed {r['seed']})" for r in records)
            ours = f"**{mean:.1f} ± {std:.1f}** ({per_seed})"
            met = "–" if goal is None else ("yes" if mean >= goal else "no")
            pending = len(seeds) - len(means)
            if pending:
                ours += f"; {pending} of {len(seeds)} seeds pending"
                met += " (partial)"
            lines.append(
                f"- {env_id}: {mean:.1f} ± {std:.1f} over {len(means)} of {len(seeds)} seeds"
                + ("" if goal is None else f" vs target {goal:.4g} ({goal_source}): {met}")
            )
        else:
            ours, met = "pending (not run yet)", "–"
            lines.append(f"- {env_id}: pending (not run yet)")
        if env_id in tuned:
            t_mean, t_std, t_seeds = tuned[env_id]
            tuned_cell = f"{t_mean:.1f} ± {t_std:.1f} ({t_seeds} seeds)"
        else:
            tuned_cell = "–"
        if env_id in ZOO:
            published = f"zoo {ZOO[env_id].mean:g} ± {ZOO[env_id].std:g}"
        else:
            sb3 = quality.PUBLISHED[env_id].sb3
            published = f"sb3-contrib {quality.fmt(sb3)}" if sb3 else "–"
        goal_cell = "–" if goal is None else f"{goal:.4g} ({goal_source})"
        cells = [env_id, family_name(env_id), steps, ours, tuned_cell, published, goal_cell, met]
        rows.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(rows) + "\n", lines


# --- the candidates tried while choosing ----------------------------------------------------


def sweep_runs(sweep: Path) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """candidate -> env -> [(seed, final deterministic eval)] of the finished `trpo train` runs
    under sweep/CANDIDATE/ENV/seedS."""
    found: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for summary_path in sorted(sweep.glob("*/*/seed*/summary.json")):
        summary = json.loads(summary_path.read_text())
        candidate = summary_path.parent.parent.parent.name
        found.setdefault(candidate, {}).setdefault(summary["env_id"], []).append(
            (int(summary["seed"]), float(summary["eval"]["mean"]))
        )
    return found


def candidate_config(sweep: Path, candidate: str) -> dict[str, Any]:
    """The config of one of the candidate's runs (the seed aside, every run of a candidate shares it)."""
    config_path = next(iter(sorted((sweep / candidate).glob("*/seed*/config.yaml"))))
    return yaml.safe_load(config_path.read_text())["config"]


def sweep_table(sweep: Path) -> str:
    """One row per candidate: its settings (against the plain defaults) and, per env, the mean
    over its finished seeds with the per-seed numbers."""
    runs = sweep_runs(sweep)
    if not runs:
        return ""
    envs = sorted({env for by_env in runs.values() for env in by_env}, key=lambda e: (e not in ZOO, e))
    head = "| candidate | settings (vs the TRPOConfig defaults) | " + " | ".join(envs) + " |\n"
    head += "|---|---|" + "---|" * len(envs) + "\n"
    rows = []
    for candidate, by_env in runs.items():
        cells = []
        for env in envs:
            results = sorted(by_env.get(env, []))
            if not results:
                cells.append("–")
                continue
            mean = np.mean([r for _, r in results])
            cells.append(f"{mean:.1f} ({', '.join(f'{r:.1f}' for _, r in results)})")
        settings = quality.changed_fields(candidate_config(sweep, candidate)).replace(
            "(the shipped preset)", "defaults"
        )
        rows.append(f"| {candidate} | {settings} | " + " | ".join(cells) + " |")
    return head + "\n".join(rows) + "\n"


# --- the report -----------------------------------------------------------------------------


def write_results(
    envs: list[str], seeds: list[int], out: Path, results: Path, sweep: Path, command: str, tuned_path: Path = TUNED
) -> None:
    tuned = tuned_results(tuned_path)
    table, lines = results_table(envs, seeds, out, tuned)
    families = "\n".join(
        f"- `family:{family}` ({os.path.relpath(path, ROOT)}): "
        + quality.changed_fields(values).replace("(the shipped preset)", "the TRPOConfig defaults")
        + (RELATIVE_NOTE if presets.RELATIVE_LOG_STD in presets.read_yaml(path) else "")
        for family, path, values in family_values()
    )
    candidates = sweep_table(sweep)
    if candidates:
        candidates = (
            "## Candidates tried for the families\n\n"
            "`trpo train ENV --preset none FLAGS --seed S --total-steps BUDGET --eval-episodes 20` runs at the "
            f"suite's budgets (LunarLanderContinuous-v3: 200k, the zoo's benchmark budget), kept in "
            f"{os.path.relpath(sweep, ROOT)}/CANDIDATE/ENV/seedS: per env the mean final deterministic eval "
            "over the seeds that ran, then each seed's, from seed 0 up.\n\n" + candidates
        )
    notes = NOTES.read_text() if NOTES.exists() else ""
    text = f"""# Results: the family defaults on environments without a tuned preset

Generated by `{command}` (benchmarks/defaults.py); do not edit by hand: the text after the
tables comes from benchmarks/defaults_notes.md.

An env without a preset of its own trains with its family's defaults (`trpo train ENV` picks
the family from the env's spaces; src/trpo/runs/presets/families/). This suite trains every env with
`--preset family`, so even the envs that have a tuned preset get only the family defaults.
Each run is scored by {quality.EVAL_EPISODES} deterministic episodes on a fresh env at the end of
its budget; "family defaults" is the mean ± std (population) over seeds of the run scores.
Targets: classic control, rl-baselines3-zoo's tuned TRPO at the same budget; MuJoCo, 80% of the
tuned preset's mean (over the seeds docs/results.md has, 3 to 10) and sb3-contrib's published
figure where there is one, whichever is higher. A row that says "pending" has not been trained
yet; "partial" means fewer seeds than asked have finished.

## Summary

{chr(10).join(lines)}

## Table

{table}
## The families

{families}

{candidates}
{notes}"""
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(text)


RELATIVE_NOTE = (
    "; log_std_init is relative to the action bounds (the value shown is for actions in [-1, 1]; in"
    " general it adds the mean over action dimensions of log((high - low) / 2))"
)


def family_values() -> list[tuple[str, Path, dict[str, Any]]]:
    out = []
    for family in presets.FAMILIES:
        values = presets.family_values(family)  # a relative log-std as it is: for actions in [-1, 1]
        out.append((family, presets.family_path(family), TRPOConfig.from_dict(values).to_dict()))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(SUITE), choices=list(SUITE))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="runs trained at once")
    parser.add_argument("--out", type=Path, default=OUT, help="where run directories go")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--sweep", type=Path, default=SWEEP, help="the candidates' `trpo train` runs")
    parser.add_argument("--report-only", action="store_true", help="train nothing: write the report from finished runs")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    jobs = plan_jobs(args.envs, args.seeds, out)
    given = sys.argv[1:] if argv is None else argv
    command = "make defaults" if not given else "python benchmarks/defaults.py " + " ".join(given)

    def report() -> None:
        write_results(list(args.envs), args.seeds, out, args.results.resolve(), args.sweep.resolve(), command)

    if not args.report_only:
        ctx = multiprocessing.get_context("spawn")  # JAX does not survive fork
        with ctx.Pool(max(1, args.jobs), maxtasksperchild=1) as pool:
            for message in pool.imap_unordered(quality.run_job, jobs):
                print(message, flush=True)
                if not message.endswith("done already"):
                    report()  # current after every run, so a stopped suite still leaves its report
    report()
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
