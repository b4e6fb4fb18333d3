"""benchmarks/iteration_profile.py: the bound on steady speed and the table it prints."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "iteration_profile.py"
spec = importlib.util.spec_from_file_location("iteration_profile", SCRIPT)
iteration_profile = importlib.util.module_from_spec(spec)
spec.loader.exec_module(iteration_profile)


def test_the_bound_is_the_ceiling_over_the_ceiling_plus_the_policy_stage():
    # 100 ms of env steps and 25 ms of policy step before them: at best 100 / 125 of the ceiling.
    assert iteration_profile.bound(100.0, 25.0) == pytest.approx(0.8)
    assert iteration_profile.bound(100.0, 0.0) == 1.0


def test_the_table_has_a_row_per_env_with_the_ratios():
    parts = dict(zip(iteration_profile.COLUMNS, [100.0, 130.0, 12.0, 25.0, 35.0, 140.0, 200.0], strict=True))
    text = iteration_profile.table({"HalfCheetah-v5": {**parts, "batch": 2048}})
    lines = text.splitlines()
    assert lines[0].startswith("| env | batch | ceiling ms |") and lines[0].endswith("| steady / ceiling | bound |")
    assert lines[0].count("|") == lines[1].count("|")
    assert lines[2] == "| HalfCheetah-v5 | 2,048 | 100.0 | 130.0 | 12.0 | 25.0 | 35.0 | 140.0 | 200.0 | 50% | 80% |"
