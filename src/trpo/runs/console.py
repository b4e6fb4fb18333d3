"""What a person sees while a run trains (on stderr): a progress bar with steps, steps/s and
return, and under it a compact table of the health metrics, refreshed every few iterations.

On a terminal the table shows the latest TABLE_ROWS reports under the live bar. Elsewhere (a log
file, CI) there is no bar and each report is printed as one row, with the header every so often.
"""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

TABLE_ROWS = 5
HEADER_EVERY = 20

# (header, metric key, format): the few numbers that tell whether a run is healthy (docs/metrics.md).
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("iter", "iteration", "{:.0f}"),
    ("steps", "global_step", "{:,.0f}"),
    ("return", "rollout/ep_return_mean", "{:.1f}"),
    ("ep_len", "rollout/ep_len_mean", "{:.0f}"),
    ("kl", "train/kl", "{:.2e}"),
    ("step_frac", "train/step_fraction", "{:.2f}"),
    ("entropy", "train/entropy", "{:.3f}"),
    ("value_loss", "train/value_loss", "{:.3g}"),
    ("expl_var", "train/explained_variance", "{:.2f}"),
    ("sps", "time/sps", "{:,.0f}"),
)


def table_row(metrics: dict[str, float]) -> list[str]:
    """The table's cells for one iteration's metrics ("-" where a value is missing or NaN)."""
    cells = []
    for _, key, fmt in COLUMNS:
        value = metrics.get(key, math.nan)
        cells.append("-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value))
    return cells


class ProgressDisplay:
    """Use as a context manager; call update(metrics) after every iteration.

    `table_every`: add a row to the table every this many iterations (0: no table).
    """

    def __init__(
        self,
        total_steps: int,
        start_step: int = 0,
        description: str = "training",
        enabled: bool = True,
        table_every: int = 10,
        console: Console | None = None,
    ):
        self.total_steps = total_steps
        self.enabled = enabled
        self.table_every = table_every
        self.console = console or Console(stderr=True)
        self.live = enabled and self.console.is_terminal
        self._rows: list[list[str]] = []
        self._printed = 0
        self._updates = 0
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=20),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
            TextColumn("{task.fields[sps]:,.0f} steps/s"),
            TextColumn("return {task.fields[ret]}"),
            TimeElapsedColumn(),
            console=self.console,
        )
        self._task = self._progress.add_task(description, total=total_steps, completed=start_step, sps=0.0, ret="-")
        self._live = Live(Group(self._progress, _TableView(self)), console=self.console, refresh_per_second=4)

    def __enter__(self) -> ProgressDisplay:
        if self.live:
            self._live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live:
            self._live.stop()

    def update(self, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        ret = metrics.get("rollout/ep_return_mean", math.nan)
        self._progress.update(
            self._task,
            completed=min(metrics["global_step"], self.total_steps),
            sps=metrics.get("time/sps", 0.0),
            ret="-" if math.isnan(ret) else f"{ret:,.1f}",
        )
        self._updates += 1
        last = metrics["global_step"] >= self.total_steps
        if self.table_every and (self._updates % self.table_every == 0 or last):
            self._rows = [*self._rows[-(TABLE_ROWS - 1) :], table_row(metrics)]
            if not self.live:
                self._print_row(self._rows[-1])

    def _print_row(self, row: list[str]) -> None:
        widths = [max(len(header), 8) for header, _, _ in COLUMNS]
        if self._printed % HEADER_EVERY == 0:
            header = " ".join(h.rjust(w) for (h, _, _), w in zip(COLUMNS, widths, strict=True))
            self.console.print(header, soft_wrap=True, highlight=False)
        line = " ".join(c.rjust(w) for c, w in zip(row, widths, strict=True))
        self.console.print(line, soft_wrap=True, highlight=False)
        self._printed += 1

    def table(self) -> Table | str:
        if not self._rows:
            return ""
        table = Table(box=None, pad_edge=False, header_style="bold")
        for header, _, _ in COLUMNS:
            table.add_column(header, justify="right")
        for row in self._rows:
            table.add_row(*row)
        return table


class _TableView:
    """Renders the display's current table each time the live view refreshes."""

    def __init__(self, display: ProgressDisplay):
        self.display = display

    def __rich__(self) -> Table | str:
        return self.display.table()
