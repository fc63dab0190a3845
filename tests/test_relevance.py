"""rewards.relevance: whether a claim answers its question (measure, entity, period, answer type), on
hand-written questions and a small hand-built pair of filings; `deliver` with the real offline checker
removes supported claims that miss the question and abstains when nothing relevant is left."""

from __future__ import annotations

import pytest

from cai.core.contracts import Evidence, Locator, SourcePage
from cai.core.prompts import REFUSAL
from rewards.relevance import claim_relevance, deliver, filer_words, read_question

D, Z = "acme-2024-10k", "zenith-2024-10k"
PROSE = SourcePage(doc_id=D, page=3, text=(
    "Acme Corp reported total revenue of $412.3 million in fiscal 2024. Net income was $35.1 million in "
    "fiscal 2024. The company had 1,200 employees at year end. Acme is headquartered in Tacoma, Washington. "
    "Our fiscal year ends on June 30."))
TABLE = SourcePage(doc_id=D, page=7, text=(
    "CONSOLIDATED STATEMENTS OF OPERATIONS\n(in millions)\nFiscal year 2024 2023\nRevenue $ 412.3 $ 380.0\n"
    "Operating income 58.4 51.0\nOther income (expense), net 3.3 (2.4)\nNet income $ 35.1 $ 30.2\n7"))
OTHER = SourcePage(doc_id=Z, page=2, text="Zenith Corp reported net income of $12.0 million in fiscal 2024.")
PAGES = [PROSE, TABLE, OTHER]
NET_INCOME = "What was Acme's net income in fiscal 2024?"


def _on(page: SourcePage) -> Evidence:
    return Evidence(locator=Locator(doc_id=page.doc_id, page=page.page, char_start=0, char_end=4, sentence=0),
                    quote=page.text[:4])


def _relevant(question: str, claim: str, page: SourcePage = PROSE, previous=None) -> bool:
    asked = read_question(question, [p.doc_id for p in PAGES])
    return claim_relevance(asked, claim, evidence=_on(page), pages=PAGES, previous=previous).relevant


def test_the_question_is_read_into_clauses_topic_words_period_and_entity():
    asked = read_question("What were Acme's revenue and net income for the fiscal year ended June 30, 2024?", [D, Z])
    assert [c.topic for c in asked.clauses] == [("revenue",), ("net", "income")]  # the date is the period
    assert asked.period.year == 2024 and asked.entities == ("Acme",)
    fuel = read_question("How much did Acme spend on fuel in 2024?", [D])
    assert [(c.topic, c.wants) for c in fuel.clauses] == [(("fuel",), "figure")]  # "how much", "spend" frame it
    which = read_question("Which Acme segment grew revenue fastest in 2024?", [D])
    assert which.clauses[0].topic == ()  # the answer names a segment; it need not say "segment"
    assert read_question("When does Acme's fiscal year end?", [D]).clauses[0].wants == "date"
    assert filer_words("ostrander-quarry-2024-annual-report") == ("ostrander", "quarry")
    assert filer_words("2024-annual-report") == ()


@pytest.mark.parametrize(("question", "claim", "page", "relevant"), [
    (NET_INCOME, "Net income was $35.1 million in fiscal 2024.", PROSE, True),
    (NET_INCOME, "Net income $ 35.1 $ 30.2", TABLE, True),
    (NET_INCOME, "Other income (expense), net 3.3 (2.4)", TABLE, False),  # another line item, though "net income"
    (NET_INCOME, "Operating income 58.4 51.0", TABLE, False),  # another qualifier
    (NET_INCOME, "Operating income was $58.4 million in fiscal 2024.", TABLE, False),
    ("What were Acme's diluted earnings per share in 2024?", "Earnings per share were $1.20 in 2024.", PROSE, True),
    (NET_INCOME, "Net income was $30.2 million in fiscal 2023.", TABLE, False),  # another period
    (NET_INCOME, "Net income rose to $35.1 million from $30.2 million in 2023.", TABLE, True),  # 2023: the base
    (NET_INCOME, "Net income was $12.0 million in fiscal 2024.", OTHER, False),  # another company's filing
    (NET_INCOME, "Acme Corp reported total revenue of $412.3 million in fiscal 2024.", PROSE, False),
    ("What was Acme's employee turnover rate in 2024?", "The company had 1,200 employees at year end.", PROSE, False),
    ("What was Acme's customer retention rate in 2024?", "Acme generated revenue from 4,100 customers.", PROSE,
     False),  # "rate" inside "generated" is not the word rate
    ("When does Acme's fiscal year end?", "Our fiscal year ends on June 30.", PROSE, True),
    ("When does Acme's fiscal year end?", "Acme is headquartered in Tacoma, Washington.", PROSE, False),
    ("When does Acme's fiscal year end?", "At fiscal year end the company had 1,200 employees.", PROSE, False),
    ("How much did Acme spend on fuel in 2024?", "Fuel costs were significant in 2024.", PROSE, False),
    ("What were Acme's net sales in 2024?", "Revenue was $412.3 million in 2024.", TABLE, True),  # a synonym
    ("What was Acme's revenue in 2024, and why did it change?", "Prices rose in 2024.", PROSE, True),  # "why": open
])
def test_a_claim_must_address_the_measure_entity_period_and_answer_type(question, claim, page, relevant):
    assert _relevant(question, claim, page) is relevant


def test_a_claim_continuing_a_relevant_one_is_read_in_its_context():
    asked = read_question("How did Acme's Forwarding segment perform in 2024?", [D])
    assert asked.clauses[0].topic == ("forward",)  # "segment" names the kind of entity, not a measure
    first = claim_relevance(asked, "Forwarding revenue increased 9% to $120.0 million in 2024.")
    follow = "Segment operating income decreased to $8.0 million."
    assert first.relevant and not claim_relevance(asked, follow).relevant
    assert claim_relevance(asked, follow, previous=first).relevant  # "Segment …" refers back
    off = claim_relevance(asked, "Operating expenses rose to $9.0 million.", previous=first)
    assert not off.relevant  # neither a topic word nor a reference back: a new subject
    assert not claim_relevance(asked, "Zenith Corp segment income was $8.0 million.", previous=first).relevant
    when = read_question("When does Acme's fiscal year end?", [D])
    ends = claim_relevance(when, "Our fiscal year ends on June 30.")
    assert not claim_relevance(when, "At fiscal year end we had 1,200 employees.", previous=ends).relevant  # no date


def test_deliver_removes_supported_claims_off_the_question_and_keeps_the_rest(checker):
    raw = (f"Net income was $35.1 million in fiscal 2024 [{D} p.3]. Other income (expense), net 3.3 (2.4) "
           f"[{D} p.7]. Acme is headquartered in Tacoma, Washington. Net income was $53.1 million in fiscal 2024.")
    out = deliver(NET_INCOME, raw, PAGES, checker=checker)
    v = out.verification
    assert v.answer == f"Net income was $35.1 million in fiscal 2024 [{D} p.3]." and not v.abstained
    assert [r.relevant for r in out.relevance] == [True] and v.raw_answer == raw and v.n_raw_claims == 4
    off = [c.text for c, _ in out.off_topic]
    assert len(off) == 2 and "Other income" in off[0] and "Tacoma" in off[1]
    for claim, relevance in out.off_topic:  # supported, removed for relevance; spans index the raw answer
        assert claim.verdict == "supported" and claim.action == "removed" and not relevance.relevant
        assert raw[claim.span[0]:claim.span[1]].startswith(claim.text.split(" [")[0])
    [unsupported] = v.removed
    assert "53.1" in unsupported.text and raw[unsupported.span[0]:unsupported.span[1]] == unsupported.text


def test_deliver_abstains_when_no_supported_claim_answers_the_question(checker):
    question = "What was Acme's employee turnover rate in 2024?"
    raw = f"The company had 1,200 employees at year end [{D} p.3]. Acme is headquartered in Tacoma, Washington."
    out = deliver(question, raw, PAGES, checker=checker)
    assert out.verification.abstained and out.verification.answer.startswith(REFUSAL)
    assert not out.verification.claims and len(out.off_topic) == 2
    marked = deliver(question, raw + " Turnover was 11.2% in 2024.", PAGES, checker=checker, on_unsupported="mark")
    answer = marked.verification.answer
    assert answer.startswith(REFUSAL) and "[UNSUPPORTED] Turnover was 11.2%" in answer
    assert "1,200 employees" not in answer  # off-topic: removed, never marked


def test_addresses_needs_a_topic_word_or_something_said_of_the_entity():
    from rewards.relevance import addresses

    asked = read_question("What was Best Buy's gross margin in fiscal 2023?", ["BESTBUY_2023_10K"])
    assert addresses(asked, "Gross margin was 22.5% in fiscal 2023.")
    vague = read_question("Are Best Buy's gross margins consistent? If not, then please state that and explain why.",
                          ["BESTBUY_2023_10K"])
    # the instruction sentence asks nothing of its own: a store count does not address gross margins
    assert not addresses(vague, "Best Buy closed 23 stores in the second quarter.")
    assert addresses(vague, "The gross margin rate fell 1.1 points on higher promotions.")
    # lines of a cover page
    assert not addresses(vague, "UNITED STATES SECURITIES AND EXCHANGE COMMISSION")
    assert not addresses(vague, "BEST BUY CO., INC.")


def test_a_questions_definitions_and_format_instructions_are_not_what_it_asks():
    # "DPO is defined as: …" says how to compute the asked figure; "Round …" and "Please base …" say how
    # to write it. The claim that states the DPO answers the question; one that states an input does not.
    question = ("What is Acme's FY2024 days payable outstanding (DPO)? DPO is defined as: 365 * (average accounts "
                "payable between FY2023 and FY2024) / (FY2024 COGS + change in inventory between FY2023 and FY2024). "
                "Round your answer to two decimal places. Please base your judgments on the balance sheet.")
    asked = read_question(question, ["acme-2024-10k"])
    assert claim_relevance(asked, "Acme's FY2024 DPO is 63.86 days.").relevant
    assert not claim_relevance(asked, "Acme's FY2024 COGS was $7,772 million.").relevant
    # the question spells the abbreviation out: a claim writing "DPO" states the phrase
    assert claim_relevance(asked, "Acme's FY2024 days payable outstanding is 63.86 days.").relevant
    # a question that is all instructions keeps its words
    assert read_question("Define net working capital as current assets less current liabilities.").topic


def test_a_claim_that_restates_a_yes_no_question_is_its_verdict():
    from rewards.relevance import verdict_on_question

    question = "Has Kessler reported any materially important ongoing legal battles from FY2022?"
    assert verdict_on_question(question, "Yes, Kessler has reported ongoing legal battles from FY2022.")
    assert verdict_on_question(question, "Kessler has reported several materially important ongoing legal battles.")
    assert not verdict_on_question(question, "Multiple legal actions were filed against Kessler after the accident.")
    assert not verdict_on_question(question, "Kessler has reported ongoing trade disputes with suppliers in FY2022.")


def test_a_filer_named_with_its_words_run_together_or_by_a_capitalised_short_form_is_the_asked_company():
    # "Northwind Traders" is the filer of NORTHWINDTRADERS_2023_10K, and "NWT" the one of NWTHOLDINGS_…;
    # neither page mentions the name as the question writes it.
    page = SourcePage(doc_id="NORTHWINDTRADERS_2023_10K", page=4, text="Revenue was $80.1 million in 2023.")
    asked = read_question("What was Northwind Traders' revenue in 2023?", [page.doc_id])
    assert claim_relevance(asked, "Revenue was $80.1 million in 2023.", evidence=_on(page), pages=[page]).relevant
    short = SourcePage(doc_id="NWTHOLDINGS_2023_10K", page=4, text="Revenue was $80.1 million in 2023.")
    asked = read_question("What was NWT's revenue in 2023?", [short.doc_id])
    assert claim_relevance(asked, "Revenue was $80.1 million in 2023.", evidence=_on(short), pages=[short]).relevant
    # a capitalised word that merely starts another filer's name is no short form of it
    asked = read_question("What was North's revenue in 2023?", [page.doc_id])
    assert not claim_relevance(asked, "Revenue was $80.1 million.", evidence=_on(page), pages=[page]).relevant


@pytest.mark.parametrize("question, topics", [
    # an adjunct before the asking part, and what comes before a colon, say how to answer
    ("Considering the data in the balance sheet, what is Acme's FY2024 working capital?", [("work", "capital")]),
    ("Using the cash flow statement, answer the following question: how much did Acme generate in cash from "
     "operations in FY2024?", [("cash", "operation")]),
    # where a figure is read is no part of what it measures; nor are asides in parentheses
    ("Has Acme increased its debt on the balance sheet between FY2023 and FY2024?", [("debt",)]),
    ("What is the amount of restructuring costs in Acme's income statement for FY2024 (in USD millions)?",
     [("restructur", "cost")]),
    # manner adverbs, evaluative words and counting words name no measure
    ("Are Acme's gross margins historically consistent (not fluctuating more than 2% each year)?",
     [("gross", "margin", "consistent")]),
    ("What are the major acquisitions Acme completed in FY2024?", [("acquisition", "complet")]),
    ("Was there any change in the number of Acme stores?", [("store",)]),
    # the end of a period, a change's rate, number words, verbs framing an amount, and phrases that qualify
    # a measure the answer may name plainly
    ("How much total current assets did Acme have at the end of FY2019?", [("current", "asset")]),
    ("What is Acme's year-over-year change in revenue from FY2022 to FY2023?", [("revenue",)]),
    ("What is Acme's FY2023 net income attributable to shareholders?", [("net", "income")]),
    ("What is the FY2021 - FY2023 three year average of capex as a % of revenue for Acme?", [("average", "capex")]),
    ("How much did Acme generate in cash flow from operating activities in FY2023?",
     [("cash", "flow", "operat", "activit")]),
    ("What is the FY2022 - FY2023 total revenue growth rate for Acme?", [("revenue",)]),
    # a sentence is a boundary: the instruction after the question is not asked
    ("What was Acme's FY2024 revenue? Calculate what was asked by utilizing the line items clearly shown in the "
     "statement of income.", [("revenue",)]),
])
def test_only_the_asking_part_of_a_question_names_what_it_asks(question, topics):
    asked = read_question(question, ["acme-2024-10k"])
    assert [c.topic for c in asked.clauses] == topics


def test_a_topic_noun_is_stated_by_the_adjective_or_verb_it_is_formed_from():
    # "cyclicality" by "cyclical", "impairment" by "impaired": the claim speaks of what is asked
    assert _relevant("Is Acme's business subject to cyclicality?", "Acme's business is cyclical.")
    assert _relevant("Did Acme record any impairment in fiscal 2024?", "Acme impaired its Tacoma plant in fiscal 2024.")
    assert not _relevant("Did Acme record any impairment in fiscal 2024?", "Acme sold its Tacoma plant in fiscal 2024.")
