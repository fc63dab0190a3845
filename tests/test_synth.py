"""The verifier's synthetic training pairs (`rewards.synth`) on the real pages of the example corpus:
supported claims are grounded verbatim in their premise, every perturbation kind occurs and
provably changes the pair, and the output depends only on the pages and the seed."""

from __future__ import annotations

import re

import pytest

from cai.core.contracts import SourcePage
from rewards.numbers import extract_quantities
from rewards.periods import column_periods
from rewards.synth import PERTURBATION_KINDS, SUPPORTED_KINDS, Pair, kind_counts, limit, synthesize

_ROW_CLAIM_RE = re.compile(r"^(?P<subject>.+?) was (?P<value>\S+?)(?: (?P<scale>thousand|million|billion))? "
                           r"(?:in|as of) (?P<period>.+)\.$")


def _squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def pages(example_index) -> list[SourcePage]:
    from rag.store import DocStore

    store = DocStore.open(example_index)
    try:
        return [SourcePage(doc_id=d.doc_id, page=n, text=store.page(d.doc_id, n).text)
                for d in store.documents() for n in range(1, d.n_pages + 1)]
    finally:
        store.close()


@pytest.fixture(scope="module")
def pairs(pages) -> list[Pair]:
    return synthesize(pages, seed=0)


def _groups(pairs: list[Pair]) -> list[tuple[Pair, list[Pair]]]:
    """(supported pair, its perturbed copies), in the order `synthesize` writes them."""
    out: list[tuple[Pair, list[Pair]]] = []
    for pair in pairs:
        if pair.label == 1:
            out.append((pair, []))
        else:
            out[-1][1].append(pair)
    return out


def test_labels_kinds_and_balance(pairs):
    counts = kind_counts(pairs)
    assert set(counts) == set(SUPPORTED_KINDS) | set(PERTURBATION_KINDS), counts
    assert all(p.label == (p.kind in SUPPORTED_KINDS) for p in pairs)
    groups = _groups(pairs)
    assert all(len(negatives) == 1 for _, negatives in groups)  # one perturbed copy per supported claim
    assert len({p.doc_id for p in pairs}) == 4


def test_supported_rows_are_read_from_their_column(pairs):
    """The row's label, the cell as written and the period heading that cell's column are in the
    premise (the column checked with rewards.periods.column_periods on the premise itself)."""
    rows = [p for p in pairs if p.kind == "row"]
    assert len(rows) > 50
    for pair in rows:
        m = _ROW_CLAIM_RE.match(pair.claim)
        assert m, pair.claim
        label = re.sub(r" \([^()]*\)$", "", m["subject"]) if "(" in m["subject"] else m["subject"]
        columns = column_periods(pair.premise)
        cells = [q for q in extract_quantities(pair.premise) if q.start in columns
                 and _squash(q.text).replace("$ ", "$") == m["value"] and columns[q.start].text == m["period"]]
        lines = [pair.premise[pair.premise.rfind("\n", 0, q.start) + 1 : q.start] for q in cells]
        assert any(line.strip(" |$").startswith(label.split(" (")[0]) for line in lines), pair
        if m["scale"]:
            assert f"in {m['scale']}s" in pair.premise


def test_supported_sentences_are_verbatim(pairs, pages):
    text_of = {}
    for page in pages:
        text_of[page.doc_id] = text_of.get(page.doc_id, "") + " " + _squash(page.text)
    sentences = [p for p in pairs if p.kind == "sentence"]
    assert len(sentences) > 30
    for pair in sentences:
        assert pair.claim in _squash(pair.premise)
        assert pair.claim in text_of[pair.doc_id]


def test_every_perturbation_changes_the_pair(pairs):
    for supported, negatives in _groups(pairs):
        for negative in negatives:
            assert negative.doc_id == supported.doc_id
            if negative.kind in ("negation", "instruction"):
                assert negative.claim == supported.claim and negative.premise != supported.premise
                assert f'"{supported.claim}' in negative.premise  # only reported, denied or demanded
            elif negative.kind == "neighbour":  # the same claim against other text of its page
                assert negative.claim == supported.claim and supported.claim not in negative.premise
                assert not set(negative.premise.split("\n")) & set(supported.premise.split("\n"))
            else:
                assert negative.premise == supported.premise and negative.claim != supported.claim


def _changed_words(old: str, new: str) -> tuple[str, str]:
    """The first differing token of two claims (figures and words as written)."""
    a, b = old.split(), new.split()
    i = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
    return a[i], b[i]


def test_perturbations_state_what_the_premise_does_not(pairs):
    seen = set()
    for supported, (negative,) in _groups(pairs):
        kind, premise = negative.kind, negative.premise
        seen.add(kind)
        if kind == "number":
            old, new = _changed_words(supported.claim, negative.claim)
            digits = re.search(r"\d[\d,]*(?:\.\d+)?", new).group(0)
            assert old != new and digits not in premise, negative
        elif kind == "scale":
            old, new = _changed_words(supported.claim, negative.claim)
            word = re.sub(r"s?\W*$", "", new).lower()
            assert word in ("thousand", "million", "billion") and word not in premise.lower(), negative
        elif kind == "period":
            assert set(re.findall(r"(?:19|20)\d\d", negative.claim)) != set(re.findall(r"(?:19|20)\d\d",
                                                                                    supported.claim))
        elif kind == "direction":
            old, new = _changed_words(supported.claim, negative.claim)
            assert {old.lower(), new.lower()} != {old.lower()}
        elif kind == "entity":
            assert "Ostrander" in negative.claim or "Halvorsen" in negative.claim
            assert ("Ostrander" in negative.claim) != ("Ostrander" in premise), negative
        elif kind == "negated":  # one auxiliary's polarity reversed, nothing else
            assert negative.claim.replace(" not ", " ") == supported.claim.replace(" not ", " ")
            assert negative.claim.count(" not ") != supported.claim.count(" not ")
    assert seen == set(PERTURBATION_KINDS)


def test_deterministic_by_seed_and_independent_of_page_order(pages, pairs):
    assert synthesize(list(reversed(pages)), seed=0) == pairs
    other = synthesize(pages, seed=1)
    assert other != pairs and kind_counts(other).keys() == kind_counts(pairs).keys()


def test_entities_need_several_companies(pages):
    """The filer is swapped only for another document's filer: one company's filings alone give none."""
    halvorsen = [p for p in pages if p.doc_id.startswith("halvorsen")]
    assert "entity" not in kind_counts(synthesize(halvorsen, seed=0))


def test_a_column_with_the_same_value_is_no_period_error():
    """'Goodwill | 424.8 | 424.8' stated for the other year is still true: never a `period` pair."""
    text = ("CONSOLIDATED BALANCE SHEETS\n(in millions) | 2023 | 2022\nGoodwill | 424.8 | 424.8\n"
            "Total assets | $2,258.4 | $2,140.1\n")
    made = synthesize([SourcePage(doc_id="acme-2023", page=1, text=text)], seed=0, max_per_page=10,
                      negatives_per_claim=len(PERTURBATION_KINDS))
    periods = [p.claim for p in made if p.kind == "period"]
    assert periods and not any(c.startswith("Goodwill") for c in periods)
    assert "Total assets was $2,258.4 million in 2022." in periods
    assert "Goodwill was 424.8 million in 2023." in [p.claim for p in made if p.label]


def test_per_share_rows_keep_their_unit():
    """Tables "in millions, except per share amounts" state per-share rows as written."""
    text = ("(in millions, except per share amounts) | 2024 | 2023\nNet income | $147.4 | $121.3\n"
            "Diluted earnings per share | $2.42 | $1.96\n")
    claims = {p.claim for p in synthesize([SourcePage(doc_id="acme", page=1, text=text)], seed=0) if p.label}
    assert "Net income was $147.4 million in 2024." in claims or "Net income was $121.3 million in 2023." in claims
    assert all("per share was $" in c and "million" not in c for c in claims if "per share" in c)


def test_prose_only_pairs_have_no_figures(pages):
    """figures=False: sentences without figures, each with a perturbation that needs none."""
    prose = synthesize(pages, seed=0, figures=False)
    assert {p.kind for p in prose if p.label} == {"sentence"}
    assert not any(extract_quantities(p.claim) for p in prose if p.label)
    assert {"negated", "neighbour"} <= set(kind_counts(prose))


def test_negation_and_neighbour_windows():
    text = ("Overview\nAcme Corp. is a maker of industrial valves based in Ohio. Acme sells valves to utilities. "
            "Its plants run three shifts. The valves market is cyclical. Steel prices drive most of our costs. "
            "Our valves are certified for high pressure. We compete mainly on price and delivery times.")
    made = synthesize([SourcePage(doc_id="acme", page=1, text=text)], seed=0, max_per_page=20,
                      negatives_per_claim=len(PERTURBATION_KINDS), figures=False)
    negated = {p.claim for p in made if p.kind == "negated"}
    assert "Acme Corp. is not a maker of industrial valves based in Ohio." in negated
    near = [p for p in made if p.kind == "neighbour" and p.claim.startswith("Acme Corp. is")]
    # the window starts 3+ sentences away from the claim and shares a content word ("valves")
    assert near and all("Acme sells" not in p.premise and "valves" in p.premise for p in near)


def test_limit_keeps_whole_groups(pairs):
    kept = limit(pairs, 101, seed=0)
    assert len(kept) <= 101 and len(kept) >= 90
    groups = _groups(kept)
    assert all(len(negatives) == 1 for _, negatives in groups)
    assert limit(pairs, 101, seed=0) == kept
