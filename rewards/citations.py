"""Citation precision and recall of an answer's inline citations, in the ALCE sense
(Gao et al. 2023, "Enabling Large Language Models to Generate Text with Citations", §2.3).

For each claim with citations `[DOC p.N]`, "supports" means the checker marks the claim
`supported` against exactly those source pages:
* **recall** of a claim is 1 when the union of its cited pages supports it (0 when it cites
  nothing, or only pages that are not among the sources);
* a **citation** is precise when its page alone supports the claim, or when the claim's other
  citations without it do not (it is needed). As in ALCE, when the union does not support the
  claim, none of its citations is precise.

Recall is averaged over all claims (uncited claims count 0); precision over all citations.
"""

from __future__ import annotations

from collections.abc import Sequence

from cai.core.contracts import SourcePage, Verdict
from rewards.checker import Checker
from rewards.claims import Claim, split_claims


def _supports(checker: Checker, question: str | None, claim: Claim, pages: Sequence[SourcePage]) -> bool:
    if not pages:
        return False
    verdicts = checker.check(question, claim.plain, list(pages))
    return bool(verdicts) and all(v.verdict == Verdict.supported for v in verdicts)


def citation_metrics(checker: Checker, question: str | None, answer: str, sources: Sequence[SourcePage]) -> dict:
    """{"precision", "recall", "n_claims", "n_citations", "missing": [citations to unknown pages]}."""
    by_page = {(s.doc_id, s.page): s for s in sources}
    claims = split_claims(answer)
    recalled = 0
    precise = 0
    n_citations = 0
    missing: list[str] = []
    for claim in claims:
        cited = claim.cited_pages()
        n_citations += len(cited)
        missing += [f"[{d} p.{p}]" for d, p in cited if (d, p) not in by_page]
        pages = [by_page[key] for key in cited if key in by_page]
        if not _supports(checker, question, claim, pages):
            continue
        recalled += 1
        for key in cited:
            if key not in by_page:
                continue
            alone = _supports(checker, question, claim, [by_page[key]])
            others = [by_page[k] for k in cited if k != key and k in by_page]
            if alone or not _supports(checker, question, claim, others):
                precise += 1
    return {
        "precision": precise / n_citations if n_citations else 0.0,
        "recall": recalled / len(claims) if claims else 0.0,
        "n_claims": len(claims),
        "n_citations": n_citations,
        "missing": sorted(set(missing)),
    }


def with_citation(text: str, citation: str) -> str:
    """`text` with `citation` ("[DOC p.N]") after the claim, before its final full stop."""
    text = text.strip()
    if text.endswith((".", "!", "?")):
        return f"{text[:-1].rstrip()} {citation}{text[-1]}"
    return f"{text} {citation}."
