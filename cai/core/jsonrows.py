"""One JSONL row parsed with the limits a hostile row needs, so that a bad row is rejected with its
line and the rest of the file still runs.

Why each limit:
- nesting depth: `json.loads` recurses once per level, so a row nested 100,000 deep raises
  RecursionError (not JSONDecodeError) and ended whole jobs; an input row's depth is measured by a
  scan of the brackets outside strings before it is parsed, and for rows cai wrote itself (read
  often, and large) the decoder's RecursionError is caught instead;
- lone surrogates: JSON allows a `"\\ud800"` escape without its pair and `json.loads` returns it,
  but such a string is not Unicode text: tokenizers raise TypeError on it and writing it as UTF-8
  raises, so one question used to end a generate run and every resume of it;
- characters per field: one 10 MB answer kept `cai score` busy splitting sentences for so long
  that the rows after it were never scored.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_ROW_DEPTH = 32  # nesting of an input row (questions, score rows, answers files)
MAX_FIELD_CHARS = 1_000_000  # characters in one string of an input row

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # a JSON string, escapes included (unrolled loop)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


class RowRejected(ValueError):
    """A row that parses as JSON (or would) but must not be used; the message names the field."""


def too_deep(text: str, limit: int) -> bool:
    """Whether arrays and objects in `text` (a JSON document) nest more than `limit` levels deep.
    No recursion: the brackets outside strings are kept, then each pass deletes the innermost
    pairs, one level per pass (C string operations; at most `limit` passes)."""
    if text.count("[") + text.count("{") <= limit:
        return False  # it cannot nest deeper than the brackets it has
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))  # brackets inside strings do not nest
    for _ in range(limit):
        inner = brackets.replace("[]", "").replace("{}", "")
        if inner == brackets:  # empty, or unbalanced: json.loads says what is wrong
            return False
        brackets = inner
    return bool(brackets)


def parse_row(text: str, *, max_depth: int | None = MAX_ROW_DEPTH, max_chars: int | None = MAX_FIELD_CHARS) -> Any:
    """`json.loads(text)` for one row, refusing what would break the code that reads it.

    Raises json.JSONDecodeError for text that is not JSON (callers word that as they always have)
    and RowRejected for a row nested deeper than `max_depth` (None: only as deep as the decoder
    can go, for rows cai wrote itself: no scan), a string holding a lone surrogate, or a string
    longer than `max_chars` (None: no limit)."""
    if max_depth is not None and too_deep(text, max_depth):
        raise RowRejected(f"arrays or objects nested more than {max_depth} levels deep (the limit); flatten the row")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise RowRejected("arrays or objects nested too deep to read; flatten the row") from None
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        raise RowRejected(f"a value cannot be read: {str(e).split(':')[0][:200]}") from None
    escaped = "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None
    if escaped or _has_surrogate(text) or (max_chars is not None and len(text) > max_chars):
        check_strings(obj, max_chars)
    return obj


def _has_surrogate(text: str) -> bool:
    """Whether `text` holds a surrogate character itself (text not decoded strictly from UTF-8);
    an encode finds one several times faster than a regex search."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_strings(obj: Any, max_chars: int | None = MAX_FIELD_CHARS) -> None:
    """Raise RowRejected naming a string (key or value) of `obj` that holds a lone
    surrogate or is longer than `max_chars`. Iterative: `obj` is already depth-limited, but a
    walk needs no recursion at all."""
    stack: list[tuple[str, Any]] = [("", obj)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                _check_text(f"{where} (a key)", key, None)
                stack.append((where, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(path or "row", value, max_chars)


def _check_text(where: str, text: str, max_chars: int | None) -> None:
    if (bad := _SURROGATE.search(text)) is not None:
        code = f"\\u{ord(bad.group()):04x}"
        raise RowRejected(f"{_shown(where)}: holds a lone surrogate {code} at character {bad.start() + 1} (half of "
                          "a UTF-16 pair, not Unicode text); write the character itself or both halves of its pair")
    if max_chars is not None and len(text) > max_chars:
        raise RowRejected(f"{_shown(where)}: {len(text):,} characters, over the limit of {max_chars:,} per field")


def _shown(where: str) -> str:
    """A field path as shown in a message: ASCII-safe (a key may itself hold the surrogate)."""
    return where.encode("utf-8", "backslashreplace").decode("utf-8")[:120]
