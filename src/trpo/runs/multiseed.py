"""`trpo train ENV_ID --seeds 0,1,2`: one run per seed under a parent folder, in parallel.

Each seed trains in its own process (spawned, not forked: JAX is not fork-safe), up to the
number of CPU cores at once, into parent/seed{S}/ — an ordinary run directory that `trpo eval`,
`trpo plot` and `trpo train --resume` accept. The parent's summary.json holds every seed's
summary and the mean +- std over seeds of the final evaluation.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from trpo.config import ConfigError, TRPOConfig
from trpo.runs.run import SUMMARY_JSON, RunDirError, RunOptions, holds_run, prepare_run_dir, train, write_json
from trpo.training.logger import METRICS_CSV


def parse_seeds(text: str) -> list[int]:
    """'0,1,2' -> [0, 1, 2]; also ranges like '0-4'."""
    seeds: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise ConfigError(f"--seeds {text!r} is invalid: give integers >= 0 separated by commas, e.g. 0,1,2 or 0-4")
        first, last = int(match[1]), int(match[2] or match[1])
        seeds.extend(range(first, last + 1))
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r} is invalid: give distinct seeds, e.g. 0,1,2")
    return seeds


def default_parent_dir(env_id: str, seeds: list[int], root: Path = Path("runs")) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", env_id)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return root / f"{safe}__seeds{seeds[0]}-{seeds[-1]}__{stamp}"


def seed_dir(parent: Path, seed: int) -> Path:
    return Path(parent) / f"seed{seed}"


def aggregate(env_id: str, summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-seed summaries and the mean +- std (population) over seeds of their eval means."""
    means = np.array([s["eval"]["mean"] for s in summaries], np.float64)
    return {
        "env_id": env_id,
        "seeds": [s["seed"] for s in summaries],
        "total_steps": summaries[0]["total_steps"],
        "eval": {
            "mean": float(means.mean()),
            "std": float(means.std()),
            "per_seed": {str(s["seed"]): s["eval"]["mean"] for s in summaries},
        },
        "runs": summaries,
    }


def train_seeds(
    env_id: str,
    config: TRPOConfig,
    seeds: list[int],
    options: RunOptions,
    parallel: int = 0,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train one run per seed in parallel processes and write the parent's summary.json."""
    parent = Path(options.run_dir) if options.run_dir else default_parent_dir(env_id, seeds)
    if not overwrite and any(holds_run(seed_dir(parent, s)) for s in seeds):
        raise RunDirError(f"{parent} already holds runs of these seeds; pass --overwrite or choose another --run-dir")
    parent.mkdir(parents=True, exist_ok=True)
    workers = min(len(seeds), parallel if parallel > 0 else os.cpu_count() or 1)
    jobs = {
        s: (config.replace(seed=s), dataclasses.replace(options, run_dir=seed_dir(parent, s), quiet=True))
        for s in seeds
    }
    summaries: dict[int, dict[str, Any]] = {}
    with _SeedProgress(seeds, options.total_steps, parent, enabled=not options.quiet) as progress:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            futures: dict[Future, int] = {
                pool.submit(_train_one, env_id, cfg, opts, overwrite): s for s, (cfg, opts) in jobs.items()
            }
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    summaries[futures[future]] = future.result()
                progress.poll()
    result = aggregate(env_id, [summaries[s] for s in seeds])
    result["run_dir"] = str(parent)
    write_json(parent / SUMMARY_JSON, result)
    return result


def _train_one(env_id: str, config: TRPOConfig, options: RunOptions, overwrite: bool) -> dict[str, Any]:
    prepare_run_dir(options.run_dir, overwrite)
    return train(env_id, config, options)


class _SeedProgress:
    """One bar per seed, read from each run's metrics.csv (the workers print nothing)."""

    def __init__(self, seeds: list[int], total_steps: int, parent: Path, enabled: bool):
        self.paths = {s: seed_dir(parent, s) / METRICS_CSV for s in seeds}
        self.total = total_steps
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("seed {task.fields[seed]}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
            TextColumn("return {task.fields[ret]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self.tasks = {s: self.progress.add_task("", total=total_steps, seed=s, ret="-") for s in seeds}
        self._last_poll = 0.0

    def __enter__(self) -> _SeedProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.poll(force=True)
        self.progress.stop()

    def poll(self, force: bool = False) -> None:
        if not self.enabled or (not force and time.monotonic() - self._last_poll < 1.0):
            return
        self._last_poll = time.monotonic()
        for seed, path in self.paths.items():
            row = _last_row(path)
            if row:
                ret = row.get("rollout/ep_return_mean", "")
                shown = "-" if ret in ("", "nan") else f"{float(ret):,.1f}"
                self.progress.update(self.tasks[seed], completed=min(float(row["global_step"]), self.total), ret=shown)


def _last_row(path: Path) -> dict[str, str] | None:
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (FileNotFoundError, csv.Error):
        return None
    return rows[-1] if rows else None
