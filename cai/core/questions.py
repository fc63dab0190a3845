"""The questions file: one JSON object per line, `{"id", "question", "answer"?: draft, "metadata"?}`
(the generate input contract). A bad row is reported with its file and line and skipped; the rest run."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError

UTF8_BOM = b"\xef\xbb\xbf"


class QuestionRow(BaseModel):
    """One row of the questions file."""

    model_config = {"extra": "forbid"}
    id: str
    question: str
    answer: str | None = None
    metadata: dict = {}


def decode_line(raw: bytes, n: int) -> str:
    """One JSONL line as text. A UTF-8 byte-order mark on line 1 (Windows editors write one) is
    dropped, not parsed as part of the first row; bytes that are not UTF-8 are an error naming the
    byte, not silently turned into U+FFFD (which would change ids and questions unseen)."""
    if n == 1 and raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM):]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"not valid UTF-8 (byte {e.start + 1} of the line); save the file as UTF-8") from None


def load_questions(path: Path) -> tuple[list[QuestionRow], list[str]]:
    """Valid rows, and one located message per rejected row (the rest still run)."""
    rows, rejected, seen = [], [], set()
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = decode_line(raw, n)
            except ValueError as e:
                rejected.append(f"{path}:{n}: {e}")
                continue
            if not line.strip():
                continue
            try:
                row = QuestionRow.model_validate(json.loads(line))
            except json.JSONDecodeError as e:
                rejected.append(f"{path}:{n}: invalid JSON: {e.msg}")
                continue
            except ValidationError as e:
                first = e.errors()[0]
                rejected.append(f"{path}:{n}: {'.'.join(map(str, first['loc'])) or 'row'}: {first['msg']}")
                continue
            if row.id in seen:
                rejected.append(f"{path}:{n}: id: duplicate id {row.id!r}")
                continue
            if not row.question.strip():
                rejected.append(f"{path}:{n}: question: empty")
                continue
            seen.add(row.id)
            rows.append(row)
    return rows, rejected
