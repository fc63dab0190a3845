"""The questions file: one JSON object per line, `{"id", "question", "answer"?: draft, "metadata"?}`
(the generate input contract). A bad row is reported with its file and line and skipped; the rest run."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError


class QuestionRow(BaseModel):
    """One row of the questions file."""

    model_config = {"extra": "forbid"}
    id: str
    question: str
    answer: str | None = None
    metadata: dict = {}


def load_questions(path: Path) -> tuple[list[QuestionRow], list[str]]:
    """Valid rows, and one located message per rejected row (the rest still run)."""
    rows, rejected, seen = [], [], set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, start=1):
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
