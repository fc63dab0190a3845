"""score_rows (behind `cai score`): verdict aggregation and per-row errors for bad input."""

from __future__ import annotations

import json

from rewards.score import MAX_SOURCE_CHARS, score_rows

PAGE_TEXT = "Total net sales\n2022\n2023\n135,987\n177,866\nNet income\n2,371\n3,033\n"
SOURCES = [{"doc_id": "acme-2023-10k", "page": 3, "text": PAGE_TEXT}]


def row(**fields) -> str:
    return json.dumps({"id": "r", "question": "What were net sales in 2023?", "sources": SOURCES, **fields})


def test_supported_only_when_every_claim_is(checker):
    lines = [
        row(id="good", answer="Net sales were $177,866 million in 2023 [acme-2023-10k p.3]."),
        row(id="mixed", answer="Net sales were $177,866 million in 2023. Net income was $4,100 million in 2023."),
    ]
    good, mixed = list(score_rows(lines, checker=checker))
    assert good["id"] == "good" and good["verdict"] == "supported" and good["score"] >= 0.5
    claim = good["claims"][0]
    assert set(claim) >= {"text", "verdict", "score", "evidence"}
    assert set(claim["evidence"]) == {"locator", "quote"} and claim["evidence"]["quote"] in PAGE_TEXT
    assert "citations" in good and good["citations"]["recall"] == 1.0
    assert mixed["verdict"] == "unsupported" and mixed["score"] < 0.5
    assert [c["verdict"] for c in mixed["claims"]] == ["supported", "unsupported"]


def test_bad_rows_give_errors_with_line_numbers_and_others_are_scored(checker):
    lines = [
        "{not json",
        row(id="no-answer", answer=None),
        row(id="not-text", answer=["a", "list"]),
        json.dumps({"id": "no-sources", "answer": "Net sales were $177,866 million."}),
        row(id="empty-sources", answer="Net sales were $177,866 million.", sources=[]),
        row(id="huge", answer="Net sales were $177,866 million.",
            sources=[{"doc_id": "big", "page": 1, "text": "x" * (MAX_SOURCE_CHARS + 1)}]),
        row(id="binary", answer="Net sales were $177,866 million.",
            sources=[{"doc_id": "bin", "page": 1, "text": "ab\x00\x01\x02cd"}]),
        "",
        "[1, 2]",
        row(id="fine", answer="Net income was $3,033 million in 2023."),
    ]
    out = list(score_rows(lines, checker=checker))
    errors = {o["line"]: o for o in out if "error" in o}
    assert sorted(errors) == [1, 2, 3, 4, 5, 6, 7, 9]
    assert "malformed JSON" in errors[1]["error"] and errors[1]["id"] is None
    assert errors[2]["id"] == "no-answer" and "answer" in errors[2]["error"]
    assert "text" in errors[3]["error"]
    assert "sources" in errors[4]["error"] and "sources" in errors[5]["error"]
    assert "too large" in errors[6]["error"] and "not text" in errors[7]["error"]
    for error_row in errors.values():
        assert error_row["verdict"] == "unverified" and error_row["score"] == 0.0
        assert all(c["verdict"] == "unverified" for c in error_row["claims"])
    [fine] = [o for o in out if o["id"] == "fine"]
    assert fine["verdict"] == "supported" and "error" not in fine


def test_sources_are_retrieved_when_absent(checker):
    calls = []

    def retrieve(question):
        calls.append(question)
        from cai.core.contracts import SourcePage

        return [SourcePage(**SOURCES[0])]

    line = json.dumps({"id": "q", "question": "net sales 2023?", "answer": "Net sales were $177,866 million in 2023."})
    [out] = list(score_rows([line], checker=checker, retrieve=retrieve))
    assert calls == ["net sales 2023?"] and out["verdict"] == "supported"
