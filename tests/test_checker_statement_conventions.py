"""Reading conventions of filings the offline checker applies: exhibit numbers are not figures, only a
consolidating schedule's Consolidated column is the company's, plain revenue is the total line, and
a segment superlative holds among the segments of a table whose headings cannot be split into names,
gross / operating / net are different lines, and a rate in parentheses is negative (hand-built
statements of fictional filers)."""

from __future__ import annotations

from cai.core.contracts import SourcePage, Verdict
from rewards.column_groups import figure_cells
from rewards.numbers import extract_quantities
from rewards.stated_totals import plain_revenue


def test_an_exhibit_index_number_is_not_a_figure():
    index = ("Exhibit No. Description\n"
             "4.1 Description of Initech Corporation Common Stock (incorporated by reference to Exhibit 4.1)\n"
             "10.21* Amended Credit Agreement dated March 3, 2021\n")
    assert [q.text for q in extract_quantities(index)] == []
    # a figure at the start of a line that no title follows is still one
    assert [q.text for q in extract_quantities("Revenue\n4.5 3.2\n2.5 million shares")] == ["4.5", "3.2",
                                                                                             "2.5 million"]


def test_a_compound_rate_is_never_derived_from_exhibit_numbers(checker):
    exhibits = SourcePage(doc_id="initech-2022-10k", page=107, text=(
        "Exhibits\n4.1 Description of Initech Common Stock\n4.5 Indenture, dated as of May 25, 2010\n"
        "Net sales in 2022 were $65,984 million, compared with $65,398 million in 2020.\n"))
    question = "What is Initech's 2 year total revenue CAGR from FY2020 to FY2022?"
    # (4.1 / 4.5) ^ (1/2) - 1 = -4.5%: the exhibit numbers would have "derived" it
    [v] = checker.check(question, "Initech's 2-year total revenue CAGR from FY2020 to FY2022 is 4.5%.", [exhibits])
    assert v.verdict == Verdict.unsupported
    [v] = checker.check(question, "Initech's 2-year total revenue CAGR from FY2020 to FY2022 is 0.4%.", [exhibits])
    assert v.verdict == Verdict.supported


CONSOLIDATING = SourcePage(doc_id="globex-2019-10k", page=115, text=(
    "Globex Corporation\nCondensed Consolidating Balance Sheets\nAs of December 29, 2018\n(in millions)\n"
    "Parent Guarantor Subsidiary Issuer Non-Guarantor Subsidiaries Eliminations Consolidated\n"
    "Cash and cash equivalents $ — $ 202 $ 928 $ — $ 1,130\n"
    "Inventories — 1,783 884 — 2,667\n"
    "Receivables due from affiliates — 870 341 (1,211) —\n"
    "Total current assets — 7,325 9,059 (7,309) 9,075\n"))


def test_only_the_consolidated_column_of_a_consolidating_schedule_is_the_companys(checker):
    question = "What was Globex's inventory at the end of FY2018?"
    verdicts = {answer: checker.check(question, answer, [CONSOLIDATING])[0].verdict for answer in (
        "Globex's inventory at the end of FY2018 was $2,667 million.",
        "Globex's inventory at the end of FY2018 was $1,783 million.",  # the issuer's column
        "Globex's total inventory at the end of FY2018, adding both, was $1,783 million.",  # 2,667 - 884
        "The subsidiary issuer's inventory at the end of FY2018 was $1,783 million.",  # names the column
    )}
    assert list(verdicts.values()) == [Verdict.supported, Verdict.unsupported, Verdict.unsupported,
                                       Verdict.supported]
    # a segment table has Eliminations and Consolidated columns too, but no legal entities: its columns stand
    segments = SourcePage(doc_id="globex-2019-10k", page=80, text=(
        "Segment information, consolidating the two regions\n(in millions)\n"
        "North America Europe Eliminations Consolidated\nInventories 1,783 884 — 2,667\n"))
    [v] = checker.check("What was Globex's North America inventory?", "North America inventory was $1,783 million.",
                        [segments])
    assert v.verdict == Verdict.supported


STATEMENT = SourcePage(doc_id="initech-2017-10k", page=38, text=(
    "Initech Corporation\nConsolidated Statements of Operations\n(in millions)\n"
    "Year Ended December 31,\n2016 2017\n"
    "Net product sales $ 94,665 $ 118,573\nNet service sales 41,322 59,293\nTotal net sales 135,987 177,866\n"))


def test_plain_revenue_is_the_total_line_not_a_component():
    assert plain_revenue("The year-over-year change in revenue is")
    assert plain_revenue("Initech's FY2017 net sales grew")
    assert not plain_revenue("Net product sales grew")
    assert not plain_revenue("Cloud segment revenue grew")
    assert not plain_revenue("Net income grew")


def test_revenue_growth_is_computed_from_total_revenue(checker):
    question = "What is Initech's year-over-year change in revenue from FY2016 to FY2017?"
    component = ("The year-over-year change in revenue is ($118,573 - $94,665) / $94,665 = 25.2%. "
                 "So the change in revenue from FY2016 to FY2017 is 25.2%.")
    verdicts = checker.check(question, component, [STATEMENT])
    assert [v.verdict for v in verdicts] == [Verdict.unsupported, Verdict.unsupported]
    assert "part of revenue" in verdicts[0].reason
    # the operands stated on their own, then the conclusion: still not revenue growth
    bare = "Net product sales were $94,665 million and $118,573 million. So revenue grew 25.2% in FY2017."
    assert [v.verdict for v in checker.check(question, bare, [STATEMENT])] == [Verdict.supported,
                                                                              Verdict.unsupported]
    # a formula on its own line under a lead-in: the question says what it computes
    alone = "The year-over-year change in revenue is calculated as follows:\n\n($118,573 - $94,665) / $94,665 = 25.2%"
    assert Verdict.supported not in [v.verdict for v in checker.check(question, alone, [STATEMENT])]
    total = "The change in revenue is ($177,866 - $135,987) / $135,987 = 30.8%."
    assert [v.verdict for v in checker.check(question, total, [STATEMENT])] == [Verdict.supported]
    product = "Net product sales grew ($118,573 - $94,665) / $94,665 = 25.2%."
    assert [v.verdict for v in checker.check(question, product, [STATEMENT])] == [Verdict.supported]


# Segment headings on one line after the caption: three names that cannot be told apart from the text.
SEGMENTS = SourcePage(doc_id="globex-2021q1-10q", page=19, text=(
    "Segment results\nThe following tables summarize the Firm's results by segment.\n"
    "Three months ended March 31, Retail Banking Corporate & Markets Commercial Lending\n"
    "(in millions, except ratios) 2021 2020 Change 2021 2020 Change 2021 2020 Change\n"
    "Total net revenue $ 12,517 $ 13,287 (6) % $ 14,605 $ 10,003 46 % $ 2,393 $ 2,165 11 %\n"
    "Total noninterest expense 7,202 7,269 (1) 7,104 5,955 19 969 986 (2)\n"
    "Three months ended March 31, Wealth Management Corporate Reconciling Items Total\n"
    "(in millions, except ratios) 2021 2020 Change 2021 2020 Change 2021 2020 Change 2021 2020 Change\n"
    "Total net revenue $ 4,077 $ 3,389 20 % $ (473) $ 166 NM $ (853) $ (724) 18 % $ 32,266 $ 28,286 14 %\n"))


def test_segment_groups_known_by_position_when_their_headings_cannot_be_split():
    cells = figure_cells(SEGMENTS.text)
    text = SEGMENTS.text
    by_value = {text[s:].split("\n")[0].split()[0 if text[s] != "$" else 1]: cell for s, cell in cells.items()}
    assert by_value["12,517"][:2] == ("#1", 2021) and by_value["2,393"][:2] == ("#3", 2021)
    assert by_value["32,266"][0] == "Total" and by_value["(853)"][0] == "Reconciling items"
    spans = ("Three months ended June 30, Six months ended June 30,\n(in millions) 2022 2021 2022 2021\n"
             "Net revenue $ 100 $ 90 $ 200 $ 180\n")
    assert figure_cells(spans) == {}  # two periods side by side are not segments


def test_a_segment_superlative_holds_among_the_segments_by_position(checker):
    question = "Which of Globex's business segments had the lowest net revenue in 2021 Q1?"
    [v] = checker.check(question, "The business segment with the lowest net revenue in 2021 Q1 was Commercial "
                                  "Lending, with net revenue of $2,393 million.", [SEGMENTS])
    assert v.verdict == Verdict.unsupported and "not the lowest" in v.reason and "-473" in v.reason
    [v] = checker.check(question, "The business segment with the lowest net revenue in 2021 Q1 was Corporate, "
                                  "with net revenue of -$473 million.", [SEGMENTS])
    assert v.verdict == Verdict.supported
    [v] = checker.check(question, "The business segment with the highest net revenue in 2021 Q1 had "
                                  "$14,605 million.", [SEGMENTS])
    assert v.verdict == Verdict.supported
    # "the largest loss" ranks a negative figure by its size: not read by position
    [v] = checker.check(question, "The business segment with the largest loss of net revenue in 2021 Q1 had "
                                  "-$473 million.", [SEGMENTS])
    assert not (v.reason or "").startswith("not the")


def test_wrapped_segment_headings_are_joined_or_left_to_position():
    header = "(in millions)\n2021 2020 2021 2020 2021 2020\nNet revenue $ 100 $ 90 $ 50 $ 40 $ 10 $ 20\n"
    joined = figure_cells("Consumer &\nCommunity Banking\nCorporate &\nInvestment Bank\nCommercial Banking\n" + header)
    assert sorted({heading for heading, _, _ in joined.values()}) == [
        "Commercial Banking", "Consumer & Community Banking", "Corporate & Investment Bank"]
    # "Corporate &" runs into two names on the next line: no name is certain, the position is
    mixed = figure_cells("Consumer &\nCommunity Banking\nCorporate &\nInvestment Bank Commercial Banking\n" + header)
    assert sorted({heading for heading, _, _ in mixed.values()}) == ["#1", "#2", "#3"]


INCOME = SourcePage(doc_id="hooli-2015-10k", page=56, text=(
    "Hooli, Inc.\nConsolidated Statements of Operations\n(In millions)\nYear Ended\n2015 2014\n"
    "Net revenue $ 3,991 $ 5,506\nCost of sales 2,911 3,667\nGross margin 1,080 1,839\n"))
CASH_FLOWS = SourcePage(doc_id="hooli-2015-10k", page=60, text=(
    "Hooli, Inc.\nConsolidated Statements of Cash Flows\n(In millions)\nYear Ended\n2015 2014\n"
    "Net loss $ (660) $ (403)\nDepreciation and amortization 167 203\n"))


def test_a_line_item_margin_is_that_line_over_revenue_across_statements(checker):
    from rewards.named_ratios import line_item_margin

    assert line_item_margin("the FY2015 depreciation and amortization (D&A) % margin").name == (
        "depreciation and amortization margin")
    assert line_item_margin("R&D as a percentage of revenue").name == "research and development margin"
    assert line_item_margin("gross margin") is None  # a standard ratio of its own
    question = "What is Hooli's FY2015 depreciation and amortization (D&A) % margin?"
    right = checker.check(question, "Hooli's FY2015 D&A % margin was 4.2%.", [INCOME, CASH_FLOWS])
    assert [v.verdict for v in right] == [Verdict.supported] and "167 / $ 3,991" in right[0].reason
    # D&A over gross margin, shown step by step: neither the step "= 15.4%" nor the conclusion is the margin
    steps = ("Depreciation and amortization was $167 million and gross profit $1,080 million. "
             "= ($167 million / $1,080 million) x 100%. = 15.4%. So the FY2015 D&A % margin is 15.4%.")
    verdicts = checker.check(question, steps, [INCOME, CASH_FLOWS])
    assert [v.verdict for v in verdicts[-2:]] == [Verdict.unsupported, Verdict.unsupported]


def test_a_line_as_a_percentage_of_revenue_and_its_complement_in_one_worked_step(checker):
    page = SourcePage(doc_id="hooli-2018-10k", page=46, text=(
        "Hooli, Inc. Consolidated Statements of Income\nYear Ended May 31,\n(In millions) 2018 2017 2016\n"
        "Revenues $ 36,397 $ 34,350 $ 32,376\nCost of sales 20,441 19,038 17,405\n"))
    question = "What is Hooli's three-year average of cost of goods sold (COGS) as a percentage of revenue?"
    # 17,405 / 32,376 = 53.8%; the 46.2% before it is 100% less that, known only once 53.8% is derived
    [v] = checker.check(question, "FY2016: COGS % = 100% - 46.2% = 53.8%", [page])
    assert v.verdict == Verdict.supported and "17,405 / 32,376" in v.reason
    [v] = checker.check(question, "FY2016: COGS % = 100% - 45.2% = 54.8%", [page])
    assert v.verdict == Verdict.unsupported


RESULTS = SourcePage(doc_id="initech-2022-10k", page=24, text=(
    "Consolidated Results of Operations\n(Dollars in millions)\nYears ended December 31,\n2022\n2021\n"
    "Revenues\n$66,608\n$62,286\nLoss from operations\n($3,547)\n($2,902)\n"
    "Operating margins\n(5.3) %\n(4.7) %\nNet income\n1,200\n900\n"))


def test_another_level_of_a_measure_is_another_line_item(checker):
    # Gross, operating and net margins (and income) are different lines of the income statement.
    question = "What was Initech's FY2022 margin profile?"
    [gross] = checker.check(question, "Initech's gross margin for FY2022 was negative 5.3%.", [RESULTS])
    assert gross.verdict == Verdict.unsupported, gross.reason
    [operating] = checker.check(question, "Initech's operating margin for FY2022 was negative 5.3%.", [RESULTS])
    assert operating.verdict == Verdict.supported, operating.reason
    [net] = checker.check(question, "Initech's operating income for FY2022 was $1,200 million.", [RESULTS])
    assert net.verdict == Verdict.unsupported, net.reason


def test_a_negative_rate_is_not_matched_by_the_positive_one(checker):
    # "(5.3) %" is a negative margin: "5.3%" states the opposite unless the claim says it is negative.
    question = "What was Initech's FY2022 operating margin?"
    verdict = lambda answer: checker.check(question, answer, [RESULTS])[0].verdict  # noqa: E731
    assert verdict("Initech's operating margin for FY2022 was 5.3%.") == Verdict.unsupported
    assert verdict("Initech's operating margin for FY2022 was -5.3%.") == Verdict.supported
    assert verdict("Initech's operating margin for FY2022 was negative 5.3%.") == Verdict.supported
    # an amount in parentheses is how statements present a loss or a cost: stated positive, it matches
    assert verdict("Initech's loss from operations for FY2022 was $3,547 million.") == Verdict.supported


def test_an_average_over_years_is_no_single_years_figure(checker):
    page = SourcePage(doc_id="initech-2017-10k", page=26, text=(
        "Selected Financial Data\n($ in millions, except per share amounts)\nFiscal Year\n2017\n2016\n2015\n"
        "Revenue\n39,403\n39,528\n40,339\nNet earnings as a % of revenue\n3.1%\n2.3%\n3.1%\n"))
    question = "What is the FY2015 - FY2017 3 year average net profit margin (as a %) for Initech?"
    verdict = lambda answer: checker.check(question, answer, [page])[0].verdict  # noqa: E731
    # 2.3% is FY2016's margin, not the three years' average
    assert verdict("The FY2015 - FY2017 3-year average net profit margin for Initech is 2.3%.") == Verdict.unsupported
    assert verdict("Initech's net profit margin was 2.3% in FY2016.") == Verdict.supported
    # the average's operands are single years' figures
    assert verdict("The 3-year average net profit margin is (3.1% + 2.3% + 3.1%) / 3 = 2.8%.") == Verdict.supported
