"""Claims of an answer: the sentences to check, with their spans and inline citations.

An answer is split with the same sentence splitter as the sources (`rag.sentences`: lines and
blocks first, then Punkt), so a bulleted or table-like answer splits per line and prose per
sentence. A citation written after the sentence's full stop ("... $412.3 million. [acme p.4]") is
attached to the sentence before it, as the inline-citation convention intends.

Not every sentence is a claim (FActScore, Min et al. 2023, checks atomic facts, not filler): a
question back to the user, a heading or lead-in that ends with a colon and states no figure,
courtesy lines, and method statements or formulas without figures ("To calculate the margin, we
divide ...", "EBITDA = Operating income + D&A") are skipped. Everything else is a claim, including
sentences without figures.

Normalisation of what a claim states lives beside this module: figures in `rewards.numbers`,
fiscal periods in `rewards.periods`, company names in `rewards.entities`; `Claim` exposes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from cai.contracts import CITATION_RE
from rag.sentences import sentence_spans
from rewards.entities import Entity, extract_entities
from rewards.numbers import Quantity, checkable, extract_quantities
from rewards.periods import Period, extract_periods

_LEADING_CITATIONS_RE = re.compile(rf"(?:\s*(?:{CITATION_RE.pattern})[;,.]*)+")
_CITATION_GROUP_RE = re.compile(r"\[[^\[\]]*\bp\.\d+[^\[\]]*\]")
_WORD_RE = re.compile(r"[A-Za-z]{2,}")
_COURTESY_RE = re.compile(
    r"^(?:let me know|i hope this helps|hope this helps|feel free|please let me know|if you have any)",
    re.IGNORECASE,
)


# Method statements: how the answer will compute something, not what the sources say.
_PROCEDURE_RE = re.compile(
    r"^(?:(?:to|in order to)\s+(?:calculate|compute|determine|find|get|answer|arrive)\b|"
    r"(?:first|next|then|finally|now)\b,?\s+(?:we|you|let's|i)\b|"
    r"(?:calculate|compute|divide|multiply|add|subtract|sum|take|find|look|open|round|use|plug|apply)\b)"
    r"|\b(?:we|you|i)\s+(?:need|will need|would need|have|can|could|will|would|must|should)\s+to\b"
    r"|\blet(?:'s| us)\b|\bis (?:calculated|computed|defined|derived) (?:as|by)\b",
    re.IGNORECASE,
)
_FORMULA_RE = re.compile(r"[=]|\s[/×*÷]\s")


@dataclass
class Claim:
    """One claim sentence: its text as written, its span in the answer and its citations."""

    text: str
    start: int
    end: int
    citations: list[str] = field(default_factory=list)

    @cached_property
    def plain(self) -> str:
        """The claim without its inline citations (what is compared with the evidence)."""
        return re.sub(r"\s+", " ", _CITATION_GROUP_RE.sub(" ", self.text)).strip()

    @cached_property
    def quantities(self) -> list[Quantity]:
        return [q for q in extract_quantities(self.plain) if checkable(q)]

    @cached_property
    def periods(self) -> list[Period]:
        return extract_periods(self.plain)

    @cached_property
    def entities(self) -> list[Entity]:
        return extract_entities(self.plain)

    def cited_pages(self) -> list[tuple[str, int]]:
        """(doc_id, page) of each inline citation, in order, without repeats."""
        seen: list[tuple[str, int]] = []
        for citation in self.citations:
            for m in CITATION_RE.finditer(citation):
                key = (m.group("doc"), int(m.group("page")))
                if key not in seen:
                    seen.append(key)
        return seen


def _citations_in(text: str) -> list[str]:
    return [m.group(0) for m in CITATION_RE.finditer(text)]


def is_claim(text: str) -> bool:
    """False for text that asserts nothing checkable: questions, colon lead-ins without figures,
    courtesy lines, and fragments of fewer than two words."""
    stripped = text.strip().strip("*#-•> ").strip()
    plain = _CITATION_GROUP_RE.sub(" ", stripped).strip()
    if len(_WORD_RE.findall(plain)) < 2 and not extract_quantities(plain):
        return False
    if plain.endswith("?") or _COURTESY_RE.match(plain):
        return False
    figures = [q for q in extract_quantities(plain) if checkable(q)]
    if plain.endswith(":") and not figures:
        return False
    # A method statement or a formula without figures ("Gross margin = (Revenue - COGS) /
    # Revenue") states how to compute, not a fact of the sources.
    return bool(figures) or not (_PROCEDURE_RE.search(plain) or _FORMULA_RE.search(plain))


def split_claims(answer: str, *, keep_non_claims: bool = False) -> list[Claim]:
    """Claims of `answer` in order, each with its (start, end) span and inline citations."""
    claims: list[Claim] = []
    for start, end in sentence_spans(answer):
        leading = _LEADING_CITATIONS_RE.match(answer, start, end)
        if leading and claims:
            # A citation after the full stop belongs to the sentence before it.
            previous = claims[-1]
            previous.end = leading.end()
            previous.text = answer[previous.start : previous.end]
            previous.citations += _citations_in(leading.group(0))
            start = leading.end()
            while start < end and answer[start].isspace():
                start += 1
            if start >= end:
                continue
        claims.append(Claim(answer[start:end], start, end, _citations_in(answer[start:end])))
    if keep_non_claims:
        return claims
    return [c for c in claims if is_claim(c.text)]
