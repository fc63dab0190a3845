"""The names people use for a filer: its registered name, short name, initialism, ticker, and the
name the filing defines for itself. Routing (rag/routing.py) matches questions against these.

Conventions (general, nothing company-specific):
- Registered name: the cover page's "(Exact name of registrant as specified in its charter)"
  (rag/metadata.py), compared without legal suffixes ("Inc.", "Corporation", ".com", ...).
- Short name: the first word of a multi-word name when it is distinctive ("Costco" of "Costco
  Wholesale"); it counts only capitalised and not as the question's first word.
- Initialism: the initials of a name of three or more words ("Advanced Micro Devices" -> "AMD"),
  the way filers and analysts abbreviate long names; matched only in capitals.
- Ticker / trading symbol: the cover page's "Trading Symbol(s)" table (Form 10-K and 10-Q covers
  since 2019), a press release's "(NYSE: XYZ)", and Item 5's "traded ... under the symbol
  “XYZ”" (Regulation S-K Item 201(a) asks for the principal market of the common equity); matched
  only in capitals.
- Defined name: a filing names itself once, next to the generic self-references it then uses
  ("The Boeing Company ... (“Boeing” or the “Company”)", "references to “AMD,” “we,” “us,” “our”
  or the “Company” mean Advanced Micro Devices, Inc."). A quoted term counts only when it is
  defined together with such a self-reference ("Company", "we", "Registrant", "Firm", ...), so
  defined terms for other things ("the “Merger Agreement”") are not taken.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from cai.core.contracts import DocumentMetadata

NameSource = Literal["company name", "short name", "initialism", "ticker", "trading symbol", "defined name"]
NAME_PAGES = 60  # where a filing defines its own name: the business section and the first note

LEGAL_SUFFIXES = frozenset(
    "inc incorporated corp corporation co company companies ltd limited plc llc lp holdings "
    "group the com sa nv ag se".split()
)
_SELF_REFERENCES = frozenset("company corporation registrant firm we us our issuer".split())
_WORD_RE = re.compile(r"[A-Za-z0-9&]+")
_Q, _EQ = "[“\"']", "[”\"']"
_GROUP_RE = re.compile(
    r"\(([^()]{0,250})\)|references?\s+(?:in\s+this[^,]{0,40},?\s*)?to\s+([^.;]{0,250}?)\s+"
    r"(?:mean|refer|are\s+to|include)", re.I)
_TERM_RE = re.compile(_Q + r"\s*([^”\"'\n]{1,40}?)\s*,?\s*" + _EQ)
_SYMBOL_RE = re.compile(
    r"(?:under\s+the\s+(?:ticker\s+|trading\s+)?symbols?|ticker\s+symbol)\s*:?\s*"
    + _Q + r"?([A-Z]{1,5}(?:\.[A-Z])?)\b")


@dataclass(frozen=True)
class FilerName:
    """One name a filer goes by, and where it comes from."""

    name: str
    source: NameSource

    def describe(self) -> str:
        return f"{self.source} {self.name!r}"


def company_key(name: str) -> tuple[str, ...]:
    """Lowercase words of a company name without legal suffixes: 'AMAZON.COM, INC.' -> ('amazon',)."""
    words = [w.lower() for w in _WORD_RE.findall(name)]
    key = tuple(w for w in words if w not in LEGAL_SUFFIXES)
    return key or tuple(words)


def initialism(name: str) -> str | None:
    """'Advanced Micro Devices, Inc.' -> 'AMD'; None for names of fewer than three words."""
    words = [w for w in company_key(name) if w != "&" and w.isalpha()]
    return "".join(w[0] for w in words).upper() if len(words) >= 3 else None


def metadata_names(meta: DocumentMetadata) -> list[FilerName]:
    """Names that follow from the filing's metadata: registered name, short name, initialism, ticker."""
    out: list[FilerName] = []
    if meta.company:
        out.append(FilerName(meta.company, "company name"))
        key = company_key(meta.company)
        if len(key) > 1 and len(key[0]) >= 4:
            out.append(FilerName(key[0], "short name"))
        if (abbr := initialism(meta.company)) is not None:
            out.append(FilerName(abbr, "initialism"))
    if meta.ticker:
        out.append(FilerName(meta.ticker.upper(), "ticker"))
    return out


def text_names(pages: Sequence[str]) -> list[FilerName]:
    """Names the filing gives itself in its text: defined names and trading symbols (see module doc)."""
    text = "\n".join(pages[:NAME_PAGES])
    found: dict[tuple[str, str], FilerName] = {}
    for m in _GROUP_RE.finditer(text):
        terms = [t.strip() for t in _TERM_RE.findall(m.group(1) or m.group(2))]
        bare = [_bare(t) for t in terms]
        if not any(b.lower() in _SELF_REFERENCES for b in bare):
            continue
        for b in bare:
            if b.lower() not in _SELF_REFERENCES and _looks_like_name(b):
                found.setdefault((b.lower(), "defined name"), FilerName(b, "defined name"))
    for symbol in _SYMBOL_RE.findall(text):
        found.setdefault((symbol.lower(), "trading symbol"), FilerName(symbol, "trading symbol"))
    return list(found.values())


def _bare(term: str) -> str:
    return re.sub(r"^(?:the|a)\s+", "", term.strip(" ,.;:"), flags=re.I)


def _looks_like_name(term: str) -> bool:
    """A proper name: starts with a capital or a digit, at most four words, not all legal suffix."""
    words = term.split()
    return (bool(words) and len(words) <= 4 and (term[0].isupper() or term[0].isdigit())
            and any(w.lower().strip(".,") not in LEGAL_SUFFIXES for w in words))


def query_words(query: str) -> list[str]:
    """Words of the query, possessive "'s" removed ("Amazon's" -> "Amazon"), case kept."""
    return _WORD_RE.findall(re.sub(r"['\u2019]s\b", "", query))


def _contains_phrase(words: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return n > 0 and any(tuple(words[i : i + n]) == phrase for i in range(len(words) - n + 1))


def matching_name(query: str, names: Iterable[FilerName]) -> FilerName | None:
    """The first of `names` the query uses (rules in the module docstring), or None."""
    words = query_words(query)
    lower = [w.lower() for w in words]
    for n in names:
        if n.source in ("ticker", "trading symbol", "initialism") or (n.source == "defined name" and n.name.isupper()
                                                                        and len(n.name) <= 5):
            if len(n.name) >= 2 and n.name.upper() in words:
                return n
        elif n.source == "short name":
            if any(w.lower() == n.name and w[0].isupper() for w in words[1:]):
                return n
        else:
            key = company_key(n.name)
            if n.source == "defined name" and len(key) == 1:  # one word: only as a proper noun
                if any(w.lower() == key[0] and w[0].isupper() for w in words):
                    return n
            elif _contains_phrase(lower, key):
                return n
    return None
