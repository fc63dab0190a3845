"""The questions file: one JSON object per line, `{"id", "question", "answer"?: draft, "metadata"?}`
(the generate input contract). `metadata.filters` scopes a question's retrieval to the filings it is
about, by the document filters of `cai search --filter` (`{"doc_id": "ACME_2023_10K"}`, `{"company":
"Acme", "fiscal_year": 2023}`): a question asked of one filing need not name it. A bad row is
reported with its file and line and skipped; the rest run. Hostile rows (nested too deep, lone
surrogates, fields over 1 MB) are bad rows too: `cai.core.jsonrows`."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError

from cai.core.errors import UserError
from cai.core.jsonrows import RowRejected, parse_row

UTF8_BOM = b"\xef\xbb\xbf"
# The document filters of retrieval (`rag.retrieve.documents_matching`), owned here so that a question
# row's `metadata.filters` is validated when the file is read.
DOCUMENT_FILTER_KEYS = ("doc_id", "company", "fiscal_year", "form")


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
    """Valid rows, and one located message per rejected row (the rest still run). A file that
    cannot be read at all is a UserError naming it (exit 2), not an internal error."""
    try:
        with open(path, "rb") as f:
            return _read_rows(path, f)
    except OSError as e:
        raise UserError(f"{path}: cannot read the questions file: {e.strerror or e}") from None


def _read_rows(path: Path, f) -> tuple[list[QuestionRow], list[str]]:
    rows: list[QuestionRow] = []
    rejected: list[str] = []
    seen: set[str] = set()
    for n, raw in enumerate(f, start=1):
        try:
            line = decode_line(raw, n)
        except ValueError as e:
            rejected.append(f"{path}:{n}: {e}")
            continue
        if not line.strip():
            continue
        try:
            row = QuestionRow.model_validate(parse_row(line))
        except json.JSONDecodeError as e:
            rejected.append(f"{path}:{n}: invalid JSON: {e.msg}")
            continue
        except RowRejected as e:
            rejected.append(f"{path}:{n}: {e}")
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
        if (bad := filters_error(row.metadata.get("filters"))) is not None:
            rejected.append(f"{path}:{n}: metadata.filters{bad}")
            continue
        seen.add(row.id)
        rows.append(row)
    return rows, rejected


def filters_error(filters: object) -> str | None:
    """Why a row's `metadata.filters` is malformed (".company: …", suffixed to the field), or None:
    an object of document filters, each a string or integer or a non-empty list of them."""
    if filters is None:
        return None
    if not isinstance(filters, dict) or not filters:
        return f": must be an object of filters ({', '.join(DOCUMENT_FILTER_KEYS)})"
    for key, value in filters.items():
        if key not in DOCUMENT_FILTER_KEYS:
            return f".{key}: unknown filter; use {', '.join(DOCUMENT_FILTER_KEYS)}"
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip()
                                  for v in values):
            return f".{key}: must be a string or integer, or a list of them"
    return None
