"""The one progress bar of the command line (rich, on stderr so stdout stays clean for `--json`):
what `cai ingest` and every `cai train` stage show."""

from __future__ import annotations


def progress_bar(enabled: bool = True, *, label: str = "[bold]{task.description}", extra: str | None = None):
    """A rich `Progress`: `label`, bar, done/total, elapsed, ETA, then `extra` (a task format such as
    "{task.description}") when given; disabled -> silent. Not started: use it as a context manager
    or call `start()`."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    if extra is not None:
        columns.append(TextColumn(extra))
    return Progress(*columns, console=Console(stderr=True), disable=not enabled, transient=False)
