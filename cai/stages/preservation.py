"""The preservation measure of a revision: how much supported draft content survived it.

For each supported draft claim, its best edit similarity (difflib ratio) to a claim of the final
answer; `kept` is the share at or above 0.9, `similarity` the mean. Comparing every draft claim
with every final claim is quadratic: a 40,000-sentence draft meant 1.6 billion comparisons and
hours of generate. So the exact all-pairs measure is kept for answers of ordinary size (up to
`MAX_PAIRS` pairs, far beyond any real answer), and above that each draft claim is compared with
at most `CANDIDATES` + 1 final claims: its exact copy when there is one (hashing), else the final
claims that share the most of its rarest words (an inverted index) and the final claim at the same
relative position (revisions keep the order). That is linear in the number of claims. A claim the
revision kept (similarity ≥ 0.9) nearly always shares its rare words with its kept copy, so `kept`
barely moves; the estimate can only come out lower than the all-pairs measure, never higher.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from difflib import SequenceMatcher

from cai.core.contracts import ClaimVerdict

MAX_PAIRS = 10_000  # all pairs compared up to here (the exact measure)
CANDIDATES = 5  # final claims compared per draft claim above it
RARE_WORDS = 8  # the draft claim's rarest words used to find candidates
MAX_POSTING = 64  # a word in more final claims than this does not tell them apart (and would cost)
MAX_CHARS = 2_000  # difflib is quadratic in text length: compare at most this much of each claim
KEPT = 0.9

_WORD = re.compile(r"\w+")


def _ratio(a: str, b: str) -> float:
    return SequenceMatcher(None, a[:MAX_CHARS], b[:MAX_CHARS]).ratio()


def _candidate_sims(supported: list[str], finals: list[str]) -> list[float]:
    """Best similarity of each draft claim among its few candidate final claims (linear time)."""
    exact = set(finals)
    postings: dict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(finals):
        for word in set(_WORD.findall(text.lower())):
            postings[word].append(i)
    sims = []
    for k, text in enumerate(supported):
        if text in exact:
            sims.append(1.0)
            continue
        words = [w for w in set(_WORD.findall(text.lower())) if 0 < len(postings.get(w, ())) <= MAX_POSTING]
        words.sort(key=lambda w: (len(postings[w]), w))
        votes: Counter[int] = Counter()
        for w in words[:RARE_WORDS]:
            votes.update(postings[w])
        best = {i for i, _ in votes.most_common(CANDIDATES)} | {k * len(finals) // len(supported)}
        sims.append(max((_ratio(text, finals[i]) for i in best), default=0.0))
    return sims


def preservation(draft_claims: list[ClaimVerdict], final: str) -> dict:
    """How much supported draft content survived revision: kept share and mean edit similarity."""
    from rewards.claims import split_claims

    supported = [c.text for c in draft_claims if c.verdict == "supported"]
    if not supported:
        return {"supported_in_draft": 0, "kept": None, "similarity": None}
    finals = [c.text for c in split_claims(final)] or [final]
    if len(supported) * len(finals) <= MAX_PAIRS:
        sims = [max(_ratio(t, f) for f in finals) for t in supported]
    else:
        sims = _candidate_sims(supported, finals)
    return {"supported_in_draft": len(supported), "kept": round(sum(x >= KEPT for x in sims) / len(sims), 4),
            "similarity": round(sum(sims) / len(sims), 4)}
