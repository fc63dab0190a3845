"""Shared data contracts: the shapes of every file, record and JSON output the project writes.

Every package (`rag`, `rewards`, the `cai` stages) imports its data shapes from here and from
nowhere else. This module imports only pydantic and the standard library, so `rag` and `rewards`
can use it without pulling in any `cai` stage.

JSON round-trip: every model is `model_dump(mode="json")` / `model_validate(...)` stable; unknown
keys are rejected (`extra="forbid"`) so a typo in a hand-edited JSONL file is caught, not dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

SCHEMA_VERSION = 1

_LOCATOR_RE = re.compile(r"^(?P<doc>\S+) p\.(?P<page>\d+)(?: s\.(?P<sent>\d+))?$")
# Inline citation in answer text: `[DOC_ID p.N]` (several may be joined with `;`).
CITATION_RE = re.compile(r"\[(?P<doc>[A-Za-z0-9][\w.\-]*) p\.(?P<page>\d+)\]")


class Contract(BaseModel):
    """Base of all contracts: strict keys, JSON-stable."""

    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


class DocumentMetadata(Contract):
    """What is known about a document, read from the filing itself where possible."""

    company: str | None = Field(None, description="Company name as filed, e.g. 'Amazon.com, Inc.'.")
    ticker: str | None = Field(None, description="Trading symbol when stated.")
    form: str | None = Field(None, description="Form type, e.g. '10-K', '10-Q', 'annual report'.")
    fiscal_year: int | None = Field(None, description="Fiscal year the document reports on.")
    period: str | None = Field(None, description="Fiscal period label, e.g. 'FY2022' or 'Q2 2024'.")
    title: str | None = Field(None, description="Document title when stated.")
    extra: dict[str, str] = Field(default_factory=dict, description="Any other string metadata.")


class Document(Contract):
    """One ingested file. `doc_id` is the file stem (slugified only if needed)."""

    doc_id: str = Field(description="File stem; a collision gets a short hash suffix.")
    path: str = Field(description="Path of the file when it was ingested.")
    sha256: str = Field(description="sha256 of the file bytes.")
    n_pages: int = Field(ge=0, description="Physical pages (PDF) or form-feed pages (HTML/TXT/MD).")
    metadata: DocumentMetadata = Field(default_factory=DocumentMetadata)


class Locator(Contract):
    """Where a span of text lives: 1-based physical page, char offsets into that page's text.

    Printed form: `DOC_ID p.12 s.3` (`str(locator)`); `Locator.parse` reads it back (offsets are
    not part of the printed form).
    """

    doc_id: str
    page: int = Field(ge=1, description="1-based physical page: the file's first page is 1.")
    char_start: int = Field(ge=0, description="Offset into the page's extracted text.")
    char_end: int = Field(ge=0, description="End offset (exclusive) into the page's text.")
    sentence: int = Field(ge=0, description="Index of the sentence within the page (0-based).")

    @model_validator(mode="after")
    def _span_ordered(self) -> Locator:
        if self.char_end < self.char_start:
            raise ValueError(f"char_end {self.char_end} < char_start {self.char_start}")
        return self

    def __str__(self) -> str:
        return f"{self.doc_id} p.{self.page} s.{self.sentence}"

    def citation(self) -> str:
        """The inline citation form used in answer text: `[DOC_ID p.N]`."""
        return f"[{self.doc_id} p.{self.page}]"

    @classmethod
    def parse(cls, text: str) -> tuple[str, int, int | None]:
        """Parse `DOC_ID p.12 s.3` (or `DOC_ID p.12`) into (doc_id, page, sentence|None)."""
        m = _LOCATOR_RE.match(text.strip())
        if not m:
            raise ValueError(f"not a locator: {text!r} (expected 'DOC_ID p.N s.M')")
        sent = m.group("sent")
        return m.group("doc"), int(m.group("page")), int(sent) if sent is not None else None


class SentenceSpan(Contract):
    """A sentence of a page: its index within the page and its char span in the page text."""

    sentence: int = Field(ge=0)
    char_start: int = Field(ge=0)
    char_end: int = Field(ge=0)


class Chunk(Contract):
    """A retrieval unit: whole sentences of one page, sized for the embedder's window."""

    chunk_id: str = Field(description="Deterministic id: '<doc_id>:p<page>:c<n>'.")
    locator: Locator = Field(description="Locator of the chunk's first char.")
    text: str
    sentences: list[SentenceSpan] = Field(description="The whole sentences the chunk holds.")


class PageText(Contract):
    """One page's extracted text and its sentence spans (the document store's unit).

    `text` is exactly what locators index into: `text[s.char_start:s.char_end]` is sentence `s`.
    """

    doc_id: str
    page: int = Field(ge=1)
    text: str
    sentences: list[SentenceSpan] = Field(default_factory=list)


class IngestIssue(Contract):
    """A file that was skipped or degraded during ingestion, with the reason."""

    path: str
    status: Literal["skipped", "degraded"]
    reason: str


class ParsedDocument(Contract):
    """A document after extraction: its pages (with sentences) and chunks, ready to index."""

    document: Document
    pages: list[PageText]
    chunks: list[Chunk]
    issues: list[IngestIssue] = Field(default_factory=list)


class SearchHit(Contract):
    """One retrieval result (`cai search --json` prints a list of these)."""

    doc_id: str
    page: int = Field(ge=1)
    score: float
    text: str
    locator: Locator
    chunk_id: str | None = None


class Verdict(StrEnum):
    """A claim's verdict. `unverified` = could not decide or could not run; never a silent pass."""

    supported = "supported"
    unsupported = "unsupported"
    unverified = "unverified"


class Evidence(Contract):
    """The evidence that decided a verdict: where, and the verbatim quote found there."""

    locator: Locator
    quote: str


class Citation(Contract):
    """A structured citation: full locator plus the verbatim quote.

    Valid only if `quote` occurs at `locator` in the document whose sha256 is `doc_sha256`.
    """

    locator: Locator
    quote: str
    doc_sha256: str | None = None


class ClaimVerdict(Contract):
    """Verdict on one claim of an answer."""

    text: str
    verdict: Verdict
    score: float = Field(ge=0.0, le=1.0)
    evidence: Evidence | None = None
    span: tuple[int, int] | None = Field(None, description="Char span of the claim in the answer.")
    citations: list[str] = Field(default_factory=list, description="Inline citations on the claim.")
    checker: str | None = None
    reason: str | None = Field(None, description="Why, in words (e.g. 'number 4.2 not in source').")


class RuleViolation(Contract):
    """One structured critique item: which rule, which claim, what evidence, what fix."""

    rule_id: str
    severity: Literal["info", "minor", "major", "critical"] = "major"
    claim: str | None = None
    evidence: Evidence | None = None
    fix: str | None = None
    message: str | None = None


class Critique(Contract):
    """A teacher's critique of one answer in one round."""

    round: int = Field(ge=1)
    rule_ids: list[str] = Field(default_factory=list, description="Rules applied in this round.")
    violations: list[RuleViolation] = Field(default_factory=list)
    text: str | None = Field(None, description="Free-text critique, when the teacher gave one.")
    teacher_call_id: str | None = None


class Revision(Contract):
    """A teacher's revision of the answer after one critique."""

    round: int = Field(ge=1)
    text: str
    citations: list[Citation] = Field(default_factory=list)
    teacher_call_id: str | None = None


class Round(Contract):
    critique: Critique
    revision: Revision | None = None


class Message(Contract):
    role: Literal["system", "user", "assistant"]
    content: str


class PairReason(Contract):
    """Why a preference pair's chosen side wins, carried in the pair itself so that a reader of
    preferences.jsonl alone can tell a real correction from a formatting difference (issue #17)."""

    reasons: list[str] = Field(default_factory=list, description="e.g. 'claim-corrected', 'reviewer-corrected'.")
    rule_ids: list[str] = Field(default_factory=list, description="The rules involved.")
    claims_fixed: list[str] = Field(default_factory=list,
                                    description="Claims of the rejected side that the chosen side fixes or withdraws.")


class PreferencePair(Contract):
    """One row of preferences.jsonl, accepted by TRL DPOTrainer/RewardTrainer as-is.

    `prompt`/`chosen`/`rejected` are either plain strings (standard format) or message lists
    (conversational format, `chosen`/`rejected` holding the assistant turn). `reason` says why
    the chosen side wins; TRL's trainers ignore the extra column. It is left out of the JSON when
    absent, so pairs written before it existed keep their bytes and older readers still read them.
    """

    id: str
    prompt: str | list[Message]
    chosen: str | list[Message]
    rejected: str | list[Message]
    source: str = Field(description="How the pair was made, e.g. 'revision', 'judge', 'human'.")
    confidence: float = Field(1.0, ge=0.0, le=1.0, description="Soft label P(chosen > rejected).")
    rule_ids: list[str] = Field(default_factory=list)
    reason: PairReason | None = Field(None, description="Why the chosen side wins.")

    @model_serializer(mode="wrap")
    def _omit_absent_reason(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if self.reason is None:
            data.pop("reason", None)
        return data


class Record(Contract):
    """One full trace of `cai generate` for one question (one line of records.jsonl)."""

    id: str
    question: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    status: Literal["ok", "failed"] = "ok"
    error: str | None = None
    sources: list[SearchHit] = Field(default_factory=list)
    draft: str | None = None
    draft_source: Literal["input", "teacher", "policy"] | None = Field(
        None, description="Where the draft came from: the questions file (input), the teacher, or a policy drafting "
        "on-policy (`drafter:` in the generate config; the manifest names its model, adapter and sha256).")
    rounds: list[Round] = Field(default_factory=list)
    final_answer: str | None = None
    claims: list[ClaimVerdict] = Field(default_factory=list, description="Verdicts on the final answer's claims.")
    draft_claims: list[ClaimVerdict] = Field(default_factory=list, description="Verdicts on the draft's claims.")
    judge_pairs: list[PreferencePair] = Field(default_factory=list,
                                              description="AI-judged pairs (RLAIF), when enabled.")
    teacher_call_ids: list[str] = Field(default_factory=list)
    search_query: str | None = Field(None, description="The query retrieval ran with when `retrieval.rewrite` is "
                                     "on: the question plus the terms the teacher added (the question alone when "
                                     "the rewrite fell back). Absent from the JSON when rewriting is off.")
    schema_version: int = SCHEMA_VERSION

    @model_serializer(mode="wrap")
    def _omit_absent_query(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Omitted rather than written as null, so records of runs without rewriting keep their bytes
        # (and older readers, which reject unknown keys, still read them).
        data = handler(self)
        if self.search_query is None:
            data.pop("search_query", None)
        return data


class SFTExample(Contract):
    """One row of sft.jsonl: TRL's conversational format (`messages`)."""

    id: str
    messages: list[Message]


class SourcePage(Contract):
    """The full text of one source page: what checkers align claims to, what the grounded teacher
    quotes from, and the inline source of a `cai score` input row."""

    doc_id: str
    page: int = Field(ge=1)
    text: str


@dataclass(frozen=True)
class Sources:
    """One question's sources, gathered once (`rag.quotes.gather_sources`) and read by teachers and
    checkers alike: the ranked chunks the prompts show, and the full pages they come from, which
    locators index and checkers align claims to."""

    hits: list[SearchHit]  # the top-k chunks, best first
    pages: list[SourcePage]  # each page of a hit once, in hit order


class ScoreInput(Contract):
    """One `cai score` input row. Extra keys (e.g. `label`) are kept, not rejected."""

    model_config = ConfigDict(extra="allow")

    id: str
    question: str | None = None
    answer: str
    sources: list[SourcePage] | None = None


class ScoreOutput(Contract):
    """One `cai score` output row."""

    id: str
    verdict: Verdict
    score: float = Field(ge=0.0, le=1.0)
    claims: list[ClaimVerdict]
    error: str | None = None
    line: int | None = None


# ------------------------------------------------------------------------ verified answers (cai answer)
OnUnsupported = Literal["remove", "mark"]


class AnswerClaim(ClaimVerdict):
    """A checked claim and what delivery did with it.

    `action`: `kept` (delivered as written), `cited` (delivered with its citations fixed: the
    evidence page added, citations of pages outside the sources dropped), `marked` (delivered
    with a visible marker, `--mark-unsupported`), `removed` (not delivered). `span` indexes the
    delivered `answer` for delivered claims and `raw_answer` for removed ones.
    """

    action: Literal["kept", "cited", "marked", "removed"]


class AnsweredBy(Contract):
    kind: Literal["grounded", "policy"]
    model: str | None = Field(None, description="Base model id or path of the policy.")
    model_sha256: str | None = Field(None, description="sha256 of a built-in model's converted weights.")
    adapter: str | None = Field(None, description="LoRA adapter directory, when one was applied.")
    adapter_metadata: dict[str, Any] | None = Field(None, description="The adapter's cai_adapter.json, when present.")
    max_new_tokens: int | None = None
    warnings: list[str] = Field(default_factory=list)


class Verification(Contract):
    """A raw answer after verification: the delivered text and every claim's verdict."""

    raw_answer: str
    answer: str = Field(description="The delivered answer.")
    abstained: bool = Field(description="True when no supported claim is delivered.")
    on_unsupported: OnUnsupported
    checker: str
    claims: list[AnswerClaim] = Field(description="Delivered claims (kept, cited or marked), in answer order.")
    removed: list[AnswerClaim] = Field(default_factory=list, description="Claims not delivered.")
    n_raw_claims: int = Field(description="Claims the checker judged in the raw answer.")
    raw_support_rate: float | None = Field(description="Share of the raw answer's claims that are supported.")


class AnsweredQuestion(Verification):
    """The full result of `cai answer` (`--json` prints `model_dump(mode="json")`)."""

    question: str
    sources: list[SearchHit]
    answered_by: AnsweredBy
    violations: list[RuleViolation] = Field(default_factory=list,
                                            description="Constitution machine checks on the delivered answer.")
