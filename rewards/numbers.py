"""Numbers in claims and sources: extraction, normalisation, rounding tolerance, agreement.

A financial figure is written many ways: `$1,234.5 million`, `1,234.5` in a table "in millions",
`(459)` for a negative, `31%`, `$5.4 billion`. `extract_quantities` reads each into a `Quantity`
whose `value` is in base units (dollars, not millions; percent points for `%`) and records how
precisely it was written, because `$177.9 billion` claims only ±$0.05 billion of precision.

Rounding tolerance (stated): a claim figure agrees with a value `v` when
    |claim - v| <= max(rel_tolerance * |v|, half a unit of the claim's last written digit).
The relative part comes from the constitution (`numbers_match_sources.rel_tolerance`, default 0.5%);
the half-unit part lets "$177.9 billion" match 177,866 (millions).

Source tables rarely repeat their scale next to each figure ("in millions" is in the header), so a
source figure is read as written or at the unit its page declares ("(in thousands, except per
share data)", `declared_scales`), and at any of thousand, million or billion when the page
declares none; "in USD millions" right after a claim figure is that figure's unit. Signs are
compared by magnitude: filings write a loss as `(3,062)` while prose says "an operating loss of
$3.1 billion".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SCALE_WORDS = {
    "thousand": 1e3, "thousands": 1e3, "k": 1e3,
    "million": 1e6, "millions": 1e6, "mn": 1e6, "mm": 1e6, "m": 1e6,
    "billion": 1e9, "billions": 1e9, "bn": 1e9, "b": 1e9,
    "trillion": 1e12, "trillions": 1e12, "tn": 1e12,
}
# The word a scale is written with ("5,409 million" of a table in millions).
SCALE_NAMES = {1e3: "thousand", 1e6: "million", 1e9: "billion"}
# Scales at which an unscaled source figure may be read (a table "in thousands"/"in millions").
SOURCE_SCALES = (1.0, 1e3, 1e6, 1e9)
# A table's declared unit ("(in thousands, except per share data)", "$ and shares in millions"), and
# the same words right after a figure ("$5,466,312 in USD millions", "$305,826 (in thousands)").
_IN_SCALE = r"\bin\s+(?:U\.?S\.?\s*)?(?:\$\s*|dollars\s+|USD\s+)?(?P<declared>thousands|millions|billions)\b"
_DECLARED_SCALE_RE = re.compile(_IN_SCALE, re.IGNORECASE)
# A table's unit written as a currency and scale with no figure (a column header "€m", "$'000",
# "US$’000", "RMB’Million", "£ million", "$bn"; IAS 1.51(e) requires the level of rounding to be
# shown, and these are its usual forms), or "(in million)", "(Thousands)", "Dollars in thousands".
_CURRENCY = r"(?:US\$|A\$|C\$|HK\$|S\$|NZ\$|R\$|\$|€|£|¥|RMB|USD|EUR|GBP|CHF|SEK|NOK|DKK|JPY|CAD|AUD|HKD|SGD)"
_UNIT_HEADER_RE = re.compile(
    rf"(?<![\w$€£¥]){_CURRENCY}\s?['’]?\s?(?P<unit>000|m|mn|mm|million|millions|bn|billion|billions|thousands?|k)"
    r"(?:['’]?s)?(?![\w'’.,]|\s?\d)"
    r"|(?<![\w\d,.])['’](?P<thousands>000)(?:['’]?s)?\b(?!\s?\d)"
    r"|\bin\s+['’]?(?P<in000>000)['’]?s\b"
    r"|\((?:in\s+)?(?P<alone>thousands?|millions?|billions?)\)"
    r"|\bin\s+(?:(?:US\s?)?\$\s?|€\s?|£\s?)?(?P<singular>thousand|million|billion)\b(?![\w\s]*\d)"
    r"|\b(?:dollars|amounts|euros|pounds)\s+in\s+(?P<plural>thousands|millions|billions)\b",
    re.IGNORECASE,
)
_UNIT_WORDS = {"000": 1e3, "m": 1e6, "mn": 1e6, "mm": 1e6, "bn": 1e9, "k": 1e3}
# Only a unit that closes the figure: "(in USD millions, this would be $5,466.312 million)" converts.
_TRAILING_SCALE_RE = re.compile(rf"\s*\(?\s*{_IN_SCALE}(?=\s*(?:\)|[.;]|$))", re.IGNORECASE)  # .match(text, pos)

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_NUMBER_RE = re.compile(
    r"(?<![\w.\-])"
    r"(?P<open>\()?"
    r"(?:(?P<sign>[-−–])\s?)?"
    r"(?:(?P<cur>US\$|\$|USD\s?)\s?)?"
    r"(?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?P<close>\))?"
    r"(?:\s?(?P<scale>thousands?|millions?|billions?|trillions?|mn|mm|bn|tn|[kKmMbB])(?![\w]))?"
    r"(?P<pct>\s?%|\s?percent(?:age points?)?\b|\s?pp\b)?",
    re.IGNORECASE,
)
_SLASH_DATE_RE = re.compile(r"(?<![\d,])\d{1,2}/\d{1,2}/\d{2,4}(?!\d)")
_DATE_DAY_BEFORE_RE = re.compile(rf"(?:{_MONTHS})\.?\s*$", re.IGNORECASE)
_REFERENCE_BEFORE_RE = re.compile(
    r"(?:\bp\.|\bpp\.|\bpage|\bpages|\bnote|\bitem|\bpart|\bschedule|\bexhibit|\bform|\bstep)\s*$", re.IGNORECASE)
_FORM_AFTER_RE = re.compile(r"^-(?:K|Q|KT|QT)\b|^(?:st|nd|rd|th)\b", re.IGNORECASE)
_LIST_TEXT_AFTER_RE = re.compile(r"^[.)]\s+[A-Za-z*\"(]")
# "4.1 Description of Common Stock", "10.21* Credit Agreement": an exhibit index's or a numbered
# section's number heads a title on its own line (Regulation S-K Item 601 numbers exhibits N.N).
_SECTION_NUMBER_RE = re.compile(r"^\d{1,3}\.\d{1,2}$")
_TITLE_AFTER_RE = re.compile(r"^[*+†‡#]{0,3}[ \t]+[A-Z][a-z]")


@dataclass(frozen=True)
class Quantity:
    """A number as written, normalised to base units.

    `value` is signed (parentheses and minus signs are negative); `magnitude` is |value|.
    `unit` is "%" for percentages, "$" for currency, "" otherwise. `scale` is the multiplier of a
    written scale word (1 when none). `decimals` counts digits after the decimal point as written.
    """

    text: str
    start: int
    end: int
    value: float
    unit: str
    scale: float
    decimals: int
    scaled_in_text: bool

    @property
    def magnitude(self) -> float:
        return abs(self.value)

    @property
    def half_unit(self) -> float:
        """Half a unit of the last written digit, in base units (the rounding the writer did)."""
        return 0.5 * 10.0 ** (-self.decimals) * self.scale

    def tolerance(self, rel_tolerance: float) -> float:
        return max(rel_tolerance * self.magnitude, self.half_unit)

    @property
    def is_plain_integer(self) -> bool:
        return self.unit == "" and not self.scaled_in_text and self.decimals == 0


def _is_year(match: re.Match, text: str) -> bool:
    digits = match.group("digits")
    if match.group("cur") or match.group("pct") or match.group("scale") or "," in digits or "." in digits:
        return False
    return len(digits) == 4 and 1900 <= int(digits) <= 2100


def _is_reference(match: re.Match, text: str) -> bool:
    """Day of a date ('December 31'), page/note/item numbers, '10-K', ordinals, quarter names."""
    before = text[max(0, match.start() - 12) : match.start()]
    after = text[match.end("digits") : match.end("digits") + 4]
    if match.group("cur") or match.group("pct"):
        return False
    if _DATE_DAY_BEFORE_RE.search(before) or _REFERENCE_BEFORE_RE.search(before):
        return True
    return bool(_FORM_AFTER_RE.match(after))


def _is_list_marker(match: re.Match, text: str) -> bool:
    """'1. Revenue', '2) Open the filing' or '4.1 Description of …' at the start of a line:
    enumeration, not a figure. A parenthesised figure alone on its line ('(962)') is a negative
    table value, not a marker."""
    if match.group("open") or match.group("cur") or match.group("pct") or match.group("scale"):
        return False
    line_start = text.rfind("\n", 0, match.start()) + 1
    if text[line_start : match.start()].strip(" \t*-•#"):
        return False
    after = text[match.end("digits") : match.end("digits") + 8]
    if _SECTION_NUMBER_RE.match(match.group("digits")) and _TITLE_AFTER_RE.match(after):
        return True
    return bool(_LIST_TEXT_AFTER_RE.match(after))


_MODEL_NAME_AFTER_RE = re.compile(r"^\s?[A-Z]{2,}\b|^-[A-Z]")


def _is_model_number(match: re.Match, text: str) -> bool:
    """A bare integer that names a product or model ("737 MAX") rather than counting anything."""
    if match.group("cur") or match.group("pct") or match.group("scale") or match.group("open"):
        return False
    digits = match.group("digits")
    if "," in digits or "." in digits:
        return False
    return bool(_MODEL_NAME_AFTER_RE.match(text[match.end("digits") : match.end("digits") + 6]))


_DESIGNATION_RE = re.compile(r"(?<![\w.,$\-])(\d{1,4})(?:\s?[A-Z]{2,}\b|-([KQ])\b)")


# A reference to a part of a filing: "Exhibit 99.1", "Note 12", "Item 7".
_REFERENCE_RE = re.compile(r"\b(?:Exhibits?|Notes?|Items?|Schedules?)\s+(\d{1,3}(?:\.\d{1,2})?)(?![\d.]\d)")


def designations(text: str) -> list[str]:
    """Numbers that designate rather than count, which a source must write exactly: product
    models ("737 MAX" -> "737"), filing forms ("10-Q" -> "10 Q") and references to a filing's
    exhibits, notes and items ("Exhibit 99.1" -> "99.1"). Years are periods, not designations."""
    found = [m.group(1) for m in _REFERENCE_RE.finditer(text)]
    for m in _DESIGNATION_RE.finditer(text):
        digits = m.group(1)
        if len(digits) == 4 and 1900 <= int(digits) <= 2100:
            continue
        if text[: m.start()].rstrip().endswith(("*", "×", "/", "÷", "=", "+")):
            continue  # an operand ("... ) * 100 COGS % margin = ..."), not a model or form name
        found.append(f"{digits} {m.group(2).upper()}" if m.group(2) else digits)
    return list(dict.fromkeys(found))


def _scale_of(word: str | None, currency: bool) -> float:
    if not word:
        return 1.0
    lowered = word.lower()
    # A bare single letter (M, B, K) is a scale only right after a currency figure ("$5M");
    # otherwise "3 m" may be metres and "5 B" a share class.
    if len(lowered) == 1 and not currency:
        return 1.0
    return SCALE_WORDS.get(lowered, 1.0)


def extract_quantities(text: str) -> list[Quantity]:
    """Every figure in `text` except years, dates' days, page/note references and list markers."""
    found: list[Quantity] = []
    slash_dates = [d.span() for d in _SLASH_DATE_RE.finditer(text)]
    for m in _NUMBER_RE.finditer(text):
        if any(start <= m.start() < end for start, end in slash_dates):
            continue
        if _is_year(m, text) or _is_reference(m, text) or _is_list_marker(m, text) or _is_model_number(m, text):
            continue
        digits = m.group("digits")
        number = float(digits.replace(",", ""))
        currency = bool(m.group("cur")) or text[max(0, m.start() - 2) : m.start()].strip().endswith("$")
        scale = _scale_of(m.group("scale"), currency)
        trailing = _TRAILING_SCALE_RE.match(text, m.end()) if scale == 1.0 and not m.group("pct") else None
        if trailing is not None:
            scale = SCALE_WORDS[trailing.group("declared").lower()]
        scale_matched = scale != 1.0
        negative = bool(m.group("sign")) or (bool(m.group("open")) and bool(m.group("close")))
        pct = m.group("pct")
        unit = "%" if pct else ("$" if currency else "")
        end = m.end() if (scale_matched or pct) else m.end("close") if m.group("close") else m.end("digits")
        decimals = len(digits.split(".", 1)[1]) if "." in digits else 0
        value = -number * scale if negative else number * scale
        found.append(Quantity(text[m.start() : end], m.start(), end, value, unit, scale, decimals, scale_matched))
    return found


# Constants of the arithmetic an answer shows ("× 100", "365 days", "^ 0.5", "- 1"): not figures
# taken from a source, so not checked, but available as operands for derived figures.
ARITHMETIC_CONSTANTS = (100.0, 1000.0, 365.0, 360.0, 366.0, 0.5, 1.0)


def checkable(quantity: Quantity) -> bool:
    """Small bare integers (3 years, 2 decimal places, step 1) are counts of the prose, and bare
    arithmetic constants are the answer's own working: neither is checked against sources."""
    if quantity.is_plain_integer and quantity.magnitude <= 12:
        return False
    return not (quantity.unit == "" and not quantity.scaled_in_text and quantity.magnitude in ARITHMETIC_CONSTANTS)


def agrees(claim: Quantity, source_value: float, rel_tolerance: float, *, scaled: bool = True) -> bool:
    """True when `claim` equals `source_value` (a magnitude) within the stated rounding tolerance,
    at any table scale when `scaled` (the source figure's scale word was not written next to it)."""
    target = claim.magnitude
    tol = claim.tolerance(rel_tolerance)
    scales = SOURCE_SCALES if scaled and claim.unit != "%" else (1.0,)
    return any(abs(target - abs(source_value) * s) <= max(tol, rel_tolerance * abs(source_value) * s) for s in scales)


@lru_cache(maxsize=2048)
def page_quantities(text: str) -> tuple[Quantity, ...]:
    """A source page's figures, extracted once per page text: the checker's page preparation and
    the rules' machine checks read the same pages, round after round."""
    return tuple(extract_quantities(text))


def declared_scales(text: str) -> tuple[float, ...]:
    """The scales at which a source page's unscaled figures may be read: as written, or at the
    unit its tables declare ("(in thousands)"): a figure of a table in thousands is not a figure
    in millions ("$5,466,312 in USD millions" against "5,466,312" in thousands is off by 1,000).
    Every SOURCE_SCALES when the page declares none (the header may be on another page)."""
    declared = {SCALE_WORDS[m.group("declared").lower()] for m in _DECLARED_SCALE_RE.finditer(text)}
    for m in _UNIT_HEADER_RE.finditer(text):
        word = next(w for w in m.groups() if w).lower()
        declared.add(_UNIT_WORDS.get(word) or SCALE_WORDS[word])
    return (1.0, *sorted(declared)) if declared else SOURCE_SCALES


def agreeing(q: Quantity, magnitudes: np.ndarray, rel_tolerance: float,
             scales: tuple[float, ...] = SOURCE_SCALES, written: np.ndarray | None = None) -> list[int]:
    """Indices of source figures equal to `q` within tolerance, at the table `scales` for amounts.
    A source figure whose own scale word is `written` beside it ("$3.0 million") is read only at
    that scale: a table's unit applies to the bare figures of the table, not to such a figure."""
    if magnitudes.size == 0:
        return []
    target, tol = q.magnitude, q.tolerance(rel_tolerance)
    scales = (1.0,) if q.unit == "%" else scales
    hit = np.zeros(magnitudes.shape, dtype=bool)
    for scale in scales:
        scaled = magnitudes * scale
        close = np.abs(scaled - target) <= np.maximum(tol, rel_tolerance * scaled)
        hit |= close if scale == 1.0 or written is None else close & ~written
    return [int(i) for i in np.flatnonzero(hit)]
