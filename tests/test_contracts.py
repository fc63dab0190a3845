"""The shared contracts: JSON round-trip, locator printing/parsing, strict keys."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from cai.core import contracts as c

LOC = c.Locator(doc_id="acme-2024-10k", page=12, char_start=40, char_end=95, sentence=3)


def _samples() -> list[c.Contract]:
    span = c.SentenceSpan(sentence=3, char_start=40, char_end=95)
    ev = c.Evidence(locator=LOC, quote="Revenue was $412.3 million.")
    claim = c.ClaimVerdict(text="Revenue was $412.3 million [acme-2024-10k p.12].", verdict="supported", score=0.93,
                           evidence=ev, span=(0, 48), citations=["acme-2024-10k p.12"])
    crit = c.Critique(round=1, rule_ids=["claims-supported"],
                      violations=[c.RuleViolation(rule_id="claims-supported", claim="x", evidence=ev, fix="y")])
    rev = c.Revision(round=1, text="Revised.",
                     citations=[c.Citation(locator=LOC, quote="Revenue was $412.3 million.", doc_sha256="ab" * 32)])
    hit = c.SearchHit(doc_id=LOC.doc_id, page=12, score=0.5, text="Revenue was $412.3 million.", locator=LOC,
                      chunk_id="acme-2024-10k:p12:c0")
    doc = c.Document(doc_id="acme-2024-10k", path="a.pdf", sha256="0" * 64, n_pages=14,
                     metadata=c.DocumentMetadata(company="Acme", form="10-K", fiscal_year=2024))
    page = c.PageText(doc_id=doc.doc_id, page=12, text="x" * 100, sentences=[span])
    chunk = c.Chunk(chunk_id="acme-2024-10k:p12:c0", locator=LOC, text="Revenue was $412.3 million.", sentences=[span])
    return [
        LOC, span, ev, claim, crit, rev, hit, doc, page, chunk,
        c.ParsedDocument(document=doc, pages=[page], chunks=[chunk],
                         issues=[c.IngestIssue(path="b.pdf", status="skipped", reason="encrypted")]),
        c.Record(id="q1", question="Revenue?", sources=[hit], draft="d", rounds=[c.Round(critique=crit, revision=rev)],
                 final_answer="f", claims=[claim], teacher_call_ids=["t1"]),
        c.SFTExample(id="q1", messages=[c.Message(role="user", content="q"), c.Message(role="assistant", content="a")]),
        c.PreferencePair(id="q1", prompt="q", chosen="good", rejected="bad", source="revision", confidence=0.9,
                         rule_ids=["claims-supported"]),
        c.PreferencePair(id="q2", prompt=[c.Message(role="user", content="q")],
                         chosen=[c.Message(role="assistant", content="g")],
                         rejected=[c.Message(role="assistant", content="b")], source="judge"),
        c.ScoreOutput(id="r1", verdict="unverified", score=0.0, claims=[claim]),
    ]


@pytest.mark.parametrize("obj", _samples(), ids=lambda o: type(o).__name__)
def test_json_round_trip(obj):
    text = json.dumps(obj.model_dump(mode="json"))
    again = type(obj).model_validate(json.loads(text))
    assert again == obj
    assert json.dumps(again.model_dump(mode="json")) == text


def test_locator_printed_form_and_parse():
    assert str(LOC) == "acme-2024-10k p.12 s.3"
    assert LOC.citation() == "[acme-2024-10k p.12]"
    assert c.Locator.parse("acme-2024-10k p.12 s.3") == ("acme-2024-10k", 12, 3)
    assert c.Locator.parse("acme-2024-10k p.12") == ("acme-2024-10k", 12, None)
    with pytest.raises(ValueError):
        c.Locator.parse("acme page 12")


def test_locator_rejects_zero_page_and_inverted_span():
    with pytest.raises(ValidationError):
        c.Locator(doc_id="a", page=0, char_start=0, char_end=1, sentence=0)
    with pytest.raises(ValidationError):
        c.Locator(doc_id="a", page=1, char_start=5, char_end=1, sentence=0)


def test_inline_citation_pattern():
    text = "Revenue rose 4% [acme-2024-10k p.12]; margin fell [acme-2023-10k p.3]."
    assert [(m["doc"], int(m["page"])) for m in c.CITATION_RE.finditer(text)] == [("acme-2024-10k", 12),
                                                                                   ("acme-2023-10k", 3)]


def test_unknown_keys_rejected_but_score_input_keeps_extras():
    with pytest.raises(ValidationError):
        c.SearchHit.model_validate({"doc_id": "a", "page": 1, "score": 1.0, "text": "t", "locator": LOC.model_dump(),
                                    "extra": 1})
    row = c.ScoreInput.model_validate({"id": "1", "answer": "a", "label": "supported"})
    assert row.model_dump()["label"] == "supported"


def test_verdict_values_are_the_contract():
    assert [v.value for v in c.Verdict] == ["supported", "unsupported", "unverified"]
