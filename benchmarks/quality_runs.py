"""docs/results-runs.csv: one row per finished quality run (env, budget, seed, its final
deterministic eval, wall time, trpo commit, machine, config), committed beside docs/results.md so
that a fresh clone can rewrite the report without the run directories (benchmarks/out/ is not
in git).

benchmarks/quality.py copies every finished run's eval_STEPS.json into the file (`sync`) and
builds the report from the file alone. A row is keyed by env, budget, seed, config and
make_kwargs: a run redone with the same preset replaces its row; rows of older presets stay as a
record and are not reported.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

COLUMNS = [
    "env_id",
    "budget",
    "seed",
    "global_step",
    "eval_mean",
    "eval_std",
    "eval_episodes",
    "train_wall_s",
    "trpo_commit",
    "machine",
    "resumed_from",
    "note",
    "config",
    "make_kwargs",
]
"""An empty cell is a value that was not recorded (the rows carried over from the 3-seed table
have no eval std, wall time or commit)."""


def read_csv(path: Path, columns: list[str], what: str) -> list[dict[str, str]]:
    """The rows of a CSV file that must have exactly `columns` ([] when there is no file)."""
    if not Path(path).exists():
        return []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != columns:
            raise ValueError(f"{path} has columns {reader.fieldnames}, expected {columns}{what}")
        return list(reader)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of the file, with numbers and the config parsed; [] when there is no file."""
    return [parse(row) for row in read_csv(path, COLUMNS, ": it is not a runs file")]


def parse(row: dict[str, str]) -> dict[str, Any]:
    def number(key: str, kind: type) -> Any:
        return kind(float(row[key])) if row[key] != "" else None

    return {
        **row,
        "budget": int(row["budget"]),
        "seed": int(row["seed"]),
        "global_step": number("global_step", int),
        "eval_mean": float(row["eval_mean"]),
        "eval_std": number("eval_std", float),
        "eval_episodes": number("eval_episodes", int),
        "train_wall_s": number("train_wall_s", float),
        "resumed_from": number("resumed_from", int),
        "config": json.loads(row["config"]),
        "make_kwargs": json.loads(row["make_kwargs"] or "{}"),
    }


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write the rows sorted by env, budget and seed (stable: a key's rows keep their order)."""
    rows = sorted(rows, key=lambda r: (r["env_id"], r["budget"], r["seed"]))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: cell(row.get(k)) for k in COLUMNS})


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def row_of(record: dict[str, Any]) -> dict[str, Any]:
    """The row of an eval_STEPS.json record written by quality.run_job."""
    return {
        "env_id": record["env_id"],
        "budget": int(record["budget"]),
        "seed": int(record["seed"]),
        "global_step": record.get("global_step"),
        "eval_mean": float(record["eval"]["mean"]),
        "eval_std": record["eval"].get("std"),
        "eval_episodes": record["eval"].get("episodes"),
        "train_wall_s": record.get("train_wall_s"),
        "trpo_commit": record.get("trpo_commit", ""),
        "machine": record.get("machine", ""),
        "resumed_from": record.get("resumed_from"),
        "note": "",
        "config": record["config"],
        "make_kwargs": record.get("make_kwargs", {}),
    }


def key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["env_id"], row["budget"], row["seed"], cell(row["config"]), cell(row["make_kwargs"]))


def upsert(rows: list[dict[str, Any]], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows with `new` in place of the row of its key, or appended."""
    kept = [r for r in rows if key(r) != key(new)]
    return kept + [new] if len(kept) == len(rows) else [new if key(r) == key(new) else r for r in rows]


def sync(out: Path, path: Path) -> list[dict[str, Any]]:
    """Copy every eval_STEPS.json under out/ENV/RUN/ into the runs file; returns all its rows."""
    rows = read_rows(path)
    for record_path in sorted(Path(out).glob("*/*/eval_*.json")):
        rows = upsert(rows, row_of(json.loads(record_path.read_text())))
    write_rows(path, rows)
    return read_rows(path)


def current(
    rows: list[dict[str, Any]], env_id: str, budget: int, seeds: list[int], is_current: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """One row per seed of `seeds` (in that order) made with the env's current preset
    (`is_current(row)`): the last such row in the file."""
    by_seed: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row["env_id"] == env_id and row["budget"] == budget and row["seed"] in seeds and is_current(row):
            by_seed[row["seed"]] = row
    return [by_seed[s] for s in seeds if s in by_seed]


ABLATION_COLUMNS = ["run", "env_id", "seed", "steps", "changes", "eval_mean"]
"""docs/results-ablations.csv: the single-seed `trpo train` runs of benchmarks/out/ablation/,
one row per run directory; `changes` is its config against the env's preset when it was
recorded."""


def read_ablations(path: Path) -> list[dict[str, str]]:
    return read_csv(path, ABLATION_COLUMNS, "")


def merge_ablations(path: Path, new: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The file's rows with `new` ones in place of those of the same run (name), sorted by run;
    written back and returned."""
    rows = {r["run"]: r for r in read_ablations(path)}
    rows.update({r["run"]: {k: cell(r[k]) for k in ABLATION_COLUMNS} for r in new})
    merged = [rows[name] for name in sorted(rows)]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, ABLATION_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(merged)
    return merged
