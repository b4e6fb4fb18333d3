"""Learning-curve PNG for one env's runs, for versions of trpo without `trpo plot`.

The mean over seeds of `rollout/ep_return_mean` against env steps, with a +-1 std band; seeds
are put on a common step grid by linear interpolation, up to the end of the shortest run.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

METRIC = "rollout/ep_return_mean"


def read_curve(metrics_csv: Path, metric: str = METRIC) -> tuple[np.ndarray, np.ndarray]:
    steps, values = [], []
    with open(metrics_csv, newline="") as f:
        for row in csv.DictReader(f):
            value = float(row[metric])
            if math.isfinite(value):
                steps.append(float(row["global_step"]))
                values.append(value)
    return np.asarray(steps), np.asarray(values)


def mean_std(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    curves = [(s, v) for s, v in curves if len(s)]
    if not curves:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    start, end = max(s[0] for s, _ in curves), min(s[-1] for s, _ in curves)
    grid = np.unique(np.concatenate([s for s, _ in curves]))
    grid = grid[(grid >= start) & (grid <= end)]
    stacked = np.stack([np.interp(grid, s, v) for s, v in curves])
    return grid, stacked.mean(axis=0), stacked.std(axis=0)


def plot_env(run_dirs: list[Path], env_id: str, out: Path, metric: str = METRIC) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, mean, std = mean_std([read_curve(d / "metrics.csv", metric) for d in run_dirs])
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    ax.plot(steps, mean, linewidth=1.6, label=f"{env_id} ({len(run_dirs)} seed{'s' if len(run_dirs) > 1 else ''})")
    if len(run_dirs) > 1:
        ax.fill_between(steps, mean - std, mean + std, alpha=0.2, linewidth=0)
    ax.set_title(env_id)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
