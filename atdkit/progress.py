"""Terminal progress for long jobs: a rate column, and the driver's bar over many films."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second, e.g. ``RateColumn("frames", 0)`` -> "1,519 frames/s"."""

    def __init__(self, unit: str, decimals: int = 1):
        super().__init__()
        self.unit, self.decimals = unit, decimals

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed or 0
        return Text(f"{speed:,.{self.decimals}f} {self.unit}/s", style="progress.data.speed")


class RunProgress:
    """The driver's one bar over a run's films: films done, frames the units report as scanned,
    and frames/s across every worker. Called as ``progress(event, source_id, value)`` by the
    units: "start" (frames a unit will scan), "advance" (frames scanned since the last report)."""

    def __init__(self, console: Console, films: int):
        self.films, self.done, self.frames = films, 0, 0
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn("frames", 0),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.bars.add_task(self._description(), total=None)

    def _description(self) -> str:
        return f"films {self.done}/{self.films}, frames"

    def __enter__(self) -> RunProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bars.stop()

    def __call__(self, event: str, source_id: str, value: float) -> None:
        if event == "start" and value:
            self.frames += int(value)
            self.bars.update(self.task, total=self.frames)
        elif event == "advance":
            self.bars.advance(self.task, value)

    def film_done(self) -> None:
        self.done += 1
        self.bars.update(self.task, description=self._description())
