"""User-facing errors: one line each, `file:line:col: [rule <id>: ]<field>: <message>`.

The CLI turns a `UserError` into exit code 2 and prints its lines without a traceback; anything
else is an internal error (exit 1).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorItem:
    """One located problem in a user file."""

    file: str
    line: int
    col: int
    message: str
    field: str | None = None
    rule: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}: "
        rule = f"rule {self.rule}: " if self.rule else ""
        field = f"{self.field}: " if self.field else ""
        return f"{where}{rule}{field}{self.message}"


class UserError(Exception):
    """A mistake in the user's input; carries every problem found, not just the first."""

    def __init__(self, items: list[ErrorItem] | ErrorItem | str):
        self.items = [items] if isinstance(items, (str, ErrorItem)) else list(items)
        super().__init__("\n".join(str(i) for i in self.items))

    def lines(self) -> list[str]:
        return [" ".join(str(i).split()) for i in self.items]


class IndexMissingError(UserError):
    """The index directory does not exist or holds no index."""


class ModelMismatchError(UserError):
    """The requested embedder differs from the one the index was built with."""
