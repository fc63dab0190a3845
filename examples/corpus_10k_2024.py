"""Text of the fictional Halvorsen Tidewater Logistics FY2024 Form 10-K (rendered as a PDF).

`pages()` returns one list of blocks per physical page; `make_corpus.py` renders each list on its
own page and fails if any page overflows, so the page numbers that questions cite stay fixed.
Blocks are tuples: ("title"|"center"|"h1"|"h2"|"p"|"small"|"bullet", text), ("table", Table) and
("spacer", points). Every figure comes from `corpus_figures`.
"""

from __future__ import annotations

from corpus_10k_2024_financials import (
    balance_sheet_page,
    cash_flow_statement_page,
    notes_page,
    operations_statement_page,
    segment_note_and_signatures_page,
)
from corpus_figures import (
    COMPANY,
    FICTION_NOTICE,
    SEGMENTS,
    SHORT,
    TICKER,
    Table,
    adjusted_ebitda,
    balance_sheet,
    cash_flows,
    growth,
    income_statement,
    money,
    num,
    pct,
    row,
    segment_table,
)

I24, I23, I22 = (income_statement(y) for y in (2024, 2023, 2022))
E24, E23, E22 = (adjusted_ebitda(y) for y in (2024, 2023, 2022))
C24, C23, C22 = (cash_flows(y) for y in (2024, 2023, 2022))
B24, B23 = balance_sheet(2024), balance_sheet(2023)
S24, S23 = segment_table(2024), segment_table(2023)
NET_DEBT = round(B24["total_debt"] - B24["cash"], 1)
NET_LEVERAGE = round(NET_DEBT / E24["adjusted_ebitda"], 2)


def cover_page() -> list:
    return [
        ("center", "UNITED STATES"),
        ("center", "SECURITIES AND EXCHANGE COMMISSION"),
        ("center", "Washington, D.C. 20549"),
        ("spacer", 10),
        ("title", "FORM 10-K"),
        ("spacer", 6),
        ("p", "[X] ANNUAL REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT "
              "OF 1934"),
        ("center", "For the fiscal year ended December 31, 2024"),
        ("center", "Commission File Number 001-99417"),
        ("spacer", 10),
        ("title", COMPANY.upper()),
        ("center", "(Exact name of registrant as specified in its charter)"),
        ("spacer", 6),
        ("center", "Delaware (State or other jurisdiction of incorporation or organization)"),
        ("center", "99-0417263 (I.R.S. Employer Identification No.)"),
        ("center", "One Tidewater Plaza, Tacoma, Washington 98402"),
        ("center", "(Address of principal executive offices) (Zip Code)"),
        ("center", "Registrant's telephone number, including area code: (253) 555-0142"),
        ("spacer", 8),
        ("p", "Securities registered pursuant to Section 12(b) of the Act: Common Stock, par value "
              f"$0.01 per share; Trading Symbol: {TICKER}; Name of each exchange on which "
              "registered: New York Stock Exchange."),
        ("p", "Indicate by check mark whether the registrant is a large accelerated filer, an "
              "accelerated filer, a non-accelerated filer, a smaller reporting company or an "
              "emerging growth company. Large accelerated filer [X]"),
        ("p", "The aggregate market value of the registrant's common stock held by non-affiliates, "
              "based on the closing price on June 28, 2024, the last business day of the "
              "registrant's most recently completed second fiscal quarter, was approximately "
              "$2.9 billion. As of February 14, 2025, 59,874,312 shares of the registrant's "
              "common stock were outstanding."),
        ("p", "DOCUMENTS INCORPORATED BY REFERENCE: Portions of the registrant's definitive proxy "
              "statement for its 2025 Annual Meeting of Stockholders are incorporated by reference "
              "into Part III of this Form 10-K."),
        ("spacer", 10),
        ("small", FICTION_NOTICE),
    ]


def contents_page() -> list:
    toc = Table(["", "Page"], [
        ("Cautionary Note Regarding Forward-Looking Statements", ["2"], ""),
        ("Part I, Item 1. Business", ["3"], ""),
        ("Item 1A. Risk Factors", ["4"], ""),
        ("Item 1C. Cybersecurity; Item 2. Properties; Item 3. Legal Proceedings", ["5"], ""),
        ("Part II, Item 5. Market for Registrant's Common Equity", ["6"], ""),
        ("Item 7. Management's Discussion and Analysis", ["6"], ""),
        ("Item 8. Financial Statements and Supplementary Data", ["10"], ""),
        ("Notes to Consolidated Financial Statements", ["13"], ""),
        ("Signatures", ["14"], ""),
    ])
    return [
        ("h1", "TABLE OF CONTENTS"),
        ("table", toc),
        ("h1", "CAUTIONARY NOTE REGARDING FORWARD-LOOKING STATEMENTS"),
        ("p", "This Annual Report on Form 10-K contains forward-looking statements within the "
              "meaning of Section 27A of the Securities Act of 1933 and Section 21E of the "
              "Securities Exchange Act of 1934. Forward-looking statements include statements "
              "about our expected revenue growth, margins, capital expenditures, leverage, "
              "dividends and share repurchases, and are often identified by words such as "
              "\"anticipate,\" \"believe,\" \"expect,\" \"intend,\" \"plan,\" \"target\" and "
              "\"will.\" They are based on management's current expectations and are not "
              "guarantees of future performance."),
        ("p", "Actual results may differ materially because of, among other things, changes in "
              "ocean and air freight rates, the loss of a significant customer, labor disputes "
              "at ports we serve, cyber incidents, our indebtedness, further impairment of "
              "goodwill, and the other factors described in Item 1A, Risk Factors. We undertake "
              "no obligation to update any forward-looking statement, except as required by law. "
              "Statements in this report about 2025 and later years are forward-looking and "
              "should not be read as reported results."),
        ("p", f"Unless the context requires otherwise, \"{SHORT},\" \"the Company,\" \"we,\" "
              "\"us\" and \"our\" refer to Halvorsen Tidewater Logistics, Inc. and its "
              "consolidated subsidiaries. References to a year refer to our fiscal year, which "
              "ends on December 31."),
    ]


def business_page() -> list:
    seg_rev = S24["revenue"]
    return [
        ("h1", "PART I"),
        ("h1", "ITEM 1. BUSINESS"),
        ("h2", "Overview"),
        ("p", f"{COMPANY} is a third-party logistics provider headquartered in Tacoma, "
              "Washington. We arrange ocean and air freight for shippers, operate contract "
              "warehouses, and run marine container and break-bulk terminals on the U.S. West "
              f"and Gulf Coasts. In 2024 we generated total revenue of {money(I24['revenue'])} "
              "and served approximately 4,100 customers in retail, industrial, agricultural and "
              "healthcare markets. The Company was founded in 1987 as a customs brokerage and "
              "was incorporated in Delaware in 2006."),
        ("h2", "Segments"),
        ("p", f"We report three segments. {SEGMENTS[0]} ({money(seg_rev[0])} of 2024 revenue) "
              "buys capacity from ocean carriers and airlines and resells it to shippers, "
              "together with customs brokerage and cargo insurance. "
              f"{SEGMENTS[1]} ({money(seg_rev[1])}) operates 71 warehouses with 18.4 million "
              "square feet under multi-year contracts, most of which include minimum volume "
              f"commitments. {SEGMENTS[2]} ({money(seg_rev[2])}) operates six marine terminals "
              "under long-term concessions and earns stevedoring, storage and handling fees."),
        ("h2", "Customers"),
        ("p", "No single customer accounted for more than 10% of consolidated revenue in 2024, "
              "2023 or 2022. Our largest customer, a national home-furnishings retailer, "
              "accounted for 6.8% of 2024 revenue, and our ten largest customers together "
              "accounted for 29% of 2024 revenue."),
        ("h2", "Competition and Seasonality"),
        ("p", "The logistics industry is highly fragmented. We compete with global freight "
              "forwarders, asset-based carriers that offer logistics services, and regional "
              "warehouse operators, primarily on price, reliability, geographic coverage and "
              "technology. Demand for ocean freight and warehousing is typically strongest in "
              "the third quarter, as retailers build inventory for the holiday season."),
        ("h2", "Human Capital"),
        ("p", "As of December 31, 2024, we had 9,420 employees, compared with 8,960 as of "
              "December 31, 2023. Approximately 2,300 of our employees, mostly at our marine "
              "terminals, are covered by collective bargaining agreements. In 2024 our total "
              "recordable incident rate was 2.1 per 100 full-time workers."),
        ("h2", "Available Information"),
        ("p", "We make our annual reports on Form 10-K, quarterly reports on Form 10-Q and "
              "current reports on Form 8-K available free of charge on our investor relations "
              "website as soon as reasonably practicable after we file them with the SEC."),
    ]


def risk_factors_page() -> list:
    return [
        ("h1", "ITEM 1A. RISK FACTORS"),
        ("p", "Our business is subject to many risks. The risks described below could "
              "materially and adversely affect our business, financial condition and results "
              "of operations, and the trading price of our common stock."),
        ("h2", "Volatile freight rates could reduce our revenue and margins."),
        ("p", f"{SEGMENTS[0]} generated 54% of our 2024 revenue. Our revenue in that segment "
              "rises and falls with the rates that ocean carriers and airlines charge us, which "
              "we generally pass through to customers. Sharp declines in rates reduce our "
              "revenue, and sharp increases can compress our margins when we have committed to "
              "fixed prices with customers."),
        ("h2", "We depend on a limited number of large customers."),
        ("p", "Our ten largest customers accounted for 29% of our 2024 revenue. Many of our "
              "contracts may be terminated by the customer on 90 days' notice. The loss of, or "
              "a significant reduction in business from, one or more large customers could "
              "materially reduce our revenue and leave us with underused warehouse space that "
              "we lease on long-term commitments."),
        ("h2", "Labor disputes at ports could disrupt our operations."),
        ("p", "Our marine terminals rely on unionized labor, and the agreements covering West "
              "Coast and Gulf Coast port workers expire at different times. Strikes, slowdowns "
              "or lockouts at the ports we serve could halt cargo handling at our terminals and "
              "divert our customers' freight to other gateways."),
        ("h2", "We may record further impairments of goodwill."),
        ("p", "In the fourth quarter of 2024 we recorded a non-cash goodwill impairment charge "
              f"of {money(I24['impairment'])} for our Gulf Coast terminals reporting unit (see "
              "Note 6). Goodwill of $406.2 million remained on our balance sheet at December 31, "
              "2024. If container volumes or terminal fees decline further, or if interest rates "
              "rise, we could record additional impairment charges."),
        ("h2", "Climate and severe weather may damage our facilities."),
        ("p", "Our terminals and many of our warehouses are located in coastal areas exposed to "
              "hurricanes, flooding and rising sea levels. Severe weather could damage our "
              "facilities, interrupt operations and increase our insurance costs."),
    ]


def risk_cyber_properties_page() -> list:
    return [
        ("h2", "Our indebtedness limits our flexibility."),
        ("p", f"At December 31, 2024 we had total debt of {money(B24['total_debt'])}, including "
              "$400.0 million of 5.25% senior notes due 2029. Our credit agreement requires us "
              "to maintain a net leverage ratio of no more than 3.5 to 1.0. A breach of this "
              "covenant could allow our lenders to accelerate repayment."),
        ("h2", "Cyber incidents could disrupt our systems and harm our reputation."),
        ("p", "We depend on information systems to book freight, track shipments, operate "
              "warehouse management software and bill customers. Attacks on those systems, "
              "including ransomware and phishing, could interrupt service, expose customer data "
              "and result in litigation and regulatory penalties."),
        ("h1", "ITEM 1B. UNRESOLVED STAFF COMMENTS"),
        ("p", "None."),
        ("h1", "ITEM 1C. CYBERSECURITY"),
        ("p", "Our Chief Information Security Officer, who reports to our Chief Financial "
              "Officer, leads a program based on the NIST Cybersecurity Framework that includes "
              "annual penetration testing by an outside firm, quarterly phishing simulations for "
              "all employees with email access, and an incident response plan that is tested at "
              "least once a year. The Audit Committee of our Board of Directors oversees "
              "cybersecurity risk and receives a report from the CISO each quarter. We did not "
              "identify any cybersecurity incident in 2024 that materially affected, or is "
              "reasonably likely to materially affect, the Company."),
        ("h1", "ITEM 2. PROPERTIES"),
        ("p", "Our principal executive offices in Tacoma, Washington are leased. At December 31, "
              "2024 we operated 71 warehouses with 18.4 million square feet, of which 62 were "
              "leased and 9 owned, and six marine terminals, all operated under concession "
              "agreements with port authorities that expire between 2031 and 2052."),
        ("h1", "ITEM 3. LEGAL PROCEEDINGS"),
        ("p", "We are party to various legal proceedings arising in the ordinary course of "
              "business, including cargo loss and damage claims. We do not believe that any "
              "pending proceeding will have a material adverse effect on our financial "
              "position."),
    ]


def market_and_mdna_overview_page() -> list:
    eps_growth = growth(I24["eps_diluted"], I23["eps_diluted"])
    return [
        ("h1", "PART II"),
        ("h1", "ITEM 5. MARKET FOR REGISTRANT'S COMMON EQUITY AND RELATED STOCKHOLDER MATTERS"),
        ("p", f"Our common stock trades on the New York Stock Exchange under the symbol {TICKER}. "
              "As of February 14, 2025 there were 412 holders of record. We declared quarterly "
              f"dividends totaling ${I24['dividend_ps']:.2f} per share in 2024 and "
              f"${I23['dividend_ps']:.2f} per share in 2023. In 2024 we repurchased 0.9 million "
              f"shares for {money(-C24['repurchases'])}; $173.5 million remained available under "
              "the $250.0 million repurchase program authorized by our Board in 2022."),
        ("h1", "ITEM 7. MANAGEMENT'S DISCUSSION AND ANALYSIS OF FINANCIAL CONDITION AND RESULTS "
               "OF OPERATIONS"),
        ("p", "The following discussion should be read together with our consolidated financial "
              "statements and the related notes in Item 8. It compares 2024 with 2023; a "
              "comparison of 2023 with 2022 appears in our Annual Report on Form 10-K for the "
              "fiscal year ended December 31, 2023."),
        ("h2", "2024 Highlights"),
        ("bullet", f"Total revenue increased {pct(growth(I24['revenue'], I23['revenue']))} to "
                   f"{money(I24['revenue'])}, from {money(I23['revenue'])} in 2023."),
        ("bullet", f"Operating income was {money(I24['operating_income'])}, or "
                   f"{pct(I24['operating_margin'])} of revenue, after an "
                   f"{money(I24['impairment'])} goodwill impairment charge."),
        ("bullet", f"Net income increased {pct(growth(I24['net_income'], I23['net_income']))} to "
                   f"{money(I24['net_income'])}, and diluted earnings per share increased "
                   f"{pct(eps_growth)} to ${I24['eps_diluted']:.2f}."),
        ("bullet", "Adjusted EBITDA, a non-GAAP financial measure, was "
                   f"{money(E24['adjusted_ebitda'])}, or {pct(E24['margin'])} of revenue; see "
                   "\"Non-GAAP Financial Measures\" for a reconciliation to net income."),
        ("bullet", f"Cash provided by operating activities was {money(C24['operating'])}, and we "
                   f"returned {money(-C24['dividends'] - C24['repurchases'])} to stockholders "
                   "through dividends and share repurchases."),
        ("h2", "Business Environment"),
        ("p", "Trans-Pacific ocean freight rates rose in the first half of 2024 as carriers "
              "rerouted vessels away from the Red Sea, then eased in the fourth quarter. "
              "Warehouse demand remained firm as customers held more inventory closer to end "
              "markets. Container volumes at our Gulf Coast terminals declined after a major "
              "shipping line moved a weekly service to a competing port in the second quarter."),
    ]


def results_of_operations_page() -> list:
    lines = [("Revenue", "revenue", "$"), ("Cost of services", "cost_of_services", ""),
             ("Selling, general and administrative", "sga", ""),
             ("Depreciation and amortization", "da", ""),
             ("Goodwill impairment", "impairment", ""),
             ("Restructuring charges", "restructuring", ""),
             ("Operating income", "operating_income", "t"),
             ("Net income", "net_income", "$t")]
    rows = []
    for label, key, style in lines:
        change = growth(I24[key], I23[key]) if I23[key] else None
        rows.append((label, [num(I24[key]), num(I23[key]), pct(change) if change is not None
                             else "n/m"], style))
    table = Table(["(in millions)", "2024", "2023", "% Change"], rows,
                  super_header="Year Ended December 31,")
    cos_share = [round(100 * i["cost_of_services"] / i["revenue"], 1) for i in (I24, I23)]
    return [
        ("h2", "Results of Operations"),
        ("table", table),
        ("p", f"Revenue. Revenue increased {money(I24['revenue'] - I23['revenue'])}, or "
              f"{pct(growth(I24['revenue'], I23['revenue']))}, driven by growth in all three "
              "segments, led by new warehouse contracts in Contract Warehousing and higher "
              "average ocean freight rates in Ocean & Air Forwarding in the first half of the "
              "year."),
        ("p", f"Cost of services. Cost of services was {pct(cos_share[0])} of revenue in 2024, "
              f"compared with {pct(cos_share[1])} in 2023, reflecting better labor productivity "
              "in our warehouses, partly offset by higher purchased transportation costs."),
        ("p", f"Selling, general and administrative. SG&A expense increased "
              f"{pct(growth(I24['sga'], I23['sga']))} to {money(I24['sga'])}, mainly from higher "
              "incentive compensation and investment in our customer visibility platform."),
        ("p", f"Goodwill impairment and restructuring. We recorded an {money(I24['impairment'])} "
              "goodwill impairment for the Gulf Coast terminals reporting unit in the fourth "
              f"quarter of 2024. Restructuring charges of {money(I24['restructuring'])} in 2024 "
              "related to consolidating two Midwest warehouses; charges of "
              f"{money(I23['restructuring'])} in 2023 related to closing our European air "
              "freight office."),
        ("p", f"Interest expense, net decreased to {money(I24['interest'])} from "
              f"{money(I23['interest'])} as we repaid $70.0 million of our term loan. Our "
              f"effective tax rate was {pct(I24['effective_tax_rate'])} in 2024 compared with "
              f"{pct(I23['effective_tax_rate'])} in 2023, mainly because the goodwill "
              "impairment is not deductible for tax purposes."),
        ("p", f"Net income. As a result, net income increased to {money(I24['net_income'])}, "
              f"or ${I24['eps_diluted']:.2f} per diluted share, from {money(I23['net_income'])}, "
              f"or ${I23['eps_diluted']:.2f} per diluted share, in 2023."),
    ]


def segment_results_page() -> list:
    rows = [("Revenue:", [], "h")]
    rows += [row(name, [S24["revenue"][i], S23["revenue"][i]], "i") for i, name in
             enumerate(SEGMENTS)]
    rows.append(row("Total revenue", [I24["revenue"], I23["revenue"]], "$t"))
    rows.append(("Segment operating income:", [], "h"))
    rows += [row(name, [S24["operating_income"][i], S23["operating_income"][i]], "i")
             for i, name in enumerate(SEGMENTS)]
    rows.append(row("Corporate and unallocated", [S24["corporate"], S23["corporate"]], "i"))
    rows.append(row("Total operating income", [I24["operating_income"],
                                               I23["operating_income"]], "$t"))
    table = Table(["(in millions)", "2024", "2023"], rows, super_header="Year Ended December 31,")
    seg_growth = [growth(S24["revenue"][i], S23["revenue"][i]) for i in range(3)]
    margins = [round(100 * S24["operating_income"][i] / S24["revenue"][i], 1) for i in range(3)]
    return [
        ("h2", "Segment Results"),
        ("p", "We evaluate segment performance on segment operating income, which excludes "
              "corporate costs that are not allocated to the segments. Goodwill impairment "
              "charges are included in the operating income of the segment to which the "
              "goodwill relates."),
        ("table", table),
        ("p", f"{SEGMENTS[0]}. Revenue increased {pct(seg_growth[0])} to "
              f"{money(S24['revenue'][0])}. Ocean shipments measured in twenty-foot equivalent "
              "units (TEUs) increased 6% to 412,000, and average revenue per TEU rose as carriers "
              f"raised rates in the first half. Segment operating income was "
              f"{money(S24['operating_income'][0])}, a margin of {pct(margins[0])}."),
        ("p", f"{SEGMENTS[1]}. Revenue increased {pct(seg_growth[1])} to "
              f"{money(S24['revenue'][1])}, reflecting eleven new customer contracts and the "
              "opening of warehouses in Reno, Nevada and Savannah, Georgia. Occupancy averaged "
              f"91% compared with 88% in 2023. Segment operating income was "
              f"{money(S24['operating_income'][1])}, a margin of {pct(margins[1])}."),
        ("p", f"{SEGMENTS[2]}. Revenue increased {pct(seg_growth[2])} to "
              f"{money(S24['revenue'][2])} as higher storage fees at our West Coast terminals "
              "more than offset lower container volumes on the Gulf Coast. Segment operating "
              f"income decreased to {money(S24['operating_income'][2])} from "
              f"{money(S23['operating_income'][2])}, including the {money(I24['impairment'])} "
              "goodwill impairment charge."),
    ]


def non_gaap_and_liquidity_page() -> list:
    lines = [("Net income (GAAP)", "net_income", "$"), ("Interest expense, net", "interest", "i"),
             ("Provision for income taxes", "tax", "i"),
             ("Depreciation and amortization", "da", "i"),
             ("Goodwill impairment", "impairment", "i"),
             ("Restructuring charges", "restructuring", "i"),
             ("Stock-based compensation", "sbc", "i"),
             ("Other (income) expense, net", "other", "i"),
             ("Adjusted EBITDA (non-GAAP)", "adjusted_ebitda", "$t")]
    rows = [row(label, [E24[k], E23[k], E22[k]], style) for label, k, style in lines]
    rows.append(("Adjusted EBITDA margin", [pct(e["margin"]) for e in (E24, E23, E22)], ""))
    table = Table(["(in millions)", "2024", "2023", "2022"], rows,
                  super_header="Year Ended December 31,")
    return [
        ("h2", "Non-GAAP Financial Measures"),
        ("p", "We present adjusted EBITDA, a financial measure not calculated in accordance with "
              "U.S. generally accepted accounting principles (GAAP). We define adjusted EBITDA as "
              "net income before interest expense, net; provision for income taxes; depreciation "
              "and amortization; goodwill impairment; restructuring charges; stock-based "
              "compensation; and other (income) expense, net. Adjusted EBITDA margin is adjusted "
              "EBITDA divided by revenue. Adjusted EBITDA is not a substitute for net income or "
              "operating income, and our definition may differ from that used by other "
              "companies. The most directly comparable GAAP measure is net income."),
        ("table", table),
        ("h2", "Liquidity and Capital Resources"),
        ("p", f"At December 31, 2024 we had cash and cash equivalents of {money(B24['cash'])} "
              "and $260.0 million available under our $300.0 million revolving credit facility. "
              f"Total debt was {money(B24['total_debt'])}, consisting of $400.0 million of 5.25% "
              "senior notes due 2029, $115.0 million outstanding under our term loan and "
              "$40.0 million drawn on the revolving facility. Our net leverage ratio, as defined "
              f"in our credit agreement, was {NET_LEVERAGE:.2f} to 1.0."),
        ("p", f"Cash provided by operating activities was {money(C24['operating'])} in 2024 "
              f"compared with {money(C23['operating'])} in 2023. Capital expenditures were "
              f"{money(-C24['capex'])}, primarily for warehouse automation and terminal "
              "equipment. Free cash flow, which we define as cash provided by operating "
              "activities less capital expenditures and which is also a non-GAAP measure, was "
              f"{money(C24['free_cash_flow'])} in 2024 and {money(C23['free_cash_flow'])} in "
              f"2023. We paid dividends of {money(-C24['dividends'])} and repurchased shares for "
              f"{money(-C24['repurchases'])}. We expect capital expenditures of $140 million to "
              "$160 million in 2025."),
    ]


def pages() -> list[list]:
    """The 14 physical pages, in order (page 1 is the cover)."""
    return [
        cover_page(), contents_page(), business_page(), risk_factors_page(),
        risk_cyber_properties_page(), market_and_mdna_overview_page(),
        results_of_operations_page(), segment_results_page(), non_gaap_and_liquidity_page(),
        operations_statement_page(), balance_sheet_page(), cash_flow_statement_page(),
        notes_page(), segment_note_and_signatures_page(),
    ]
