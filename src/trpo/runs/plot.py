"""Learning curves: a metric against environment steps, one panel per env.

Runs of the same env and the same config (everything but the seed) form a group, drawn as the
mean over seeds with a band: +-1 standard deviation (`band="std"`), or the 95% percentile
bootstrap confidence interval of the mean (`band="ci"`, whole runs resampled; trpo.stats). Seeds
are put on one step grid by linear interpolation, up to the shortest run of the group, so the
band never mixes in missing seeds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from trpo.runs.stats import mean_interval_over_runs
from trpo.training.logger import METRICS_CSV, read_metrics

DEFAULT_METRIC = "rollout/ep_return_mean"
BANDS = {"std": "band +-1 std", "ci": "95% CI band"}
"""the kinds of band around the mean over seeds, and how the figure's title names them"""
CONFIG_YAML = "config.yaml"  # as in run.py, which this module does not import (it pulls in JAX)


class PlotError(ValueError):
    """Nothing to plot, or a metric the runs do not have; the message says what to do."""


@dataclass
class Run:
    path: Path
    env_id: str
    seed: int
    config: dict[str, Any]
    """every hyperparameter but the seed"""
    steps: np.ndarray
    values: np.ndarray


@dataclass
class Group:
    env_id: str
    config: dict[str, Any]
    runs: list[Run] = field(default_factory=list)
    label: str = ""

    def curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, mean, std) over the group's runs on a common step grid."""
        return mean_std_curve([(r.steps, r.values) for r in self.runs])

    def band(self, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(steps, mean, lower, upper) for a band of `kind` (a key of BANDS)."""
        grid, stacked = common_grid([(r.steps, r.values) for r in self.runs])
        if kind == "std":
            mean, std = stacked.mean(axis=0), stacked.std(axis=0)
            return grid, mean, mean - std, mean + std
        if kind == "ci":
            interval = mean_interval_over_runs(stacked)
            return grid, interval.point, interval.lower, interval.upper
        raise PlotError(f"unknown band {kind!r}: use one of {', '.join(BANDS)}")

    def describe(self) -> dict[str, Any]:
        steps, mean, std = self.curve()
        return {
            "env_id": self.env_id,
            "label": self.label,
            "seeds": [r.seed for r in self.runs],
            "runs": [str(r.path) for r in self.runs],
            "final_step": int(steps[-1]) if len(steps) else 0,
            "final_mean": float(mean[-1]) if len(mean) else math.nan,
            "final_std": float(std[-1]) if len(std) else math.nan,
        }


def find_runs(paths: list[Path]) -> list[Path]:
    """Run directories among `paths`: each path is a run (config.yaml + metrics.csv) or a folder
    searched recursively for runs."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise PlotError(f"{path} does not exist")
        if _is_run(path):
            found.append(path)
            continue
        runs = sorted(p.parent for p in path.rglob(METRICS_CSV) if _is_run(p.parent))
        if not runs:
            raise PlotError(f"no runs under {path}: a run directory holds {CONFIG_YAML} and {METRICS_CSV}")
        found.extend(runs)
    return list(dict.fromkeys(found))


def _is_run(path: Path) -> bool:
    return (path / CONFIG_YAML).is_file() and (path / METRICS_CSV).is_file()


def load_run(path: Path, metric: str) -> Run:
    saved = yaml.safe_load((path / CONFIG_YAML).read_text())
    config = dict(saved.get("config", {}))
    seed = int(config.pop("seed", 0))
    if saved.get("make_kwargs"):
        config["make_kwargs"] = saved["make_kwargs"]  # other env arguments make another group
    columns = read_metrics(path)
    if not columns:
        raise PlotError(f"{path / METRICS_CSV} has no rows yet")
    if metric not in columns:
        raise PlotError(f"{path / METRICS_CSV} has no column {metric!r}; columns: {', '.join(columns)}")
    steps, values = np.asarray(columns["global_step"]), np.asarray(columns[metric])
    keep = np.isfinite(values)
    return Run(path, str(saved.get("env_id", "?")), seed, config, steps[keep], values[keep])


def group_runs(runs: list[Run]) -> list[Group]:
    """Group by (env, config without seed), in order of first appearance; label each group by
    the hyperparameters that differ between the groups of its env."""
    groups: dict[tuple[str, str], Group] = {}
    for run in runs:
        key = (run.env_id, json.dumps(run.config, sort_keys=True))
        groups.setdefault(key, Group(run.env_id, run.config)).runs.append(run)
    result = list(groups.values())
    for env_id in dict.fromkeys(g.env_id for g in result):
        same_env = [g for g in result if g.env_id == env_id]
        keys = {k for g in same_env for k in g.config}
        differing = sorted(k for k in keys if len({json.dumps(g.config.get(k)) for g in same_env}) > 1)
        for g in same_env:
            name = ", ".join(f"{k}={g.config.get(k)}" for k in differing) if differing else env_id
            g.label = f"{name} ({_count(g.runs)})"
    return result


def _count(runs: list[Run]) -> str:
    seeds = [r.seed for r in runs]
    if len(set(seeds)) < len(seeds):  # repeated seeds (e.g. a resumed copy): count runs, name the seeds
        return f"{len(runs)} runs, seeds {', '.join(map(str, seeds))}"
    return f"{len(runs)} seed" if len(runs) == 1 else f"{len(runs)} seeds"


def mean_std_curve(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and population std over curves (steps, values), each interpolated linearly onto the
    union of their steps up to the end of the shortest curve. Empty curves are skipped."""
    grid, stacked = common_grid(curves)
    if not len(stacked):
        return grid, np.zeros(0), np.zeros(0)
    return grid, stacked.mean(axis=0), stacked.std(axis=0)


def common_grid(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(grid, values of shape (curves, grid)): each curve (steps, values) interpolated linearly
    onto the union of their steps up to the end of the shortest curve. Empty curves are skipped."""
    curves = [(s, v) for s, v in curves if len(s)]
    if not curves:
        return np.zeros(0), np.zeros((0, 0))
    end = min(s[-1] for s, _ in curves)
    start = max(s[0] for s, _ in curves)
    grid = np.unique(np.concatenate([s for s, _ in curves]))
    grid = grid[(grid >= start) & (grid <= end)]
    return grid, np.stack([np.interp(grid, s, v) for s, v in curves])


def plot_runs(paths: list[Path], out: Path, metric: str = DEFAULT_METRIC, band: str = "std") -> list[Group]:
    """Write the PNG and return the groups drawn; `band` is a key of BANDS."""
    if band not in BANDS:
        raise PlotError(f"unknown band {band!r}: use one of {', '.join(BANDS)}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter

    groups = group_runs([load_run(p, metric) for p in find_runs(paths)])
    envs = list(dict.fromkeys(g.env_id for g in groups))
    cols = min(3, len(envs))
    rows = math.ceil(len(envs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4.0 * rows), squeeze=False)
    for ax, env_id in zip(axes.flat, envs, strict=False):
        for group in (g for g in groups if g.env_id == env_id):
            steps, mean, lower, upper = group.band(band)
            (line,) = ax.plot(steps, mean, label=group.label, linewidth=1.6)
            if len(group.runs) > 1:
                ax.fill_between(steps, lower, upper, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_title(env_id)
        ax.set_xlabel("environment steps")
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 150k, 1.5M: long step counts collide
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="best")
    for ax in list(axes.flat)[len(envs) :]:
        ax.set_visible(False)
    fig.suptitle(f"{metric}: mean over seeds, {BANDS[band]}", fontsize="medium")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return groups
