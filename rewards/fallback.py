"""The answer a question prescribes for when the sources lack what it asks about.

Analyst questions often say what to answer when an item is absent: "What is the quantity of
restructuring costs directly outlined in the income statements for FY2022? If restructuring costs
are not explicitly outlined then state 0." A claim that gives that prescribed value ("Therefore, the
restructuring costs for FY2022 are 0.") asserts the item's absence, which no sentence of the
sources states and no figure matches. It is supported exactly when the sources indeed do not name
the item: no premise window (`rewards.premises`) holds all its words (`measure_tokens`, synonyms
included), as "costs directly associated with a major restructuring program" does. When one does,
the claim is unsupported: the sources outline the item, so its absence is not the answer (and a
zero, no checkable figure, would otherwise pass on its words alone).

A reading convention of instructions in questions, not fitted to any data set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from rewards.numbers import extract_quantities
from rewards.premises import NEGATION_RE, PreparedPage, measure_tokens, occurs

_ABSENT = (r"(?:outlined|stated|shown|reported|disclosed|mentioned|listed|provided|available|present|given"
           r"|included|broken\s+out|itemi[sz]ed|found)")
_FALLBACK_RE = re.compile(
    rf"\bif\s+(?:the\s+|any\s+)?(?P<subject>[^.?!,;:]{{3,80}}?)\s+(?:is|are|was|were)\s+not\s+(?:\w+\s+){{0,2}}?"
    rf"{_ABSENT}\b[^.?!]{{0,60}}?,?\s*(?:then\s+)?(?:please\s+)?(?:state|answer|say|write|report|respond\s+with"
    rf"|put|return|enter|use)\s+(?:a\s+value\s+of\s+|that\s+it\s+is\s+)?[\"'“]?(?P<value>[$\w.\-]+)",
    re.IGNORECASE)


# Words of a claim that states an answer without naming anything: "Therefore, the answer is 0."
_WORKING = frozenset({"answer", "quantity", "amount", "value", "figure", "result"})
_CONTRAST_RE = re.compile(r"\b(?:but|however|although|though|while|except|other\s+than|instead)\b", re.IGNORECASE)


@lru_cache(maxsize=256)  # asked once per claim of an answer: the same question each time
def prescribed_fallback(question: str) -> tuple[list[str], float] | None:
    """(the absent item's words, the value to state) of a question that prescribes one for an absent
    item, e.g. (["restructur", "cost"], 0.0); None when the question prescribes none or the value
    is not a number."""
    m = _FALLBACK_RE.search(question or "")
    if m is None:
        return None
    values = extract_quantities(m.group("value"))
    words = measure_tokens(m.group("subject"))
    if len(values) != 1 or not words:
        return None
    return words, values[0].magnitude


def states_fallback(claim: str, question: str, pages: Sequence[PreparedPage]) -> tuple[bool, str] | None:
    """(supported, reason) for a claim that states the value its question prescribes for an absent
    item, or, without figures, that the item is absent ("the 10-K does not mention any restructuring
    costs"): supported when no premise window of the sources names all the item's words, unsupported
    when one does; None when it is not such a claim. The claim's other words must all be the
    question's: it restates the asked item, it does not introduce another."""
    fallback = prescribed_fallback(question)
    if fallback is None:
        return None
    words, value = fallback
    figures = extract_quantities(claim)
    if figures and any(q.magnitude != value for q in figures):
        return None
    if not figures:
        # The item's absence ("no restructuring costs"), said of nothing else ("…, but impairments").
        lowered = claim.lower()
        if not NEGATION_RE.search(claim) or _CONTRAST_RE.search(claim) or not all(occurs(t, lowered) for t in words):
            return None
    elif any(not occurs(t, question.lower()) for t in measure_tokens(claim) if t not in _WORKING):
        return None
    item = " ".join(words)
    if any(page.windows and page.window_hits(words).all(axis=1).any() for page in pages):
        # A premise window names every word of the item: the sources outline it, so the value the
        # question prescribes for its absence is not the answer (a zero is no figure to match).
        return False, f"the sources outline {item}: the question's {value:g} is for when they do not"
    return True, f"no source names {item}: the question prescribes {value:g} for that case"
