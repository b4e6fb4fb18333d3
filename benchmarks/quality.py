"""Returns at a sample budget: train env x seed with the shipped presets (10 seeds per env at
1M steps, Humanoid also at 2M on 5), evaluate each run deterministically, and write
docs/results.md beside the published TRPO numbers, with IQMs and bootstrap CIs (quality_stats).

    python benchmarks/quality.py                      # everything (make quality)
    python benchmarks/quality.py --report-only        # rewrite docs/results.md from docs/results-runs.csv
    python benchmarks/quality.py --envs Hopper-v5 --seeds 0 --steps 200000 --results /tmp/r.md

Every finished run is copied into the runs file beside the report (docs/results-runs.csv,
quality_runs), which is committed: the report is built from it alone, so results survive the
machine that made them.

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
import platform
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import quality_runs
import quality_stats

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
    episodes), Tianshou examples/mujoco (10 seeds, max over training of the test return); the
    target is the best published figure (issue 19)."""

    sb3: tuple[float, float] | None
    baselines: float | None
    tianshou: tuple[float, float] | None
    target: float | None
    """the IQM over seeds must reach this (None: nothing published to aim at)"""
    source: str
    """where the target comes from"""
    random: float
    """the return of uniformly random actions (benchmarks/random_scores.py, 100 episodes): the 0
    of the normalised scores"""


ZOO = "rl-baselines3-zoo's own TRPO run (one run, final eval)"
PUBLISHED = {
    "HalfCheetah-v5": Published((1803, 46), 1290, (4471, 805), 4471, "Tianshou (max over training, 10 seeds)", -282.5),
    "Hopper-v5": Published((3372, 215), 1913, (2046, 1038), 3618, ZOO, 16.7),
    "Walker2d-v5": Published((4502, 234), 2343, (3827, 783), 4933, ZOO, 1.8),
    "Ant-v5": Published((3554, 591), None, (2867, 708), 4982, ZOO, -48.0),
    "Swimmer-v5": Published((359, 2), 95, (40.9, 19.6), 366, ZOO, 0.8),
    "Reacher-v5": Published(None, -4.82, (-5.1, 0.8), -4.5, "Tianshou's NPG (max over training, 10 seeds)", -43.3),
    "InvertedPendulum-v5": Published(None, 905, (1000, 0), 1000, "Tianshou (max over training, 10 seeds)", 5.2),
    "InvertedDoublePendulum-v5": Published(None, None, None, 8994, "nnabla-rl (best mean in training, 3 seeds)", 49.1),
    "Pusher-v5": Published(None, None, None, None, "no published TRPO figure", -149.2),
    "Humanoid-v5": Published(None, None, (810, 126), 1000, "issue 19 (the best published, Tianshou's, is 810)", 112.6),
}
BUDGETS = {env: (M,) for env in PUBLISHED} | {"Humanoid-v5": (M, 2 * M)}
SEEDS = list(range(10))
"""seeds per env at 1M (issue 19: 10)"""
SEEDS_AT = {("Humanoid-v5", 2 * M): 5}
"""fewer seeds at a budget: the first N of the seeds asked for"""
COST = {"Humanoid-v5": 8, "Ant-v5": 3, "Walker2d-v5": 1.5, "HalfCheetah-v5": 1.5, "Hopper-v5": 1.5}
"""rough relative cost of a 1M run"""
COSTLY = 8


def seeds_at(env_id: str, steps: int, seeds: list[int]) -> list[int]:
    """The seeds that train the env to `steps`: all of `seeds`, or the first SEEDS_AT of them."""
    return seeds[: SEEDS_AT.get((env_id, steps), len(seeds))]


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
    beyond 1M (Humanoid's 2M, on the first SEEDS_AT seeds) last, continuing from the 1M agent
    where continues() allows."""
    ordered = sorted(envs, key=lambda e: COST.get(e, 1))
    cheap = [e for e in ordered if COST.get(e, 1) < COSTLY]
    costly = [e for e in ordered if COST.get(e, 1) >= COSTLY]

    def first_budget(e: str, s: int) -> Job:
        return Job(e, s, BUDGETS[e][:1], run_dir_of(out, e, s, BUDGETS[e][0]), eval_episodes)

    first = [first_budget(e, s) for s in seeds for e in cheap] + [first_budget(e, s) for e in costly for s in seeds]
    longer = []
    for s in seeds:
        for e in (e for e in ordered if len(BUDGETS[e]) > 1):
            budgets = tuple(b for b in BUDGETS[e] if s in seeds_at(e, b, seeds))
            if len(budgets) < 2:
                continue
            if continues(e):
                longer.append(Job(e, s, budgets, run_dir_of(out, e, s, BUDGETS[e][0]), eval_episodes))
            else:
                longer += [Job(e, s, (b,), run_dir_of(out, e, s, b), eval_episodes) for b in budgets[1:]]
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
    from trpo.config import TRPOConfig
    from trpo.runs import presets

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
    """Equal on every field of `current`, a field the saved run did not know yet counting as its
    default: a field added to TRPOConfig after a run was made kept the old behaviour at its
    default, so it does not invalidate finished runs, unless the preset now sets it otherwise."""
    defaults = config_defaults()
    return all(saved.get(k, defaults.get(k)) == v for k, v in current.items())


@functools.cache
def config_defaults() -> dict[str, Any]:
    """TRPOConfig's defaults as a dict; built once, not for every row compared."""
    from trpo.config import TRPOConfig

    return TRPOConfig().to_dict()


def is_done(job: Job, steps: int) -> bool:
    path = eval_path(job.run_dir, steps)
    return path.exists() and same_run(json.loads(path.read_text()), job.env_id, job.seed, job.preset)


CHECKPOINT_EVERY = 50
"""iterations between checkpoints of a run under way: a run that is killed (a machine restart)
continues from its latest one on the next start instead of from scratch"""


def interrupted_step(job: Job, config_dict: dict[str, Any], make_kwargs: dict[str, Any], todo: list[int]) -> int | None:
    """The step of the run's latest checkpoint when `trpo train --resume` can continue it to the
    first budget still `todo`: a run of the current preset cut off before that budget (or within
    its last iteration: killed during the eval) or, with continues(), one that finished a smaller
    budget; without continues() only one that was aimed at that budget. Else None."""
    from trpo.runs.run import CHECKPOINTS, read_config_yaml
    from trpo.training import checkpoint

    if not (job.run_dir / CHECKPOINTS / checkpoint.LATEST).exists():
        return None
    if not continues(job.env_id, job.preset) and read_config_yaml(job.run_dir).get("total_steps") != todo[0]:
        return None
    _, meta = checkpoint.load(job.run_dir / CHECKPOINTS)
    same = same_config(meta["config"], config_dict) and meta.get("make_kwargs", {}) == make_kwargs
    step = int(meta["global_step"])
    return step if same and step < todo[0] + meta["config"]["num_envs"] * meta["config"]["n_steps"] else None


def trpo_commit() -> str:
    """The checkout's commit, with "+changes" when src/ differs from it ("" outside git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return ""
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "") if head.returncode == 0 else ""


def machine() -> str:
    """The CPU model and count: wall times are only comparable on one machine."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text().splitlines()
        names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
        model = names[0] if names else model
    return f"{model}, {os.cpu_count()} CPUs"


def run_job(job: Job) -> str:
    """Train one env x seed to each of its budgets with the run API (what `trpo train` and
    `trpo train --resume` do), writing each budget's eval record and agent; a run that was cut
    off, or a larger budget that continues() a smaller one, goes on with run.resume."""
    from trpo.config import TRPOConfig
    from trpo.runs.run import CHECKPOINTS, RunOptions, resume, train
    from trpo.training.checkpoint import LATEST

    config_dict = run_config(job.env_id, job.seed, job.preset)
    make_kwargs = run_make_kwargs(job.env_id, job.preset)
    todo = [b for b in job.budgets if not is_done(job, b)]
    if not todo:
        return f"{job.env_id} seed {job.seed}: done already"
    start = time.perf_counter()
    for steps in todo:
        options = RunOptions(
            total_steps=steps,
            run_dir=job.run_dir,
            checkpoint_every=CHECKPOINT_EVERY,
            eval_episodes=job.eval_episodes,
            quiet=True,
            tensorboard=False,
            preset_source=resolved(job.env_id, job.preset)[2],
            make_kwargs=make_kwargs,
        )
        resumed_from = interrupted_step(job, config_dict, make_kwargs, [steps])
        if resumed_from is not None:
            summary = resume(job.run_dir, options)
        else:
            if job.run_dir.exists():
                shutil.rmtree(job.run_dir)
            summary = train(job.env_id, TRPOConfig.from_dict(config_dict), options)
        record = {
            "env_id": job.env_id,
            "seed": job.seed,
            "budget": steps,
            "global_step": summary["total_steps"],
            "train_wall_s": summary["wall_s"],
            "eval": summary["eval"],
            "config": config_dict,
            "make_kwargs": make_kwargs,
            # Continued from a checkpoint at this step: fresh env episodes there, else one run.
            "resumed_from": resumed_from,
            "trpo_commit": trpo_commit(),
            "machine": machine(),
        }
        shutil.copyfile(job.run_dir / CHECKPOINTS / LATEST, agent_path(job.run_dir, steps))
        eval_path(job.run_dir, steps).write_text(json.dumps(record, indent=2) + "\n")
    return f"{job.env_id} seed {job.seed}: {round(time.perf_counter() - start)} s"


# --- the report ------------------------------------------------------------------------------
# Built from docs/results-runs.csv alone (quality_runs), which every finished run is copied into:
# a fresh clone rewrites docs/results.md with `--report-only` without the run directories.


def collect(env_id: str, seeds: list[int], steps: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs-file rows of the env's seeds made with its current preset, one per seed (a run
    of an older preset is stale: it is redone by the next run, and not reported)."""
    return quality_runs.current(rows, env_id, steps, seeds, lambda row: same_run(row, env_id, row["seed"]))


def fmt(mean_std: tuple[float, float] | float | None) -> str:
    if mean_std is None:
        return "–"
    if isinstance(mean_std, tuple):
        return f"{mean_std[0]:g} ± {mean_std[1]:g}"
    return f"{mean_std:g}"


def mark(check: bool | None) -> str:
    return "–" if check is None else ("yes" if check else "**no**")


def reported_runs(
    envs: list[str], seeds: list[int], rows: list[dict[str, Any]]
) -> list[tuple[str, int, list[dict[str, Any]]]]:
    """(env, budget, the runs-file rows reported for it), one per env and budget in the order of
    results_table."""
    return [
        (env_id, steps, collect(env_id, seeds_at(env_id, steps, seeds), steps, rows))
        for env_id in envs
        for steps in BUDGETS[env_id]
    ]


def summaries(reported: list[tuple[str, int, list[dict[str, Any]]]]) -> list[quality_stats.Summary | None]:
    """One per entry of `reported` (reported_runs' list), None where no run finished."""
    return [quality_stats.summarize(env_id, steps, runs) for env_id, steps, runs in reported]


def results_table(envs: list[str], seeds: list[int], rows: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The markdown table, and one line per env for the summary: its IQM and the three targets."""
    reported = reported_runs(envs, seeds, rows)
    return summary_table(envs, seeds, reported, summaries(reported))


def summary_table(
    envs: list[str],
    seeds: list[int],
    reported: list[tuple[str, int, list[dict[str, Any]]]],
    found: list[quality_stats.Summary | None],
) -> tuple[str, list[str]]:
    """results_table from reported_runs' list and its summaries (the report computes them once)."""
    head = (
        "| env (v5) | steps | seeds | IQM [95% CI] | mean ± std | per seed (seed: score) | target (best published) |"
        " IQM ≥ target | CI low ≥ sb3-contrib | no seed < half the target | wall time per run |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    table, lines = [], []
    summary_of = iter(found)
    for env_id in envs:
        pub = PUBLISHED[env_id]
        for steps in BUDGETS[env_id]:
            summary = next(summary_of)
            asked = len(seeds_at(env_id, steps, seeds))
            target = fmt(pub.target) if steps == M else "–"
            if summary is None:
                table.append(f"| {env_id} | {steps / M:g}M | 0 of {asked} | not run | | | {target} | – | – | – | |")
                continue
            at_1m = steps == M
            sb3_mean = pub.sb3[0] if at_1m and pub.sb3 else None
            check = quality_stats.checks(summary, pub.target if at_1m else None, sb3_mean)
            per_seed = ", ".join(f"{s}: {score:.1f}" for s, score in zip(summary.seeds, summary.scores, strict=True))
            iqm = quality_stats.interval_text(summary.iqm)
            n = len(summary.seeds)
            table.append(
                f"| {env_id} | {steps / M:g}M | {n}{'' if n == asked else f' of {asked}'} |"
                f" **{iqm}** | {summary.mean:.1f} ± {summary.std:.1f} | {per_seed} |"
                f" {target} | {mark(check.iqm_at_best)} | {mark(check.ci_low_at_sb3)} | {mark(check.no_collapse)} |"
                f" {quality_stats.wall_time(summary)} |"
            )
            if at_1m:
                seeds_text = f"{n} of the {asked} seeds asked for" if n < asked else f"{n} seeds"
                parts = [f"IQM ≥ {fmt(pub.target)}: {mark(check.iqm_at_best)}"] if pub.target is not None else []
                if pub.sb3 is not None:
                    parts.append(f"CI low ≥ sb3-contrib's {fmt(pub.sb3[0])}: {mark(check.ci_low_at_sb3)}")
                if pub.target is not None:
                    half = quality_stats.half_target(pub.target)
                    parts.append(f"no seed below {half:g}: {mark(check.no_collapse)}")
                verdict = "; ".join(parts) if parts else "no target"
                lines.append(f"- {env_id}: IQM {iqm} ({seeds_text}): {verdict}")
    # The notes of the runs in the table only: the runs file also keeps trials of other settings.
    notes = Counter(row["note"] for _, _, runs in reported for row in runs if row["note"])
    footer = "".join(f"\n{count} of the runs in the table: {note}.\n" for note, count in notes.items())
    return head + "\n".join(table) + "\n" + footer, lines


def published_table(envs: list[str]) -> str:
    rows = []
    for env_id in envs:
        p = PUBLISHED[env_id]
        published = f"{fmt(p.sb3)} | {fmt(p.baselines)} | {fmt(p.tianshou)}"
        rows.append(f"| {env_id} | {fmt(p.target)} | {p.source} | {published} | {p.random:g} |")
    return (
        "| env | target | its source | sb3-contrib (v3, final eval) | Baselines trpo_mpi (last 100 training episodes) |"
        " Tianshou (max over training) | random actions |\n|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


def across_envs(found: list[quality_stats.Summary | None], images: Path, results: Path) -> str:
    """The aggregate IQM of normalised scores and the performance profile at 1M (from the
    summaries' list), as text and two PNGs; a sentence saying why not when fewer than two envs
    share a finished seed."""
    at_1m = [s for s in found if s is not None and s.budget == M]
    normalisers = {e: (p.random, p.target) for e, p in PUBLISHED.items() if p.target is not None}
    agg = quality_stats.aggregate(at_1m, normalisers)
    if agg is None:
        return "Not yet: fewer than two envs with a target share a finished seed.\n"
    intervals, profile = images / "aggregate-iqm.png", images / "performance-profile.png"
    quality_stats.plot_intervals(agg, intervals)
    quality_stats.plot_profile(agg, profile)
    left_out = [s.env_id for s in at_1m if s.env_id not in agg.env_ids]
    none = f" ({', '.join(left_out)} has none)" if left_out else ""
    per_env = ", ".join(
        f"{e} {quality_stats.interval_text(i, 2)}" for e, i in zip(agg.env_ids, agg.per_env, strict=True)
    )
    return f"""A run's normalised score is (score - random) / (target - random): 0 for uniformly random
actions (benchmarks/random_scores.py, 100 episodes), 1 at the env's target (the best published
figure; the table above). Over the {len(agg.env_ids)} envs with a target{none} and the seeds
finished on all of them ({", ".join(map(str, agg.seeds))}), {agg.scores.size} runs:

**aggregate IQM {quality_stats.interval_text(agg.iqm, 2)}** (95% stratified-bootstrap CI, runs
resampled within each env).

Per env: {per_env}.

![IQM of normalised scores]({os.path.relpath(intervals, results.parent)})

![Performance profile]({os.path.relpath(profile, results.parent)})

The performance profile is the fraction of all runs whose normalised score exceeds τ (rliable's
score distribution), with a 95% bootstrap band; at τ = 1 it is the share of runs above the best
published figure of their env.
"""


def plot_curves(env_id: str, seeds: list[int], rows: list[dict[str, Any]], out: Path, image: Path) -> str | None:
    """Learning-curve PNG by `trpo plot --band ci` of the env's reported runs whose directories
    are on this machine. Returns the command, or None when none is."""
    first = BUDGETS[env_id][0]
    runs = [run_dir_of(out, env_id, r["seed"], first) for r in collect(env_id, seeds, first, rows)]
    runs = [r for r in runs if (r / "metrics.csv").exists()]
    if not runs:
        return None
    command = [str(Path(sys.executable).parent / "trpo"), "plot", *map(str, runs), "--band", "ci", "--out", str(image)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    shown = ["trpo plot", *(os.path.relpath(r, ROOT) for r in runs), "--band ci --out", os.path.relpath(image, ROOT)]
    return "`" + " ".join(shown) + "`"


def changed_fields(config: dict[str, Any], base: dict[str, Any] | None = None) -> str:
    """`key=value` for each field that differs from `base` (default: TRPOConfig's defaults)."""
    from trpo.config import TRPOConfig

    base = TRPOConfig().to_dict() if base is None else base
    changed = [f"{k}={config[k]}" for k in config if k != "seed" and base.get(k) != config[k]]
    return "`" + ", ".join(changed) + "`" if changed else "(the shipped preset)"


def ablation_rows(ablations: Path) -> list[dict[str, Any]]:
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
            {
                "run": summary_path.parent.name,
                "env_id": env_id,
                "seed": saved["config"]["seed"],
                "steps": summary["total_steps"],
                "changes": changes,
                "eval_mean": f"{summary['eval']['mean']:.1f}",
            }
        )
    return rows


def ablation_table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return ""
    head = (
        "| run | env | seed | steps | config vs the shipped preset (when recorded) | final deterministic eval |\n"
        "|---|---|---|---|---|---|\n"
    )
    body = [
        f"| {r['run']} | {r['env_id']} | {r['seed']} | {int(r['steps']):,} | {r['changes']} | {r['eval_mean']} |"
        for r in rows
    ]
    return head + "\n".join(body) + "\n"


def write_results(
    envs: list[str],
    seeds: list[int],
    rows: list[dict[str, Any]],
    out: Path,
    results: Path,
    images: Path,
    command: str,
    ablations: list[dict[str, str]] | None = None,
    runs_file: Path | None = None,
) -> None:
    reported = reported_runs(envs, seeds, rows)
    found = summaries(reported)
    table, lines = summary_table(envs, seeds, reported, found)
    unfinished = sum(
        len(seeds_at(e, b, seeds)) - len(collect(e, seeds_at(e, b, seeds), b, rows)) for e in envs for b in BUDGETS[e]
    )
    images.mkdir(parents=True, exist_ok=True)
    figures = []
    for env_id in envs:
        image = images / f"{env_id}.png"
        made_by = plot_curves(env_id, seeds, rows, out, image)
        if made_by is None and not image.exists():
            continue
        rel = os.path.relpath(image, results.parent)
        how = (
            f"Made by {made_by}."
            if made_by
            else "Drawn by an earlier run of this command (mean ± 1 std band); the run directories behind it are"
            " not on the machine that wrote this page."
        )
        figures.append(f"### {env_id}\n\n![{env_id} learning curve]({rel})\n\n{how}\n")
    presets = "\n".join(
        f"- {env_id}: {changed_fields(run_config(env_id, 0))}"
        + "".join(f"; `gymnasium.make(..., {k}={v!r})`" for k, v in run_make_kwargs(env_id).items())
        for env_id in envs
    )
    notes = NOTES.read_text() if NOTES.exists() else ""
    status = f", with {unfinished} of the runs it asks for not yet recorded" if unfinished else ""
    ablation_text = ablation_table(ablations or [])
    if ablation_text:
        ablation_text = (
            "## Single-seed comparisons\n\nRuns made with `trpo train ENV --seed S` and config flags while tuning, "
            f"kept in {os.path.relpath(out.parent / 'ablation', ROOT)}/ and recorded in docs/results-ablations.csv "
            "(the eval is the one `trpo train` ends with: 10 deterministic episodes).\n\n" + ablation_text
        )
    machines = sorted({r["machine"] for r in rows if r["machine"]})
    runs_file = runs_file or ROOT / "docs" / "results-runs.csv"
    runs_name = os.path.relpath(runs_file, ROOT) if runs_file.is_relative_to(ROOT) else str(runs_file)
    text = f"""# Results: TRPO returns at 1M steps on MuJoCo (v5)

Generated by `{command}` (benchmarks/quality.py) from the runs recorded in {runs_name}
(one row per run: seed, eval, wall time, commit, machine, config){status}; do not
edit by hand: the text after the tables comes from benchmarks/quality_notes.md. `python
benchmarks/quality.py --report-only` rewrites this page from that file alone.

Each run trains with the env's shipped preset (src/trpo/runs/presets/ENV.yaml) for the budget, then
plays {EVAL_EPISODES} or more episodes with the deterministic (mean) action on a fresh env; a run's
score is the mean of those returns. Per env, as Agarwal et al. (2021) ask: the interquartile mean
(IQM: the mean of the middle half of the seeds' scores; with fewer than four seeds nothing is cut
and it is the mean) with its 95% percentile confidence interval from a stratified bootstrap of
the seeds (50,000 resamples; rliable's computation, in src/trpo/runs/stats.py), the mean ± std
(population) and every seed's score. Issue 19 asks for {len(seeds)} seeds per env
(Humanoid at 2M: {SEEDS_AT.get(("Humanoid-v5", 2 * M), len(seeds))}); a row with fewer says so in its seeds column.

The targets, per env at 1M: (1) the IQM at or above the best published TRPO figure (the
"target"; sources in the second table: most are not final evals but a maximum over training, so
they sit above what a final eval of the same runs would give); (2) the lower end of the 95% CI at
or above sb3-contrib's published mean, where there is one; (3) no seed below half the target
(for Reacher's negative target: below twice it). Wall time: median (range) over the runs of the
training, on {"; ".join(machines) if machines else "a machine not recorded"}, with as many
runs at once as `--jobs` (default 2).

## Summary

{chr(10).join(lines)}

## Table

{table}
## Published TRPO figures

The published columns use their own env versions (sb3-contrib: v3, Baselines: v1/v2, Tianshou:
v4) and their own metrics: sb3-contrib, a final deterministic eval (3 seeds); OpenAI Baselines
trpo_mpi, the mean training-episode return at the end of 1M steps (6 seeds); Tianshou, the
maximum over training of its test return (10 seeds), which is above a final eval.

{published_table(envs)}
## Across envs

{across_envs(found, images, results)}
## Configurations

{presets}

## Learning curves

Training-episode return (stochastic policy, `rollout/ep_return_mean`), mean over seeds with the
95% bootstrap CI of the mean as the band (`trpo plot --band ci`).

{chr(10).join(figures)}
{ablation_text}
{notes}"""
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(text)


EVAL_EPISODES = 10


def main(argv: list[str] | None = None) -> int:
    global EVAL_EPISODES
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(PUBLISHED), choices=list(PUBLISHED))
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="runs trained at once")
    parser.add_argument("--steps", type=int, default=0, help="one budget for every env instead of 1M (2M)")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--out", type=Path, default=OUT, help="where run directories go")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="the report; its runs file is beside it (RESULTS-runs.csv)"
    )
    parser.add_argument("--images", type=Path, default=IMAGES)
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: write the report from the runs file alone (run directories are not copied into it)",
    )
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
    runs_file = results.with_name(f"{results.stem}-runs.csv")
    ablations_file = results.with_name(f"{results.stem}-ablations.csv")

    def report(sync: bool = True) -> None:
        """Copy the finished runs into the runs file (unless `sync` is off), then write the report
        from it. --report-only does not sync: run directories under --out (a trial's, copied there
        to draw a curve) would replace the file's rows of the same env, seed and config."""
        if sync:
            rows = quality_runs.sync(out, runs_file)
            ablations = quality_runs.merge_ablations(ablations_file, ablation_rows(out.parent / "ablation"))
        else:
            rows = quality_runs.read_rows(runs_file)
            ablations = quality_runs.read_ablations(ablations_file)
        write_results(
            list(args.envs), args.seeds, rows, out, results, args.images.resolve(), command, ablations, runs_file
        )

    if not args.report_only:
        ctx = multiprocessing.get_context("spawn")  # JAX does not survive fork
        with ctx.Pool(max(1, args.jobs), maxtasksperchild=1) as pool:
            # The report is rewritten after every run, so it is current if the command is stopped.
            for phase in job_phases(jobs):
                for message in pool.imap_unordered(run_job, phase):
                    print(message, flush=True)
                    if not message.endswith("done already"):
                        report()
    report(sync=not args.report_only)
    print(f"wrote {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
