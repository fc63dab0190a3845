"""Verify a raw answer claim by claim and build what may be delivered (`cai answer`, `cai eval`).

Every claim is checked against the full pages of the sources by a fail-closed checker
(`rewards.checker.FailClosed`: a `supported` verdict must carry a quote that is verbatim at its
locator). Unsupported / unverified claims are removed (default) or kept with a visible
`[UNSUPPORTED]` / `[UNVERIFIED]` marker; every kept claim cites the page of its evidence (added when
the answer omitted it; citations of pages that are not among the sources are dropped). The kept text
is checked again until nothing changes, so the verdicts reported are those of exactly the delivered
text. Nothing supported → an explicit refusal (`cai.core.prompts.refusal`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cai.core.contracts import (
    AnswerClaim,
    ClaimVerdict,
    OnUnsupported,
    SourcePage,
    Verdict,
    Verification,
)
from cai.core.prompts import refusal
from rewards.checker import FailClosed
from rewards.citations import with_citation
from rewards.claims import split_claims, split_sentences

MARKERS = {Verdict.unsupported: "[UNSUPPORTED]", Verdict.unverified: "[UNVERIFIED]"}
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")


@dataclass
class _Piece:
    """One sentence of the raw answer on its way to delivery."""

    text: str  # as it will be delivered (citations may be fixed)
    original: str
    kind: str  # claim | abstention | framing | filler (rewards.claims.sentence_kind)
    sep: str  # what preceded it in the raw answer, reduced to " " or "\n"
    raw_span: tuple[int, int]
    verdict: ClaimVerdict | None = None
    status: Literal["candidate", "rejected", "dropped"] = "candidate"
    cited: bool = False


def verify_answer(question: str | None, raw_answer: str, pages: Sequence[SourcePage], *, checker,
                  on_unsupported: OnUnsupported = "remove") -> Verification:
    """Check every claim of `raw_answer` against `pages` and build the delivered answer."""
    checker = checker if isinstance(checker, FailClosed) else FailClosed(checker)
    pieces = _pieces(raw_answer)
    source_keys = {(p.doc_id, p.page) for p in pages}
    n_raw, n_supported = None, 0
    while True:  # terminates: each pass rejects a piece or adds a cited page to one, both bounded
        candidates = [p for p in pieces if p.status == "candidate"]
        text, spans = _join(candidates)
        verdicts = checker.check(question, text, list(pages)) if text else []
        if n_raw is None:
            n_raw, n_supported = len(verdicts), sum(v.verdict == Verdict.supported for v in verdicts)
        if not _review(candidates, spans, verdicts, source_keys, checker.name):
            break
    return _deliver(question or "", raw_answer, pieces, on_unsupported, checker.name, n_raw or 0, n_supported)


def _pieces(raw: str) -> list[_Piece]:
    pieces, end = [], 0
    for s in split_claims(raw, keep_non_claims=True):
        sep = "\n" if "\n" in raw[end:s.start] else " "
        status = "dropped" if s.kind == "filler" else "candidate"  # "Yes.", courtesy lines: never delivered
        pieces.append(_Piece(s.text.strip(), s.text.strip(), s.kind, sep, (s.start, s.end), status=status))
        end = s.end
    return pieces


def _join(pieces: Sequence[_Piece]) -> tuple[str, list[tuple[int, int]]]:
    """Pieces joined with their separators, and each piece's span in the result."""
    text, spans = "", []
    for p in pieces:
        if text:
            text += p.sep
        spans.append((len(text), len(text) + len(p.text)))
        text += p.text
    return text, spans


def _lookup(verdicts: Sequence[ClaimVerdict], span: tuple[int, int], text: str) -> ClaimVerdict | None:
    for v in verdicts:
        if v.span is not None and tuple(v.span) == span:
            return v
    return next((v for v in verdicts if v.span is None and v.text.strip() == text), None)


def _review(candidates: list[_Piece], spans: list[tuple[int, int]], verdicts: Sequence[ClaimVerdict],
            source_keys: set[tuple[str, int]], checker: str) -> bool:
    """Apply one pass of verdicts to the candidates; True when the delivered text changed."""
    changed = False
    for piece, span in zip(candidates, spans, strict=True):
        v = _lookup(verdicts, span, piece.text)
        if piece.kind == "claim" and v is None:  # the checker skipped it: never a silent pass
            v = ClaimVerdict(text=piece.text, verdict=Verdict.unverified, score=0.0, checker=checker,
                             reason="the checker returned no verdict for this claim")
        piece.verdict = v or piece.verdict
        # An unsupported claim, or framing naming the wrong company/period.
        if v is not None and v.verdict != Verdict.supported:
            piece.status, changed = "rejected", True
        elif piece.kind == "claim":
            fixed = _with_evidence_citation(piece.text, v, source_keys)
            if fixed != piece.text:
                piece.text, piece.cited, changed = fixed, True, True
    return changed


def _parsed(text: str):
    """The sentence `text` as a `rewards.claims.Claim` (citations, plain text), or None."""
    return next(iter(split_sentences(text)), None)


def _uncited(text: str) -> str:
    """`text` without its inline citations ("… $5 million [d p.2]." → "… $5 million.")."""
    parsed = _parsed(text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", parsed.plain) if parsed else text.strip()


def _with_evidence_citation(text: str, verdict: ClaimVerdict, source_keys: set[tuple[str, int]]) -> str:
    """`text` citing its evidence page, without citations of pages outside the sources
    (unchanged when it already does both)."""
    parsed = _parsed(text)
    cited = parsed.cited_pages() if parsed else []
    keep = [key for key in cited if key in source_keys]
    loc = verdict.evidence.locator if verdict.evidence else None
    if loc is not None and (loc.doc_id, loc.page) not in keep:
        keep.append((loc.doc_id, loc.page))
    if keep == cited or parsed is None:
        return text
    return with_citation(_uncited(text), " ".join(f"[{doc} p.{page}]" for doc, page in keep))


def _marked(piece: _Piece) -> str:
    """A rejected sentence as delivered in mark mode: its marker, and no citation (nothing it
    cites supports it)."""
    verdict = piece.verdict.verdict if piece.verdict else Verdict.unverified
    return f"{MARKERS.get(verdict, MARKERS[Verdict.unverified])} {_uncited(piece.original)}"


def _deliver(question: str, raw: str, pieces: list[_Piece], on_unsupported: OnUnsupported, checker: str,
             n_raw: int, n_supported: int) -> Verification:
    """The delivered answer: supported claims (cited) with their framing and abstentions, marked
    rejects in mark mode; an explicit abstention when no claim is supported."""
    supported = any(p.status == "candidate" and p.kind == "claim" for p in pieces)
    rejected = [p for p in pieces if p.status == "rejected"]
    if supported:
        delivered = [p for p in pieces
                     if p.status == "candidate" or (on_unsupported == "mark" and p.status == "rejected")]
    else:  # framing around nothing is noise; keep the model's own abstention, else write one
        said = [p for p in pieces if p.status == "candidate" and p.kind == "abstention"]
        said = said or [_Piece(refusal(question), "", "abstention", " ", (0, 0))]
        delivered = said + (rejected if on_unsupported == "mark" else [])
    for p in delivered:
        if p.status == "rejected":
            p.text = _marked(p)
    answer, spans = _join(delivered)
    claims = [_claim(p, p.text, "marked" if p.status == "rejected" else "cited" if p.cited else "kept", span)
              for p, span in zip(delivered, spans, strict=True) if p.verdict is not None]
    removed = [_claim(p, p.original, "removed", p.raw_span) for p in rejected if p not in delivered]
    return Verification(raw_answer=raw, answer=answer, abstained=not supported, on_unsupported=on_unsupported,
                        checker=checker, claims=claims, removed=removed, n_raw_claims=n_raw,
                        raw_support_rate=round(n_supported / n_raw, 4) if n_raw else None)


def _claim(piece: _Piece, text: str, action: str, span: tuple[int, int]) -> AnswerClaim:
    parsed = _parsed(text)
    citations = parsed.citations if parsed else []
    data = piece.verdict.model_dump() | {"text": text, "span": span, "citations": citations}
    return AnswerClaim(**data, action=action)
