"""benchmarks/same_metrics.py: the restructuring's check that a seed writes the same numbers."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "same_metrics.py"
spec = importlib.util.spec_from_file_location("same_metrics", SCRIPT)
same_metrics = importlib.util.module_from_spec(spec)
spec.loader.exec_module(same_metrics)

HEADER = "global_step,time/sps,train/kl\n"


def run_dir(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "metrics.csv").write_text(text)
    return folder


def test_runs_that_differ_only_in_timings_are_the_same(tmp_path, capsys):
    a = run_dir(tmp_path, "a", HEADER + "64,100.5,0.01\n128,99.0,0.02\n")
    b = run_dir(tmp_path, "b", HEADER + "64,3.25,0.01\n128,7.0,0.02\n")
    assert same_metrics.main([str(a), str(b)]) == 0
    assert "2 rows" in capsys.readouterr().out


def test_the_first_differing_value_is_named(tmp_path, capsys):
    a = run_dir(tmp_path, "a", HEADER + "64,1,0.01\n128,1,0.02\n")
    b = run_dir(tmp_path, "b", HEADER + "64,1,0.01\n128,1,0.020000001\n")
    assert same_metrics.main([str(a), str(b)]) == 1
    assert "row 2 (global_step 128), column train/kl: 0.02 vs 0.020000001" in capsys.readouterr().out


@pytest.mark.parametrize(
    "other, expected",
    [
        ("global_step,time/sps,train/kl,train/extra\n64,1,0.01,0\n", "only in"),
        (HEADER + "64,1,0.01\n128,1,0.02\n", "1 rows in"),
    ],
)
def test_other_columns_or_rows_differ(tmp_path, capsys, other, expected):
    a = run_dir(tmp_path, "a", HEADER + "64,1,0.01\n")
    b = run_dir(tmp_path, "b", other)
    assert same_metrics.main([str(a), str(b)]) == 1
    assert expected in capsys.readouterr().out
