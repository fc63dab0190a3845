"""A bare name answering "Which ... the highest ...?" over the rows of a report table.

Numerical QA over financial reports asks which line item ranks first in a column (TAT-QA's span
answers, Zhu et al. 2021): "In which currency was the total amount of financial assets the
smallest?", "In which period is the warrants outstanding the highest?", "What is the most expensive
currency?". The answer is a row's label, and it is right only when that row's value is the largest
(smallest) of its table's rows in the column the question means:
* the column of the one year the question asks ("in 2019");
* else the one column whose heading's every word the question uses ("Total", "Outstanding as of
  December 31,"): a heading it only shares words with ("Fixed rate financial assets") is not named;
* else, where the columns are periods, the latest: a question that names no period asks about the
  present;
* else the rows' one value column.
Peers are the rows of the same block (the lines under one header and caption, up to a blank line);
a sum line ("Total", "Group total") is the sum of its peers, not one of them. The answer is supported
when its row ranks first, unsupported when another row does; None when the answer names no row of
such a table or the column cannot be told (the claim checks then decide).

A reading convention of ranked comparisons, not fitted to any data set.
"""

from __future__ import annotations

import re

from cai.core.contracts import ClaimVerdict, Verdict
from rewards.asked_lookup import answer_verdict
from rewards.periods import extract_periods
from rewards.premises import PreparedPage, cell_index, measure_tokens, occurs, row_evidence
from rewards.report_tables import Row, table_rows

_MOST_RE = re.compile(r"\b(?:highest|largest|greatest|biggest|most|maximum)\b", re.IGNORECASE)
_LEAST_RE = re.compile(r"\b(?:lowest|smallest|least|fewest|minimum)\b", re.IGNORECASE)
_RANK_RE = re.compile(r"\b(second|third|fourth|fifth|2nd|3rd|4th|5th)[\s-]+(?:highest|largest|greatest|biggest|most|"
                      r"lowest|smallest|least|fewest)\b", re.IGNORECASE)
_RANKS = {"second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5, "5th": 5}
_SUM_LINE_RE = re.compile(r"\btotal\b|^sub-?total\b", re.IGNORECASE)
MAX_WORDS = 8  # a row label, not a sentence
# A cell that holds an amount (a year heading "2019" does not count).
_AMOUNT_RE = re.compile(r"(?!(?:19|20)\d\d$)[$£€(\s]*-?\d[\d,.]*\)?\s*%?")


def _key(text: str) -> str:
    """A label compared as its letters and digits ("Aug 2007- Jan 2011" is "aug2007jan2011")."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _blocks(page: PreparedPage) -> list[list[Row]]:
    """The page's table rows in blocks: consecutive rows under one caption with no blank line or
    column header line between them."""
    text = page.source.text
    blocks: list[list[Row]] = []
    for row in table_rows(page):
        previous = blocks[-1][-1] if blocks else None
        between = text[text.find("\n", previous.start) + 1 : row.start] if previous else "\n"
        if previous is None or row.caption != previous.caption or any(
                not line.strip() or " | " in line for line in between.split("\n")[:-1]):
            blocks.append([row])
        else:
            blocks[-1].append(row)
    return blocks


def _headings(page: PreparedPage, first: Row) -> dict[int, str]:
    """Cell index -> the words heading that column: the " | " lines right above the block's first
    row (a header may take several lines), joined per cell."""
    out: dict[int, str] = {}
    for line in reversed(page.source.text[: first.start].split("\n")[:-1]):
        if not line.strip() or (" | " not in line and out):
            break
        cells = line.split("|")
        if " | " not in line:
            continue  # a caption line between the header and the rows ("2019:")
        if any(_AMOUNT_RE.fullmatch(cell.strip()) for cell in cells[1:]):
            break  # a row of figures: the block above
        for i, cell in enumerate(cells):
            out[i] = f"{cell.strip()} {out.get(i, '')}".strip()
    return out


def _column(question: str, block: list[Row], page: PreparedPage) -> int | None:
    """The cell index of the column the question ranks the rows by (see the module docstring)."""
    text = page.source.text
    years = {p.year for p in extract_periods(question) if p.year}
    dated = {cell_index(text, q.start): p.year for row in block for q, p in row.cells if p is not None and p.year}
    if len(years) == 1:
        found = {i for i, year in dated.items() if year in years}
        return found.pop() if len(found) == 1 else None
    if years:
        return None
    lowered = question.lower()
    named = [i for i, heading in _headings(page, block[0]).items()
             if i > 0 and (words := measure_tokens(heading)) and all(occurs(t, lowered) for t in words)]
    if len(named) == 1:
        return named[0]
    if named:
        return None
    if dated:
        latest = max(dated.values())
        found = {i for i, year in dated.items() if year == latest}
        return found.pop() if len(found) == 1 else None
    columns = {cell_index(text, q.start) for row in block for q, _ in row.cells}
    return columns.pop() if len(columns) == 1 else None


def ranked_row(question: str, answer: str, pages: list[PreparedPage]) -> ClaimVerdict | None:
    """The verdict on a row label answering which row ranks first (see the module docstring), or
    None when the question ranks nothing or the answer is no row of a table it can read."""
    most, least = _MOST_RE.search(question), _LEAST_RE.search(question)
    if bool(most) == bool(least) or not answer.strip() or len(answer.split()) > MAX_WORDS:
        return None
    wanted = _key(answer)
    rank = _RANKS[m.group(1).lower()] if (m := _RANK_RE.search(question)) else 1
    word = ("" if rank == 1 else f"{m.group(1).lower()} ") + ("highest" if most else "lowest")
    for page in pages:
        text = page.source.text
        for block in _blocks(page):
            peers = [row for row in block if not _SUM_LINE_RE.search(row.own)]
            mine = [row for row in peers if _key(row.own) == wanted]
            if len(mine) != 1 or len(peers) < 2:
                continue
            column = _column(question, block, page)
            values = [(found[0], row) for row in peers
                      if len(found := [q for q, _ in row.cells if cell_index(text, q.start) == column]) == 1]
            own_q = next((q for q, row in values if row is mine[0]), None)
            if own_q is None or len(values) < 2 or rank > len(values):
                continue
            best_q, best = sorted(values, key=lambda item: item[0].value, reverse=bool(most))[rank - 1]
            evidence = row_evidence(page, own_q)
            if own_q.value == best_q.value:
                return answer_verdict(answer, Verdict.supported, evidence,
                                      f"{answer.strip()} is the {word} of the table's rows ({own_q.text.strip()})")
            return answer_verdict(answer, Verdict.unsupported, evidence,
                                  f"not the {word}: {own_q.text.strip()} against {best.own} {best_q.text.strip()}")
    return None
