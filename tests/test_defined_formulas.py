"""A metric the question defines is checked as defined (`rewards.defined_formulas`), on hand-built
statements of a fictional filer: "DPO is defined as: 365 * (average accounts payable …) / (COGS +
change in inventory …)" is computed from the balance sheet and income statement rows, and no other
combination of the pages' figures stands in for it."""

from __future__ import annotations

from cai.core.contracts import SourcePage, Verdict
from rewards.defined_formulas import (
    asked_definition,
    defined_answer,
    defined_for,
    definitions,
    evaluate,
    page_values,
    read_item,
)
from rewards.numbers import extract_quantities
from rewards.premises import prepare_page

BALANCE = SourcePage(doc_id="vandelay-2020-10k", page=52, text=(
    "Vandelay Industries, Inc.\nConsolidated Balance Sheets\n(in millions)\nDecember 31, 2020 2019\n"
    "Cash and cash equivalents $ 950 $ 870\nAccounts receivable, net 1,310 1,250\nInventories 2,400 2,300\n"
    "Total current assets 4,660 4,420\nTotal assets 12,500 11,900\nAccounts payable 1,200 1,600\n"
    "Total current liabilities 3,100 3,350\n"))
INCOME = SourcePage(doc_id="vandelay-2020-10k", page=50, text=(
    "Vandelay Industries, Inc.\nConsolidated Statements of Income\n(in millions)\nYear Ended December 31, "
    "2020 2019\nNet sales $ 11,000 $ 10,400\nCost of sales 8,000 7,700\nGross profit 3,000 2,700\n"
    "Net income $ 620 $ 580\n"))
CASH_FLOWS = SourcePage(doc_id="vandelay-2020-10k", page=54, text=(
    "Vandelay Industries, Inc.\nConsolidated Statements of Cash Flows\n(in millions)\nYear Ended December 31, "
    "2020 2019\nNet income $ 620 $ 580\nChanges in operating assets and liabilities:\nInventories (100) (90)\n"
    "Accounts payable (400) 150\nNet cash provided by operating activities 1,150 1,020\n"
    "Purchases of property, plant and equipment (310) (280)\n"))
DPO_QUESTION = ("What is Vandelay's FY2020 days payable outstanding (DPO)? DPO is defined as: 365 * (average accounts "
                "payable between FY2019 and FY2020) / (FY2020 COGS + change in inventory between FY2019 and FY2020). "
                "Round your answer to two decimal places.")
# 365 * avg(1,600, 1,200) / (8,000 + (2,400 - 2,300)) = 365 * 1,400 / 8,100
DPO = 365 * 1_400 / 8_100
CCC_QUESTION = ("What is the FY2020 cash conversion cycle (CCC) for Vandelay? CCC is defined as: DIO + DSO - DPO. "
                "DIO is defined as: 365 * (average inventory between FY2019 and FY2020) / (FY2020 COGS). DSO is "
                "defined as: 365 * (average accounts receivable between FY2019 and FY2020) / (FY2020 Revenue). DPO is "
                "defined as: 365 * (average accounts payable between FY2019 and FY2020) / (FY2020 COGS + change in "
                "inventory between FY2019 and FY2020).")


def test_definitions_are_read_with_the_names_the_question_gives_them():
    [dpo] = definitions(DPO_QUESTION)
    assert dpo.name == "DPO" and "days payable outstanding" in dpo.names
    assert dpo.formula.startswith("365 * (average accounts payable") and dpo.formula.endswith("FY2020)")
    assert [d.name for d in definitions(CCC_QUESTION)] == ["CCC", "DIO", "DSO", "DPO"]
    fcf = definitions("What is the FY2020 free cash flow (FCF)? FCF here is defined as: (cash from operations - "
                      "capex). Answer in USD millions.")
    assert fcf[0].name == "FCF" and "free cash flow" in fcf[0].names
    assert fcf[0].formula == "(cash from operations - capex)"
    assert definitions("What is Vandelay's FY2020 DPO?") == []


def test_a_definition_is_computed_from_the_rows_it_names():
    pages = [prepare_page(p) for p in (BALANCE, INCOME, CASH_FLOWS)]
    [dpo] = definitions(DPO_QUESTION)
    [value] = evaluate(dpo, DPO_QUESTION, lambda item: page_values(item, pages))
    assert abs(value.value - DPO) < 1e-9
    ccc = definitions(CCC_QUESTION)[0]
    dio, dso = 365 * 2_350 / 8_000, 365 * 1_280 / 11_000
    values = evaluate(ccc, CCC_QUESTION, lambda item: page_values(item, pages))
    assert [round(v.value, 6) for v in values] == [round(dio + dso - DPO, 6)]
    # The statement of cash flows states the year's changes in inventories and payables, not the
    # balances: without the balance sheet the definition is not computed.
    flows = [prepare_page(p) for p in (INCOME, CASH_FLOWS)]
    assert evaluate(dpo, DPO_QUESTION, lambda item: page_values(item, flows)) is None


def test_the_defined_metric_is_supported_only_as_defined(checker):
    pages = [BALANCE, INCOME, CASH_FLOWS]
    [v] = checker.check(DPO_QUESTION, f"Vandelay's FY2020 DPO is {DPO:.2f} days.", pages)
    assert v.verdict == Verdict.supported and "as the question defines it" in v.reason
    # (8,000 - 100) / 100 = 79.00 is a combination of the pages' figures, but not the DPO
    [v] = checker.check(DPO_QUESTION, "Vandelay's FY2020 DPO is 79.00 days.", pages)
    assert v.verdict == Verdict.unsupported and f"{DPO:.2f}" in v.reason and "as the question defines it" in v.reason
    # a bare answer states what the question asks
    assert checker.check(DPO_QUESTION, f"{DPO:.2f}", pages)[0].verdict == Verdict.supported
    assert checker.check(DPO_QUESTION, "79.00", pages)[0].verdict == Verdict.unsupported


def test_working_operands_are_not_the_defined_metric(checker):
    answer = (f"Average accounts payable is (1,600 + 1,200) / 2 = 1,400. DPO = 365 * 1,400 / (8,000 + 100) "
              f"= {DPO:.2f} days.")
    verdicts = checker.check(DPO_QUESTION, answer, [BALANCE, INCOME])
    assert [v.verdict for v in verdicts] == [Verdict.supported, Verdict.supported]
    # the answer's addition is wrong: 52.6 + 36.4 is not 99.99, and 99.99 - 63.09 is not the CCC
    ccc = 365 * 2_350 / 8_000 + 365 * 1_280 / 11_000 - DPO
    [v] = checker.check(CCC_QUESTION, f"The FY2020 cash conversion cycle (CCC) is {ccc + 10:.2f} days.",
                        [BALANCE, INCOME])
    assert v.verdict == Verdict.unsupported and f"{ccc:.4g}" in v.reason


def test_a_worked_result_by_another_formula_is_not_the_defined_metric(checker):
    question = ("What is Vandelay's FY2019 liquidity ratio? Define liquidity ratio as total current assets divided "
                "by total current liabilities. Round your answer to two decimal places.")
    # Every operand is on the balance sheet and the division computes, but (4,420 - 3,350) / 3,350 is
    # working capital over current liabilities, not the ratio the question defines (4,420 / 3,350).
    answer = ("Total current assets were $4,420 million. Total current liabilities were $3,350 million. Working "
              "capital was $4,420 million - $3,350 million = $1,070 million. So the liquidity ratio for FY2019 is "
              "$1,070 million / $3,350 million = 0.32.")
    *firsts, v = checker.check(question, answer, [BALANCE])
    assert [f.verdict for f in firsts] == [Verdict.supported] * 3 and v.verdict == Verdict.unsupported
    assert "1.319" in v.reason and "as the question defines it" in v.reason
    ratio = "The liquidity ratio for FY2019 is $4,420 million / $3,350 million = {}."
    assert checker.check(question, ratio.format("1.32"), [BALANCE])[0].verdict == Verdict.supported
    # A worked result keeps the slack its own working has (rounded intermediates): 1.33 is 0.8% off.
    assert checker.check(question, ratio.format("1.33"), [BALANCE])[0].verdict == Verdict.supported
    assert checker.check(question, ratio.format("1.36"), [BALANCE])[0].verdict == Verdict.unsupported


QUARTERS = SourcePage(doc_id="vandelay-2020-10k", page=90, text=(
    "Quarterly Results of Operations (unaudited)\n(in millions)\nThree Months Ended\nDec. 31, 2020 Sep. 30, 2020 "
    "Jun. 30, 2020 Mar. 31, 2020 Dec. 31, 2019\nNet sales 3,100 2,900 2,600 2,400 2,800\n"))


def test_a_quarterly_table_is_no_year_column():
    # "Dec. 31, 2020" heads the fourth quarter's column, not the fiscal year's.
    item = read_item("FY2020 net sales", [2020])
    assert page_values(item, [prepare_page(QUARTERS)]) == []
    [value] = page_values(item, [prepare_page(p) for p in (QUARTERS, INCOME)])
    assert value.value == 11_000


def test_total_debt_is_the_balance_sheets_borrowings_where_no_row_totals_them():
    from rewards.implied_formulas import change_answer

    debt = SourcePage(doc_id="vandelay-2020-10k", page=53, text=(
        "Vandelay Industries, Inc.\nConsolidated Balance Sheets (continued)\n(in millions)\nDecember 31, 2020 2019\n"
        "Accounts payable 1,200 1,600\nShort-term borrowings 50 —\nCurrent portion of long-term debt 200 150\n"
        "Total current liabilities 3,100 3,350\nLong-term debt 2,800 3,000\nTotal liabilities 7,000 7,100\n"))
    # "50 —" is read into no year column: a total without it would be wrong, so there is none
    assert page_values(read_item("FY2020 total debt", [2020]), [prepare_page(debt)]) == []
    debt = SourcePage(doc_id=debt.doc_id, page=debt.page, text=debt.text.replace("Short-term borrowings 50 —\n", ""))
    [value] = page_values(read_item("FY2020 total debt", [2020]), [prepare_page(debt)])
    assert value.value == 3_000  # 200 + 2,800
    question = "Has Vandelay reduced its debt between FY2019 and FY2020?"
    assert change_answer(question, [prepare_page(debt)]) == (
        "Debt: 3,150 million in FY2019 and 3,000 million in FY2020, down 150 million [vandelay-2020-10k p.53].")
    # a page without the long-term debt row totals nothing
    assert page_values(read_item("FY2020 debt", [2020]), [prepare_page(BALANCE)]) == []


def test_a_chain_of_names_states_the_metric_named_first():
    claim = "CCC = DIO + DSO - DPO = 52.79 + 36.47 - 92.05 = -2.79 days."
    result = extract_quantities(claim)[-1]
    assert defined_for(result, claim, CCC_QUESTION, bare=False).name == "CCC"
    claim = "The DPO is 365 * 1,400 / 8,100 = 63.09 days."
    assert defined_for(extract_quantities(claim)[-1], claim, CCC_QUESTION, bare=False).name == "DPO"


def test_an_amount_defined_as_a_difference_of_flows(checker):
    question = ("What is Vandelay's FY2020 free cash flow (FCF)? FCF here is defined as: (cash from operations - "
                "capex). Answer in USD millions.")
    # capex is printed in parentheses as an outflow: the formula deducts the amount, 1,150 - 310
    [v] = checker.check(question, "Vandelay's FY2020 free cash flow was $840 million.", [CASH_FLOWS])
    assert v.verdict == Verdict.supported
    [v] = checker.check(question, "Vandelay's FY2020 free cash flow was $1,460 million.", [CASH_FLOWS])
    assert v.verdict == Verdict.unsupported


def test_an_item_the_answer_established_from_another_line(checker):
    """The rows retrieved state consolidated net income; the answer took the net income attributable
    to the company's shareholders from a note, and computes the ratio from it."""
    note = SourcePage(doc_id="vandelay-2020-10k", page=88, text=(
        "Note 14. Earnings per share\nNet income attributable to Vandelay shareholders was $600 million in "
        "2020, after $20 million attributable to noncontrolling interests.\n"))
    question = ("What is the FY2020 return on assets (ROA) for Vandelay? ROA is defined as: FY2020 net income / "
                "(average total assets between FY2019 and FY2020). Round your answer to two decimal places.")
    answer = ("The FY2020 net income attributable to Vandelay shareholders was $600 million. "
              "The average total assets between FY2019 and FY2020 were ($12,500 million + $11,900 million) / 2 = "
              "$12,200 million. The FY2020 ROA is {}.")
    pages = [BALANCE, INCOME, note]
    verdicts = checker.check(question, answer.format("4.92%"), pages)
    assert [v.verdict for v in verdicts] == [Verdict.supported] * 3
    assert verdicts[-1].verdict == Verdict.supported and "as the question defines it" in verdicts[-1].reason
    assert checker.check(question, answer.format("5.08%"), pages)[-1].verdict == Verdict.supported  # 620 / 12,200
    last = checker.check(question, answer.format("5.50%"), pages)[-1]
    assert last.verdict == Verdict.unsupported and "as the question defines it" in last.reason


def _revised(question: str, answer: str, pages: list[SourcePage]) -> str:
    """One critique-revise round of the grounded teacher over `pages`, all retrieved."""
    import asyncio

    from cai.core.constitution import load_constitution
    from cai.core.contracts import Locator, PageText, SearchHit, SentenceSpan
    from cai.teachers.grounded import GroundedTeacher
    from rag.quotes import gather_sources
    from rag.sentences import sentence_spans
    from rewards.checker import get_checker

    texts = {(p.doc_id, p.page): PageText(doc_id=p.doc_id, page=p.page, text=p.text, sentences=[
        SentenceSpan(sentence=i, char_start=a, char_end=b) for i, (a, b) in enumerate(sentence_spans(p.text))])
        for p in pages}
    hits = [SearchHit(doc_id=p.doc_id, page=p.page, score=1.0 - i / 10, text=p.text,
                      locator=Locator(doc_id=p.doc_id, page=p.page, char_start=0, char_end=len(p.text), sentence=0))
            for i, p in enumerate(pages)]
    constitution = load_constitution("finance-10k")
    teacher = GroundedTeacher(lambda d, p: texts.get((d, p)), get_checker("offline"), constitution)
    sources = gather_sources(hits, teacher.page)
    critique = asyncio.run(teacher.critique(question, sources, answer, constitution.rules))
    return asyncio.run(teacher.revise(question, sources, answer, critique, constitution.rules)).text


def test_the_teacher_states_the_defined_metric_an_answer_got_wrong_or_left_out():
    pages = [BALANCE, INCOME]
    working = "The average accounts payable is (1,600 + 1,200) / 2 = 1,400 [vandelay-2020-10k p.52]."
    computed = ("DPO = 365 * ((1,600 + 1,200) / 2) / (8,000 + (2,400 - 2,300)) = 63.09 [vandelay-2020-10k p.50] "
                "[vandelay-2020-10k p.52].")
    # a wrong result is dropped, and the metric computed as the question defines it takes its place
    out = _revised(DPO_QUESTION, f"{working} So Vandelay's FY2020 DPO is 79.00 days.", pages)
    assert "79.00" not in out and out.endswith(computed) and working in out, out
    # working without a result gets the result; an answer that states it is left as it is
    assert _revised(DPO_QUESTION, working, pages) == f"{working} {computed}"
    stated = f"{working} Vandelay's FY2020 DPO is 63.09 days [vandelay-2020-10k p.52]."
    assert _revised(DPO_QUESTION, stated, pages) == stated
    # an answer that abstains gets the computed metric instead of an abstention
    assert _revised(DPO_QUESTION, "The filing does not say.", pages) == computed


def test_the_teacher_computes_nothing_the_rows_do_not_settle():
    # Without the balance sheet no row gives the payables: nothing is computed, the answer abstains.
    out = _revised(DPO_QUESTION, "Vandelay's FY2020 DPO is 79.00 days.", [INCOME, CASH_FLOWS])
    assert "DPO =" not in out and out.startswith("The sources do not state"), out
    # A question that defines no metric gets no computed sentence.
    out = _revised("What was Vandelay's FY2020 cost of sales?", "Cost of sales was $8,000 million in 2020.", [INCOME])
    assert "=" not in out, out


def test_a_metric_defined_in_words_and_a_metric_of_it():
    question = ("What is Vandelay's FY2020 working capital ratio? Define working capital ratio as total current "
                "assets divided by total current liabilities. Round your answer to two decimal places.")
    [d] = definitions(question)
    assert d.name == "working capital ratio" and d.names == ("working capital ratio",)  # not "working capital"
    pages = [prepare_page(BALANCE)]
    assert [round(v.value, 4) for v in evaluate(d, question, lambda item: page_values(item, pages))] == [
        round(4_660 / 3_100, 4)]
    assert defined_answer(question, pages).startswith("working capital ratio = 4,660 / 3,100 = 1.50 ")
    # "less" and "from the … statement" are read as what they say
    question = ("What is Vandelay's FY2020 EBITDA margin? Define EBITDA as unadjusted operating income plus "
                "depreciation and amortization from the cash flow statement.")
    [d] = definitions(question)
    assert d.formula.endswith("from the cash flow statement")
    # the question asks for a margin of the defined EBITDA, not for the EBITDA: nothing to write
    assert asked_definition(question, [d]) is None
    [v] = checker_verdicts(question, "Vandelay's FY2020 EBITDA margin was 9.1%.")
    assert "as the question defines it" not in v.reason


def checker_verdicts(question: str, answer: str):
    from rewards.checker import get_checker

    return get_checker("offline").check(question, answer, [BALANCE, INCOME, CASH_FLOWS])


def test_captions_filers_vary_and_rows_run_together():
    from rewards.implied_formulas import computed_answer

    # Capital expenditures captioned by the assets bought, in parentheses on a discussion page's table
    # as well as on the statement: one value, the amount paid.
    flows = SourcePage(doc_id="vandelay-2022-10k", page=49, text=(
        "Vandelay Industries, Inc.\nConsolidated Statements of Cash Flows\n(In Millions)\nFiscal Year\n2022 2021\n"
        "Net cash provided by operating activities 3,100.0 2,900.0\n"
        "Purchases of land, buildings, and equipment (560.0) (530.0)\nDividends paid (1,250.0) (1,200.0)\n"))
    discussion = SourcePage(doc_id="vandelay-2022-10k", page=28, text=(
        "Vandelay Industries, Inc.\nCash flows from investing activities\nFiscal Year 2022 2021\n"
        "Purchases of land, buildings, and equipment $ (560.0) $ (530.0)\n"))
    fcf = ("What is the FY2022 free cash flow (FCF) for Vandelay? FCF here is defined as: (cash from operations - "
           "capex). Answer in USD millions.")
    answer = computed_answer(fcf, [prepare_page(flows), prepare_page(discussion)])
    assert answer is not None and answer.split(" [")[0].endswith("= 2,540.00"), answer
    # Rows PDF text ran into one line: each figure's own caption is the words just before its row's
    # figures; earnings attributable to noncontrolling interests are not the parent's.
    earnings = SourcePage(doc_id="vandelay-2022-10k", page=45, text=(
        "Vandelay Industries, Inc.\nConsolidated Statements of Earnings\n(In Millions)\nFiscal Year\n2022 2021 "
        "Net sales $ 18,000.0 $ 17,000.0 Net earnings, including earnings attributable to redeemable and\n"
        "noncontrolling interests 2,600.0 2,300.0 Net earnings attributable to redeemable and noncontrolling "
        "interests 40.0 10.0 Net earnings attributable to Vandelay $ 2,560.0 $ 2,290.0\n"))
    retention = ("What is the FY2022 retention ratio (using total cash dividends paid and net income attributable to "
                 "shareholders) for Vandelay?")
    answer = computed_answer(retention, [prepare_page(earnings), prepare_page(flows)])
    assert answer == ("retention ratio = (2,560 - 1,250) / 2,560 = 0.51 [vandelay-2022-10k p.45] "
                      "[vandelay-2022-10k p.49]."), answer
