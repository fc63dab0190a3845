"""Claims, figures, periods, entities and arithmetic derivation on hand-built text."""

from __future__ import annotations

import pytest

from rewards.arithmetic import Tolerances, derive_pair, derive_step, derive_triple
from rewards.claims import sentence_kind, split_claims
from rewards.entities import extract_entities, normalise, unknown_entities
from rewards.numbers import SOURCE_SCALES, agrees, checkable, declared_scales, extract_quantities
from rewards.periods import column_periods, extract_periods, period_compatible


def one(text: str):
    found = extract_quantities(text)
    assert len(found) == 1, found
    return found[0]


def test_split_keeps_spans_and_citations():
    answer = "Revenue was $412.3 million [acme-10k p.4]. Net income fell to $12 million. [acme-10k p.5]\nWhat else?"
    claims = split_claims(answer)
    assert [c.text for c in claims] == [
        "Revenue was $412.3 million [acme-10k p.4].",
        "Net income fell to $12 million. [acme-10k p.5]",
    ]
    for c in claims:
        assert answer[c.start : c.end] == c.text
    assert claims[0].citations == ["[acme-10k p.4]"]
    assert claims[1].cited_pages() == [("acme-10k", 5)]
    assert claims[0].plain == "Revenue was $412.3 million ."


def test_non_claims_are_skipped():
    answer = ("Here is the breakdown:\nTo calculate the margin, we need to divide profit by revenue.\n"
              "Gross margin = (Revenue - COGS) / Revenue\nLet me know if you need more.\n"
              "Margin was 21.4% in fiscal 2023.")
    assert [c.text for c in split_claims(answer)] == ["Margin was 21.4% in fiscal 2023."]


@pytest.mark.parametrize(
    "text, value, unit",
    [
        ("$1,234.5 million", 1_234.5e6, "$"),
        ("(459)", -459.0, ""),
        ("$(962) million", -962e6, "$"),
        ("-3.2%", -3.2, "%"),
        ("$5.4 billion", 5.4e9, "$"),
        ("31 percent", 31.0, "%"),
        ("2.7 percentage points", 2.7, "%"),
        ("12,645", 12_645.0, ""),
    ],
)
def test_figures_normalise(text, value, unit):
    q = one(f"It was {text} then.")
    assert q.value == pytest.approx(value)
    assert q.unit == unit


def test_years_dates_references_and_markers_are_not_figures():
    text = "In fiscal 2022 (December 31, 2022) the 10-K on p. 57, Note 4 and the 737 MAX:\n1. Revenue rose"
    assert extract_quantities(text) == []
    assert not checkable(one("over 3 years"))
    assert not checkable(one("times 100"))


def test_rounding_tolerance_is_the_written_precision():
    q = one("$177.9 billion")
    assert q.half_unit == pytest.approx(0.05e9)
    assert agrees(q, 177_866, 0.001)  # a table in millions
    assert not agrees(q, 178_100, 0.001)
    assert agrees(one("31%"), 30.8, 0.001)
    assert not agrees(one("31%"), 30.4, 0.001)
    # The stated relative tolerance widens an exact figure.
    assert not agrees(one("1,806"), 1_798, 0.001)
    assert agrees(one("1,806"), 1_798, 0.005)


def test_periods_normalise():
    text = ("FY2022, fiscal 2021, Q2 of FY 2024, the second quarter of fiscal 2023, the year ended December 31, 2020, "
            "FY19")
    periods = extract_periods(text)
    assert [(p.kind, p.year, p.quarter) for p in periods] == [
        ("fy", 2022, None), ("fy", 2021, None), ("quarter", 2024, 2), ("quarter", 2023, 2),
        ("date", 2020, None), ("fy", 2019, None),
    ]
    assert (periods[4].month, periods[4].day) == (12, 31)


def test_table_columns_give_each_figure_its_period():
    page = "Year Ended December 31,\n2016\n2017\nTotal net sales\n135,987\n177,866\nNet income\n2,371\n3,033\n"
    columns = column_periods(page)
    by_text = {page[start : start + 7].strip(): p.year for start, p in columns.items()}
    assert by_text["135,987"] == 2016 and by_text["177,866"] == 2017 and by_text["3,033"] == 2017


def test_a_row_of_rates_takes_the_periods_of_its_columns_but_a_change_column_does_not():
    page = ("Year ended December 31,\n2022 2021 2020\nStatutory rate 21.0% 21.0% 21.0%\n"
            "Effective tax rate 22.9% 20.2% 17.5%\nNet sales $ 14,189 $ 14,082 $ 11,303 1 %\n")
    columns = column_periods(page)
    assert columns[page.index("17.5%")].year == 2020 and columns[page.index("22.9%")].year == 2022
    assert page.index("1 %") not in columns  # a change beside amounts is no period's value


def test_fiscal_year_ending_in_january_matches_either_year():
    column = extract_periods("January 28, 2023")[0]
    assert period_compatible(extract_periods("fiscal 2023")[0], column)
    assert period_compatible(extract_periods("fiscal 2022")[0], column)
    assert not period_compatible(extract_periods("fiscal 2024")[0], column)


def test_entities_and_aliases():
    known = normalise("BESTBUY_2017_10K Consolidated Statements of Earnings NetearningsattributabletoBestBuyCo.,Inc.")
    assert unknown_entities("Best Buy's revenue grew.", known) == []
    assert [e.text for e in unknown_entities("In summary, Corning reported a profit.", known)] == ["Corning"]
    # Sentence-initial words and line-item abbreviations are not names.
    assert extract_entities("Rounded to one decimal, EBITDA was high.") == []


TOL = Tolerances(additive=0.5, multiplicative=0.05)


def test_derived_growth_ratio_average_and_sum():
    growth = one("30.8%")
    assert derive_pair(growth, [177_866, 135_987], TOL).expression.startswith("(177,866 - 135,987)")
    turnover = one("3.46")
    assert derive_pair(turnover, [24_576, 7_110.5], TOL) is not None
    average = one("$7,110.5 million")
    assert derive_pair(average, [6_854, 7_367], Tolerances(0.05e6, 0.05e6)) is not None
    total = one("$98,000")
    assert derive_triple(total, [40_000, 30_000, 28_000], TOL) is not None
    assert derive_step(one("0.447%"), [0.00447], TOL) is not None


def test_derivation_refuses_unrelated_and_unit_mixing_results():
    assert derive_pair(one("31.5%"), [177_866, 135_987], TOL) is None
    # A dollar amount is never a ratio of two amounts, and "x + 3" is not a sum an answer means.
    assert derive_pair(one("$1.31 million"), [177_866, 135_987], Tolerances(5e3, 5e3)) is None
    assert derive_pair(one("$135,990"), [135_987, 3], TOL) is None


def kinds(answer: str) -> list[tuple[str, str]]:
    return [(c.kind, c.text) for c in split_claims(answer, keep_non_claims=True)]


def test_abstentions_are_not_claims():
    answer = (
        "The sources do not state that revenue was $5 million in 2030.\n"
        "The provided documents do not say how many employees Acme has.\n"
        "Net income was $3,033 million."
    )
    assert [c.text for c in split_claims(answer)] == ["Net income was $3,033 million."]
    assert [k for k, _ in kinds(answer)] == ["abstention", "abstention", "claim"]


def test_framing_sentences_are_not_claims():
    answer = (
        "Here is a summary of Acme's income statement\n"
        "3. Divide the sum by 3 to get the average.\n"
        "- n is the number of years.\n"
        "- Beginning Value is the total revenue at the beginning of the period (FY2020).\n"
        "However, it's important to note that gross margin might not always be the most useful metric.\n"
        "Growth Factor = $65,984 million / $65,398 million = 1.00896"
    )
    # A formula with figures states what the sources must support: a claim.
    assert [k for k, _ in kinds(answer)] == ["framing"] * 5 + ["claim"]


def test_period_attribution_in_formulas_and_dates():
    from rewards.attribution import period_for

    def attributed(text: str) -> list[str | None]:
        [claim] = split_claims(text)
        return [getattr(period_for(q, claim.quantities, claim.periods, claim.plain), "text", None)
                for q in claim.quantities]

    # Operands of an average span periods; a formula's left-hand side does not reach across "=".
    assert attributed("Average inventory between FY2018 and FY2019 = (FY2018 inventory + FY2019 inventory) / 2 = "
                      "($2,667 million + $2,721 million) / 2 = $2,694 million.") == [None, None, None]
    # Two dates of one year are two periods; "by" attaches the date after a figure.
    assert attributed("Cash was $1,874 million on January 28, 2023, and fell to $1,093 million by July 29, 2023.") == [
        "January 28, 2023", "July 29, 2023"]
    # A date in apposition with a fiscal year is the more specific period.
    assert attributed("On July 30, 2022 (FY 2023): $840 million") == ["July 30, 2022"]
    # A period on the line above does not reach a figure on the next line.
    assert attributed("Change in inventory = Inventory for FY2017 - Inventory for FY2016\n"
                      "Change = $16,047 million - $11,461 million") == [None, None]


def test_known_names_match_at_name_boundaries():
    from rewards.entities import KnownNames

    known = KnownNames("BESTBUY_2017_10K NetearningsattributabletoBestBuyCo.,Inc. pressure to be more cost competitive")
    assert unknown_entities("Best Buy's revenue grew.", known) == []
    assert [e.text for e in unknown_entities("Yes, Costco's business is cyclical.", known)] == ["Costco's"]
    # A sentence-initial subject the texts never write in lower case is a name; an ordinary
    # sentence-initial word or a label being defined is not.
    assert [e.text for e in unknown_entities("Microsoft had total assets of $5 million.", known)] == ["Microsoft"]
    assert unknown_entities("Plugging in the numbers gives 3.", known) == []
    assert unknown_entities("Growth Factor = 1.2", known) == []


def test_designations_and_compound_growth_gate():
    from rewards.numbers import designations

    assert designations("the 737 MAX and the 10-Q filing of 2023 10-K") == ["737", "10 Q", "10 K"]
    # A reference to a part of the filing must be the one the sources have ("Exhibit 99.1", not 109.0).
    assert designations("The bio in Exhibit 99.1 and Note 12.") == ["99.1", "12"]
    # Compound growth is searched only when asked for: 7.5% = ((15 / 11) ^ (1/4) - 1) by chance.
    assert derive_pair(one("8.1%"), [15, 11], TOL) is not None
    assert derive_pair(one("8.1%"), [15, 11], TOL, compound=False) is None


def test_table_header_unit_rows_and_running_heads_are_filler():
    from rewards.claims import is_header_row

    for header in (
        "(in millions, except per share amounts) 2024 2023 2022",
        "(in millions, except per share amounts) | 2023 | 2022 | 2021",
        "Year Ended December 31,",
        "Fiscal Years Ended January 28, 2017 January 30, 2016",
        "(in millions) Dec. 31, 2023 Impairment Dec. 31, 2024",
        "Ostrander Quarry & Aggregates Corp. | Fiscal 2024 | Page 2",
    ):
        assert is_header_row(header) and [k for k, _ in kinds(header)] == ["filler"], header
    for claim in ("Revenue was $2,387.5 million in 2024.", "Revenue (in millions) 2,387.5 2,104.7",
                  "In 2024 revenue rose."):
        assert not is_header_row(claim) and [k for k, _ in kinds(claim)] == ["claim"], claim
    # A lead-in naming a period stays framing (its year is still checked).
    assert [k for k, _ in kinds("For the fiscal year ended January 28, 2023:")] == ["framing"]


def test_degenerate_sentences_loop_or_say_almost_nothing():
    from rewards.claims import degenerate

    for loop in (
        "Revenue revenue revenue.",
        "destination destination destination destination destination",
        "net income net income net income",
        "the destination of the destination of the destination of",
        "Revenue net income revenue net income.",
    ):
        assert degenerate(loop), loop
        [claim] = split_claims(loop)  # still a claim: it counts against the answer
        assert claim.degenerate
    # Worked formulas repeat their terms, and that is not a loop.
    for fine in (
        "Average Inventory = (FY2018 Inventory + FY2019 Inventory) / 2 "
        "Average Inventory = ($2,667 million + $2,721 million) / 2",
        "Change in Inventory = Inventory FY2020 - Inventory FY2019 "
        "Change in Inventory = $2,438 million - $2,320 million",
        "The COGS is the sum of the cost of product and the cost of service and other.",
        "Net income rose 21.5% to $147.4 million in 2024.",
    ):
        assert not degenerate(fine), fine


def test_a_row_label_and_its_figure_line_are_one_claim():
    answer = ('The balance sheet states:\n\n"TOTAL ASSETS\n$59,268"\n\nTotal revenue\n  \n85,320\n\n'
              'Revenue:\nProduct\n$ 61,502')
    claims = split_claims(answer)
    assert [c.text for c in claims] == ['"TOTAL ASSETS\n$59,268"', "Total revenue\n  \n85,320", "Product\n$ 61,502"]
    assert [c.plain for c in claims][1] == "Total revenue 85,320"
    for c in claims:
        assert answer[c.start : c.end] == c.text and c.quantities


def test_silent_sources_method_and_meta_sentences_are_not_claims():
    answer = (
        "There were no acquisitions mentioned for FY2021 in the provided text.\n"
        "Next, find the average inventory between FY2020 and FY2021.\n"
        "The question asks for Amazon's FY2017 days payable outstanding (DPO).\n"
        "We are looking at a period of 2 years (from the end of 2020 to the end of 2022).\n"
        "This figure is in thousands, so to express it in millions, you would divide by 1,000.\n"
        "This information can be found in the Income Statements section of the filing.\n"
        "Next, Acme sold pumps."
    )
    assert [k for k, _ in kinds(answer)] == ["abstention"] + ["framing"] * 5 + ["claim"]


def test_a_unit_closing_a_figure_scales_it_and_a_page_declares_its_tables_unit():
    [q] = extract_quantities("total current liabilities are $5,466,312 in USD millions.")
    assert q.value == 5_466_312e6 and q.scaled_in_text
    [q] = extract_quantities("operating income was $305,826 (in thousands)")
    assert q.value == 305_826e3
    # "(in USD millions, this would be ...)" goes on to convert: not the figure's own unit.
    first, _ = extract_quantities("$5,466,312,000 (in USD millions, this would be $5,466.312 million)")
    assert first.value == 5_466_312_000
    assert declared_scales("Consolidated Balance Sheets\n(in thousands, except share data)") == (1.0, 1e3)
    assert declared_scales("Total revenues 66,608 62,286") == SOURCE_SCALES  # the header may be on another page


def test_plural_initialisms_and_possessives_name_what_the_sources_name():
    from rewards.entities import KnownNames

    known = KnownNames("AMD_2022_10K Adaptive System-on-Chip (SoC) products and CPUs. "
                       "Chief Marketing Officer of McDonalds Corporation from 2005.")
    assert unknown_entities("Adaptive SoCs and AMD CPUs are sold.", known) == []
    assert unknown_entities("She was an officer of McDonald’s Corp. and of McDonald's.", known) == []
    # Still a boundary: a name is not known from a longer word that merely starts with it.
    assert [e.text for e in unknown_entities("She joined Costco in 2005.", KnownNames("Costcos are big"))] == []
    assert [e.text for e in unknown_entities("She joined Costco in 2005.", KnownNames("Costcoville"))] == ["Costco"]


def test_a_listed_line_takes_the_heading_line_it_is_listed_under():
    answer = ("Here are the segments:\n\nData Center:\nFY21 Revenue: $3,694 million\nFY22 Revenue: $6,043 million\n\n"
              "**Client:**\n- FY21 Revenue: $6,887 million [AMD_2022_10K p.47]\n\n"
              "Overall, revenue grew by 44% to $23,601 million.\n"
              "Note: this is unaudited.\nTotal revenue was $23,601 million.")
    claims = split_claims(answer)
    assert [(c.heading, c.plain) for c in claims] == [
        ("Data Center", "FY21 Revenue: $3,694 million"), ("Data Center", "FY22 Revenue: $6,043 million"),
        ("Client", "- FY21 Revenue: $6,887 million"),
        ("", "Overall, revenue grew by 44% to $23,601 million."),  # a blank line after the list ends it
        ("", "Note: this is unaudited."),  # a colon inside a line makes no heading
        ("", "Total revenue was $23,601 million."),
    ]


def test_a_pronoun_takes_the_name_stated_before_it():
    answer = ("Richard A. Johnson had the most votes against. He received 16,105,005 votes against. "
              "The votes for his election were as follows:\n- Votes For: 54,484,293\n\n"
              "Alan D. Feldman received 5,184,437 votes against.")
    claims = split_claims(answer)
    headings = {c.plain: c.heading for c in claims}
    assert headings["He received 16,105,005 votes against."] == "Richard A. Johnson"
    # The lead-in's "his" is resolved when the lead-in is read, and the name heads the lines listed under it;
    # a lead-in's other words do not (a short heading's do: "Client").
    assert headings["- Votes For: 54,484,293"] == "Richard A. Johnson"
    assert headings["Alan D. Feldman received 5,184,437 votes against."] == ""  # it names its own subject


def test_a_middle_initial_does_not_split_a_name():
    assert [e.text for e in extract_entities("Mary N. Dillon became CEO; Richard A. Johnson left.")] == [
        "Mary N. Dillon", "Richard A. Johnson"]


def test_a_long_lead_in_lends_no_words_but_a_short_heading_does():
    answer = ("Here are the figures from the consolidated income statement:\n- Revenue: $84.9 million\n\n"
              "Net income:\n- FY2024: $84.9 million")
    assert [c.heading for c in split_claims(answer)] == ["", "Net income"]


@pytest.mark.parametrize("text, kind", [
    ("[END OF FILING]", "filler"),
    ("(Name of each exchange on which registered)", "filler"),
    ("SECURITIES AND EXCHANGE COMMISSION", "filler"),
    ("Table of Contents", "filler"),
    ("TOTAL ASSETS $59,268", "claim"),  # a quoted row with its figure is a claim
    ("EBITDA rose.", "claim"),  # an acronym is no heading
])
def test_pasted_filing_layout_is_not_a_claim(text, kind):
    assert sentence_kind(text) == kind
