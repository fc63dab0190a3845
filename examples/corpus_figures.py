"""Figures of the example corpus: one fictional company's books, tied together by construction.

Halvorsen Tidewater Logistics, Inc. is invented for this project; so is every number here. The
inputs below are the only hand-chosen values: totals, subtotals, margins and per-share amounts are
computed, and `check_ties()` asserts that the statements tie (the balance sheet balances, the cash
flow statement ends at the balance-sheet cash, retained earnings and debt roll forward). All
amounts are in millions of US dollars except per-share amounts and share counts (millions).
"""

from __future__ import annotations

COMPANY = "Halvorsen Tidewater Logistics, Inc."
SHORT = "Halvorsen Tidewater"
TICKER = "HTWL"
FICTION_NOTICE = ("Fictional company and figures, written for the cai example corpus. "
                  "Not a real filing; not investment advice.")
YEARS = (2021, 2022, 2023, 2024)
SEGMENTS = ("Ocean & Air Forwarding", "Contract Warehousing", "Port & Terminal Services")

# --- statement of operations inputs -------------------------------------------------------------
SEGMENT_REVENUE = {
    2021: (948.3, 489.2, 257.3),
    2022: (1041.2, 548.7, 272.5),
    2023: (1157.9, 641.3, 305.5),
    2024: (1298.6, 752.4, 336.5),
}
SEGMENT_OPERATING_INCOME = {
    2022: (92.4, 58.1, 41.6),
    2023: (101.3, 74.8, 47.9),
    2024: (118.7, 96.5, 38.2),  # Port & Terminal Services bears the 2024 goodwill impairment
}
COST_OF_SERVICES = {2021: 1306.5, 2022: 1427.9, 2023: 1602.3, 2024: 1804.1}
SGA = {2021: 181.4, 2022: 197.6, 2023: 223.8, 2024: 251.2}
DEPRECIATION_AMORTIZATION = {2021: 66.0, 2022: 71.3, 2023: 79.6, 2024: 88.4}
GOODWILL_IMPAIRMENT = {2021: 0.0, 2022: 0.0, 2023: 0.0, 2024: 18.6}
RESTRUCTURING = {2021: 0.0, 2022: 0.0, 2023: 6.2, 2024: 4.1}
INTEREST_EXPENSE_NET = {2021: 23.6, 2022: 24.8, 2023: 31.5, 2024: 29.7}
OTHER_INCOME_NET = {2021: 0.8, 2022: 1.9, 2023: -2.4, 2024: 3.3}
INCOME_TAX = {2021: 27.9, 2022: 33.4, 2023: 37.6, 2024: 47.3}
SHARES_BASIC = {2021: 62.4, 2022: 61.8, 2023: 61.2, 2024: 60.4}
SHARES_DILUTED = {2021: 63.0, 2022: 62.5, 2023: 61.9, 2024: 61.0}
STOCK_COMPENSATION = {2021: 11.0, 2022: 12.1, 2023: 14.0, 2024: 16.8}
DIVIDEND_PER_SHARE = {2021: 0.40, 2022: 0.44, 2023: 0.48, 2024: 0.52}
AMORTIZATION_OF_INTANGIBLES = {2022: 12.4, 2023: 12.4, 2024: 12.0}

# --- cash flow inputs ----------------------------------------------------------------------------
CASH_END = {2021: 190.3, 2022: 171.5, 2023: 196.8, 2024: 221.0}
DEFERRED_TAXES = {2022: 4.9, 2023: 6.3, 2024: 5.2}
CAPEX = {2022: 104.3, 2023: 118.9, 2024: 131.6}
DISPOSAL_PROCEEDS = {2022: 3.1, 2023: 2.8, 2024: 4.2}
ACQUISITIONS = {2022: 45.0, 2023: 0.0, 2024: 0.0}
BORROWINGS = {2022: 25.0, 2023: 30.0, 2024: 40.0}
REPAYMENTS = {2022: 40.0, 2023: 63.0, 2024: 70.0}
REPURCHASES = {2022: 20.0, 2023: 15.0, 2024: 41.5}
TAX_WITHHOLDING_ON_AWARDS = {2022: 2.6, 2023: 2.9, 2024: 3.2}
FX_EFFECT_ON_CASH = {2022: -1.2, 2023: 0.9, 2024: -1.1}

# --- balance sheet inputs (December 31) ----------------------------------------------------------
BALANCE_INPUTS = {
    2022: dict(receivables=298.4, prepaid=39.1, ppe=791.3, rou=251.0, goodwill=424.8,
               intangibles=95.7, payables=176.2, accrued=120.5, current_debt=20.0,
               lease_current=51.4, lease_noncurrent=209.3, deferred_tax=50.2,
               other_noncurrent_liabilities=24.9, common_stock=0.7, apic=601.3,
               retained=400.0, treasury=-96.0, aoci=-16.4),
    2023: dict(receivables=331.2, prepaid=42.4, ppe=837.6, rou=269.5, goodwill=424.8,
               intangibles=83.3, payables=197.3, accrued=131.7, current_debt=25.0,
               lease_current=55.1, lease_noncurrent=224.9, deferred_tax=56.5,
               other_noncurrent_liabilities=25.8, common_stock=0.7, aoci=-11.9),
    2024: dict(receivables=372.9, prepaid=48.7, ppe=889.8, rou=284.1, goodwill=406.2,
               intangibles=71.3, payables=214.6, accrued=142.8, current_debt=25.0,
               lease_current=58.2, lease_noncurrent=236.4, deferred_tax=61.7,
               other_noncurrent_liabilities=27.3, common_stock=0.7, aoci=-14.2),
}
TOTAL_DEBT_2021 = 633.0


def r1(x: float) -> float:
    """Round to one decimal the way the statements print (and kill -0.0)."""
    return round(x + 0.0, 1) + 0.0


def income_statement(year: int) -> dict[str, float]:
    """Every line of the consolidated statement of operations for one fiscal year."""
    revenue = r1(sum(SEGMENT_REVENUE[year]))
    opex = (COST_OF_SERVICES[year] + SGA[year] + DEPRECIATION_AMORTIZATION[year]
            + GOODWILL_IMPAIRMENT[year] + RESTRUCTURING[year])
    operating_income = r1(revenue - opex)
    pretax = r1(operating_income - INTEREST_EXPENSE_NET[year] + OTHER_INCOME_NET[year])
    net_income = r1(pretax - INCOME_TAX[year])
    return {
        "revenue": revenue,
        "cost_of_services": COST_OF_SERVICES[year],
        "sga": SGA[year],
        "da": DEPRECIATION_AMORTIZATION[year],
        "impairment": GOODWILL_IMPAIRMENT[year],
        "restructuring": RESTRUCTURING[year],
        "total_opex": r1(opex),
        "operating_income": operating_income,
        "interest": INTEREST_EXPENSE_NET[year],
        "other": OTHER_INCOME_NET[year],
        "pretax": pretax,
        "tax": INCOME_TAX[year],
        "net_income": net_income,
        "eps_basic": round(net_income / SHARES_BASIC[year], 2),
        "eps_diluted": round(net_income / SHARES_DILUTED[year], 2),
        "shares_basic": SHARES_BASIC[year],
        "shares_diluted": SHARES_DILUTED[year],
        "dividend_ps": DIVIDEND_PER_SHARE[year],
        "operating_margin": round(100 * operating_income / revenue, 1),
        "effective_tax_rate": round(100 * INCOME_TAX[year] / pretax, 1),
    }


def adjusted_ebitda(year: int) -> dict[str, float]:
    """Non-GAAP adjusted EBITDA and its reconciliation from GAAP net income."""
    inc = income_statement(year)
    value = r1(inc["net_income"] + inc["interest"] + inc["tax"] + inc["da"] + inc["impairment"]
               + inc["restructuring"] + STOCK_COMPENSATION[year] - inc["other"])
    return {
        "net_income": inc["net_income"], "interest": inc["interest"], "tax": inc["tax"],
        "da": inc["da"], "impairment": inc["impairment"], "restructuring": inc["restructuring"],
        "sbc": STOCK_COMPENSATION[year], "other": r1(-inc["other"]), "adjusted_ebitda": value,
        "margin": round(100 * value / inc["revenue"], 1),
    }


def dividends_paid(year: int) -> float:
    return r1(DIVIDEND_PER_SHARE[year] * SHARES_BASIC[year])


def total_debt(year: int) -> float:
    if year == 2021:
        return TOTAL_DEBT_2021
    return r1(total_debt(year - 1) + BORROWINGS[year] - REPAYMENTS[year])


def cash_flows(year: int) -> dict[str, float]:
    """The consolidated statement of cash flows; 'other_operating' is the tying residual."""
    inc = income_statement(year)
    bs, prev = balance_inputs(year), balance_inputs(year - 1)
    working_capital = {
        "change_receivables": r1(prev["receivables"] - bs["receivables"]),
        "change_prepaid": r1(prev["prepaid"] - bs["prepaid"]),
        "change_payables": r1(bs["payables"] + bs["accrued"] - prev["payables"] - prev["accrued"]),
    }
    investing = r1(-CAPEX[year] + DISPOSAL_PROCEEDS[year] - ACQUISITIONS[year])
    financing = r1(BORROWINGS[year] - REPAYMENTS[year] - dividends_paid(year)
                   - REPURCHASES[year] - TAX_WITHHOLDING_ON_AWARDS[year])
    net_change = r1(CASH_END[year] - CASH_END[year - 1])
    operating = r1(net_change - FX_EFFECT_ON_CASH[year] - investing - financing)
    named = (inc["net_income"] + inc["da"] + STOCK_COMPENSATION[year] + inc["impairment"]
             + DEFERRED_TAXES[year] + sum(working_capital.values()))
    return {
        "net_income": inc["net_income"], "da": inc["da"], "sbc": STOCK_COMPENSATION[year],
        "impairment": inc["impairment"], "deferred_taxes": DEFERRED_TAXES[year],
        **working_capital, "other_operating": r1(operating - named), "operating": operating,
        "capex": -CAPEX[year], "disposals": DISPOSAL_PROCEEDS[year],
        "acquisitions": -ACQUISITIONS[year], "investing": investing,
        "borrowings": BORROWINGS[year], "repayments": -REPAYMENTS[year],
        "dividends": -dividends_paid(year), "repurchases": -REPURCHASES[year],
        "withholding": -TAX_WITHHOLDING_ON_AWARDS[year], "financing": financing,
        "fx": FX_EFFECT_ON_CASH[year], "net_change": net_change,
        "cash_begin": CASH_END[year - 1], "cash_end": CASH_END[year],
        "free_cash_flow": r1(operating - CAPEX[year]),
    }


def balance_inputs(year: int) -> dict[str, float]:
    """Balance-sheet inputs with equity rolled forward from the prior year where not given."""
    if year == 2021:
        return {"receivables": 270.1, "prepaid": 36.0, "payables": 160.9, "accrued": 111.4}
    values = dict(BALANCE_INPUTS[year])
    if year > 2022:
        prev = balance_inputs(year - 1)
        values["apic"] = r1(prev["apic"] + STOCK_COMPENSATION[year]
                            - TAX_WITHHOLDING_ON_AWARDS[year])
        values["retained"] = r1(prev["retained"] + income_statement(year)["net_income"]
                                - dividends_paid(year))
        values["treasury"] = r1(prev["treasury"] - REPURCHASES[year])
    values["long_term_debt"] = r1(total_debt(year) - values["current_debt"])
    return values


def balance_sheet(year: int) -> dict[str, float]:
    """The consolidated balance sheet at December 31; 'other_assets' is the balancing residual."""
    v = balance_inputs(year)
    cur_assets = r1(CASH_END[year] + v["receivables"] + v["prepaid"])
    cur_liab = r1(v["payables"] + v["accrued"] + v["current_debt"] + v["lease_current"])
    liabilities = r1(cur_liab + v["long_term_debt"] + v["lease_noncurrent"] + v["deferred_tax"]
                     + v["other_noncurrent_liabilities"])
    equity = r1(v["common_stock"] + v["apic"] + v["retained"] + v["treasury"] + v["aoci"])
    total = r1(liabilities + equity)
    named_assets = cur_assets + v["ppe"] + v["rou"] + v["goodwill"] + v["intangibles"]
    return {**v, "cash": CASH_END[year], "current_assets": cur_assets,
            "other_assets": r1(total - named_assets), "total_assets": total,
            "current_liabilities": cur_liab, "total_liabilities": liabilities,
            "equity": equity, "total_liabilities_equity": total,
            "total_debt": total_debt(year)}


def segment_table(year: int) -> dict[str, tuple[float, ...]]:
    inc = income_statement(year)
    seg_oi = SEGMENT_OPERATING_INCOME[year]
    return {"revenue": SEGMENT_REVENUE[year], "operating_income": seg_oi,
            "corporate": r1(inc["operating_income"] - sum(seg_oi))}


def growth(new: float, old: float) -> float:
    """Percentage change, one decimal."""
    return round(100 * (new / old - 1), 1)


def check_ties() -> None:
    """Assert that the books are internally consistent (run by the generator and the tests)."""
    for year in (2022, 2023, 2024):
        bs, cf = balance_sheet(year), cash_flows(year)
        assert bs["other_assets"] > 20, (year, bs["other_assets"])
        assert abs(cf["other_operating"]) < 10, (year, cf["other_operating"])
        assert r1(cf["cash_begin"] + cf["operating"] + cf["investing"] + cf["financing"]
                  + cf["fx"]) == bs["cash"]
        seg = segment_table(year)
        assert r1(sum(seg["revenue"])) == income_statement(year)["revenue"]
        assert seg["corporate"] < 0


# --- formatting shared by the document texts ------------------------------------------------------
def num(x: float, places: int = 1) -> str:
    """A statement cell: '2,387.5', negatives in parentheses '(29.7)', zero as an em dash."""
    if round(x, places) == 0:
        return "\u2014"
    text = f"{abs(x):,.{places}f}"
    return f"({text})" if x < 0 else text


def money(x: float) -> str:
    """Narrative form: '$2,387.5 million'."""
    return f"${x:,.1f} million"


def pct(x: float) -> str:
    return f"{x:.1f}%"


class Table:
    """A financial table: a header, rows of (label, cells, style) and an optional caption.

    style flags: '$' dollar signs before the amounts, 't' a total (bold, ruled above), 'h' a
    heading row with no amounts, 'i' an indented line item.
    """

    def __init__(self, columns: list[str], rows: list[tuple[str, list[str], str]],
                 caption: str | None = None, super_header: str | None = None) -> None:
        self.columns = columns
        self.rows = rows
        self.caption = caption
        self.super_header = super_header


def row(label: str, values: list[float], style: str = "", places: int = 1):
    """A table row from numbers (formatted with `num`)."""
    return (label, [num(v, places) for v in values], style)
