"""Issue #21 point 3 (draft size): the preservation measure compared every supported draft claim
with every final claim, so a 40,000-sentence draft stalled generate for hours. Above an
ordinary answer's size the comparisons are now bounded per claim; the test counts them."""

from __future__ import annotations

import random

import pytest

import cai.stages.preservation as preservation_module
from cai.core.contracts import ClaimVerdict, Verdict
from cai.stages.cpu_pool import CpuWork
from cai.stages.preservation import CANDIDATES, MAX_PAIRS, preservation

WORDS = ("revenue income margin segment backlog guidance dividend capital lease tax pension inventory goodwill "
         "cash debt equity shares grant outlook freight").split()


def _sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(WORDS).capitalize()} in unit {i} rose {rng.randint(1, 99)} percent to "
            f"{rng.randint(100, 9999)} {rng.choice(WORDS)} for region {i * 7 % 1013} overall." for i in range(n)]


def _claims(texts: list[str]) -> list[ClaimVerdict]:
    """The draft's claims as generate has them: split from the draft text by the claim splitter."""
    from rewards.claims import split_claims

    claims = [c.text for c in split_claims(" ".join(texts))]
    assert claims == texts  # one claim per sentence, so the expectations below are exact
    return [ClaimVerdict(text=t, verdict=Verdict.supported, score=1.0) for t in claims]


@pytest.fixture
def comparisons(monkeypatch) -> list[int]:
    count = [0]
    real = preservation_module._ratio

    def counting(a: str, b: str) -> float:
        count[0] += 1
        return real(a, b)

    monkeypatch.setattr(preservation_module, "_ratio", counting)
    return count


def test_a_large_revised_draft_costs_a_bounded_number_of_comparisons(comparisons):
    n = 3_000  # all pairs would be 9 million comparisons; the bound is (CANDIDATES + 1) per claim
    draft = _sentences(n)
    final = [s.replace("rose", "grew") if i % 3 else s for i, s in enumerate(draft)]  # a light revision
    result = preservation(_claims(draft), " ".join(final))
    assert result["supported_in_draft"] == n
    assert 0 < comparisons[0] <= (CANDIDATES + 1) * n < n * n
    assert comparisons[0] <= (CANDIDATES + 1) * (n - n // 3)  # exact copies are found by hashing, not compared
    assert result["kept"] == 1.0 and result["similarity"] > 0.9  # every claim survived the light edit


def test_a_dropped_half_is_measured_as_dropped():
    draft = _sentences(2_000, seed=1)
    kept = draft[::2]
    result = preservation(_claims(draft), " ".join(kept))
    # every kept claim is found (≥ 0.5); a few dropped ones resemble a kept one closely (the
    # sentences share a template), which the all-pairs measure counts as kept too
    assert 0.5 <= result["kept"] <= 0.52


def test_ordinary_answers_keep_the_exact_all_pairs_measure(comparisons):
    from difflib import SequenceMatcher

    draft = _sentences(12, seed=2)
    final = " ".join(s.replace("percent", "per cent") for s in reversed(draft[:9]))
    result = preservation(_claims(draft), final)
    assert comparisons[0] == 12 * 9 <= MAX_PAIRS
    finals = [s.replace("percent", "per cent") for s in draft[:9]]
    sims = [max(SequenceMatcher(None, t, f).ratio() for f in finals) for t in draft]
    assert result["similarity"] == round(sum(sims) / len(sims), 4)
    assert result["kept"] == round(sum(x >= 0.9 for x in sims) / len(sims), 4)


def test_generate_uses_the_bounded_measure(comparisons):
    draft = _sentences(400, seed=3)
    result = CpuWork.preservation(None, _claims(draft), " ".join(s.replace("rose", "grew") for s in draft))
    assert result["kept"] == 1.0 and 0 < comparisons[0] <= (CANDIDATES + 1) * 400 < 400 * 400
    assert preservation([], "x") == {"supported_in_draft": 0, "kept": None, "similarity": None}
