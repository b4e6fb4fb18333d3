"""Returns at a sample budget: train env x seed with the shipped presets, evaluate each run
deterministically, and write docs/results.md beside the published TRPO numbers.

    python benchmarks/quality.py                      # everything (make quality)
    python benchmarks/quality.py --envs Hopper-v5 --seeds 0 --steps 200000 --results /tmp/r.md

Each run lives in OUT/ENV/seedS/ (a run directory `trpo plot` reads): config.yaml, metrics.csv,
checkpoints/ (every 50 iterations), eval_STEPS.json (deterministic eval at that budget) and
agent_STEPS.npz (the agent there). It is resumable: a budget whose eval file exists for the same
config is not redone, a run cut off mid-way (a machine restart) continues from its latest
checkpoint, and a run that needs a larger budget continues from its largest saved one (fresh env
episodes at the join) when nothing in the run depends on its length; with critic_lr_decay
(Humanoid's, Ant's and Hopper's presets) the learning rate's schedule does, so each larger
budget is a run of its own (OUT/ENV/seedS_STEPS).
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out" / "quality"
RESULTS = ROOT / "docs" / "results.md"
IMAGES = ROOT / "docs" / "img"
NOTES = Path(__file__).resolve().parent / "quality_notes.md"
M = 1_000_000


@dataclass(frozen=True)
class Published:
    """Published TRPO at 1M steps: sb3-contrib docs (v3, 3 seeds, final eval, mean +- std),
    OpenAI Baselines trpo_mpi (benchmarks_mujoco1M, 6 seeds, mean of the last 100 training
    episodes), Tianshou examples/mujoco (10 seeds, max over training of the test return)."""

    sb3: tuple[float, float] | None
    baselines: float | None
    tianshou: tuple[float, float] | None
    target: float
    """ours must reach this: the best published final-eval number (Humanoid: Tianshou's)"""


PUBLISHED = {
    "HalfCheetah-v5": Published((1803, 46), 1290, (4471, 805), 1803),
    "Hopper-v5": Published((3372, 215), 1913, (2046, 1038), 3372),
    "Walker2d-v5": Published((4502, 234), 2343, (3827, 783), 4502),
    "Ant-v5": Published((3554, 591), None, (2867, 708), 3554),
    "Swimmer-v5": Published((359, 2), 95, (40.9, 19.6), 359),
    "Reacher-v5": Published(None, -4.82, (-5.1, 0.8), -4.8),
    "InvertedPendulum-v5": Published(None, 905, (1000, 0), 1000),
    "Humanoid-v5": Published(None, None, (810, 126), 810),
}
BUDGETS = {env: (M,) for env in PUBLISHED} | {"Humanoid-v5": (M, 2 * M)}
COST = {"Humanoid-v5": 8, "Ant-v5": 3, "Walker2d-v5": 1.5, "HalfCheetah-v5": 1.5, "Hopper-v5": 1.5}
"""rough relative cost of a 1M run"""
COSTLY = 8


@dataclass(frozen=True)
class Job:
    env_id: str
    seed: int
    budgets: tuple[int, ...]
    run_dir: Path
    eval_episodes: int
    preset: str = "auto"
    """the --preset the run trains with (benchmarks/defaults.py: "family")"""


def continues(env_id: str, preset: str = "auto") -> bool:
    """Whether a run's larger budget continues its smaller one's agent. Only when nothing in a
    run depends on its length: with critic_lr_decay the learning rate reaches 0 at the end of
    the budget, so a 2M run is trained from scratch in a directory of its own."""
    return not run_config(env_id, 0, preset)["critic_lr_decay"]


def run_dir_of(out: Path, env_id: str, seed: int, steps: int) -> Path:
    """OUT/ENV/seedS for the first budget (and the larger ones that continue it), else
    OUT/ENV/seedS_STEPS."""
    base = out / env_id / f"seed{seed}"
    return base if steps == BUDGETS[env_id][0] or continues(env_id) else base.with_name(f"seed{seed}_{steps}")


def plan_jobs(envs: list[str], seeds: list[int], out: Path, eval_episodes: int) -> list[Job]:
    """Seed by seed and cheapest env first, so that a run cut off by time leaves as many envs
    and seeds finished as it can; the very costly envs (Humanoid) after all others, and budgets
    beyond 1M (Humanoid's 2M) last, continuing from the 1M agent where continues() allows."""
    ordered = sorted(envs, key=lambda e: COST.get(e, 1))
    cheap = [e for e in ordered if COST.get(e, 1) < COSTLY]
    costly = [e for e in ordered if COST.get(e, 1) >= COSTLY]

    def first_budget(e: str, s: int) -> Job:
        return Job(e, s, BUDGETS[e][:1], run_dir_of(out, e, s, BUDGETS[e][0]), eval_episodes)

    first = [first_budget(e, s) for s in seeds for e in cheap] + [first_budget(e, s) for e in costly for s in seeds]
    longer = []
    for s in seeds:
        for e in (e for e in ordered if len(BUDGETS[e]) > 1):
            if continues(e):
                longer.append(Job(e, s, BUDGETS[e], run_dir_of(out, e, s, BUDGETS[e][0]), eval_episodes))
            else:
                longer += [Job(e, s, (b,), run_dir_of(out, e, s, b), eval_episodes) for b in BUDGETS[e][1:]]
    return first + longer


def job_phases(jobs: list[Job]) -> list[list[Job]]:
    """The jobs in phases that run one after the other: within a phase no two jobs share a run
    directory, so parallel workers never train the same run at once (a Humanoid seed's 2M job
    continues its 1M job's agent, so it waits for the phase holding that job)."""
    phases: list[list[Job]] = []
    for job in jobs:
        # The phase after the last one that trains this run directory.
        after = max((i for i, phase in enumerate(phases) if any(j.run_dir == job.run_dir for j in phase)), default=-1)
        if after + 1 == len(phases):
            phases.append([])
        phases[after + 1].append(job)
    return phases


def eval_path(run_dir: Path, steps: int) -> Path:
    return run_dir / f"eval_{steps}.json"


def agent_path(run_dir: Path, steps: int) -> Path:
    return run_dir / f"agent_{steps}.npz"


@functools.cache
def resolved(env_id: str, preset: str = "auto") -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """(config, gymnasium.make arguments, source) of `preset` for the env; cached, as a family
    lookup makes an env."""
    from trpo import presets
    from trpo.config import TRPOConfig

    values, source = presets.resolve(preset, env_id)
    values, make_kwargs = presets.split_make_kwargs(values, source=f"preset {source}")
    return TRPOConfig.from_dict(values, source=f"preset {source}").to_dict(), make_kwargs, source


def run_config(env_id: str, seed: int, preset: str = "auto") -> dict[str, Any]:
    return {**resolved(env_id, preset)[0], "seed": seed}


def run_make_kwargs(env_id: str, preset: str = "auto") -> dict[str, Any]:
    """The gymnasium.make arguments of the env's preset."""
    return dict(resolved(env_id, preset)[1])


def same_run(record: dict[str, Any], env_id: str, seed: int, preset: str = "auto") -> bool:
    """A saved eval record was made with the env's current preset: its config and its make_kwargs
    (records from before make_kwargs existed had none)."""
    return same_config(record["config"], run_config(env_id, seed, preset)) and record.get("make_kwargs", {}) == (
        run_make_kwargs(env_id, preset)
    )


def same_config(saved: dict[str, Any], current: dict[str, Any]) -> bool:
    """Equal on every field both know: a field added to TRPOConfig after a run was made is
    taken to keep the old behaviour at its default, so it does not invalidate finished runs."""
    return all(saved[k] == current[k] for k in saved.keys() & current.keys())


def is_done(job: Job, steps: int) -> bool:
    path = eval_path(job.run_dir, steps)
    return path.exists() and same_run(json.loads(path.read_text()), job.env_id, job.seed, job.preset)


CHECKPOINT_EVERY = 50
"""iterations between checkpoints of a run under way: a run that is killed (a machine restart)
continues from its latest one on the next start instead of from scratch"""


def interrupted_agent(job: Job, config_dict: dict[str, Any], make_kwargs: dict[str, Any], todo: list[int]) -> Any:
    """The agent of the run's latest checkpoint when it is a run of the current preset cut off
    before the first budget still `todo` (within its last iteration: killed during the eval) and,
    without continues(), one that was aimed at that budget; else None."""
    from trpo.agent import TRPO
    from trpo.checkpoint import LATEST
    from trpo.run import CHECKPOINTS, read_config_yaml

    if not (job.run_dir / CHECKPOINTS / LATEST).exists():
        return None
    if not continues(job.env_id, job.preset) and read_config_yaml(job.run_dir).get("total_steps") != todo[-1]:
        return None
    agent = TRPO.load(job.run_dir / CHECKPOINTS, env=job.env_id)
    same = same_config(agent.config.to_dict(), config_dict) and agent.make_kwargs == make_kwargs
    if same and agent.global_step < todo[0] + agent.config.batch_size:
        return agent
    agent.close()
    return None


def run_job(job: Job) -> str:
    """Train one env x seed up to its largest budget, evaluating at each budget on the way; a
    run that was cut off continues from its latest checkpoint."""
    from trpo.agent import TRPO
    from trpo.checkpoint import CheckpointDir
    from trpo.config import TRPOConfig
    from trpo.logger import Logger, truncate_metrics
    from trpo.run import CHECKPOINTS, RunOptions, write_config_yaml

    config_dict = run_config(job.env_id, job.seed, job.preset)
    make_kwargs = run_make_kwargs(job.env_id, job.preset)
    todo = [b for b in job.budgets if not is_done(job, b)]
    if not todo:
        return f"{job.env_id} seed {job.seed}: done already"
    config = TRPOConfig.from_dict(config_dict)
    saved = [b for b in job.budgets if b < todo[0] and is_done(job, b) and agent_path(job.run_dir, b).exists()]
    agent = interrupted_agent(job, config_dict, make_kwargs, todo)
    resumed_from = None
    if agent is not None and agent.global_step > (saved[-1] if saved else 0):
        resumed_from = agent.global_step
    elif saved:
        if agent is not None:
            agent.close()
        agent = TRPO.load(agent_path(job.run_dir, saved[-1]), env=job.env_id)
    else:
        if job.run_dir.exists():
            shutil.rmtree(job.run_dir)
        job.run_dir.mkdir(parents=True)
        agent = TRPO(job.env_id, config, make_kwargs=make_kwargs)
    truncate_metrics(job.run_dir, agent.global_step)
    options = RunOptions(
        total_steps=todo[-1],
        run_dir=job.run_dir,
        preset_source=resolved(job.env_id, job.preset)[2],
        make_kwargs=make_kwargs,
    )
    write_config_yaml(job.run_dir, job.env_id, config, options)
    logger = Logger(job.run_dir, tensorboard=False)
    pending = list(todo)
    start = time.perf_counter()

    def at_budget(metrics: dict[str, float]) -> None:
        while pending and agent.global_step >= pending[0]:
            steps = pending.pop(0)
            result = agent.evaluate(job.eval_episodes)
            record = {
                "env_id": job.env_id,
                "seed": job.seed,
                "budget": steps,
                "global_step": agent.global_step,
                "train_wall_s": round(agent.train_wall_s + time.perf_counter() - start, 1),
                "eval": {k: result[k] for k in ("mean", "std", "episodes", "returns")},
                "config": config_dict,
                "make_kwargs": make_kwargs,
                # Continued from a checkpoint at this step: fresh env episodes there, else the same run.
                "resumed_from": resumed_from,
            }
            agent.save(agent_path(job.run_dir, steps))
            eval_path(job.run_dir, steps).write_text(json.dumps(record, indent=2) + "\n")

    try:
        at_budget({})  # a checkpoint taken at a budget whose eval was cut off
        if pending:
            agent.learn(
                todo[-1] - agent.global_step,
                callback=at_budget,
                logger=logger,
                checkpoints=CheckpointDir(job.run_dir / CHECKPOINTS),
                checkpoint_every=CHECKPOINT_EVERY,
            )
    finally:
        logger.close()
        agent.close()
    return f"{job.env_id} seed {job.seed}: {round(time.perf_counter() - start)} s"


# --- the report ------------------------------------------------------------------------------


def collect(env_id: str, seeds: list[int], steps: int, out: Path) -> list[dict[str, Any]]:
    """The evals of the runs made with the env's current preset (a run of an older preset is
    stale: it is redone by the next run, and not reported)."""
    records = []
    for seed in seeds:
        path = eval_path(run_dir_of(out, env_id, seed, steps), steps)
        if path.exists():
            record = json.loads(path.read_text())
            if same_run(record, env_id, seed):
                records.append(record)
    return records


def fmt(mean_std: tuple[float, float] | float | None) -> str:
    if mean_std is None:
        return "–"
    if isinstance(mean_std, tuple):
        return f"{mean_std[0]:g} ± {mean_std[1]:g}"
    return f"{mean_std:g}"


def results_table(envs: list[str], seeds: list[int], out: Path) -> tuple[str, list[str]]:
    """The markdown table, and one line per env for the summary (result vs target)."""
    head = (
        "| env (v5) | steps | ours: final deterministic eval, mean ± std over seeds (per seed) | target | met |"
        " sb3-contrib (v3, final eval) | Baselines trpo_mpi (last 100 training episodes) |"
        " Tianshou (max over training) |\n|---|---|---|---|---|---|---|---|\n"
    )
    rows, lines = [], []
    for env_id in envs:
        pub = PUBLISHED[env_id]
        for steps in BUDGETS[env_id]:
            records = collect(env_id, seeds, steps, out)
            means = [r["eval"]["mean"] for r in records]
            if means:
                mean, std = float(np.mean(means)), float(np.std(means))
                seeds_run = f"{len(means)} seed" + ("s" if len(means) > 1 else "")
                ours = f"**{mean:.1f} ± {std:.1f}** ({', '.join(f'{m:.1f}' for m in means)}; {seeds_run})"
                met = "yes" if mean >= pub.target else "no"
                if steps == M:
                    partial = "" if len(means) == len(seeds) else f" (only {seeds_run} of {len(seeds)} finished)"
                    lines.append(f"- {env_id}: {mean:.1f} ± {std:.1f} vs target {pub.target:g}: {met}{partial}")
            else:
                ours, met = "not run", "–"
            published = [fmt(pub.sb3), fmt(pub.baselines), fmt(pub.tianshou)] if steps == M else ["–"] * 3
            rows.append(f"| {env_id} | {steps / M:g}M | {ours} | {pub.target:g} | {met} | {' | '.join(published)} |")
    return head + "\n".join(rows) + "\n", lines


def plot_curves(env_id: str, seeds: list[int], out: Path, image: Path) -> str | None:
    """Learning-curve PNG of the env's finished runs by `trpo plot` (mean ± std over seeds of the
    training episode return). Returns the command, or None when no run has finished."""
    first = BUDGETS[env_id][0]
    runs = [run_dir_of(out, env_id, r["seed"], first) for r in collect(env_id, seeds, first, out)]
    if not runs:
        return None
    command = [str(Path(sys.executable).parent / "trpo"), "plot", *map(str, runs), "--out", str(image)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    return (
        "`"
        + " ".join(["trpo plot", *(os.path.relpath(r, ROOT) for r in runs), "--out", os.path.relpath(image, ROOT)])
        + "`"
    )


def changed_fields(config: dict[str, Any], base: dict[str, Any] | None = None) -> str:
    """`key=value` for each field that differs from `base` (default: TRPOConfig's defaults)."""
    from trpo.config import TRPOConfig

    base = TRPOConfig().to_dict() if base is None else base
    changed = [f"{k}={config[k]}" for k in config if k != "seed" and base.get(k) != config[k]]
    return "`" + ", ".join(changed) + "`" if changed else "(the shipped preset)"


def ablation_table(ablations: Path) -> str:
    """One row per single-seed `trpo train` run under `ablations`: its config against the env's
    preset and its final deterministic eval."""
    from trpo.config import TRPOConfig

    rows = []
    for summary_path in sorted(ablations.glob("*/summary.json")):
        summary = json.loads(summary_path.read_text())
        saved = yaml.safe_load((summary_path.parent / "config.yaml").read_text())
        # A field missing from an older run's config did not exist yet: the run had its default.
        saved["config"] = {**TRPOConfig().to_dict(), **saved["config"]}
        env_id = saved["env_id"]
        preset = run_config(env_id, saved["config"]["seed"]) if env_id in PUBLISHED else None
        changes = changed_fields(saved["config"], preset)
        make_kwargs = saved.get("make_kwargs") or {}
        if make_kwargs != (run_make_kwargs(env_id) if env_id in PUBLISHED else {}):
            shown = ", ".join(f"{k}={v!r}" for k, v in make_kwargs.items()) or "none"
            changes = f"{changes}; make_kwargs: `{shown}`"
        rows.append(
            f"| {summary_path.parent.name} | {env_id} | {saved['config']['seed']} | {summary['total_steps']:,} |"
            f" {changes} | {summary['eval']['mean']:.1f} |"
        )
    if not rows:
        return ""
    head = (
        "| run | env | seed | steps | config vs the shipped preset | final deterministic eval |\n"
        "|---|---|---|---|---|---|\n"
    )
    return head + "\n".join(rows) + "\n"


def all_done(job: Job) -> bool:
    return all(is_done(job, b) for b in job.budgets)


def write_results(
    envs: list[str], seeds: list[int], out: Path, results: Path, images: Path, command: str, unfinished: int = 0
) -> None:
    table, lines = results_table(envs, seeds, out)
    images.mkdir(parents=True, exist_ok=True)
    figures = []
    for env_id in envs:
        image = images / f"{env_id}.png"
        made_by = plot_curves(env_id, seeds, out, image)
        if made_by is not None:
            rel = os.path.relpath(image, results.parent)
            figures.append(f"### {env_id}\n\n![{env_id} learning curve]({rel})\n\nMade by {made_by}.\n")
    presets = "\n".join(
        f"- {env_id}: {changed_fields(run_config(env_id, 0))}"
        + "".join(f"; `gymnasium.make(..., {k}={v!r})`" for k, v in run_make_kwargs(env_id).items())
        for env_id in envs
    )
    notes = NOTES.read_text() if NOTES.exists() else ""
    status = f", with {unfinished} of its runs not finished (marked below)" if unfinished else ""
    ablations = ablation_table(out.parent / "ablation")
    if ablations:
        ablations = (
            "## Single-seed comparisons\n\nRuns made with `trpo train ENV --seed S` and config flags while tuning, "
            f"kept in {os.path.relpath(out.parent / 'ablation', ROOT)}/ (the eval is the one `trpo train` "
            "ends with: 10 deterministic episodes).\n\n" + ablations
        )
    text = f"""# Results: TRPO returns at 1M steps on MuJoCo (v5)

Generated by `{command}` (benchmarks/quality.py){status}; do not edit by hand: the text after
the table comes from benchmarks/quality_notes.md.

Each run trains with the env's shipped preset (src/trpo/presets/ENV.yaml) for the budget, then
plays {EVAL_EPISODES} episodes with the deterministic (mean) action on a fresh env; a run's score is
the mean of those returns. "Ours" is the mean ± std (population) over seeds of the run scores.
Targets: the best published final-eval number (Humanoid: Tianshou's max-over-training figure).

The published columns use their own env versions (sb3-contrib: v3, Baselines: v1/v2,
Tianshou: v4) and their own metrics: sb3-contrib, a final deterministic eval (3 seeds);
OpenAI Baselines trpo_mpi, the mean training-episode return at the end of 1M steps (6 seeds);
Tianshou, the maximum over training of its test return (10 seeds), which is above a final eval.

## Summary

{chr(10).join(lines)}

## Table

{table}
## Configurations

{presets}

## Learning curves

Training-episode return (stochastic policy, `rollout/ep_return_mean`), mean over seeds with a
±1 std band.

{chr(10).join(figures)}
{ablations}
{notes}"""
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(text)


EVAL_EPISODES = 10


def main(argv: list[str] | None = None) -> int:
    global EVAL_EPISODES
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(PUBLISHED), choices=list(PUBLISHED))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="runs trained at once")
    parser.add_argument("--steps", type=int, default=0, help="one budget for every env instead of 1M (2M)")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--out", type=Path, default=OUT, help="where run directories go")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--images", type=Path, default=IMAGES)
    parser.add_argument("--report-only", action="store_true", help="train nothing: write the report from finished runs")
    args = parser.parse_args(argv)
    if args.eval_episodes < 10:
        parser.error("--eval-episodes must be >= 10")
    EVAL_EPISODES = args.eval_episodes
    if args.steps:
        BUDGETS.update({env: (args.steps,) for env in PUBLISHED})
    out = args.out.resolve()
    jobs = plan_jobs(args.envs, args.seeds, out, args.eval_episodes)
    given = sys.argv[1:] if argv is None else argv
    command = "make quality" if not given else "python benchmarks/quality.py " + " ".join(given)
    results = args.results.resolve()

    def report(unfinished: int) -> None:
        write_results(list(args.envs), args.seeds, out, results, args.images.resolve(), command, unfinished)

    if not args.report_only:
        ctx = multiprocessing.get_context("spawn")  # JAX does not survive fork
        with ctx.Pool(max(1, args.jobs), maxtasksperchild=1) as pool:
            # The report is rewritten after every run, so it is current if the command is stopped.
            finished = 0
            for phase in job_phases(jobs):
                for message in pool.imap_unordered(run_job, phase):
                    finished += 1
                    print(message, flush=True)
                    if not message.endswith("done already"):
                        report(len(jobs) - finished)
    report(0 if not args.report_only else sum(not all_done(job) for job in jobs))
    print(f"wrote {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
