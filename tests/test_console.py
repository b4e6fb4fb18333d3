"""The console table: formatting of a metrics row and the plain-text output off a terminal."""

import io
import math
import re

from rich.console import Console

from trpo.runs.console import COLUMNS, ProgressDisplay, table_row


def test_table_row_formats_and_marks_missing_values():
    metrics = {"iteration": 3, "global_step": 12288, "rollout/ep_return_mean": math.nan, "train/kl": 0.0123}
    row = dict(zip([h for h, _, _ in COLUMNS], table_row(metrics), strict=True))
    assert row["iter"] == "3" and row["steps"] == "12,288"
    assert row["return"] == "-" and row["sps"] == "-"
    assert row["kl"] == "1.23e-02"


def test_plain_output_prints_a_row_every_few_iterations():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=60)
    with ProgressDisplay(400, table_every=2, console=console) as display:
        for i in range(1, 5):
            display.update({"iteration": i, "global_step": 100 * i, "train/kl": 0.01})
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # the header, then iterations 2 and 4, one line each (not wrapped at width 60)
    assert lines[0].split()[:2] == ["iter", "steps"]
    assert lines[1].split()[:2] == ["2", "200"] and lines[2].split()[:2] == ["4", "400"]


def test_quiet_prints_nothing():
    out = io.StringIO()
    with ProgressDisplay(100, enabled=False, console=Console(file=out)) as display:
        display.update({"iteration": 1, "global_step": 100})
    assert out.getvalue() == ""


def test_terminal_output_draws_the_table_under_the_bar():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with ProgressDisplay(400, table_every=2, console=console) as display:
        for i in range(1, 5):
            display.update({"iteration": i, "global_step": 100 * i, "rollout/ep_return_mean": 5.0})
    final = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", out.getvalue()).splitlines()[-4:]
    assert "400/400 steps" in final[0]
    assert final[1].split()[:3] == ["iter", "steps", "return"]
    assert final[2].split()[:3] == ["2", "200", "5.0"] and final[3].split()[:3] == ["4", "400", "5.0"]
