"""The constitution's machine checks on hand-built answers (finance-10k, resolved with extends)."""

from __future__ import annotations

import pytest

from cai.core.constitution import load_constitution
from cai.core.contracts import SourcePage
from rewards.rules import evaluate_rules

SOURCE = SourcePage(
    doc_id="acme-2023-10k",
    page=12,
    text=("ACME CORP.\nYear Ended December 31,\n2022\n2023\nTotal net sales\n135,987\n177,866\n"
          "Net income\n2,371\n3,033\n"),
)
QUESTION = "What were Acme's net sales in FY2023?"


@pytest.fixture(scope="module")
def constitution():
    return load_constitution("finance-10k")


def violations(constitution, checker, answer, question=QUESTION, sources=(SOURCE,)):
    verdicts = checker.check(question, answer, list(sources))
    return evaluate_rules(constitution, question, answer, verdicts, list(sources))


def checks_of(found) -> set[str]:
    return {v.message.split("]")[0].strip("[") for v in found}


def test_clean_cited_answer_has_no_violations(constitution, checker):
    answer = "Acme's net sales in fiscal 2023 were $177,866 million [acme-2023-10k p.12]."
    assert violations(constitution, checker, answer) == []


def test_uncited_wrong_figure(constitution, checker):
    found = violations(constitution, checker, "Acme's net sales in fiscal 2023 were $181,000 million.")
    assert {"must_cite", "claims_supported", "numbers_match_sources", "quote_figures_verbatim"} <= checks_of(found)
    by_check = {v.message.split("]")[0].strip("["): v for v in found}
    assert by_check["must_cite"].rule_id == "cite-every-claim"
    assert (by_check["claims_supported"].rule_id == "claims-supported"
            and by_check["claims_supported"].severity == "critical")
    assert {v.rule_id for v in found if "numbers_match_sources" in v.message} == {"quote-key-figures", "units-as-filed"}


def test_derived_figure_passes_numbers_but_is_not_verbatim(constitution, checker):
    answer = "Acme's net sales grew 30.8% in fiscal 2023 [acme-2023-10k p.12]."
    found = checks_of(violations(constitution, checker, answer))
    assert "numbers_match_sources" not in found and "claims_supported" not in found
    assert "quote_figures_verbatim" not in found  # computed figures are exempt


def test_period_and_entity_checks(constitution, checker):
    found = violations(constitution, checker,
                       "Globex's net sales in fiscal 2020 were $177,866 million [acme-2023-10k p.12].")
    checks = checks_of(found)
    assert "period_matches_question" in checks and "entities_match_sources" in checks
    assert {v.rule_id for v in found if "period_matches_question" in v.message} == {"entities-and-periods-match",
                                                                                     "fiscal-period-as-filed"}


def test_phrases_markers_and_length(constitution, checker):
    answer = (
        "Acme's net sales in fiscal 2023 were $177,866 million [acme-2023-10k p.12]. "
        "Adjusted EBITDA probably rose, and the stock is a buy [acme-2023-10k p.12]."
    )
    found = violations(constitution, checker, answer)
    messages = " ".join(v.message for v in found)
    assert "'probably'" in messages and "'is a buy'" in messages
    assert any(v.rule_id == "gaap-vs-non-gaap" and "require_marker" in v.message for v in found)
    labelled = answer.replace("Adjusted EBITDA", "Adjusted EBITDA (a non-GAAP measure)")
    assert not any(v.rule_id == "gaap-vs-non-gaap" for v in violations(constitution, checker, labelled))
    long_answer = "Acme's net sales in fiscal 2023 were $177,866 million [acme-2023-10k p.12]. " + "word " * 260
    assert any(v.rule_id == "concise" for v in violations(constitution, checker, long_answer))


def test_applies_to_filters_rules(tmp_path, checker):
    (tmp_path / "scoped.yaml").write_text(
        "name: scoped\nextends: faithfulness\nrules:\n"
        "  - id: cite-every-claim\n    applies_to:\n      question_matches: '(?i)cash'\n",
        encoding="utf-8",
    )
    scoped = load_constitution(str(tmp_path / "scoped.yaml"))
    answer = "Acme's net sales in fiscal 2023 were $177,866 million."
    assert not any(v.rule_id == "cite-every-claim" for v in violations(scoped, checker, answer))
    cash_question = "What was Acme's cash and net sales in FY2023?"
    assert any(v.rule_id == "cite-every-claim" for v in violations(scoped, checker, answer, question=cash_question))
