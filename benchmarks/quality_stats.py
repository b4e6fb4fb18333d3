"""The statistics of docs/results.md, from the rows of docs/results-runs.csv: per env the IQM
with its 95% stratified-bootstrap interval, the mean and the seeds; the three targets of each
env; across envs the IQM of normalised scores and the performance profile, as PNGs (trpo.runs.stats,
rliable's computation)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trpo.runs import stats

SEED = 0
"""the bootstrap's seed: the same rows give the same intervals, so rewriting the report from an
unchanged runs file changes nothing"""
TAUS = np.linspace(0.0, 1.5, 151)
"""the normalised-score thresholds of the performance profile"""


@dataclass(frozen=True)
class Summary:
    """One env at one budget: its runs' scores (final deterministic eval, one per seed)."""

    env_id: str
    budget: int
    seeds: list[int]
    scores: np.ndarray
    wall_s: list[float | None]
    machines: list[str]
    iqm: stats.Interval

    @property
    def mean(self) -> float:
        return float(self.scores.mean())

    @property
    def std(self) -> float:
        """population std over seeds"""
        return float(self.scores.std())


def summarize(env_id: str, budget: int, rows: list[dict[str, Any]]) -> Summary | None:
    """The env's summary from its rows (one per seed), or None without any."""
    if not rows:
        return None
    scores = np.array([r["eval_mean"] for r in rows], dtype=float)
    return Summary(
        env_id,
        budget,
        [r["seed"] for r in rows],
        scores,
        [r["train_wall_s"] for r in rows],
        list(dict.fromkeys(r["machine"] for r in rows if r["machine"])),
        stats.iqm_interval(scores.reshape(-1, 1), seed=SEED),
    )


def half_target(target: float) -> float:
    """The collapse line: half the target; for a negative target (a cost, Reacher's) a return
    twice as far below 0, i.e. half as good."""
    return target / 2 if target > 0 else 2 * target


@dataclass(frozen=True)
class Checks:
    """The issue's three targets; None where one does not apply (no target, no sb3-contrib mean)."""

    iqm_at_best: bool | None
    """IQM >= the best published figure"""
    ci_low_at_sb3: bool | None
    """the lower end of the 95% interval >= sb3-contrib's published mean"""
    no_collapse: bool | None
    """no seed below half the target"""


def checks(summary: Summary, best: float | None, sb3_mean: float | None) -> Checks:
    return Checks(
        None if best is None else bool(summary.iqm.point >= best),
        None if sb3_mean is None else bool(summary.iqm.lower >= sb3_mean),
        None if best is None else bool(summary.scores.min() >= half_target(best)),
    )


def wall_time(summary: Summary) -> str:
    """Median and range of the runs' training wall time in minutes, or why there is none."""
    known = [w for w in summary.wall_s if w is not None]
    if not known:
        return "not recorded"
    minutes = np.array(known) / 60
    digits = 0 if minutes.min() >= 10 else 1  # short runs (a test's) in tenths of a minute
    spread = f" ({minutes.min():.{digits}f}–{minutes.max():.{digits}f})" if len(known) > 1 else ""
    missing = f"; {len(summary.wall_s) - len(known)} not recorded" if len(known) < len(summary.wall_s) else ""
    return f"{np.median(minutes):.{digits}f} min{spread}{missing}"


@dataclass(frozen=True)
class Aggregate:
    """Normalised scores of the envs that have a target, on the seeds all of them finished."""

    env_ids: list[str]
    seeds: list[int]
    scores: np.ndarray
    """(runs, envs), (score - random) / (target - random)"""
    iqm: stats.Interval
    per_env: list[stats.Interval]
    profile: stats.Interval


def aggregate(summaries: list[Summary], normalisers: dict[str, tuple[float, float]]) -> Aggregate | None:
    """IQM of normalised scores over envs and seeds, and the performance profile; `normalisers`
    maps an env to (random return, target). None when no seed is common to two such envs or
    more (a bootstrap over envs needs the same runs in each)."""
    usable = [s for s in summaries if s.env_id in normalisers]
    seeds = sorted(set.intersection(*(set(s.seeds) for s in usable))) if usable else []
    if len(usable) < 2 or not seeds:
        return None
    columns = []
    for summary in usable:
        low, high = normalisers[summary.env_id]
        by_seed = dict(zip(summary.seeds, summary.scores, strict=True))
        columns.append(stats.normalize([by_seed[s] for s in seeds], low, high))
    scores = np.stack(columns, axis=1)
    return Aggregate(
        [s.env_id for s in usable],
        seeds,
        scores,
        stats.iqm_interval(scores, seed=SEED),
        [stats.iqm_interval(scores[:, [j]], seed=SEED) for j in range(scores.shape[1])],
        stats.performance_profile(scores, TAUS, seed=SEED),
    )


def plot_intervals(agg: Aggregate, out: Path) -> None:
    """Each env's normalised IQM and the aggregate, with 95% intervals, as rliable draws them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [*agg.env_ids, "all (aggregate IQM)"]
    intervals = [*agg.per_env, agg.iqm]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(labels) + 1.2))
    for row, interval in enumerate(intervals):
        color = "black" if row == len(labels) - 1 else "tab:blue"
        ax.plot([interval.lower, interval.upper], [row, row], color=color, linewidth=6, alpha=0.35)
        ax.plot([interval.point], [row], marker="o", markersize=5, color=color)
    ax.axvline(1.0, color="tab:red", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("normalised score: (score - random) / (target - random); dashed: 1, the target")
    ax.set_title(f"IQM with 95% stratified-bootstrap CI ({len(agg.seeds)} seeds per env)", fontsize="medium")
    ax.grid(axis="x", alpha=0.3)
    save(fig, out)


def plot_profile(agg: Aggregate, out: Path) -> None:
    """The performance profile: the fraction of runs above each normalised score, with its band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot(TAUS, agg.profile.point, color="tab:blue", linewidth=1.8, label=f"trpo ({agg.scores.size} runs)")
    ax.fill_between(TAUS, agg.profile.lower, agg.profile.upper, color="tab:blue", alpha=0.2, linewidth=0)
    ax.axvline(1.0, color="tab:red", linestyle="--", linewidth=1, label="target (best published)")
    ax.set_xlabel("normalised score τ")
    ax.set_ylabel("fraction of runs with score > τ")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"Performance profile over {len(agg.env_ids)} envs, 95% CI band", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="lower left")
    save(fig, out)


def save(fig: Any, out: Path) -> None:
    import matplotlib.pyplot as plt

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def interval_text(interval: stats.Interval, digits: int = 1) -> str:
    point, lower, upper = (float(v) for v in (interval.point, interval.lower, interval.upper))
    if not all(map(math.isfinite, (point, lower, upper))):
        return "–"
    return f"{point:.{digits}f} [{lower:.{digits}f}, {upper:.{digits}f}]"
