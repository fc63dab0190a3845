"""Errors the user can fix (the CLI maps `RagUserError` to exit 2 with its one-line message)."""

from __future__ import annotations


class RagUserError(Exception):
    """A user mistake (missing index, wrong model for an index, unreadable input set).

    The message is one line and says what to do next; no traceback is shown for it.
    """


class IndexMissingError(RagUserError):
    """The index directory does not exist or holds no index."""


class ModelMismatchError(RagUserError):
    """The requested embedder differs from the one the index was built with."""
