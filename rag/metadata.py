"""Document metadata (company, form, fiscal year, period) read from a filing's own text.

The SEC cover page states all of it: "FORM 10-K", "For the fiscal year ended January 28, 2017"
(or "For the quarterly period ended …"), the registrant's name above "(Exact name of registrant as
specified in its charter)" (after the Commission File Number, horizontal rules "_____" between
them), and since 2019 the "Trading Symbol". When the cover's name is an image, the signature block
that Forms 10-K and 10-Q require gives it: the name above "(Registrant)". The file name (e.g.
`BESTBUY_2024Q2_10Q`) is only a fallback hint; `extra["<field>_source"]` records which was used.

Fiscal year convention: the filer's own. By default it is the calendar year in which the period
ends (Best Buy's year ended January 28, 2017 is its "fiscal 2017"); a filer that names a year
ending in January–March after the previous calendar year ("fiscal 2018 ended February 2, 2019")
says so explicitly, and a 10-Q belongs to the fiscal year that contains it ("second quarter of
fiscal 2024"); see `filer_fiscal_year`. The period end date is kept in `extra["period_end"]`.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime

from cai.core.contracts import DocumentMetadata

COVER_PAGES = 3  # the cover page, plus slack for a table-of-contents page before it
MENTION_PAGES = 60  # pages scanned for the filer's "fiscal YYYY" wording

# Cover headings stand at the start of a line ("FORM 10-K", "ANNUAL REPORT TO SHAREHOLDERS");
# a mention in running text ("…in our Annual Report on Form 10-K") is not a cover.
_FORM_RE = re.compile(
    r"^[\s_\-=*#|]*FORM\s+(10-K|10-Q|20-F|40-F|8-K|10-KT|10-QT)(/A)?\b",
    re.IGNORECASE | re.MULTILINE,
)
_ANNUAL_REPORT_RE = re.compile(r"^[\s_\-=*#|]*annual\s+report\b", re.IGNORECASE | re.MULTILINE)
_DATE = r"([A-Za-z]{3,9})\.?\s+(\d{1,2})\s*,?\s*(\d{4})"
_PERIOD_END_RE = re.compile(
    r"for\s+the\s+(fiscal\s+year|quarterly\s+period|year)\s+ended\s*:?\s*" + _DATE,
    re.IGNORECASE,
)
# Annual reports to shareholders: "ANNUAL REPORT … - FISCAL YEAR ENDED SEPTEMBER 30, 2024".
_HEADING_PERIOD_END_RE = re.compile(
    r"^[^\n]*\b(fiscal\s+year|quarter|year)\s+ended\s*:?\s*" + _DATE, re.IGNORECASE | re.MULTILINE
)
_REGISTRANT_RE = re.compile(r"\(?\s*exact\s+name\s+of\s+registrant", re.IGNORECASE)
_FILE_NUMBER_RE = re.compile(r"commission\s+file\s+(?:number|no\.?)", re.IGNORECASE)
_FISCAL_MENTION_RE = re.compile(r"\bfiscal\s+(?:year\s+)?((?:19|20)\d{2})\b", re.IGNORECASE)
_QUARTER_MENTION_RE = re.compile(
    r"\b(first|second|third|fourth)\s+quarter\s+of\s+fiscal\s+(?:year\s+)?((?:19|20)\d{2})\b",
    re.IGNORECASE,
)
_DEFINED_YEAR_RE = re.compile(
    r"\s*\(?\s*(?:the\s+)?[“\"']?\s*fiscal\s+(?:year\s+)?((?:19|20)\d{2})", re.IGNORECASE
)
_YEAR_ENDED_RE = re.compile(
    r"\bfiscal\s+(?:year\s+)?((?:19|20)\d{2})\s*,?\s*(?:which\s+)?ended\s*(?:on\s*)?$",
    re.IGNORECASE,
)
_TICKER_RE = re.compile(
    r"\b([A-Z]{1,5}(?:\.[A-Z])?)\s*[,|]?\s+(?:The\s+)?"
    r"(?:New\s+York\s+Stock\s+Exchange|NYSE|Nasdaq|NASDAQ)"
)
_PRESS_NAME_RE = re.compile(
    r"([A-Z][\w&.,' ]{1,80}?(?:Inc\.|Corp\.|Corporation|Company|Co\.|Ltd\.|LLC|plc|N\.V\.|S\.A\.))"
    r"\s*\((?:NYSE|Nasdaq|NASDAQ|NYSE American)\s*:\s*([A-Z]{1,5}(?:\.[A-Z])?)\)"
)
_CORPORATE_SUFFIX_RE = re.compile(
    r"\b(?:Inc\.?|Incorporated|Corp\.?|Corporation|Company|Co\.|Ltd\.?|LLC|plc|N\.V\.|S\.A\.)$",
    re.IGNORECASE,
)
_RULE_RE = re.compile(r"_{3,}")  # horizontal rules on cover pages: they separate fields like line breaks
_COVER_BOILERPLATE_RE = re.compile(
    r"^(?:commission\s+file|for\s+the\s+(?:transition|fiscal|quarterly)|transition\s+report|annual\s+report|"
    r"quarterly\s+report|\(mark\s+one\)|or$|[☐☒ýo]\s)", re.IGNORECASE)
_COLLAPSED_REGISTRANT_RE = re.compile(
    r"commission\s+file\s+(?:number|no\.?)\s*:?\s*[\d\-]+\.?\s+(.{2,80}?)\s*\(\s*exact\s+name\s+of\s+registrant",
    re.IGNORECASE)
_SIGNATURE_REGISTRANT_RE = re.compile(r"^[ \t]*([^\n]{2,80}?)[ \t]*\n[ \t]*\(\s*registrant\s*\)",
                                      re.IGNORECASE | re.MULTILINE)
_QUARTERS = {"first": 1, "second": 2, "third": 3, "fourth": 4}
_NAME_JUNK_RE = re.compile(r"^[_\-=\s]+|[_\-=\s]+$")


def read_metadata(pages: list[str], file_stem: str) -> DocumentMetadata:
    """Metadata from the filing's cover page and wording, falling back to file-name hints."""
    cover = "\n".join(pages[:COVER_PAGES])
    body = "\n".join(pages[:MENTION_PAGES])
    hints = file_name_hints(file_stem)
    extra: dict[str, str] = {}

    company = registrant_name(cover) or signature_registrant(pages)
    _note_source(extra, "company", company, hints.get("company"))
    form = form_type(pages[0] if pages else "", cover)
    _note_source(extra, "form", form, hints.get("form"))

    period_kind, period_end = period_end_date(cover, heading_ok=form is not None)
    form = form or hints.get("form")
    fiscal_year: int | None = None
    period: str | None = None
    if period_end is not None:
        extra["period_end"] = period_end.isoformat()
        quarterly = period_kind == "quarter" or form in {"10-Q", "10-QT"}
        fiscal_year = filer_fiscal_year(body, period_end, quarterly=quarterly)
        extra["fiscal_year_source"] = "filing text"
        period = _period_label(body, fiscal_year, quarterly, hints.get("quarter"))
    elif "year" in hints:
        fiscal_year = int(hints["year"])
        extra["fiscal_year_source"] = "file name"
        quarter = hints.get("quarter")
        period = f"Q{quarter} {fiscal_year}" if quarter else f"FY{fiscal_year}"

    return DocumentMetadata(
        company=company or hints.get("company"),
        ticker=trading_symbol(cover) or _press_release_name(cover)[1],
        form=form,
        fiscal_year=fiscal_year,
        period=period,
        extra=extra,
    )


def _note_source(extra: dict[str, str], name: str, found: str | None, hint: str | None) -> None:
    if found:
        extra[f"{name}_source"] = "filing text"
    elif hint:
        extra[f"{name}_source"] = "file name"


def form_type(first_page: str, cover: str) -> str | None:
    """'10-K', '10-Q', '10-K/A', … from a 'FORM 10-K' cover heading; 'annual report' when the
    first page has an 'ANNUAL REPORT …' heading; None for anything else (press releases…)."""
    match = _FORM_RE.search(cover)
    if match:
        return match.group(1).upper() + (match.group(2) or "").upper()
    if _ANNUAL_REPORT_RE.search(first_page):
        return "annual report"
    return None


def period_end_date(cover: str, *, heading_ok: bool) -> tuple[str | None, date | None]:
    """('year' | 'quarter', end date) from 'For the fiscal year / quarterly period ended …'.

    With `heading_ok` (the document has a cover heading) a line such as 'ANNUAL REPORT - FISCAL
    YEAR ENDED SEPTEMBER 30, 2024' counts too; without it only the cover formula does, and only
    at the start of a line, so a press release citing 'our 10-K for the fiscal year ended …' in
    running text does not take that year.
    """
    patterns = [_PERIOD_END_RE, _HEADING_PERIOD_END_RE] if heading_ok else [_PERIOD_END_RE]
    for pattern in patterns:
        for match in pattern.finditer(cover):
            line_start = cover.rfind("\n", 0, match.start()) + 1
            if not heading_ok and cover[line_start : match.start()].strip(" _-*#|"):
                continue
            end = _parse_date(*match.group(2, 3, 4))
            if end is not None:
                return ("quarter" if "quarter" in match.group(1).lower() else "year"), end
    return None, None


def _parse_date(month: str, day: str, year: str) -> date | None:
    try:
        return date(int(year), datetime.strptime(month[:3].title(), "%b").month, int(day))
    except ValueError:
        return None


def filer_fiscal_year(body: str, period_end: date, *, quarterly: bool) -> int:
    """The fiscal year as the filer names it (see module docstring); default: end date's year.

    Candidates: for an annual report ending January–March, the end year or the year before; for
    a quarterly report, the end year or the year after (a fiscal year ending later). Only explicit
    wording decides against the default: a defined term right after the end date
    ('February 2, 2019 ("fiscal 2019")'), a 'fiscal 2018 ended February 2, 2019' phrase, or, for
    a quarter, 'second quarter of fiscal 2024'. Counting bare 'fiscal YYYY' mentions was tried
    and rejected: on Best Buy's FY2019 and FY2023 10-Ks the prior year is mentioned more often
    (comparatives, 'fiscal 2023, fiscal 2022 and fiscal 2021').
    """
    default = period_end.year
    if quarterly:
        candidates = {default, default + 1}
    elif period_end.month <= 3:
        candidates = {default, default - 1}
    else:
        return default
    for match in _date_pattern(period_end).finditer(body):
        before = body[max(0, match.start() - 40) : match.start()]
        after = body[match.end() : match.end() + 40]
        explicit = _DEFINED_YEAR_RE.match(after) or _YEAR_ENDED_RE.search(before)
        if explicit and int(explicit.group(1)) in candidates:
            return int(explicit.group(1))
    if quarterly:
        quarters = Counter(
            int(m.group(2))
            for m in _QUARTER_MENTION_RE.finditer(body)
            if int(m.group(2)) in candidates
        )
        if quarters:
            return quarters.most_common(1)[0][0]
    return default


def _date_pattern(day: date) -> re.Pattern[str]:
    """'February 2, 2019' as filings write it: any case, optional period and comma, 'Feb.'."""
    month = day.strftime("%B")
    return re.compile(
        rf"\b(?:{month}|{month[:3]}\.?)\s+{day.day}\s*,?\s*{day.year}\b", re.IGNORECASE
    )


def _period_label(body: str, fiscal_year: int, quarterly: bool, quarter_hint: str | None) -> str:
    """'FY2017' for annual reports; 'Q2 2024' for quarterly ones (quarter from text, else name)."""
    if not quarterly:
        return f"FY{fiscal_year}"
    quarters = Counter(
        _QUARTERS[m.group(1).lower()]
        for m in _QUARTER_MENTION_RE.finditer(body)
        if int(m.group(2)) == fiscal_year
    )
    quarter = quarters.most_common(1)[0][0] if quarters else quarter_hint
    return f"Q{quarter} {fiscal_year}" if quarter else f"FY{fiscal_year} quarter"


def registrant_name(cover: str) -> str | None:
    """The line above '(Exact name of registrant …)', else the line after 'Commission File No.'."""
    lines = [_NAME_JUNK_RE.sub("", part) for line in cover.split("\n") for part in _RULE_RE.split(line)]
    lines = [line for line in lines if line.strip()]
    for index, line in enumerate(lines):
        if _REGISTRANT_RE.search(line):
            before = line[: _REGISTRANT_RE.search(line).start()].strip()
            if _looks_like_name(before):
                return _tidy_name(before)
            for previous in reversed(lines[max(0, index - 3) : index]):
                if _COVER_BOILERPLATE_RE.match(previous.strip()):
                    break  # the name is between the file number and this line, or not on the cover
                if _looks_like_name(previous):
                    return _tidy_name(previous)
    for index, line in enumerate(lines):
        if _FILE_NUMBER_RE.search(line):
            for following in lines[index + 1 : index + 3]:
                if _REGISTRANT_RE.search(following):
                    break
                if _looks_like_name(following):
                    return _tidy_name(following)
    collapsed = _COLLAPSED_REGISTRANT_RE.search(" ".join(cover.split()))  # one word per line
    if collapsed and _looks_like_name(collapsed.group(1)):
        return _tidy_name(collapsed.group(1))
    for line in lines[:15]:  # a heading line that is a company name ("OSTRANDER … CORP.")
        if len(line) <= 80 and _CORPORATE_SUFFIX_RE.search(line) and _looks_like_name(line):
            return _tidy_name(line.strip("#* "))
    return _press_release_name(cover)[0]


def signature_registrant(pages: list[str]) -> str | None:
    """The name above "(Registrant)" in the report's signature block, if any."""
    for text in reversed(pages):
        match = _SIGNATURE_REGISTRANT_RE.search(text)
        if match and _looks_like_name(match.group(1).strip()):
            return _tidy_name(match.group(1).strip())
    return None


def _press_release_name(cover: str) -> tuple[str | None, str | None]:
    """(company, ticker) from press-release style 'Acme Tools, Inc. (NYSE: ACME)'."""
    match = _PRESS_NAME_RE.search(cover)
    if not match:
        return None, None
    name = re.split(r"\s(?:--|—|–)\s|[.;:]\s", match.group(1))[-1].strip(" ,")
    return _tidy_name(name), match.group(2)


def _looks_like_name(line: str) -> bool:
    letters = sum(ch.isalpha() for ch in line)
    return (
        2 <= len(line) <= 120
        and letters >= 0.5 * len(line.replace(" ", ""))
        and not line.startswith("(")
    )


def _tidy_name(name: str) -> str:
    """'NIKE, Inc .' → 'NIKE, Inc.' (extractors put spaces before kerned punctuation)."""
    return re.sub(r"\s+([.,])", r"\1", name).strip()


def trading_symbol(cover: str) -> str | None:
    """The ticker in the 'Trading Symbol(s)' table (cover pages from 2019 on), if any."""
    position = cover.lower().find("trading symbol")
    if position < 0:
        return None
    match = _TICKER_RE.search(cover, position + len("trading symbol"))
    return match.group(1) if match else None


def file_name_hints(stem: str) -> dict[str, str]:
    """Hints from names like 'BESTBUY_2024Q2_10Q': company, year, quarter, form."""
    hints: dict[str, str] = {}
    tokens = [token for token in re.split(r"[_\-\s.]+", stem) if token]
    company_words: list[str] = []
    for token in tokens:
        upper = token.upper()
        year_quarter = re.fullmatch(r"((?:19|20)\d{2})(?:Q([1-4]))?", upper)
        if year_quarter:
            hints["year"] = year_quarter.group(1)
            if year_quarter.group(2):
                hints["quarter"] = year_quarter.group(2)
        elif re.fullmatch(r"10-?K|10-?Q|20-?F|8-?K", upper):
            hints["form"] = f"{upper[:2]}-{upper[-1]}"
        elif re.fullmatch(r"Q[1-4]", upper):
            hints["quarter"] = upper[1]
        elif "year" not in hints and token.isalpha():
            company_words.append(token)
    if company_words:
        hints["company"] = " ".join(company_words)
    return hints
