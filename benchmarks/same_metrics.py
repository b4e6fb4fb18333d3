"""Do two runs write the same metrics.csv? Compares every column but the wall-clock ones.

    python benchmarks/same_metrics.py RUN_DIR_A RUN_DIR_B

Exits 0 when both files hold the same columns (time/* aside) with bit-identical values in
every row, else 1, printing the first differing row and column. Used to check that a
restructuring leaves training unchanged: the same seed must write the same numbers.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

IGNORED_PREFIX = "time/"
"""wall-clock measurements differ between any two runs"""


def read_rows(run_dir: Path) -> tuple[list[str], list[dict[str, str]]]:
    path = Path(run_dir) / "metrics.csv"
    if not path.is_file():
        raise SystemExit(f"{path} does not exist: give run directories written by `trpo train`")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = [c for c in reader.fieldnames or [] if not c.startswith(IGNORED_PREFIX)]
    return columns, rows


def first_difference(a: Path, b: Path) -> str | None:
    """None when the runs' metrics agree, else a sentence naming the first difference."""
    columns_a, rows_a = read_rows(a)
    columns_b, rows_b = read_rows(b)
    if columns_a != columns_b:
        only_a = sorted(set(columns_a) - set(columns_b))
        only_b = sorted(set(columns_b) - set(columns_a))
        return f"columns differ: only in {a}: {only_a}; only in {b}: {only_b}; order: {columns_a} vs {columns_b}"
    for index, (row_a, row_b) in enumerate(zip(rows_a, rows_b, strict=False)):
        for column in columns_a:
            if row_a[column] != row_b[column]:
                step = row_a.get("global_step", "?")
                return f"row {index + 1} (global_step {step}), column {column}: {row_a[column]} vs {row_b[column]}"
    if len(rows_a) != len(rows_b):
        return f"{len(rows_a)} rows in {a}, {len(rows_b)} in {b} (the first {min(len(rows_a), len(rows_b))} agree)"
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    difference = first_difference(Path(argv[0]), Path(argv[1]))
    if difference is None:
        rows = len(read_rows(Path(argv[0]))[1])
        print(f"same metrics: {rows} rows, every column but time/* bit-identical")
        return 0
    print(f"different metrics: {difference}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
