"""benchmarks/quality_runs.py: the committed runs file the report is built from."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import quality_runs  # noqa: E402

CONFIG = {"max_kl": 0.01, "hidden_sizes": [64, 64], "seed": 0}


def record(env_id="Hopper-v5", seed=0, mean=3000.0, config=CONFIG, budget=1_000_000):
    return {
        "env_id": env_id,
        "seed": seed,
        "budget": budget,
        "global_step": 1_003_520,
        "train_wall_s": 412.5,
        "eval": {"mean": mean, "std": 12.5, "episodes": 10, "returns": [mean] * 10},
        "config": config,
        "make_kwargs": {},
        "resumed_from": None,
        "trpo_commit": "abc1234",
        "machine": "AMD EPYC, 2 CPUs",
    }


def test_rows_round_trip_with_numbers_config_and_unrecorded_cells(tmp_path):
    path = tmp_path / "runs.csv"
    unrecorded = {**quality_runs.row_of(record(seed=1)), "train_wall_s": None, "eval_std": None, "global_step": None}
    quality_runs.write_rows(path, [quality_runs.row_of(record(seed=2)), unrecorded])
    rows = quality_runs.read_rows(path)
    assert [r["seed"] for r in rows] == [1, 2]  # sorted by env, budget, seed
    assert rows[1]["eval_mean"] == 3000.0 and rows[1]["eval_std"] == 12.5 and rows[1]["train_wall_s"] == 412.5
    assert rows[1]["global_step"] == 1_003_520 and rows[1]["budget"] == 1_000_000
    assert rows[1]["config"] == CONFIG and rows[1]["make_kwargs"] == {}
    assert rows[1]["trpo_commit"] == "abc1234" and rows[1]["machine"] == "AMD EPYC, 2 CPUs"
    assert rows[0]["train_wall_s"] is None and rows[0]["eval_std"] is None and rows[0]["global_step"] is None


def test_a_rerun_of_the_same_preset_replaces_its_row_and_another_preset_adds_one():
    rows = [quality_runs.row_of(record(mean=3000.0))]
    rows = quality_runs.upsert(rows, quality_runs.row_of(record(mean=3100.0)))
    assert [r["eval_mean"] for r in rows] == [3100.0]
    rows = quality_runs.upsert(rows, quality_runs.row_of(record(mean=2000.0, config={**CONFIG, "max_kl": 0.02})))
    assert [r["eval_mean"] for r in rows] == [3100.0, 2000.0]


def test_sync_copies_eval_records_of_run_directories_and_keeps_rows_without_one(tmp_path):
    path = tmp_path / "docs" / "runs.csv"
    kept = {**quality_runs.row_of(record(env_id="Ant-v5", mean=5000.0)), "note": "from an earlier table"}
    quality_runs.write_rows(path, [kept])
    run = tmp_path / "out" / "Hopper-v5" / "seed3"
    run.mkdir(parents=True)
    (run / "eval_1000000.json").write_text(json.dumps(record(seed=3, mean=3333.0)))
    rows = quality_runs.sync(tmp_path / "out", path)
    assert [(r["env_id"], r["seed"], r["eval_mean"], r["note"]) for r in rows] == [
        ("Ant-v5", 0, 5000.0, "from an earlier table"),
        ("Hopper-v5", 3, 3333.0, ""),
    ]
    assert quality_runs.sync(tmp_path / "out", path) == rows  # idempotent


def test_current_takes_one_row_per_seed_of_the_current_preset_in_seed_order():
    old = quality_runs.row_of(record(seed=0, mean=1.0, config={**CONFIG, "max_kl": 0.5}))
    rows = [quality_runs.row_of(record(seed=s, mean=float(s))) for s in (2, 0, 1)] + [old]
    found = quality_runs.current(rows, "Hopper-v5", 1_000_000, [0, 2], lambda r: r["config"]["max_kl"] == 0.01)
    assert [(r["seed"], r["eval_mean"]) for r in found] == [(0, 0.0), (2, 2.0)]
    assert quality_runs.current(rows, "Hopper-v5", 2_000_000, [0], lambda r: True) == []


def test_a_file_of_other_columns_is_refused(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("env,seed\nHopper-v5,0\n")
    with pytest.raises(ValueError, match="not a runs file"):
        quality_runs.read_rows(path)


def test_ablations_merge_by_run_name(tmp_path):
    path = tmp_path / "ablations.csv"
    row = {"run": "b", "env_id": "Hopper-v5", "seed": 0, "steps": 1000, "changes": "`max_kl=0.02`", "eval_mean": "1.0"}
    quality_runs.merge_ablations(path, [row])
    merged = quality_runs.merge_ablations(path, [{**row, "run": "a"}, {**row, "eval_mean": "2.0"}])
    assert [(r["run"], r["eval_mean"]) for r in merged] == [("a", "1.0"), ("b", "2.0")]
    assert quality_runs.read_ablations(path) == merged
