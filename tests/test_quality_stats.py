"""benchmarks/quality_stats.py: the per-env summary, the three targets and the aggregate."""

import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import scipy.stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import quality_stats  # noqa: E402


def rows(env_id, scores, wall=None):
    return [
        {"env_id": env_id, "seed": seed, "eval_mean": score, "train_wall_s": wall, "machine": "m"}
        for seed, score in enumerate(scores)
    ]


def test_summary_iqm_mean_and_interval():
    scores = [100.0, 1.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0]
    summary = quality_stats.summarize("Hopper-v5", 1_000_000, rows("Hopper-v5", scores, wall=600.0))
    # 10 scores: 2 cut at each end (1, 5 and 12, 100): mean of 6..11 = 8.5; the plain mean 16.9.
    assert float(summary.iqm.point) == pytest.approx(8.5)
    assert float(summary.iqm.point) == pytest.approx(scipy.stats.trim_mean(scores, 0.25))
    assert summary.mean == pytest.approx(16.9)
    assert summary.iqm.lower <= 8.5 <= summary.iqm.upper
    assert quality_stats.wall_time(summary) == "10 min (10–10)"
    assert quality_stats.summarize("Hopper-v5", 1_000_000, []) is None


def test_the_three_targets():
    summary = quality_stats.summarize("Hopper-v5", 1_000_000, rows("Hopper-v5", [3700.0, 3650.0, 3800.0, 1700.0]))
    # IQM of 4 (1 cut at each end): (3650 + 3700) / 2 = 3675 >= 3618; a seed of 1700 < 3618 / 2 = 1809.
    checks = quality_stats.checks(summary, best=3618, sb3_mean=3372)
    assert checks.iqm_at_best is True and checks.no_collapse is False
    assert checks.ci_low_at_sb3 == bool(summary.iqm.lower >= 3372)
    assert quality_stats.checks(summary, best=None, sb3_mean=None) == quality_stats.Checks(None, None, None)
    assert quality_stats.half_target(3618) == 1809 and quality_stats.half_target(-4.5) == -9.0


def test_wall_time_says_what_was_not_recorded_and_shows_short_runs_in_tenths():
    summary = quality_stats.summarize("Ant-v5", 1_000_000, rows("Ant-v5", [1.0, 2.0]))
    assert quality_stats.wall_time(summary) == "not recorded"
    short = quality_stats.summarize("Ant-v5", 1_000_000, rows("Ant-v5", [1.0, 2.0], wall=24.0))
    assert quality_stats.wall_time(short) == "0.4 min (0.4–0.4)"  # 24 s


def test_aggregate_normalises_on_the_common_seeds_and_draws_both_pictures(tmp_path):
    a = quality_stats.summarize("A", 1, rows("A", [10.0, 20.0, 30.0]))
    b = quality_stats.summarize("B", 1, rows("B", [-1.0, -2.0]))
    c = quality_stats.summarize("C", 1, rows("C", [5.0, 5.0, 5.0]))  # no target: left out
    agg = quality_stats.aggregate([a, b, c], {"A": (0.0, 20.0), "B": (-5.0, -1.0)})
    assert agg.env_ids == ["A", "B"] and agg.seeds == [0, 1]
    # A: 10/20, 20/20 = 0.5, 1.0; B: (-1 + 5)/4, (-2 + 5)/4 = 1.0, 0.75
    np.testing.assert_allclose(agg.scores, [[0.5, 1.0], [1.0, 0.75]])
    assert float(agg.iqm.point) == pytest.approx(scipy.stats.trim_mean([0.5, 1.0, 1.0, 0.75], 0.25))
    at_08 = int(np.argmin(abs(quality_stats.TAUS - 0.8)))
    assert agg.profile.point[at_08] == pytest.approx(0.5)  # 1.0, 1.0 of the 4 are above 0.8
    quality_stats.plot_intervals(agg, tmp_path / "iqm.png")
    quality_stats.plot_profile(agg, tmp_path / "profile.png")
    for name in ("iqm.png", "profile.png"):
        image = matplotlib.image.imread(tmp_path / name)
        assert image.shape[0] > 200 and image[..., :3].std() > 0.05
    assert quality_stats.aggregate([a], {"A": (0.0, 20.0)}) is None  # one env: nothing to aggregate
