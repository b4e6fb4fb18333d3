"""Metrics out: one CSV row and one set of TensorBoard scalars per iteration.

Every key is defined in docs/metrics.md. The CSV's columns are fixed by the first row written,
in METRIC_COLUMNS' order then any others (or by the existing header when a resumed run appends).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trpo.training.checkpoint import write_atomic

METRICS_CSV = "metrics.csv"
HPARAM_METRICS = ("rollout/ep_return_mean", "train/kl", "train/explained_variance")
METRIC_COLUMNS = (
    "global_step",
    "iteration",
    "time/sps",
    "time/rollout_s",
    "time/update_s",
    "time/compile_s",
    "rollout/ep_return_mean",
    "rollout/ep_len_mean",
    "rollout/episodes",
    "train/kl",
    "train/surrogate_gain",
    "train/step_fraction",
    "train/line_search_accepted",
    "train/cg_residual",
    "train/entropy",
    "train/skipped_updates",
    "train/value_loss",
    "train/explained_variance",
)
"""metrics.csv's columns, in the order of docs/metrics.md: the Gymnasium and the compiled path both
log exactly these (tests hold them to it; the Ray sampler adds its own after them), and
compiled.METRIC_NAMES is taken from it"""


def episode_metrics(episodes: Sequence[tuple[float, int]]) -> dict[str, float]:
    """rollout/* of the latest finished episodes ((return, length) pairs; NaN before the first)."""
    returns = [r for r, _ in episodes]
    lengths = [n for _, n in episodes]
    return {
        "rollout/ep_return_mean": float(np.mean(returns)) if returns else math.nan,
        "rollout/ep_len_mean": float(np.mean(lengths)) if lengths else math.nan,
        "rollout/episodes": float(len(returns)),
    }


def metrics_row(
    global_step: int,
    iteration: int,
    times: dict[str, float],
    episodes: dict[str, float],
    train: dict[str, float],
    skipped_updates: float,
    extra: dict[str, float] | None = None,
) -> dict[str, float]:
    """One iteration's metrics, as both training paths write them: the counters, `times`
    (time/sps, time/rollout_s, time/update_s, time/compile_s), the episode statistics, the
    update's train/* statistics and the running count of skipped updates, then any `extra`
    (a sampler's own)."""
    return {
        "global_step": global_step,
        "iteration": iteration,
        **{f"time/{name}": times[name] for name in ("sps", "rollout_s", "update_s", "compile_s")},
        **episodes,
        **train,
        "train/skipped_updates": float(skipped_updates),
        **(extra or {}),
    }


class Logger:
    def __init__(self, run_dir: Path, tensorboard: bool = True, hparams: dict[str, Any] | None = None):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.run_dir / METRICS_CSV
        self.columns: list[str] | None = None
        if self.csv_path.exists() and self.csv_path.stat().st_size > 0:
            with open(self.csv_path, newline="") as f:
                self.columns = next(csv.reader(f))
        self._csv = open(self.csv_path, "a", newline="")
        self._writer: csv.DictWriter | None = None
        self._tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(str(self.run_dir / "tb"))
            if hparams:
                self._write_hparams(hparams)

    def _write_hparams(self, hparams: dict[str, Any]) -> None:
        """The hyperparameters as a text table and in TensorBoard's HParams tab, where they are
        listed beside the last value of HPARAM_METRICS (the scalars already logged)."""
        from tensorboardX.summary import hparams as hparams_summary

        text = "\n".join(f"| {k} | {v} |" for k, v in sorted(hparams.items()))
        self._tb.add_text("hyperparameters", "| name | value |\n|---|---|\n" + text, 0)
        simple = {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in hparams.items()}
        for summary in hparams_summary(simple, dict.fromkeys(HPARAM_METRICS, 0.0)):
            self._tb.file_writer.add_summary(summary)

    def write(self, metrics: dict[str, float]) -> None:
        """Append one row; `metrics` must hold global_step."""
        if self.columns is None:
            # The documented order, whatever order the caller's dict has (jitted stages return theirs sorted).
            self.columns = [k for k in METRIC_COLUMNS if k in metrics] + [k for k in metrics if k not in METRIC_COLUMNS]
        if self._writer is None:
            self._writer = csv.DictWriter(self._csv, fieldnames=self.columns, extrasaction="ignore")
            if self._csv.tell() == 0:
                self._writer.writeheader()
        self._writer.writerow({k: _fmt(metrics.get(k, math.nan)) for k in self.columns})
        self._csv.flush()
        if self._tb is not None:
            step = int(metrics["global_step"])
            for key, value in metrics.items():
                if key != "global_step" and isinstance(value, (int, float)) and math.isfinite(value):
                    self._tb.add_scalar(key, value, step)

    def close(self) -> None:
        self._csv.close()
        if self._tb is not None:
            self._tb.close()


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    return value


def read_metrics(run_dir: Path) -> dict[str, list[float]]:
    """Columns of a run's metrics.csv as lists of floats."""
    with open(Path(run_dir) / METRICS_CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    return {key: [float(row[key]) if row[key] not in ("", None) else math.nan for row in rows] for key in rows[0]}


def truncate_metrics(run_dir: Path, last_step: int) -> int:
    """Drop rows of metrics.csv logged after global_step `last_step` (an interrupted run logs
    past its last checkpoint; a resume continues from the checkpoint). Returns rows dropped."""
    path = Path(run_dir) / METRICS_CSV
    if not path.exists():
        return 0
    with open(path, newline="") as f:
        lines = f.read().splitlines(keepends=True)
    if not lines:
        return 0
    header = next(csv.reader([lines[0]]))
    step_column = header.index("global_step")
    kept = [lines[0]] + [line for line in lines[1:] if float(next(csv.reader([line]))[step_column]) <= last_step]
    dropped = len(lines) - len(kept)
    if dropped:
        text = "".join(kept)
        write_atomic(path, lambda f: f.write(text.encode()))
    return dropped
