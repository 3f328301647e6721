"""Terminal progress for long jobs over many films: one bar per running film and one overall."""
from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text


class RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        return Text(f"{task.speed or 0:,.0f} frames/s", style="progress.data.speed")


class FilmProgress:
    """Receives ``(event, source_id, value)`` reports: "start" (expected frames), "advance"
    (frames decoded since the last report), "done"."""

    def __init__(self, console: Console, films: int):
        self.console = console
        self.bars = Progress(
            TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeElapsedColumn(),
            console=console, transient=True,
        )
        self.overall = self.bars.add_task(f"all films (0/{films})", total=None)
        self.films, self.finished = films, 0
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> "FilmProgress":
        self.bars.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bars.stop()

    def __call__(self, event: str, source_id: str, value: float) -> None:
        if event == "start":
            if source_id in self.tasks:  # a second decoding pass of the same film
                self.bars.reset(self.tasks[source_id], total=value or None)
            else:
                self.tasks[source_id] = self.bars.add_task(source_id[:28], total=value or None)
        elif event == "advance" and source_id in self.tasks:
            self.bars.advance(self.tasks[source_id], value)
            self.bars.advance(self.overall, value)
        elif event == "done":
            if source_id in self.tasks:
                self.bars.remove_task(self.tasks.pop(source_id))
            self.finished += 1
            self.bars.update(self.overall, description=f"all films ({self.finished}/{self.films})")
