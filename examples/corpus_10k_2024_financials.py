"""Item 8 of the fictional Halvorsen Tidewater FY2024 Form 10-K: statements and notes (pages 10-14).

Same block format as `corpus_10k_2024` (which assembles the whole filing); figures from
`corpus_figures`.
"""

from __future__ import annotations

from corpus_figures import (
    COMPANY,
    FICTION_NOTICE,
    SEGMENTS,
    Table,
    balance_sheet,
    cash_flows,
    income_statement,
    money,
    row,
    segment_table,
)

I24, I23, I22 = (income_statement(y) for y in (2024, 2023, 2022))
C24, C23, C22 = (cash_flows(y) for y in (2024, 2023, 2022))
B24, B23 = balance_sheet(2024), balance_sheet(2023)


def operations_statement_page() -> list:
    years = (I24, I23, I22)

    def line(label: str, key: str, style: str = "", places: int = 1):
        return row(label, [i[key] for i in years], style, places)

    rows = [
        line("Revenue", "revenue", "$"),
        ("Operating expenses:", [], "h"),
        line("Cost of services (exclusive of depreciation and amortization)", "cost_of_services",
             "i"),
        line("Selling, general and administrative", "sga", "i"),
        line("Depreciation and amortization", "da", "i"),
        line("Goodwill impairment", "impairment", "i"),
        line("Restructuring charges", "restructuring", "i"),
        line("Total operating expenses", "total_opex", "t"),
        line("Operating income", "operating_income", "t"),
        row("Interest expense, net", [-i["interest"] for i in years], "i"),
        line("Other income (expense), net", "other", "i"),
        line("Income before income taxes", "pretax", "t"),
        line("Provision for income taxes", "tax", "i"),
        line("Net income", "net_income", "$t"),
        ("Earnings per share:", [], "h"),
        line("Basic", "eps_basic", "$i", 2),
        line("Diluted", "eps_diluted", "$i", 2),
        ("Weighted-average shares outstanding:", [], "h"),
        line("Basic", "shares_basic", "i"),
        line("Diluted", "shares_diluted", "i"),
        line("Cash dividends declared per share", "dividend_ps", "$", 2),
    ]
    table = Table(["(in millions, except per share amounts)", "2024", "2023", "2022"], rows,
                  super_header="Year Ended December 31,")
    return [
        ("h1", "ITEM 8. FINANCIAL STATEMENTS AND SUPPLEMENTARY DATA"),
        ("center", COMPANY.upper()),
        ("center", "CONSOLIDATED STATEMENTS OF OPERATIONS"),
        ("table", table),
        ("small", "The accompanying notes are an integral part of these consolidated financial "
                  "statements."),
    ]


def balance_sheet_page() -> list:
    def line(label: str, key: str, style: str = "i"):
        return row(label, [B24[key], B23[key]], style)

    rows = [
        ("ASSETS", [], "h"), ("Current assets:", [], "h"),
        line("Cash and cash equivalents", "cash", "$i"),
        line("Accounts receivable, net", "receivables"),
        line("Prepaid expenses and other current assets", "prepaid"),
        line("Total current assets", "current_assets", "t"),
        line("Property and equipment, net", "ppe"),
        line("Operating lease right-of-use assets", "rou"),
        line("Goodwill", "goodwill"), line("Intangible assets, net", "intangibles"),
        line("Other noncurrent assets", "other_assets"),
        line("Total assets", "total_assets", "$t"),
        ("LIABILITIES AND STOCKHOLDERS' EQUITY", [], "h"), ("Current liabilities:", [], "h"),
        line("Accounts payable", "payables", "$i"),
        line("Accrued expenses and other current liabilities", "accrued"),
        line("Current portion of long-term debt", "current_debt"),
        line("Current operating lease liabilities", "lease_current"),
        line("Total current liabilities", "current_liabilities", "t"),
        line("Long-term debt, net of current portion", "long_term_debt"),
        line("Noncurrent operating lease liabilities", "lease_noncurrent"),
        line("Deferred income taxes", "deferred_tax"),
        line("Other noncurrent liabilities", "other_noncurrent_liabilities"),
        line("Total liabilities", "total_liabilities", "t"),
        ("Stockholders' equity:", [], "h"),
        line("Common stock, $0.01 par value", "common_stock"),
        line("Additional paid-in capital", "apic"),
        line("Retained earnings", "retained"),
        line("Treasury stock, at cost", "treasury"),
        line("Accumulated other comprehensive loss", "aoci"),
        line("Total stockholders' equity", "equity", "t"),
        line("Total liabilities and stockholders' equity", "total_liabilities_equity", "$t"),
    ]
    table = Table(["(in millions)", "2024", "2023"], rows, super_header="December 31,")
    return [
        ("center", COMPANY.upper()),
        ("center", "CONSOLIDATED BALANCE SHEETS"),
        ("table", table),
    ]


def cash_flow_statement_page() -> list:
    years = (C24, C23, C22)

    def line(label: str, key: str, style: str = "i"):
        return row(label, [c[key] for c in years], style)

    rows = [
        ("Operating activities:", [], "h"),
        line("Net income", "net_income", "$i"),
        line("Depreciation and amortization", "da"), line("Stock-based compensation", "sbc"),
        line("Goodwill impairment", "impairment"), line("Deferred income taxes", "deferred_taxes"),
        line("Accounts receivable", "change_receivables"),
        line("Prepaid expenses and other current assets", "change_prepaid"),
        line("Accounts payable and accrued expenses", "change_payables"),
        line("Other, net", "other_operating"),
        line("Net cash provided by operating activities", "operating", "t"),
        ("Investing activities:", [], "h"),
        line("Capital expenditures", "capex"), line("Proceeds from sale of equipment", "disposals"),
        line("Acquisition of business, net of cash acquired", "acquisitions"),
        line("Net cash used in investing activities", "investing", "t"),
        ("Financing activities:", [], "h"),
        line("Borrowings under revolving credit facility", "borrowings"),
        line("Repayments of long-term debt", "repayments"),
        line("Dividends paid", "dividends"), line("Repurchases of common stock", "repurchases"),
        line("Taxes paid on vesting of equity awards", "withholding"),
        line("Net cash used in financing activities", "financing", "t"),
        line("Effect of exchange rate changes on cash", "fx"),
        line("Net increase (decrease) in cash and cash equivalents", "net_change", "t"),
        line("Cash and cash equivalents, beginning of year", "cash_begin"),
        line("Cash and cash equivalents, end of year", "cash_end", "$t"),
    ]
    table = Table(["(in millions)", "2024", "2023", "2022"], rows,
                  super_header="Year Ended December 31,")
    return [
        ("center", COMPANY.upper()),
        ("center", "CONSOLIDATED STATEMENTS OF CASH FLOWS"),
        ("table", table),
        ("small", "Cash paid for interest was $30.4 million, $31.1 million and $24.2 million, and "
                  "cash paid for income taxes was $40.8 million, $30.9 million and $29.6 million, "
                  "in 2024, 2023 and 2022, respectively."),
    ]


GOODWILL_2023 = (168.2, 187.4, 69.2)


def notes_page() -> list:
    goodwill_2024 = (GOODWILL_2023[0], GOODWILL_2023[1], round(GOODWILL_2023[2] - 18.6, 1))
    goodwill = Table(["(in millions)", "Dec. 31, 2023", "Impairment", "Dec. 31, 2024"], [
        row(SEGMENTS[i], [GOODWILL_2023[i], goodwill_2024[i] - GOODWILL_2023[i],
                          goodwill_2024[i]], "i") for i in range(3)
    ] + [row("Total", [sum(GOODWILL_2023), -I24["impairment"], B24["goodwill"]], "$t")])
    debt = Table(["(in millions)", "2024", "2023"], [
        row("5.25% senior notes due 2029", [400.0, 400.0], "$i"),
        row("Term loan due 2027", [115.0, 185.0], "i"),
        row("Revolving credit facility", [40.0, 0.0], "i"),
        row("Total debt", [B24["total_debt"], B23["total_debt"]], "t"),
        row("Less: current portion", [-B24["current_debt"], -B23["current_debt"]], "i"),
        row("Long-term debt, net of current portion", [B24["long_term_debt"],
                                                       B23["long_term_debt"]], "$t"),
    ], super_header="December 31,")
    return [
        ("center", "NOTES TO CONSOLIDATED FINANCIAL STATEMENTS"),
        ("h2", "Note 1. Organization and Basis of Presentation"),
        ("p", f"{COMPANY} provides freight forwarding, contract warehousing and marine terminal "
              "services. The consolidated financial statements include the accounts of the "
              "Company and its wholly owned subsidiaries and are prepared in accordance with "
              "GAAP. Intercompany balances and transactions have been eliminated. Amounts are in "
              "millions of U.S. dollars, except per share amounts, and may not add due to "
              "rounding."),
        ("h2", "Note 6. Goodwill"),
        ("p", "We test goodwill for impairment annually as of October 1, or sooner if events "
              "indicate that the fair value of a reporting unit may be below its carrying "
              "amount. After a major shipping line moved a weekly service away from one of our "
              "Gulf Coast terminals in 2024, we lowered our forecast of container volumes for "
              "the Gulf Coast terminals reporting unit, which is part of Port & Terminal "
              "Services. Our 2024 annual test, using a discounted cash flow model with a "
              "discount rate of 10.5%, indicated that the unit's carrying amount exceeded its "
              f"fair value, and we recorded a non-cash impairment charge of "
              f"{money(I24['impairment'])}. No impairment was recorded in 2023 or 2022."),
        ("table", goodwill),
        ("h2", "Note 9. Debt"),
        ("table", debt),
        ("p", "The senior notes bear interest at 5.25% payable semi-annually and mature on "
              "May 15, 2029. The term loan and the $300.0 million revolving credit facility "
              "bear interest at SOFR plus a margin of 1.25% to 2.00% based on our net leverage "
              "ratio, and mature in June 2027. We were in compliance with all covenants at "
              "December 31, 2024."),
    ]


def segment_note_and_signatures_page() -> list:
    years = (2024, 2023, 2022)
    seg = {y: segment_table(y) for y in years}
    rows = [("Revenue:", [], "h")]
    rows += [row(name, [seg[y]["revenue"][i] for y in years], "i")
             for i, name in enumerate(SEGMENTS)]
    rows.append(row("Total revenue", [income_statement(y)["revenue"] for y in years], "$t"))
    rows.append(("Segment operating income:", [], "h"))
    rows += [row(name, [seg[y]["operating_income"][i] for y in years], "i")
             for i, name in enumerate(SEGMENTS)]
    rows.append(row("Corporate and unallocated", [seg[y]["corporate"] for y in years], "i"))
    rows.append(row("Total operating income", [income_statement(y)["operating_income"]
                                               for y in years], "$t"))
    table = Table(["(in millions)", "2024", "2023", "2022"], rows,
                  super_header="Year Ended December 31,")
    return [
        ("h2", "Note 15. Segment Information"),
        ("p", "Our chief operating decision maker, the Chief Executive Officer, allocates "
              "resources and assesses performance using segment revenue and segment operating "
              "income. The accounting policies of the segments are the same as those of the "
              "consolidated Company."),
        ("table", table),
        ("h2", "Note 17. Subsequent Events"),
        ("p", "On February 18, 2025, our Board of Directors declared a quarterly cash dividend "
              "of $0.14 per share, payable on March 20, 2025 to stockholders of record on "
              "March 6, 2025."),
        ("h1", "SIGNATURES"),
        ("p", "Pursuant to the requirements of Section 13 or 15(d) of the Securities Exchange "
              "Act of 1934, the registrant has duly caused this report to be signed on its "
              "behalf by the undersigned, thereunto duly authorized, on February 26, 2025."),
        ("p", "/s/ Ingrid Solvang, Chair and Chief Executive Officer (Principal Executive "
              "Officer)"),
        ("p", "/s/ Daniel Whitcombe, Executive Vice President and Chief Financial Officer "
              "(Principal Financial Officer)"),
        ("p", "/s/ Priya Ramaswamy, Vice President and Chief Accounting Officer (Principal "
              "Accounting Officer)"),
        ("small", FICTION_NOTICE),
    ]
