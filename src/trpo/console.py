"""What a person sees while a run trains: a rich progress bar with steps, steps/s and return."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


class ProgressDisplay:
    """Use as a context manager; call update(metrics) after every iteration."""

    def __init__(self, total_steps: int, start_step: int = 0, description: str = "training", enabled: bool = True):
        self.total_steps = total_steps
        self.enabled = enabled
        self.console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=20),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
            TextColumn("{task.fields[sps]:,.0f} steps/s"),
            TextColumn("return {task.fields[ret]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not enabled,
        )
        self._task = self._progress.add_task(description, total=total_steps, completed=start_step, sps=0.0, ret="-")

    def __enter__(self) -> ProgressDisplay:
        self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.stop()

    def update(self, metrics: dict[str, float]) -> None:
        ret = metrics.get("rollout/ep_return_mean", math.nan)
        self._progress.update(
            self._task,
            completed=min(metrics["global_step"], self.total_steps),
            sps=metrics.get("time/sps", 0.0),
            ret="-" if math.isnan(ret) else f"{ret:,.1f}",
        )
