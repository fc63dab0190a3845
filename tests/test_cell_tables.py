"""Column headings of tables PDF text writes one cell per line (`rewards.cell_tables`): read back only
where the count of cells makes the shape certain."""

from __future__ import annotations

from cai.core.contracts import SourcePage, Verdict
from rewards.cell_tables import cell_heading, cell_tables
from rewards.premises import prepare_page

VOTES = ("Name\n \nVotes For\nVotes Against\nAbstentions\nBroker Non-Votes\nAlan D. Feldman\n \n54,760,830\n"
         "5,184,437\n \n10,721,716\n \n6,884,223\nRichard A. Johnson\n \n54,484,293\n16,105,005\n \n77,685\n \n"
         "6,884,223\n")


def _labels(text: str) -> dict[str, str]:
    page = prepare_page(SourcePage(doc_id="d", page=1, text=text))
    return {q.text.strip(): label for q, label in zip(page.quantities, page.labels, strict=True)}


def test_each_value_takes_its_rows_label_and_its_columns_heading():
    labels = _labels(VOTES)
    assert labels["5,184,437"] == "alan d. feldman votes against 5,184,437"  # no heading line bleeds into it
    assert labels["16,105,005"] == "richard a. johnson votes against 16,105,005"
    assert labels["77,685"] == "richard a. johnson abstentions 77,685"


def test_a_shape_that_is_not_certain_gets_no_heading():
    # Headings wrapped over several lines: more heading lines than columns.
    wrapped = ("Total Stores at\nBeginning of\nSecond Quarter\nStores\nOpened\nStores\nClosed\nBest Buy\n908\n-\n(1)\n"
               "Outlet Centers\n20\n1\n(1)\n")
    assert cell_heading(wrapped, wrapped.index("908")) is None
    # A dated header ("2019 / 2018 / 2017") is no row, and the title lines above it are no headings.
    dated = ("Consolidated Statements of Earnings\nGENERAL MILLS, INC.\n(In Millions)\nFiscal Year\n2019\n2018\n2017\n"
             "Net sales\n$ 16,865.2\n$ 15,740.4\n$ 15,619.8\nCost of sales\n11,108.4\n10,304.8\n10,052.0\n")
    assert cell_heading(dated, dated.index("11,108.4")) is None
    # Two columns are too few to tell headings from a wrapped label.
    two = "Net cash provided by\noperating activities\n5,000\n4,000\n"
    assert cell_heading(two, two.index("5,000")) is None


def test_a_claim_that_names_only_the_column_finds_its_value(checker):
    page = SourcePage(doc_id="FOOTLOCKER_2022_8K", page=1, text=VOTES)
    question = "Were there any nominees with substantially more votes against than the others?"
    verdict = checker.check(question, "The most votes against any nominee were 16,105,005.", [page])[0]
    assert verdict.verdict == Verdict.supported, verdict.reason  # "votes against" is Johnson's row's column
    verdict = checker.check(question, "The most votes against any nominee were 16,905,005.", [page])[0]
    assert verdict.verdict == Verdict.unsupported, verdict.reason


def test_the_whole_table_is_read_back():
    assert cell_tables(VOTES) == [(["Votes For", "Votes Against", "Abstentions", "Broker Non-Votes"], [
        ("Alan D. Feldman", ["54,760,830", "5,184,437", "10,721,716", "6,884,223"]),
        ("Richard A. Johnson", ["54,484,293", "16,105,005", "77,685", "6,884,223"])])]


def test_a_superlative_or_a_comparison_with_every_other_row_must_hold_in_the_named_column(checker):
    page = SourcePage(doc_id="FOOTLOCKER_2022_8K", page=1, text=VOTES)
    question = "Were there any nominees with substantially more votes against than the others?"
    verdicts = lambda answer: [v.verdict for v in checker.check(question, answer, [page])]  # noqa: E731
    assert verdicts("Richard A. Johnson had the most votes against.") == [Verdict.supported]
    assert verdicts("Alan D. Feldman had the most votes against.") == [Verdict.unsupported]
    assert verdicts("Alan D. Feldman had the most votes for.") == [Verdict.supported]  # 54,760,830: his column
    named = "Richard A. Johnson had the most votes against. "
    assert verdicts(named + "He received 16,105,005 votes against, far higher than any other nominee.") == [
        Verdict.supported] * 2
    assert verdicts(named + "He received 16,105,005 votes against, far lower than any other nominee.")[1] == (
        Verdict.unsupported)
    # "than the other nominees" compares with every other row too
    assert verdicts("Alan D. Feldman had more votes against than the other nominees.") == [Verdict.unsupported]
    assert verdicts("Richard A. Johnson had more votes against than the other nominees.") == [Verdict.supported]
    # … and so does "compared to the other nominees", before or after the comparative
    compared = "Richard A. Johnson received a {} number of votes against, compared to the other nominees."
    assert verdicts(compared.format("higher")) == [Verdict.supported]
    assert verdicts(compared.format("lower")) == [Verdict.unsupported]
    assert verdicts("Compared with the other nominees, Alan D. Feldman had more votes against.") == [
        Verdict.unsupported]
    # A change compared is not a level's rank: left to the other checks.
    grew = checker.check(question, "Alan D. Feldman's votes against grew more than any other nominee's.", [page])
    assert not grew[0].reason.startswith("not the")


def test_a_figure_of_another_column_than_the_one_the_claim_names_is_not_its(checker):
    page = SourcePage(doc_id="FOOTLOCKER_2022_8K", page=1, text=VOTES)
    question = "How many votes did each nominee receive?"
    verdict = lambda answer: checker.check(question, answer, [page])[0].verdict  # noqa: E731
    assert verdict("Richard A. Johnson received 16,105,005 votes against.") == Verdict.supported
    assert verdict("Richard A. Johnson received 77,685 votes against.") == Verdict.unsupported  # his abstentions
    assert verdict("Richard A. Johnson had 77,685 abstentions.") == Verdict.supported
    # "Votes For" is named by "votes", "Votes Against" only by "votes against": the most specific heading decides.
    assert verdict("Richard A. Johnson received 54,484,293 votes for.") == Verdict.supported
    assert verdict("Richard A. Johnson received 16,105,005 votes for.") == Verdict.unsupported
