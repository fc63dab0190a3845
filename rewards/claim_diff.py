"""Comparing the claims of two answers: which claims one keeps, rewords, weakens or drops.

Used where one answer replaces another: the revision gate (a revision may not lose supported
content, `cai.stages.revision_gate`) and preference pairs (a pair must differ in what it claims,
not only in its citations, `cai.stages.pairs`). Claims are compared on their content — inline
citations removed — by edit similarity and by the figures they state, in the spirit of the
preservation score of RARR (Gao et al. 2023, "RARR: Researching and Revising What Language Models
Say"): a revision may change wording, but each figure it kept must still be there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import SequenceMatcher

from cai.core.contracts import ClaimVerdict, Verdict
from rewards.injection import instruction_like
from rewards.numbers import checkable, extract_quantities

SAME_CLAIM = 0.9  # edit similarity of two claims' contents above which one is the other
RELATED_CLAIM = 0.6  # above which a claim is a rewording of the other
_CITATION = re.compile(r"\s*\[[^\[\]]*\bp\.\d+[^\[\]]*\]")
_SPACE_BEFORE_STOP = re.compile(r"\s+([.,;:!?])")

DROPPED = "dropped-supported-claim"
WEAKENED = "weakened-supported-claim"


def plain(text: str) -> str:
    """Content for comparison: no inline citations, one space, no closing full stop, lower case."""
    spaced = " ".join(_CITATION.sub(" ", text).split())
    return _SPACE_BEFORE_STOP.sub(r"\1", spaced).rstrip(" .").lower()


def same_substance(a: str | None, b: str | None) -> bool:
    """Whether two answers say the same thing, citations aside."""
    return plain(a or "") == plain(b or "")


def similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, plain(a), plain(b)).ratio()


def figures(text: str) -> set[str]:
    """The checkable figures of a text as normalised values: "$147.4 million" and "$147,400,000"
    are one figure."""
    return {f"{q.magnitude * (q.scale or 1):.6g}|{q.unit}" for q in extract_quantities(plain(text)) if checkable(q)}


def content_claims(claims: Iterable[ClaimVerdict]) -> list[ClaimVerdict]:
    """Claims that state content: an instruction-like sentence is never content (`rewards.injection`)."""
    return [c for c in claims if not instruction_like(c.text)]


def supported_count(claims: Iterable[ClaimVerdict]) -> int:
    return sum(c.verdict == Verdict.supported for c in content_claims(claims))


def unsupported_count(claims: Iterable[ClaimVerdict]) -> int:
    return sum(c.verdict != Verdict.supported for c in content_claims(claims))


def support_of(claims: Iterable[ClaimVerdict]) -> float | None:
    """Share of the content claims that are supported; None without content claims."""
    content = content_claims(claims)
    return sum(c.verdict == Verdict.supported for c in content) / len(content) if content else None


def has_same(claim: str, others: Iterable[ClaimVerdict]) -> bool:
    """Whether `others` holds `claim` unchanged (citations aside): nearly the same words and
    exactly the same figures ("$24.5 million" → "$42.5 million" is a change, however similar)."""
    wanted = figures(claim)
    return any(similarity(claim, o.text) >= SAME_CLAIM and figures(o.text) == wanted for o in others)


def fate(claim: ClaimVerdict, revised: Iterable[ClaimVerdict]) -> str | None:
    """What `revised` did with the supported `claim`: None when it survives (the same sentence,
    one that holds it, or a rewording with all its figures) and is still supported; WEAKENED when
    a rewording of it is there but unsupported or short of a figure; DROPPED when nothing is."""
    wanted, text = figures(claim.text), plain(claim.text)
    related = False
    for r in revised:
        sim, holds = similarity(claim.text, r.text), wanted <= figures(r.text)
        same = sim >= SAME_CLAIM or text in plain(r.text) or (bool(wanted) and holds and sim >= RELATED_CLAIM / 2)
        if same and holds and r.verdict == Verdict.supported:
            return None
        related = related or same or sim >= RELATED_CLAIM
    if _split(text, list(revised)):
        return None
    return WEAKENED if related else DROPPED


SPLIT_PARTS = 3  # consecutive revised claims one claim may have been split into


def _split(text: str, revised: list[ClaimVerdict]) -> bool:
    """Whether consecutive supported claims of `revised` hold `text` between them: a claim that ran
    over a line break ("Average payables = (a + b) / 2\nAverage payables = c / 2") is two once a
    revision cites each line."""
    for start in range(len(revised)):
        window = revised[start:start + SPLIT_PARTS]
        for end in range(2, len(window) + 1):
            parts = window[:end]
            if all(r.verdict == Verdict.supported for r in parts) and text in " ".join(plain(r.text) for r in parts):
                return True
    return False
