"""The offline checker and the fail-closed rule, on hand-built filings text (real MiniLM)."""

from __future__ import annotations

import pytest

from cai.core.contracts import ClaimVerdict, Evidence, Locator, SourcePage, Verdict
from rewards.checker import FailClosed, get_checker, quote_at_locator
from rewards.citations import citation_metrics

PAGE = SourcePage(
    doc_id="acme-2023-10k",
    page=41,
    text=(
        "ACME CORP.\nCONSOLIDATED STATEMENTS OF OPERATIONS\n(in millions)\n"
        "Year Ended December 31,\n2022\n2023\n"
        "Total net sales\n135,987\n177,866\n"
        "Cost of sales\n88,265\n111,934\n"
        "Net income\n2,371\n3,033\n"
        "Acme sells industrial pumps to utilities and municipal water authorities in North America. "
        "The pump business is seasonal, with most orders placed in the second half of the year.\n"
    ),
)
QUESTION = "What were Acme's net sales in FY2023?"


def verdicts(checker, answer, sources=(PAGE,), question=QUESTION):
    return checker.check(question, answer, list(sources))


def test_copied_figure_is_supported_with_verbatim_quote(checker):
    [v] = verdicts(checker, "Acme's net sales in fiscal 2023 were $177,866 million.")
    assert v.verdict == Verdict.supported and v.score >= 0.5
    assert "177,866" in v.evidence.quote
    assert quote_at_locator(v, [PAGE])
    assert v.evidence.locator.doc_id == "acme-2023-10k" and v.evidence.locator.page == 41


def test_rounded_and_rescaled_figure_is_supported(checker):
    [v] = verdicts(checker, "Net sales were $177.9 billion in 2023.")
    assert v.verdict == Verdict.supported


@pytest.mark.parametrize("claim, supported", [
    ("Net sales were $177,866 million in 2023.", True),
    ("Net sales were $177,866 (in millions) in 2023.", True),
    ("Net sales were 177,866 in USD thousands.", False),  # the table is in millions
    ("Net sales were $177,866 thousand in 2023.", False),
])
def test_a_table_in_millions_is_not_read_in_thousands(checker, claim, supported):
    [v] = verdicts(checker, claim)
    assert (v.verdict == Verdict.supported) is supported, v.reason


def test_wrong_figure_is_unsupported(checker):
    [v] = verdicts(checker, "Acme's net sales in fiscal 2023 were $181,250 million.")
    assert v.verdict == Verdict.unsupported and v.score < 0.5
    assert "181,250" in v.reason


def test_computed_growth_and_margin_are_supported(checker):
    answer = "Net sales grew 30.8% from 2022 to 2023. Net income was 1.7% of net sales in 2023."
    assert [v.verdict for v in verdicts(checker, answer)] == [Verdict.supported, Verdict.supported]


def test_figure_from_the_other_period_column_is_unsupported(checker):
    [v] = verdicts(checker, "Acme's net sales in fiscal 2023 were $135,987 million.")
    assert v.verdict == Verdict.unsupported and "period" in v.reason


def test_period_not_in_sources_is_unsupported(checker):
    [v] = verdicts(checker, "Acme's net sales in fiscal 2024 were $177,866 million.")
    assert v.verdict == Verdict.unsupported


def test_other_company_is_unsupported(checker):
    [v] = verdicts(checker, "Globex's net sales in fiscal 2023 were $177,866 million.")
    assert v.verdict == Verdict.unsupported and "Globex" in v.reason


def test_prose_claim_aligned_or_not(checker):
    supported, unrelated = verdicts(
        checker, "Acme sells industrial pumps to water utilities. "
                 "The chief executive plans to acquire a shipping line in Brazil.",
    )
    assert supported.verdict == Verdict.supported and quote_at_locator(supported, [PAGE])
    assert unrelated.verdict != Verdict.supported


def test_fail_closed_on_empty_sources(checker):
    for sources in ([], [SourcePage(doc_id="x", page=1, text="   ")]):
        result = verdicts(checker, "Net sales were $177,866 million.", sources)
        assert [v.verdict for v in result] == [Verdict.unverified]


class Exploding:
    name = "exploding"

    def check(self, question, answer, sources):
        raise RuntimeError("model file missing")


class Overclaiming:
    """Marks everything supported with a quote that is not in the source."""

    name = "overclaiming"

    def check(self, question, answer, sources):
        loc = Locator(doc_id=sources[0].doc_id, page=sources[0].page, char_start=0, char_end=5, sentence=0)
        return [ClaimVerdict(text=answer, verdict=Verdict.supported, score=1.0,
                             evidence=Evidence(locator=loc, quote="nope!"))]


def test_fail_closed_on_checker_fault_and_on_fake_evidence():
    [v] = FailClosed(Exploding()).check(QUESTION, "Net sales were $177,866 million.", [PAGE])
    assert v.verdict == Verdict.unverified and "model file missing" in v.reason
    [v] = FailClosed(Overclaiming()).check(QUESTION, "Net sales were $177,866 million.", [PAGE])
    assert v.verdict == Verdict.unverified and v.score < 0.5


def test_citation_precision_and_recall(checker):
    other = SourcePage(doc_id="acme-2023-10k", page=7, text="Acme was founded in 1952 in Ohio.")
    answer = (
        "Net income was $3,033 million in 2023 [acme-2023-10k p.41]. "
        "Net sales were $177,866 million in 2023 [acme-2023-10k p.7]. "
        "Cost of sales was $111,934 million in 2023."
    )
    metrics = citation_metrics(checker, QUESTION, answer, [PAGE, other])
    assert metrics["n_claims"] == 3 and metrics["n_citations"] == 2
    assert metrics["recall"] == pytest.approx(1 / 3)
    assert metrics["precision"] == pytest.approx(1 / 2)
    missing = citation_metrics(checker, QUESTION, "Net income was $3,033 million [acme-2023-10k p.99].", [PAGE])
    assert missing["missing"] == ["[acme-2023-10k p.99]"] and missing["recall"] == 0.0


def test_paraphrase_is_decided_by_minilm_similarity():
    """Low word overlap: the blend of lexical recall and MiniLM cosine decides (embeddings run)."""
    from rewards.offline import OfflineChecker

    embedded = OfflineChecker()
    paraphrase = "Demand for pumps peaks in the second half."  # 3 of its 5 content words in the source
    [with_minilm] = embedded.check(QUESTION, paraphrase, [PAGE])
    assert with_minilm.verdict == Verdict.supported and "seasonal" in with_minilm.evidence.quote
    assert embedded._embedding_cache  # MiniLM really ran
    [unrelated] = embedded.check(QUESTION, "The weather was rainy on most days.", [PAGE])
    assert unrelated.verdict == Verdict.unsupported


def test_one_shared_word_is_not_support_however_similar_minilm_finds_it():
    """MiniLM scores "Pumps are popular." (0.55) like a true paraphrase sharing one word (0.58):
    a single content word in common is not the evidence stating the claim (fail closed)."""
    for claim in ("Pumps are popular.", "Demand for the pumps peaks late in the year."):
        [v] = get_checker("offline").check(QUESTION, claim, [PAGE])
        assert v.verdict == Verdict.unsupported and "content words" in v.reason, claim


# A cash-flow page whose figures a made-up claim can land on: 41.7 rounds to 42, and
# 10.0 - 0.9 = 9.1 (the defect: "42 giraffes ate $9.1 billion" was supported).
CASH_FLOW = SourcePage(
    doc_id="acme-2023-10k",
    page=43,
    text=(
        "ACME CORP.\nCONSOLIDATED STATEMENTS OF CASH FLOWS\n(in millions, except per share amounts) 2023 2022\n"
        "Accounts receivable (41.7) (32.8)\nOther, net 10.0 0.9\n"
        "Net cash provided by operating activities 258.8 220.8\n"
    ),
)
REVENUE_Q = "What was Acme's revenue in fiscal 2023?"


@pytest.mark.parametrize(
    "claim, reason",
    [
        ("Revenue revenue revenue.", "degenerate"),
        ("destination destination destination destination destination destination", "degenerate"),
        ("Net sales net sales net sales.", "degenerate"),  # repeated keywords
        ("Pumps pumps utilities utilities.", "degenerate"),
        ("Revenue net sales revenue net sales.", "degenerate"),
        ("It rained.", "too little content"),  # the question's words are not borrowed
        ("42 giraffes ate $9.1 billion.", "not in the sources"),  # 42 ≈ 41.7, 9.1 = 10.0 - 0.9
        ("The chief executive enjoys sailing on weekends.", "content words"),  # unrelated, fluent
        ("Management remains confident about the long-term outlook.", "content words"),
    ],
)
def test_vacuous_repetitive_and_unrelated_sentences_are_never_supported(checker, claim, reason):
    for question in (REVENUE_Q, QUESTION):
        [v] = verdicts(checker, claim, [PAGE, CASH_FLOW], question)
        assert v.verdict == Verdict.unsupported and v.score < 0.5, (claim, v.reason)
        assert reason in v.reason, v.reason


@pytest.mark.parametrize(
    "claim",
    [
        "Net income was $111,934 million in 2023.",  # the cost-of-sales figure
        "Revenue was $3,033 million in 2023.",  # the net-income figure
        "Net sales were $2,371 million in 2022.",  # "net" alone does not make net income net sales
        "Acme had 42 stores in 2023.",  # a bare 42 near the 41.7 receivable
    ],
)
def test_a_source_number_with_another_measure_is_not_support(checker, claim):
    [v] = verdicts(checker, claim, [PAGE, CASH_FLOW])
    assert v.verdict == Verdict.unsupported, v.reason


def test_figures_with_their_measure_are_still_supported(checker):
    answer = (
        "Acme's cost of sales was $111,934 million in 2023. Net income was $2,371 million in 2022. "
        "Accounts receivable rose by $41.7 million in 2023. Net income grew 27.9% in 2023."
    )
    result = verdicts(checker, answer, [PAGE, CASH_FLOW])
    assert [v.verdict for v in result] == [Verdict.supported] * 4, [v.reason for v in result]


def test_a_copied_table_header_is_not_a_claim_and_a_copied_row_is_one(checker):
    header = "(in millions, except per share amounts) 2023 2022"
    assert verdicts(checker, header, [CASH_FLOW]) == []  # not judged, never counted as supported
    [wrong_year] = verdicts(checker, "(in millions, except per share amounts) 2024 2023", [CASH_FLOW])
    assert wrong_year.verdict == Verdict.unsupported and "2024" in wrong_year.reason
    # A row label and the figure line under it (a table pasted into an answer) are one claim.
    [row] = verdicts(checker, "Total net sales\n177,866", [PAGE])
    assert row.verdict == Verdict.supported and row.text == "Total net sales\n177,866"


def test_framing_sentence_is_skipped_unless_it_names_the_wrong_company_or_year(checker):
    right = verdicts(checker, "Here is a summary of Acme's 2023 results:\nNet sales were $177,866 million in 2023.")
    assert [v.verdict for v in right] == [Verdict.supported]
    wrong_company = verdicts(checker, "To find Globex's net sales, we look at the income statement.\n"
                                      "Net sales were $177,866 million in 2023.")
    assert [v.verdict for v in wrong_company] == [Verdict.unsupported, Verdict.supported]
    assert "Globex" in wrong_company[0].reason
    # A restated question must name the year the question asks about (FY2023), not another one
    # the page happens to show.
    wrong_year = verdicts(checker, "To calculate the net sales for fiscal year 2022, we use the income statement.\n"
                                   "Net sales were $177,866 million in 2023.")
    assert wrong_year[0].verdict == Verdict.unsupported and "2022" in wrong_year[0].reason


def test_a_change_question_lets_its_framing_name_the_year_before(checker):
    from rewards.agreement import compared_years

    assert compared_years("What drove the operating margin change as of FY2023?") == {2022}
    assert compared_years("What were net sales in FY2023?") == set()
    framing = "To explain the change in net sales in fiscal year 2023 against fiscal year 2022, we use the statement."
    question = "What drove Acme's net sales change as of FY2023?"
    assert checker.check(question, framing + "\nNet sales were $177,866 million in 2023.", [PAGE])[0].verdict == (
        Verdict.supported)
    older = framing.replace("2022", "2021")
    assert checker.check(question, older + "\nNet sales were $177,866 million in 2023.", [PAGE])[0].verdict == (
        Verdict.unsupported)


def test_abstention_is_not_judged(checker):
    result = verdicts(checker, "Net sales were $177,866 million in 2023. The sources do not state the 2024 outlook.")
    assert [v.verdict for v in result] == [Verdict.supported]


def test_average_of_two_columns_and_month_day_header(checker):
    page = SourcePage(doc_id="acme-2023-10k", page=60, text=(
        "ACME CORP.\nBALANCE SHEETS\nMAY 31,\n(In millions)\n2023\n2022\nInventories\n6,854\n7,367\n"
    ))
    answer = (
        "Acme's inventories were $6,854 million and $7,367 million as of May 31, 2023 and May 31, 2022, respectively.\n"
        "Average inventory for FY2023 = ($7,367 million + $6,854 million) / 2 = $7,110.5 million"
    )
    assert [v.verdict for v in verdicts(checker, answer, [page])] == [Verdict.supported, Verdict.supported]


def test_model_number_must_be_in_sources(checker):
    page = SourcePage(doc_id="aero-2022-10k", page=3,
                      text="Aero delivered 374 airplanes, including the 737 MAX, in 2022.")
    ok, bad = verdicts(checker, "Aero delivered the 737 MAX in 2022. Aero delivered the 368 MAX in 2022.", [page],
                       "What did Aero deliver in 2022?")
    assert ok.verdict == Verdict.supported
    assert bad.verdict == Verdict.unsupported and "368" in bad.reason


def test_defect_sentences_on_the_example_index(example_index, checker):
    """The reported defects, on the pages `cai answer` retrieves for the quickstart revenue question."""
    import json
    from pathlib import Path

    from rag.quotes import source_pages
    from rag.retrieve import Retriever

    root = Path(__file__).resolve().parents[1]
    lines = (root / "examples" / "quickstart" / "questions.jsonl").read_text().splitlines()
    questions = [json.loads(line) for line in lines if line.strip()]
    question = next(q["question"] for q in questions if q["id"] == "ex-01")
    retriever = Retriever.open(example_index)
    try:
        pages = source_pages(retriever.search(question, k=5), retriever.store.page)
    finally:
        retriever.close()
    for claim in ("Revenue revenue revenue.", "It rained.", "42 giraffes ate $9.1 billion.",
                  "destination destination destination destination destination destination destination"):
        [v] = checker.check(question, claim, pages)
        assert v.verdict == Verdict.unsupported, (claim, v.reason)
    assert checker.check(question, "(in millions, except per share amounts) 2024 2023 2022", pages) == []
    [v] = checker.check(question, "Total revenue was $2,387.5 million in 2024.", pages)
    assert v.verdict == Verdict.supported and quote_at_locator(v, pages)


def test_a_name_spelled_out_before_its_abbreviation_is_known_by_the_abbreviation(checker):
    # "Value-at-Risk (VaR)": the sources (or the question) use the abbreviation; the long form before
    # it is its spelling out, not an unknown name (Schwartz & Hearst 2003).
    from rewards.entities import normalise, unknown_entities

    known = normalise("Average total VaR decreased. BDS revenue. Boeing")
    assert unknown_entities("Risk as measured by Value-at-Risk (VaR) decreased.", known) == []
    assert unknown_entities("Boeing's Defense, Space & Security (BDS) segment grew.", known) == []
    assert [e.text for e in unknown_entities("Globex Rocket Works (GRW) grew.", known)] == ["Globex Rocket Works"]
    # only the long form is excused, not a name before it
    assert [e.text for e in unknown_entities("Sales at Globex and its Value-at-Risk (VaR) fell.", known)] == ["Globex"]
