"""benchmarks/defaults.py: the family suite's report from synthetic run results (no training)."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
spec = importlib.util.spec_from_file_location("defaults", ROOT / "benchmarks" / "defaults.py")
defaults = importlib.util.module_from_spec(spec)
sys.modules["defaults"] = defaults  # dataclasses look their module up there
spec.loader.exec_module(defaults)
quality = defaults.quality

TUNED_RUNS = {
    ("Hopper-v5", 1_000_000): [3418.2, 3292.3, 3607.6],
    ("Reacher-v5", 1_000_000): [-4.0, -3.9, -4.1],
    ("Humanoid-v5", 2_000_000): [1216.0],
}
"""the tuned presets' runs as docs/results-runs.csv records them (Humanoid's only at 2M)"""


def write_tuned_runs(path, runs=TUNED_RUNS, config_of=None):
    config_of = config_of or quality.run_config
    records = [
        {
            "env_id": env_id,
            "seed": seed,
            "budget": budget,
            "eval": {"mean": score},
            "config": config_of(env_id, seed),
            "make_kwargs": quality.run_make_kwargs(env_id),
        }
        for (env_id, budget), scores in runs.items()
        for seed, score in enumerate(scores)
    ]
    defaults.quality_runs.write_rows(path, [defaults.quality_runs.row_of(r) for r in records])


def write_eval(out, env_id, seed, mean, config=None):
    """An eval record as quality.run_job writes it, made with the env's family (or `config`)."""
    steps = defaults.SUITE[env_id]
    run_dir = out / env_id / f"seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    config = quality.run_config(env_id, seed, defaults.PRESET) if config is None else config
    record = {"env_id": env_id, "seed": seed, "budget": steps, "eval": {"mean": mean}, "config": config}
    quality.eval_path(run_dir, steps).write_text(json.dumps(record))


def row(table, env_id):
    return next(line for line in table.splitlines() if line.startswith(f"| {env_id} |"))


def test_tuned_numbers_are_the_1m_runs_of_the_current_presets_in_the_runs_file(tmp_path):
    path = tmp_path / "results-runs.csv"
    write_tuned_runs(path)
    tuned = defaults.tuned_results(path)
    assert set(tuned) == {"Hopper-v5", "Reacher-v5"}
    hopper = [3418.2, 3292.3, 3607.6]
    assert tuned["Hopper-v5"] == pytest.approx((np.mean(hopper), np.std(hopper), 3))
    assert tuned["Reacher-v5"] == pytest.approx((-4.0, np.std([-4.0, -3.9, -4.1]), 3))
    assert defaults.tuned_results(tmp_path / "missing.csv") == {}
    # Runs of an older preset are not the tuned preset's numbers.
    stale = tmp_path / "stale.csv"
    write_tuned_runs(stale, config_of=lambda env_id, seed: {**quality.run_config(env_id, seed), "max_kl": 0.5})
    assert defaults.tuned_results(stale) == {}


def test_targets_zoo_for_classic_control_else_the_higher_of_80_percent_and_sb3():
    tuned = {"Hopper-v5": (3439.5, 129.5, 3), "Reacher-v5": (-4.0, 0.1, 3), "Swimmer-v5": (360.0, 1.0, 3)}
    assert defaults.target("Acrobot-v1", tuned) == (-83.1, "zoo")
    # Hopper: 0.8 * 3439.5 = 2751.6 < sb3-contrib's 3372.
    assert defaults.target("Hopper-v5", tuned) == (3372.0, "sb3-contrib")
    # Swimmer: 0.8 * 360 = 288 < 359.
    assert defaults.target("Swimmer-v5", tuned) == (359.0, "sb3-contrib")
    # Reacher has no sb3-contrib figure; 80% of a negative return is 1.2 times it: -4.8.
    goal, source = defaults.target("Reacher-v5", tuned)
    assert abs(goal - -4.8) < 1e-9 and source == "80% of tuned"
    assert defaults.target("Humanoid-v5", {}) == (None, "–")


def test_table_gives_mean_and_std_per_seed_and_says_what_is_pending(tmp_path):
    # Acrobot -80, -90, -100: mean -90, std sqrt((10^2 + 0 + 10^2) / 3) = 8.165 -> 8.2; target -83.1: no.
    for seed, mean in enumerate([-80.0, -90.0, -100.0]):
        write_eval(tmp_path, "Acrobot-v1", seed, mean)
    # Hopper: one seed of three, 3500 >= 3372: met so far.
    write_eval(tmp_path, "Hopper-v5", 0, 3500.0)
    # A run made with other values than the family's is stale: not reported.
    stale = {**quality.run_config("CartPole-v1", 0, defaults.PRESET), "max_kl": 0.5}
    write_eval(tmp_path, "CartPole-v1", 0, 500.0, stale)
    tuned = {"Hopper-v5": (3439.5, 129.5, 3)}
    envs = ["Acrobot-v1", "Hopper-v5", "CartPole-v1"]
    table, lines = defaults.results_table(envs, [0, 1, 2], tmp_path, tuned)
    acrobot = row(table, "Acrobot-v1")
    assert "| family:discrete | 100k |" in acrobot
    assert "**-90.0 ± 8.2** (-80.0 (seed 0), -90.0 (seed 1), -100.0 (seed 2))" in acrobot
    assert "zoo -83.1 ± 18.6" in acrobot and "| -83.1 (zoo) | no |" in acrobot
    hopper = row(table, "Hopper-v5")
    assert "| family:continuous | 1M |" in hopper and "2 of 3 seeds pending" in hopper
    assert "3439.5 ± 129.5 (3 seeds)" in hopper and "sb3-contrib 3372 ± 215" in hopper
    assert "| 3372 (sb3-contrib) | yes (partial) |" in hopper
    assert "pending (not run yet)" in row(table, "CartPole-v1")
    assert lines == [
        "- Acrobot-v1: -90.0 ± 8.2 over 3 of 3 seeds vs target -83.1 (zoo): no",
        "- Hopper-v5: 3500.0 ± 0.0 over 1 of 3 seeds vs target 3372 (sb3-contrib): yes (partial)",
        "- CartPole-v1: pending (not run yet)",
    ]


def write_sweep_run(sweep, candidate, env_id, seed, mean, config):
    run = sweep / candidate / env_id / f"seed{seed}"
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"env_id": env_id, "seed": seed, "eval": {"mean": mean}}))
    config = {**config, "seed": seed}
    (run / "config.yaml").write_text(yaml.safe_dump({"env_id": env_id, "config": config}, sort_keys=False))


def test_the_report_lists_the_candidates_and_the_families(tmp_path):
    from trpo.config import TRPOConfig

    base = TRPOConfig().to_dict()
    sweep = tmp_path / "sweep"
    write_sweep_run(sweep, "base", "Pendulum-v1", 0, -600.0, base)
    write_sweep_run(sweep, "base", "Pendulum-v1", 1, -800.0, base)
    write_sweep_run(sweep, "zoo", "Pendulum-v1", 0, -150.0, {**base, "num_envs": 2, "normalize_rewards": True})
    write_sweep_run(sweep, "zoo", "Hopper-v5", 0, 2000.0, {**base, "num_envs": 2, "normalize_rewards": True})
    table = defaults.sweep_table(sweep)
    assert table.splitlines()[0] == "| candidate | settings (vs the TRPOConfig defaults) | Pendulum-v1 | Hopper-v5 |"
    assert "| base | defaults | -700.0 (-600.0, -800.0) | – |" in table
    assert "| zoo | `num_envs=2, normalize_rewards=True` | -150.0 (-150.0) | 2000.0 (2000.0) |" in table
    assert defaults.sweep_table(tmp_path / "none") == ""

    write_eval(tmp_path / "out", "Acrobot-v1", 0, -85.0)
    results = tmp_path / "results-defaults.md"
    tuned = tmp_path / "results-runs.csv"
    write_tuned_runs(tuned)
    defaults.write_results(["Acrobot-v1", "Hopper-v5"], [0], tmp_path / "out", results, sweep, "make defaults", tuned)
    text = results.read_text()
    assert "Generated by `make defaults`" in text
    assert "- Acrobot-v1: -85.0 ± 0.0 over 1 of 1 seeds vs target -83.1 (zoo): no" in text
    assert "- Hopper-v5: pending (not run yet)" in text
    assert (
        "- `family:discrete` (src/trpo/runs/presets/families/discrete.yaml): `num_envs=2, n_steps=1024, "
        "cg_iters=25, critic_epochs=20, critic_minibatch=128, normalize_rewards=True`" in text
    )
    assert "| zoo | `num_envs=2, normalize_rewards=True` |" in text


def test_jobs_run_seed_by_seed_classic_control_first_and_humanoid_last(tmp_path):
    envs = ["CartPole-v1", "Humanoid-v5", "Hopper-v5"]
    jobs = defaults.plan_jobs(envs, [0, 1], tmp_path)
    assert [(j.env_id, j.seed, j.budgets) for j in jobs] == [
        ("CartPole-v1", 0, (100_000,)),
        ("Hopper-v5", 0, (1_000_000,)),
        ("CartPole-v1", 1, (100_000,)),
        ("Hopper-v5", 1, (1_000_000,)),
        ("Humanoid-v5", 0, (1_000_000,)),
        ("Humanoid-v5", 1, (1_000_000,)),
    ]
    assert all(j.preset == "family" and j.run_dir == tmp_path / j.env_id / f"seed{j.seed}" for j in jobs)
