"""Review corrections and what a rejection does to pairs (issue #17, deliverable 6): a reviewer's
corrected answer is stored with the checker's verdicts and becomes the SFT target and the chosen
side; a rejected claim removes the AI pairs that chose it; an answerable question never gets a bare
abstention as its chosen side; the export README lists the files it wrote. Hand-made records for
the rules, then the real server and export on a copy of the quickstart run."""

from __future__ import annotations

import json
import re
import shutil
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from test_review import PAYLOAD, Client, Tags, serving

from cai.cli import cli
from cai.core.contracts import ClaimVerdict, Locator, PreferencePair, Record, SearchHit, Verdict
from cai.core.prompts import ABSTAIN
from cai.stages.review import ReviewRun
from cai.stages.review_export import (
    MAX_CORRECTION,
    REVIEWER_CORRECTED,
    REVIEWER_REJECTED,
    answerable,
    check_correction,
    clean_correction,
    human_pair,
    split_ai_pairs,
    states,
)
from cai.stages.review_store import ClaimDecision, Correction, ReviewStore

RIGHT = "Net income was $147.4 million in 2024 [acme-10k p.6]."
WRONG = "Net income was $174.4 million in 2024 [acme-10k p.6]."
OTHER = "Revenue was $2,387.5 million in 2024 [acme-10k p.10]."
CORRECTION = "Net income was $147.4 million in 2024, up 21.5% [acme-10k p.6]."


def _v(text: str, verdict: Verdict = Verdict.supported) -> ClaimVerdict:
    return ClaimVerdict(text=text, verdict=verdict, score=0.9 if verdict == Verdict.supported else 0.1)


def _hit(page: int) -> SearchHit:
    return SearchHit(chunk_id=f"acme-10k:{page}:0", doc_id="acme-10k", page=page, text="…", score=1.0,
                     locator=Locator(doc_id="acme-10k", page=page, char_start=0, char_end=1, sentence=0))


def _record(final: list[ClaimVerdict], draft: list[ClaimVerdict] | None = None, **metadata) -> Record:
    text = " ".join(c.text for c in final)
    pos, claims = 0, []
    for c in final:  # spans into the final answer, as the checker writes them
        claims.append(c.model_copy(update={"span": (pos, pos + len(c.text))}))
        pos += len(c.text) + 1
    return Record(id="q1", question="What was Acme's net income in 2024?", final_answer=text, claims=claims,
                  draft_claims=draft or [], sources=[_hit(6)], metadata=metadata)


# -------------------------------------------------------------------------------------- the rules
def test_a_correction_is_the_chosen_side_against_the_final_answer():
    record = _record([_v(WRONG)])
    pair, why = human_pair(record, [["claims-supported"]], {0: ["reject"]}, {0}, CORRECTION, "(no rule)")
    assert why == "" and pair.chosen[0].content == CORRECTION and pair.rejected[0].content == record.final_answer
    assert pair.source == "human" and pair.confidence == 1.0 and pair.prompt[-1].role == "user"
    assert pair.reason.reasons == [REVIEWER_CORRECTED] and pair.reason.claims_fixed == [WRONG]
    assert pair.reason.rule_ids == ["claims-supported"] == pair.rule_ids
    # a correction with no rejected claim still makes a pair; one that says the same makes none
    pair, _ = human_pair(record, [["(no rule)"]], {0: ["accept"]}, set(), CORRECTION, "(no rule)")
    assert pair.chosen[0].content == CORRECTION and pair.reason.claims_fixed == []
    assert human_pair(record, [["(no rule)"]], {}, set(), WRONG.replace(" [acme-10k p.6]", ""), "(no rule)")[0] is None


def test_an_answerable_question_never_gets_a_bare_abstention():
    # the sources support another claim (the draft's): answerable → no pair without a correction
    record = _record([_v(WRONG)], draft=[_v(RIGHT)])
    pair, why = human_pair(record, [["(no rule)"]], {0: ["reject", "reject"]}, {0}, None, "(no rule)")
    assert pair is None and "answerable" in why
    # a gold quote on a page of the record's sources: answerable too
    gold = _record([_v(WRONG)], gold=[{"doc": "acme-10k", "page": 6, "quote": "net income of $147.4 million"}])
    assert answerable(gold, [WRONG]) and human_pair(gold, [["(no rule)"]], {0: ["reject"]}, {0}, None, "x")[0] is None
    # ... but not one on a page the sources do not hold
    elsewhere = _record([_v(WRONG)], gold=[{"doc": "acme-10k", "page": 9, "quote": "net income of $147.4 million"}])
    assert not answerable(elsewhere, [WRONG])
    # nothing else is supported (the draft said the same wrong thing): the abstention may be chosen
    record = _record([_v(WRONG)], draft=[_v(WRONG.replace(" [acme-10k p.6]", ""))])
    pair, _ = human_pair(record, [["(no rule)"]], {0: ["reject"]}, {0}, None, "(no rule)")
    assert pair.chosen[0].content == ABSTAIN and pair.reason.reasons == [REVIEWER_REJECTED]
    # tagged unanswerable: abstention, whatever else the record supports
    tagged = _record([_v(WRONG)], draft=[_v(RIGHT)], tags=["unanswerable"])
    assert human_pair(tagged, [["(no rule)"]], {0: ["reject"]}, {0}, None, "x")[0].chosen[0].content == ABSTAIN


def test_a_partial_rejection_keeps_the_rest_unless_only_an_abstention_is_left():
    record = _record([_v(RIGHT), _v(WRONG, Verdict.unsupported)])
    pair, _ = human_pair(record, [["(no rule)"], ["claims-supported"]], {1: ["reject", "flag"]}, {1}, None, "x")
    assert pair.chosen[0].content == RIGHT and pair.confidence == 0.5 and pair.reason.claims_fixed == [WRONG]
    hedge = "The sources do not state the net income for 2025."
    record = _record([_v(WRONG), _v(hedge)], draft=[_v(RIGHT)])
    record.claims[1] = record.claims[1].model_copy(update={"span": None})  # an abstention is no claim
    pair, why = human_pair(record, [["(no rule)"], ["(no rule)"]], {0: ["reject"]}, {0}, None, "x")
    assert pair is None and "answerable" in why


def test_rejecting_a_claim_drops_the_ai_pairs_that_chose_it():
    def row(pid, chosen, rejected):
        return {"id": pid, "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}], "source": "revision"}

    rows = [row("q1:revision", WRONG.replace(" [acme-10k p.6]", ""), "Net income was $1 million."),  # states it
            row("q1:judge:p1", RIGHT, WRONG),  # the claim is only on the rejected side: kept
            row("q10:revision", WRONG, RIGHT),  # another question (an id that merely starts alike): kept
            row("q2:revision", WRONG, RIGHT),  # no claim of q2 was rejected: kept
            row("q1:judge:p2", RIGHT, "Net income was unchanged.")]  # a figure apart from the rejected claim: kept
    kept, dropped = split_ai_pairs(rows, {"q1": [WRONG]})
    assert [r["id"] for r in kept] == ["q1:judge:p1", "q10:revision", "q2:revision", "q1:judge:p2"]
    assert dropped == [{"id": "q1:revision", "record_id": "q1", "source": "revision", "rejected_claims": [WRONG],
                        "why": "its chosen side states a claim reviewers rejected"}]
    assert states(f"Also, {WRONG.lower()}", WRONG) and states(WRONG.replace(" in ", " for "), WRONG)
    assert not states(RIGHT, WRONG)  # one transposed figure: alike as sentences, another claim


def test_corrections_are_cleaned_checked_fail_closed_and_kept_with_their_submission(tmp_path):
    assert clean_correction("  a\r\nb\rc\t ") == "a\nb\nc" and clean_correction("a\x00b") is None
    assert clean_correction("a\x1bb") is None and clean_correction("") == ""

    class Never:
        name = "never"

        def check(self, *_):
            raise AssertionError("no pages, no call")

    verdicts = check_correction(Never(), None, _record([_v(WRONG)]), CORRECTION)
    assert [v.verdict for v in verdicts] == [Verdict.unverified] and "could not be read" in verdicts[0].reason

    store = ReviewStore(tmp_path / "review.sqlite")
    store.submit("q1", "alice", [ClaimDecision(0, "c0", "reject")], correction=Correction(CORRECTION, "old", "offline"))
    store.submit("q1", "bob", [], correction=Correction("bob's answer", "old"))
    again = ReviewStore(tmp_path / "review.sqlite")
    fixes = {c.reviewer: c for c in again.corrections("q1")}
    assert fixes["alice"].text == CORRECTION and fixes["alice"].answer_text == "old" and fixes["alice"].created_at
    assert again.history("q1")[0]["correction"] == CORRECTION
    again.submit("q1", "alice", [ClaimDecision(0, "c0", "reject")])  # submitted again with the box emptied
    again.discard("q1", "bob")
    assert again.corrections() == [] and again.my_correction("q1", "bob").text == "bob's answer"
    assert again.my_correction("q1", "alice") is None
    with pytest.raises(ValueError):
        again.submit("q1", "alice", [], action="discard", correction=Correction("x"))
    with pytest.raises(ValueError):
        again.submit("q1", "alice", [], correction=Correction("  "))


def test_pairs_carry_their_reason_and_old_rows_still_read():
    row = {"id": "q1:human", "prompt": "q", "chosen": "a", "rejected": "b", "source": "human", "confidence": 1.0,
           "rule_ids": []}
    old = PreferencePair.model_validate(row)
    assert old.reason is None and old.model_dump(mode="json") == row  # written as before: no `reason` key
    new = PreferencePair.model_validate({**row, "reason": {"reasons": ["reviewer-corrected"], "claims_fixed": ["x"]}})
    assert new.model_dump(mode="json")["reason"] == {"reasons": ["reviewer-corrected"], "rule_ids": [],
                                                     "claims_fixed": ["x"]}
    with pytest.raises(ValueError):
        PreferencePair.model_validate({**row, "reason": {"reasons": [], "why": "typo"}})
    with pytest.raises(ValueError):
        PreferencePair.model_validate({**row, "extra": 1})


# ------------------------------------------------------------------------- the server, the export
@pytest.fixture()
def run_copy(grounded_run, tmp_path):
    return shutil.copytree(grounded_run, tmp_path / "run", ignore=shutil.ignore_patterns("review.sqlite*"))


def _two_claims(run: ReviewRun) -> Record:
    return next(r for r in run.records if len(r.claims) >= 2 and all(c.verdict == "supported" for c in r.claims))


INVENTED = "The company was founded on the Moon in 1802."


def test_a_reviewer_corrects_an_answer_and_it_is_checked_stored_and_escaped(run_copy, checker):
    with serving(run_copy) as server:
        run = server.app.run
        run.checker = checker  # the run's own checker (offline), already loaded for the session
        record = _two_claims(run)
        client = Client(server.url).login_as("alice")
        text = f"{record.claims[0].text} {INVENTED} {PAYLOAD}"
        form = {"csrf": client.csrf(), "id": record.id, "action": "submit", "correction": text,
                **{f"decision-{i}": "accept" for i in range(len(record.claims))}}
        assert client.request("POST", "/record", {**form, "csrf": "forged"})[0] == 403
        too_long = {**form, "correction": "x" * (MAX_CORRECTION + 1)}
        assert client.request("POST", "/record", too_long)[0] == 400
        assert client.request("POST", "/record", {**form, "correction": "a\x00b"})[0] == 400
        assert run.store.corrections() == [] and run.store.effective() == []  # nothing stored
        assert client.request("POST", "/record", form)[0] == 303
        (stored,) = run.store.corrections(record.id)
        assert stored.text == text and stored.reviewer == "alice" and stored.answer_text == record.final_answer
        verdicts = {c["text"]: c["verdict"] for c in json.loads(stored.claims_json)}
        assert verdicts[record.claims[0].text] == "supported" and verdicts[INVENTED] != "supported"
        html = client.get("/record?" + urlencode({"id": record.id}))[2]
        parsed = Tags(html)
        assert "<script>window" not in html and "<img" not in html and html.count("<script") == 1
        assert text in "".join(parsed.text)  # the textarea holds it back, as text
        assert any(t == "textarea" and a.get("name") == "correction" and a.get("maxlength") == str(MAX_CORRECTION)
                   for t, a in parsed.tags)
        assert 'id="correction-check"' in html and INVENTED in html


def test_export_uses_corrections_and_lists_their_unsupported_claims(run_copy, checker, tmp_path):
    run = ReviewRun.open(run_copy)
    run.checker = checker
    record = _two_claims(run)
    text = f"{record.claims[0].text} {INVENTED}"
    name, claims = run.check_correction(record, text)
    correction = Correction(text, record.final_answer, name, json.dumps([c.model_dump(mode="json") for c in claims]))
    run.store.submit(record.id, "alice", [ClaimDecision(i, c.text, "accept") for i, c in enumerate(record.claims)],
                     correction=correction)
    run.store.submit(record.id, "bob", [], correction=Correction("An older answer.", "a final answer since changed"))
    other = next(r for r in run.records if r.final_answer and r.id != record.id)
    run.store.submit(other.id, "carol", [], correction=Correction(INVENTED, other.final_answer))  # stored unchecked
    out = tmp_path / "reviewed"
    result = CliRunner().invoke(cli, ["review", str(run_copy), "--export", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 correction(s)" in result.output and "2 corrected" in result.output

    sft = {row["id"]: row for row in map(json.loads, (out / "sft.jsonl").read_text().splitlines())}
    assert sft[record.id]["messages"][-1] == {"role": "assistant", "content": text}
    pairs = [PreferencePair.model_validate_json(line) for line in (out / "preferences.jsonl").read_text().splitlines()]
    human = {p.id: p for p in pairs if p.source == "human"}
    assert set(human) == {f"{record.id}:human", f"{other.id}:human"}
    assert human[f"{record.id}:human"].chosen[0].content == text
    assert human[f"{record.id}:human"].rejected[0].content == record.final_answer
    assert human[f"{record.id}:human"].reason.reasons == [REVIEWER_CORRECTED]
    rows = {row["reviewer"]: row for row in map(json.loads, (out / "corrections.jsonl").read_text().splitlines())}
    row = rows["alice"]
    assert set(rows) == {"alice", "carol"}  # bob's correction is of an answer since changed: stale, left out
    assert row["record_id"] == record.id and row["used"] and row["checker"] == name
    assert row["unsupported_claims"] == [INVENTED] and row["supported"] == 1 and len(row["claims"]) == 2
    # a correction stored without a check is checked at export: every exported one carries verdicts
    assert rows["carol"]["checker"] == "offline" and rows["carol"]["unsupported_claims"] == [INVENTED]
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    assert counts["corrections"] == 2 and counts["corrections_unsupported"] == 2 and counts["stale_corrections"] == 1
    card = (out / "README.md").read_text()
    assert re.search(r"2 correction\(s\) used .*; 2 of\s+them hold a claim the checker did not support", card)
    assert "| `corrections.jsonl` | 2 |" in card and "| `reviewer-corrected` | 2 |" in card


def test_a_checker_that_cannot_be_opened_leaves_a_correction_unverified(run_copy):
    run = ReviewRun.open(run_copy)
    run.data.config["checker"] = "no-such-checker"
    name, claims = run.check_correction(_two_claims(run), INVENTED)
    assert name == "no-such-checker" and [c.verdict for c in claims] == [Verdict.unverified]
    assert "checker not available" in claims[0].reason
