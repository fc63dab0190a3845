"""Scoring rows for `cai score INPUT.jsonl [--index DIR] [--out OUT.jsonl] [--checker NAME]`.

Input rows (the `cai score` row contract, `ScoreInput` in cai/core/contracts.py): `{"id",
"question"?, "answer", "sources"?: [{"doc_id", "page", "text"}]}`; sources are retrieved with
`retrieve(question)` when absent. Output rows (`ScoreOutput`): the input `id` plus `{"verdict",
"score", "claims": [{"text", "verdict", "score", "evidence": {"locator", "quote"}, ...}]}` and,
when the answer carries inline citations, `"citations"` (ALCE precision and recall,
`rewards.citations`).

The answer is `supported` only when it has at least one claim and every claim is supported; its
score is its weakest claim's score (an answer is as trustworthy as its least supported claim).

A bad row never stops the run: malformed JSON, bytes that are not UTF-8, a missing, null or
repeated id, a missing or non-text answer, no sources, sources over 1 MB, binary text, a row nested
too deep, a lone surrogate (`cai.core.jsonrows`) or an answer or question over `MAX_ANSWER_CHARS` give an
output row with `error`, `line` (1-based) and verdict `unverified`; the other rows are scored. A
UTF-8 byte-order mark before the first row is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence

from pydantic import ValidationError

from cai.core.contracts import ClaimVerdict, ScoreInput, SourcePage, Verdict
from cai.core.jsonrows import RowRejected, parse_row
from cai.core.questions import decode_line
from rewards.checker import Checker, unverified_claims
from rewards.citations import citation_metrics

MAX_SOURCE_CHARS = 1_000_000  # per row, all sources together
# Per answer (and question): ~15,000 words. Every claim of an answer is checked against its
# sources, so a 10 MB answer held the run for hours and the rows after it were never scored.
MAX_ANSWER_CHARS = 100_000

Retriever = Callable[[str], Sequence[SourcePage]]


class RowError(ValueError):
    """A row that cannot be scored; the message names the problem in one line."""


def support_rate(claims: Sequence[ClaimVerdict]) -> float | None:
    """Share of claims that are `supported` (unverified counts as not); None when there are none."""
    return sum(c.verdict == Verdict.supported for c in claims) / len(claims) if claims else None


def answer_verdict(claims: Sequence[ClaimVerdict]) -> tuple[Verdict, float]:
    """(verdict, score) of a whole answer from its claims: supported iff every claim is."""
    if not claims:
        return Verdict.unverified, 0.0
    score = min(c.score for c in claims)
    if all(c.verdict == Verdict.supported for c in claims):
        return Verdict.supported, score
    if any(c.verdict == Verdict.unsupported for c in claims):
        return Verdict.unsupported, score
    return Verdict.unverified, score


def _load_row(line: str) -> dict:
    """The row as a JSON object (RowError when it is not one, or is hostile: `parse_row`)."""
    try:
        raw = parse_row(line, max_chars=None)  # sizes: the limits of this module, said per field
    except json.JSONDecodeError as error:
        raise RowError(f"malformed JSON: {error.msg} at column {error.colno}") from None
    except RowRejected as error:
        raise RowError(str(error)) from None
    if not isinstance(raw, dict):
        raise RowError(f"a row must be a JSON object, got {type(raw).__name__}")
    return raw


def _parse_row(raw: dict) -> ScoreInput:
    if "answer" not in raw or raw["answer"] is None:
        raise RowError("row has no 'answer'")
    if not isinstance(raw["answer"], str):
        raise RowError(f"'answer' must be text, got {type(raw['answer']).__name__}")
    if "id" in raw:
        raw["id"] = _row_id(raw["id"])
    try:
        return ScoreInput.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RowError(f"invalid row: {where}: {first['msg']}") from None


def _row_id(value: object) -> str:
    """A row's id as text: integers are accepted (`"id": 7` is "7"); null, booleans, numbers with
    a fraction, lists and objects are not ids (null used to become the id "None")."""
    if value is None:
        raise RowError("'id' is null: give each row a unique id")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RowError(f"'id' must be text or an integer, got {type(value).__name__}")
    text = str(value)
    if not text.strip():
        raise RowError("'id' is empty: give each row a unique id")
    return text


def _check_text(label: str, text: str) -> None:
    if "\x00" in text or sum(1 for ch in text[:10_000] if ord(ch) < 32 and ch not in "\n\r\t\f") > 8:
        raise RowError(f"{label} is not text (binary or control characters)")


def _sources_for(row: ScoreInput, retrieve: Retriever | None) -> list[SourcePage]:
    sources = list(row.sources or [])
    if not sources and row.sources is None and retrieve is not None:
        if not row.question:
            raise RowError("no 'sources' and no 'question' to retrieve them with")
        sources = list(retrieve(row.question))
    if not sources:
        raise RowError("no sources: give 'sources' in the row or an index to retrieve from")
    total = sum(len(s.text) for s in sources)
    if total > MAX_SOURCE_CHARS:
        raise RowError(f"sources too large: {total:,} characters (limit {MAX_SOURCE_CHARS:,})")
    for s in sources:
        _check_text(f"source {s.doc_id} p.{s.page}", s.text)
    if not any(s.text.strip() for s in sources):
        raise RowError("sources are empty text")
    return sources


def score_row(row: ScoreInput, *, checker: Checker, retrieve: Retriever | None = None) -> dict:
    """Score one parsed row (raises RowError for a row that cannot be scored)."""
    for name, text in (("answer", row.answer), ("question", row.question or "")):
        if len(text) > MAX_ANSWER_CHARS:
            raise RowError(f"{name} too long: {len(text):,} characters (limit {MAX_ANSWER_CHARS:,})")
    _check_text("answer", row.answer)
    sources = _sources_for(row, retrieve)
    claims = checker.check(row.question, row.answer, sources)
    verdict, score = answer_verdict(claims)
    out = {
        "id": row.id,
        "verdict": verdict.value,
        "score": round(score, 4),
        "claims": [c.model_dump(mode="json", exclude_none=True) for c in claims],
    }
    if any(c.citations for c in claims):
        out["citations"] = citation_metrics(checker, row.question, row.answer, sources)
    return out


def _error_row(row_id: str | None, line_number: int, message: str, answer: str | None, checker: Checker) -> dict:
    claims = unverified_claims(answer, message, checker.name) if isinstance(answer, str) else []
    return {
        "id": row_id,
        "verdict": Verdict.unverified.value,
        "score": 0.0,
        "claims": [c.model_dump(mode="json", exclude_none=True) for c in claims],
        "error": message,
        "line": line_number,
    }


def score_rows(lines: Iterable[str | bytes], *, checker: Checker, retrieve: Retriever | None = None) -> Iterator[dict]:
    """Score JSONL lines one by one; blank lines are skipped, bad rows yield an error row. Lines
    may be bytes (as read from the file: decoded here, so a bad byte fails its row only)."""
    first_line: dict[str, int] = {}
    for line_number, line in enumerate(lines, start=1):
        if isinstance(line, bytes):
            try:
                line = decode_line(line, line_number)
            except ValueError as error:
                yield _error_row(None, line_number, str(error), None, checker)
                continue
        elif line_number == 1:
            line = line.removeprefix("\ufeff")
        if not line.strip():
            continue
        row_id = answer = None
        try:
            raw = _load_row(line)
            row_id, answer = _peek_id_and_answer(raw)
            row = _parse_row(raw)
            if row.id in first_line:
                raise RowError(f"duplicate id {row.id!r} (first on line {first_line[row.id]})")
            first_line[row.id] = line_number
            yield score_row(row, checker=checker, retrieve=retrieve)
        except RowError as error:
            yield _error_row(row_id, line_number, str(error), answer, checker)


def _peek_id_and_answer(raw: dict) -> tuple[str | None, str | None]:
    """The row's id and answer as far as they are usable (for error rows); an answer too long to
    check is not repeated into its error row."""
    row_id = raw.get("id")
    answer = raw.get("answer")
    shown = str(row_id) if isinstance(row_id, (str, int)) and not isinstance(row_id, bool) else None
    return shown, (answer if isinstance(answer, str) and len(answer) <= MAX_ANSWER_CHARS else None)
