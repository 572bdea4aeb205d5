"""Progress bars for long commands, only when stderr is a terminal.

Commands behave like Unix tools (ARCHITECTURE.md section 8): a bar on a
terminal, silence in a pipe, a log file or a test.
"""

from collections.abc import Callable
from typing import Self


class Progress:
    """``with Progress(enabled=...) as bars: advance = bars.task("users", total)``."""

    def __init__(self, *, enabled: bool):
        self._bars = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bars = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )

    def __enter__(self) -> Self:
        if self._bars is not None:
            self._bars.start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._bars is not None:
            self._bars.stop()

    def task(self, description: str, total: int | None = None) -> Callable[[int], None]:
        """Add a bar; return the function that moves it on by ``n``."""
        if self._bars is None:
            return _ignore
        task_id = self._bars.add_task(description, total=total)
        bars = self._bars
        return lambda n=1: bars.advance(task_id, n)


def _ignore(n: int = 1) -> None:
    pass
