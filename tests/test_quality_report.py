"""benchmarks/quality.py: the job plan, resumability by config, and the results table."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))  # quality.py imports quality_runs and quality_stats beside it
spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
quality = importlib.util.module_from_spec(spec)
sys.modules["quality"] = quality  # dataclasses look their module up there
spec.loader.exec_module(quality)
import quality_runs  # noqa: E402


def write_eval(out, env_id, seed, steps, mean, config):
    run_dir = out / env_id / f"seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    record = {"env_id": env_id, "seed": seed, "budget": steps, "eval": {"mean": mean}, "config": config}
    quality.eval_path(run_dir, steps).write_text(json.dumps(record))


def test_plan_runs_cheap_envs_seed_by_seed_then_humanoid_then_2m(tmp_path, monkeypatch):
    monkeypatch.setattr(quality, "continues", lambda env_id, preset="auto": True)
    jobs = quality.plan_jobs(["Hopper-v5", "Humanoid-v5", "Swimmer-v5"], [0, 1], tmp_path, 10)
    assert [(j.env_id, j.seed, j.budgets) for j in jobs] == [
        ("Swimmer-v5", 0, (1_000_000,)),
        ("Hopper-v5", 0, (1_000_000,)),
        ("Swimmer-v5", 1, (1_000_000,)),
        ("Hopper-v5", 1, (1_000_000,)),
        ("Humanoid-v5", 0, (1_000_000,)),
        ("Humanoid-v5", 1, (1_000_000,)),
        ("Humanoid-v5", 0, (1_000_000, 2_000_000)),
        ("Humanoid-v5", 1, (1_000_000, 2_000_000)),
    ]


def test_a_2m_run_with_a_decayed_learning_rate_is_trained_from_scratch_in_its_own_directory(tmp_path, monkeypatch):
    # critic_lr_decay ties the schedule to the budget: the 2M run cannot continue the 1M agent.
    monkeypatch.setattr(quality, "continues", lambda env_id, preset="auto": env_id != "Humanoid-v5")
    jobs = quality.plan_jobs(["Hopper-v5", "Humanoid-v5"], [0], tmp_path, 10)
    assert [(j.env_id, j.budgets, j.run_dir.relative_to(tmp_path)) for j in jobs] == [
        ("Hopper-v5", (1_000_000,), Path("Hopper-v5/seed0")),
        ("Humanoid-v5", (1_000_000,), Path("Humanoid-v5/seed0")),
        ("Humanoid-v5", (2_000_000,), Path("Humanoid-v5/seed0_2000000")),
    ]
    # Separate directories: all three can train at once.
    assert len(quality.job_phases(jobs)) == 1
    # The table reads each budget from its own directory.
    config = quality.run_config("Humanoid-v5", 0)
    write_eval(tmp_path, "Humanoid-v5", 0, 1_000_000, 700.0, config)
    run = tmp_path / "Humanoid-v5" / "seed0_2000000"
    run.mkdir()
    record = {"env_id": "Humanoid-v5", "seed": 0, "budget": 2_000_000, "eval": {"mean": 900.0}, "config": config}
    quality.eval_path(run, 2_000_000).write_text(json.dumps(record))
    rows = quality_runs.sync(tmp_path, tmp_path / "runs.csv")
    table, _ = quality.results_table(["Humanoid-v5"], [0], rows)
    assert "**700.0 [700.0, 700.0]**" in table and "**900.0 [900.0, 900.0]**" in table


def test_jobs_of_one_run_directory_never_share_a_phase(tmp_path, monkeypatch):
    # Parallel workers run a phase at once: Humanoid seed 0's 2M job must wait for its 1M job.
    monkeypatch.setattr(quality, "continues", lambda env_id, preset="auto": True)
    jobs = quality.plan_jobs(["Hopper-v5", "Humanoid-v5"], [0, 1], tmp_path, 10)
    phases = quality.job_phases(jobs)
    assert [[(j.env_id, j.seed, j.budgets[-1]) for j in phase] for phase in phases] == [
        [("Hopper-v5", 0, 1_000_000), ("Hopper-v5", 1, 1_000_000), ("Humanoid-v5", 0, 1_000_000),
         ("Humanoid-v5", 1, 1_000_000)],
        [("Humanoid-v5", 0, 2_000_000), ("Humanoid-v5", 1, 2_000_000)],
    ]  # fmt: skip


def test_a_finished_budget_counts_only_for_the_same_config(tmp_path, monkeypatch):
    config = quality.run_config("Hopper-v5", 0)
    job = quality.Job("Hopper-v5", 0, (1000,), tmp_path / "Hopper-v5" / "seed0", 10)
    write_eval(tmp_path, "Hopper-v5", 0, 1000, 1.0, config)
    assert quality.is_done(job, 1000)
    assert not quality.is_done(job, 2000)
    # A field the saved run did not know yet does not invalidate it...
    write_eval(tmp_path, "Hopper-v5", 0, 1000, 1.0, {k: v for k, v in config.items() if k != "value_clip"})
    assert quality.is_done(job, 1000)
    # ...a changed value does.
    write_eval(tmp_path, "Hopper-v5", 0, 1000, 1.0, {**config, "max_kl": 0.5})
    assert not quality.is_done(job, 1000)
    # So does a new field that the preset now sets away from its default (the run had the default).
    write_eval(tmp_path, "Hopper-v5", 0, 1000, 1.0, {k: v for k, v in config.items() if k != "train_time_limit"})
    assert quality.is_done(job, 1000)
    monkeypatch.setattr(quality, "run_config", lambda env_id, seed, preset="auto": {**config, "train_time_limit": 200})
    assert not quality.is_done(job, 1000)


def test_a_finished_budget_counts_only_for_the_same_make_kwargs(tmp_path, monkeypatch):
    config = quality.run_config("Hopper-v5", 0)
    job = quality.Job("Hopper-v5", 0, (1000,), tmp_path / "Hopper-v5" / "seed0", 10)
    write_eval(tmp_path, "Hopper-v5", 0, 1000, 1.0, config)  # a record without make_kwargs: made with none
    assert quality.is_done(job, 1000)
    monkeypatch.setattr(quality, "run_make_kwargs", lambda env_id, preset="auto": {"terminate_when_unhealthy": False})
    assert not quality.is_done(job, 1000)
    record = json.loads(quality.eval_path(job.run_dir, 1000).read_text())
    record["make_kwargs"] = {"terminate_when_unhealthy": False}
    quality.eval_path(job.run_dir, 1000).write_text(json.dumps(record))
    assert quality.is_done(job, 1000)


def test_the_preset_make_kwargs_are_read_apart_from_the_config():
    # Ant-v5's preset leaves the contact forces out of the observation (docs/results.md).
    assert quality.run_make_kwargs("Ant-v5") == {"include_cfrc_ext_in_observation": False}
    assert "make_kwargs" not in quality.run_config("Ant-v5", 0)
    assert quality.run_make_kwargs("Hopper-v5") == {}


def test_table_gives_mean_and_population_std_over_seeds_and_the_target(tmp_path):
    # Hopper means 3000, 3600, 3900: mean (and IQM of 3: nothing cut) 3500, std
    # sqrt((500^2 + 100^2 + 400^2) / 3) = 374.2; below the target 3618.
    for seed, mean in enumerate([3000.0, 3600.0, 3900.0]):
        write_eval(tmp_path, "Hopper-v5", seed, 1_000_000, mean, quality.run_config("Hopper-v5", seed))
    rows = quality_runs.sync(tmp_path, tmp_path / "runs.csv")
    table, lines = quality.results_table(["Hopper-v5", "Reacher-v5"], [0, 1, 2], rows)
    hopper = next(row for row in table.splitlines() if row.startswith("| Hopper-v5"))
    assert "| 3 | **3500.0 [" in hopper
    assert "| 3500.0 ± 374.2 | 0: 3000.0, 1: 3600.0, 2: 3900.0 | 3618 | **no** |" in hopper
    reacher = next(row for row in table.splitlines() if row.startswith("| Reacher-v5"))
    assert "0 of 3 | not run" in reacher
    assert len(lines) == 1 and lines[0].startswith("- Hopper-v5: IQM 3500.0 [") and "IQM ≥ 3618: **no**" in lines[0]


def test_a_run_of_an_older_preset_is_not_reported(tmp_path):
    config = quality.run_config("Hopper-v5", 0)
    write_eval(tmp_path, "Hopper-v5", 0, 1_000_000, 3000.0, config)
    write_eval(tmp_path, "Hopper-v5", 1, 1_000_000, 9999.0, {**quality.run_config("Hopper-v5", 1), "max_kl": 0.5})
    rows = quality_runs.sync(tmp_path, tmp_path / "runs.csv")
    assert len(rows) == 2  # the runs file keeps both...
    _, lines = quality.results_table(["Hopper-v5"], [0, 1], rows)
    # ...the report only the current preset's.
    assert lines == [
        "- Hopper-v5: IQM 3000.0 [3000.0, 3000.0] (1 of the 2 seeds asked for): IQM ≥ 3618: **no**;"
        " CI low ≥ sb3-contrib's 3372: **no**; no seed below 1809: yes"
    ]


def test_the_notes_under_the_table_count_only_the_runs_in_it(tmp_path):
    # Seed 0: the current preset, noted; seed 1: a trial of another setting, noted; seed 5: the
    # current preset, beyond the seeds asked for. Only seed 0's note is the table's.
    write_eval(tmp_path, "Hopper-v5", 0, 1_000_000, 3000.0, quality.run_config("Hopper-v5", 0))
    write_eval(tmp_path, "Hopper-v5", 1, 1_000_000, 9999.0, {**quality.run_config("Hopper-v5", 1), "max_kl": 0.5})
    write_eval(tmp_path, "Hopper-v5", 5, 1_000_000, 3100.0, quality.run_config("Hopper-v5", 5))
    rows = quality_runs.sync(tmp_path, tmp_path / "runs.csv")
    notes = {0: "copied from an old table", 1: "trial: max_kl 0.5", 5: "an extra seed"}
    rows = [{**row, "note": notes[row["seed"]]} for row in rows]
    table, _ = quality.results_table(["Hopper-v5"], [0, 1], rows)
    assert "1 of the runs in the table: copied from an old table." in table
    assert "max_kl 0.5" not in table and "an extra seed" not in table


def test_eval_episodes_below_ten_are_refused():
    with pytest.raises(SystemExit):
        quality.main(["--eval-episodes", "5", "--report-only"])


def steps_logged(run_dir):
    lines = (run_dir / "metrics.csv").read_text().splitlines()[1:]
    return [int(float(line.split(",", 1)[0])) for line in lines]


@pytest.fixture
def cut_off_run(tmp_path, monkeypatch):
    """A CartPole job (1024 steps an iteration) of 4 iterations, killed in its third: what a
    machine restart leaves behind (checkpoints of iterations 1 and 2, their metrics rows)."""
    import trpo.training.logger

    monkeypatch.setattr(quality, "CHECKPOINT_EVERY", 1)
    job = quality.Job("CartPole-v1", 0, (4096,), tmp_path / "CartPole-v1" / "seed0", 10)
    write = trpo.training.logger.Logger.write
    calls = []

    def killed_in_third_iteration(self, metrics):
        calls.append(metrics)
        if len(calls) == 3:
            raise KeyboardInterrupt
        write(self, metrics)

    with monkeypatch.context() as patch:
        patch.setattr(trpo.training.logger.Logger, "write", killed_in_third_iteration)
        with pytest.raises(KeyboardInterrupt):
            quality.run_job(job)
    assert not quality.eval_path(job.run_dir, 4096).exists()
    assert steps_logged(job.run_dir) == [1024, 2048]
    return job


def test_a_run_cut_off_continues_from_its_latest_checkpoint(cut_off_run):
    job = cut_off_run
    quality.run_job(job)
    record = json.loads(quality.eval_path(job.run_dir, 4096).read_text())
    assert record["resumed_from"] == 2048 and record["global_step"] == 4096
    assert steps_logged(job.run_dir) == [1024, 2048, 3072, 4096]


def test_a_cut_off_run_of_another_config_or_budget_starts_again(cut_off_run, monkeypatch):
    job = cut_off_run
    changed = {**quality.run_config("CartPole-v1", 0), "max_kl": 0.02}
    with monkeypatch.context() as patch:
        patch.setattr(quality, "run_config", lambda env_id, seed, preset="auto": changed)
        assert quality.interrupted_step(job, changed, {}, [4096]) is None
    assert quality.interrupted_step(job, quality.run_config("CartPole-v1", 0), {}, [4096]) == 2048
    # With the critic's learning-rate decay (continues() False), a checkpoint aimed at another
    # budget is of another run: its schedule was for 4096 steps.
    monkeypatch.setattr(quality, "continues", lambda env_id, preset="auto": False)
    assert quality.interrupted_step(job, quality.run_config("CartPole-v1", 0), {}, [3072]) is None
    shorter = quality.Job(job.env_id, job.seed, (3072,), job.run_dir, 10)
    quality.run_job(shorter)
    record = json.loads(quality.eval_path(job.run_dir, 3072).read_text())
    assert record["resumed_from"] is None
    assert steps_logged(job.run_dir) == [1024, 2048, 3072]


def test_humanoid_trains_2m_on_the_first_five_seeds_only(tmp_path):
    jobs = quality.plan_jobs(["Humanoid-v5"], list(range(10)), tmp_path, 10)
    assert [j.seed for j in jobs if j.budgets == (1_000_000,)] == list(range(10))
    assert [j.seed for j in jobs if j.budgets[-1] == 2_000_000] == [0, 1, 2, 3, 4]


def test_the_report_is_rewritten_from_the_runs_file_alone(tmp_path):
    # A fresh clone: no run directories, only the committed runs file beside the report.
    results, images = tmp_path / "docs" / "results.md", tmp_path / "docs" / "img"
    hopper = [3500.0 + 20 * s for s in range(10)]  # IQM = mean of 3540..3640 = 3590 < 3618
    walker = [5000.0, 5100.0, 5200.0]
    rows = [
        {
            **quality_runs.row_of(
                {
                    "env_id": env_id,
                    "seed": seed,
                    "budget": 1_000_000,
                    "eval": {"mean": score},
                    "config": quality.run_config(env_id, seed),
                    "make_kwargs": quality.run_make_kwargs(env_id),
                    "train_wall_s": 600.0,
                }
            ),
            "machine": "test machine",
        }
        for env_id, scores in (("Hopper-v5", hopper), ("Walker2d-v5", walker))
        for seed, score in enumerate(scores)
    ]
    runs_file = tmp_path / "docs" / "results-runs.csv"
    quality_runs.write_rows(runs_file, rows)
    # A run directory under --out (a trial's, say) is not copied into the runs file.
    write_eval(tmp_path / "out", "Walker2d-v5", 3, 1_000_000, 10.0, quality.run_config("Walker2d-v5", 3))
    written = runs_file.read_text()
    argv = ["--report-only", "--envs", "Hopper-v5", "Walker2d-v5", "--out", str(tmp_path / "out")]
    assert quality.main([*argv, "--results", str(results), "--images", str(images)]) == 0
    assert runs_file.read_text() == written
    text = results.read_text()
    assert "with 7 of the runs it asks for not yet recorded" in text  # Walker2d: 3 of 10
    hopper_row = next(line for line in text.splitlines() if line.startswith("| Hopper-v5 | 1M"))
    assert "| 10 | **3590.0 [" in hopper_row and "| 3618 | **no** |" in hopper_row
    assert "| 10 min (10–10) |" in hopper_row
    walker_row = next(line for line in text.splitlines() if line.startswith("| Walker2d-v5 | 1M"))
    assert "| 3 of 10 | **5100.0 [" in walker_row and "0: 5000.0, 1: 5100.0, 2: 5200.0" in walker_row
    assert "on test machine" in text and "aggregate IQM" in text
    assert (images / "aggregate-iqm.png").exists() and (images / "performance-profile.png").exists()
    # Written again from the same file: the same page (the bootstrap is seeded).
    before = text
    assert quality.main([*argv, "--results", str(results), "--images", str(images)]) == 0
    assert results.read_text() == before
