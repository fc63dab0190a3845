"""Verifier pairs from human-labelled answers (`rewards.labelled_pairs`, `cai checker train --labelled`):
the prose claims the rules do not support take their answer's label (supported, or unsupported when
the answer's other claims hold); prose the rules support and an answer the rules already reject give
none; a bad labelled row stops the command before any training, naming its line and field."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from cai.core.contracts import ScoreInput, SourcePage
from cai.core.errors import UserError
from rewards.labelled_pairs import LABELLED_KIND, LabelledAnswer, labelled_pairs, read_labelled

PAGE = SourcePage(doc_id="ACME_2024_10K", page=3, text=(
    "Acme Corp. sells its products through independent distributors in Europe and Asia. Revenue was "
    "$120.5 million in 2024 and $110.2 million in 2023. The company expects demand for industrial pumps to grow."))


def _answer(answer: str, supported: bool, question: str = "What does Acme say about its business?") -> LabelledAnswer:
    return LabelledAnswer(ScoreInput(id="x", question=question, answer=answer, sources=[PAGE]), supported)


# Prose the rules cannot support (too few shared words, or too far in meaning), anchored by "distributors".
UNREAD = "Independent distributors carry the inventory risk for every shipment."
UNREAD_2 = "The distributors also provide installation training to plant engineers."


def test_prose_claims_take_their_answers_label_and_a_verbatim_premise():
    pairs = labelled_pairs([_answer(UNREAD, True), _answer(UNREAD_2, False)])
    assert [(p.label, p.kind, p.doc_id) for p in pairs] == [(1, LABELLED_KIND, "ACME_2024_10K"),
                                                            (0, LABELLED_KIND, "ACME_2024_10K")]
    assert [p.claim for p in pairs] == [UNREAD, UNREAD_2]
    assert all(p.premise in PAGE.text and "independent distributors" in p.premise for p in pairs)
    # Prose the rules support is not a decision the verifier makes: no pair.
    assert labelled_pairs([_answer("Acme relies on independent distributors to sell its products in Europe.",
                                   True)]) == []


def test_an_answer_whose_figure_the_rules_reject_gives_no_pairs():
    wrong_figure = _answer(f"Revenue was $150.0 million in 2024. {UNREAD}", False, "What was Acme's revenue in 2024?")
    assert labelled_pairs([wrong_figure]) == []
    # The same prose in an answer labelled supported is a supported pair: the label speaks for every claim.
    right = _answer(f"Revenue was $120.5 million in 2024. {UNREAD}", True, "What was Acme's revenue in 2024?")
    assert [p.label for p in labelled_pairs([right])] == [1]


def _row(**fields) -> str:
    row = {"id": "r1", "question": "q?", "answer": "An answer.", "label": "supported",
           "sources": [{"doc_id": "d", "page": 1, "text": "Some text."}]}
    row.update(fields)
    return json.dumps({k: v for k, v in row.items() if v is not None})


@pytest.mark.parametrize(("line", "field"), [
    (_row(label="maybe"), "'label'"),
    (_row(label=None), "'label'"),
    (_row(sources=[]), "'sources'"),
    (_row(answer=7), "'answer'"),
    ("[1, 2]", "JSON object"),
    ("{not json", "not a JSON row"),
])
def test_a_bad_row_names_its_line_and_field(tmp_path, line, field):
    path = tmp_path / "labelled.jsonl"
    path.write_text(_row() + "\n\n" + line + "\n")
    with pytest.raises(UserError) as error:
        read_labelled(path)
    assert str(error.value).startswith(f"{path}:3: ") and field in str(error.value)


def test_rows_read_with_a_bom_and_either_label_form(tmp_path):
    path = tmp_path / "labelled.jsonl"
    path.write_text("\ufeff" + _row(label="Supported") + "\n" + _row(id="r2", label=False) + "\n", encoding="utf-8")
    assert [(a.row.id, a.supported) for a in read_labelled(path)] == [("r1", True), ("r2", False)]


def test_cli_adds_the_labelled_pairs_and_refuses_a_bad_file_before_training(example_index, tmp_path):
    from cai.cli import cli

    index = tmp_path / "index"
    shutil.copytree(example_index, index)
    labelled = tmp_path / "labelled.jsonl"
    page = {"doc_id": PAGE.doc_id, "page": PAGE.page, "text": PAGE.text}
    labelled.write_text(_row(answer=UNREAD, sources=[page]) + "\n"
                        + _row(id="r2", label="unsupported", sources=[page], answer=UNREAD_2) + "\n")
    args = ["checker", "train", "--index", str(index), "--max-pairs", "16", "--max-length", "48"]
    result = CliRunner().invoke(cli, [*args, "--labelled", str(labelled)])
    assert result.exit_code == 0, result.output
    assert "labelled 2)" in result.output.splitlines()[-2]
    counts = json.loads((index / "verifier" / "verifier.json").read_text())["counts"]["by_kind"]
    assert counts["labelled"] == 2

    bad = tmp_path / "bad.jsonl"
    bad.write_text(_row(label="yes") + "\n")
    shutil.rmtree(index / "verifier")
    result = CliRunner().invoke(cli, [*args, "--labelled", str(bad)])
    assert result.exit_code == 2 and f"{bad}:1: field 'label'" in result.output, result.output
    assert not (index / "verifier").exists()
