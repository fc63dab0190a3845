"""Issue #21 point 4: one bad row no longer aborts a whole job. A lone surrogate, a row nested
100,000 deep or a field of megabytes is rejected with its line, and the other rows run (generate,
score, eval's answers files, the run readers); one question that fails unexpectedly is recorded as
failed instead of ending the run. Every hostile row is generated here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core.errors import UserError
from cai.core.jsonrows import MAX_FIELD_CHARS, MAX_ROW_DEPTH, RowRejected, parse_row
from cai.core.questions import load_questions
from cai.core.runs import read_jsonl
from rewards.score import MAX_ANSWER_CHARS

PAGE = "Revenue for fiscal 2024 was $412.3 million, compared with $390.1 million in fiscal 2023.\n"
SOURCES = [{"doc_id": "acme", "page": 1, "text": PAGE}]
DEEP = "[" * 100_000 + "]" * 100_000  # json.loads: RecursionError


def _deep_row(**fields) -> str:
    """A row whose `metadata` holds a list nested 100,000 deep."""
    return json.dumps(fields)[:-1] + ', "metadata": {"x": ' + DEEP + "}}"


def _surrogate(text: str) -> str:
    """`text` with a lone high surrogate, as a JSON file would carry it: the escape \\ud800."""
    return text + "\\ud800"


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory) -> Path:
    from rag.ingest import ingest

    work = tmp_path_factory.mktemp("rows-corpus")
    (work / "corpus").mkdir()
    (work / "corpus" / "acme-2024.txt").write_text(PAGE * 3)
    ingest([work / "corpus"], work / "index", progress=False)
    return work / "index"


# ------------------------------------------------------------------------------------------ parsing
def _grounded_generate(tmp_path: Path, questions: Path, tiny_index) -> Path:
    """`cai generate` with the grounded teacher on `questions`; it must exit 0; its run directory."""
    cfg = tmp_path / "g.yaml"
    cfg.write_text(json.dumps({"questions": str(questions), "index": str(tiny_index),
                               "runs_dir": str(tmp_path / "runs"), "teacher": {"backend": "grounded"}}))
    result = CliRunner().invoke(cli, ["generate", str(cfg)])
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


def test_parse_row_refuses_what_breaks_readers_and_keeps_the_rest():
    with pytest.raises(RowRejected, match="nested more than"):
        parse_row(DEEP)
    with pytest.raises(RowRejected, match=r"question: holds a lone surrogate \\ud800"):
        parse_row('{"question": "' + _surrogate("q") + '"}')
    with pytest.raises(RowRejected, match=r"a key\): holds a lone surrogate \\udc00"):
        parse_row('{"\\udc00": 1}')
    with pytest.raises(RowRejected, match="over the limit"):
        parse_row(json.dumps({"answer": "a" * (MAX_FIELD_CHARS + 1)}))
    with pytest.raises(RowRejected, match="cannot be read"):
        parse_row('{"n": ' + "7" * 5000 + "}")  # more digits than Python turns into an int
    with pytest.raises(json.JSONDecodeError):
        parse_row("{not json")
    # within the limits: a surrogate *pair* is one character, brackets inside strings do not nest
    assert parse_row('{"q": "\\ud83d\\ude00"}') == {"q": "\U0001F600"}
    assert parse_row(json.dumps({"q": "[" * 5000}))["q"] == "[" * 5000
    nested = "[" * MAX_ROW_DEPTH + "]" * MAX_ROW_DEPTH
    assert parse_row(nested) is not None
    with pytest.raises(RowRejected):
        parse_row("[" + nested + "]")


def test_questions_file_rejects_hostile_rows_with_their_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "good-1", "question": "What was revenue in fiscal 2024?"}),
        _deep_row(id="deep", question="What was revenue?"),
        '{"id": "lone", "question": "' + _surrogate("What was revenue") + '"}',
        json.dumps({"id": "huge", "question": "What was revenue?", "answer": "x " * (MAX_FIELD_CHARS // 2 + 1)}),
        json.dumps({"id": "good-2", "question": "What was revenue in fiscal 2023?"}),
    ]) + "\n")
    rows, rejected = load_questions(path)
    assert [r.id for r in rows] == ["good-1", "good-2"]
    assert len(rejected) == 3
    assert rejected[0].startswith(f"{path}:2: ") and "nested more than" in rejected[0]
    assert rejected[1].startswith(f"{path}:3: question: holds a lone surrogate")
    assert rejected[2].startswith(f"{path}:4: answer: ") and "over the limit" in rejected[2]


def test_generate_rejects_hostile_rows_and_runs_the_others(tmp_path, tiny_index):
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join([
        '{"id": "lone", "question": "' + _surrogate("What was revenue in fiscal 2024?") + '"}',
        json.dumps({"id": "ok-1", "question": "What was revenue in fiscal 2024?"}),
        _deep_row(id="deep", question="What was revenue in fiscal 2023?"),
        json.dumps({"id": "ok-2", "question": "What was revenue in fiscal 2023?"}),
    ]) + "\n")
    run_dir = _grounded_generate(tmp_path, questions, tiny_index)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["counts"]["records"] == 2
    assert [r.split(": ")[0] for r in manifest["rejected_rows"]] == [f"{questions}:1", f"{questions}:3"]
    assert sorted(obj["id"] for _, obj in read_jsonl(run_dir / "records.jsonl")) == ["ok-1", "ok-2"]


def test_one_question_failing_unexpectedly_is_recorded_and_the_rest_run(tmp_path, tiny_index, monkeypatch):
    """A fault no check foresaw (the tokenizer's TypeError on a surrogate was one) fails its question
    only: the others are recorded, the run is incomplete, and a resume retries just that one."""
    import cai.stages.generate as generate

    real = generate.process

    async def faulty(s, row, *args):
        if row.id == "bad":
            raise TypeError("TextEncodeInput must be Union[TextInputSequence, Tuple[InputSequence, InputSequence]]")
        return await real(s, row, *args)

    monkeypatch.setattr(generate, "process", faulty)
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"id": i, "question": "What was revenue in fiscal 2024?"}) + "\n"
                                 for i in ("a", "bad", "c")))
    run_dir = _grounded_generate(tmp_path, questions, tiny_index)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["counts"]["records"] == 2
    [failed] = [obj for _, obj in read_jsonl(run_dir / "failed.jsonl")]
    assert failed["id"] == "bad" and failed["error"].startswith("internal error on this question: TypeError")
    monkeypatch.setattr(generate, "process", real)
    resumed = CliRunner().invoke(cli, ["generate", str(run_dir / "config.yaml"), "--resume", str(run_dir)])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "finished"


# -------------------------------------------------------------------------------------------- score
def test_score_rejects_hostile_rows_and_scores_the_rest(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "scores.jsonl"
    good = json.dumps({"id": "good", "answer": "Revenue for fiscal 2024 was $412.3 million.", "sources": SOURCES})
    src.write_text("\n".join([
        _deep_row(id="deep", answer="Revenue was $412.3 million.", sources=SOURCES),
        '{"id": "lone", "answer": "' + _surrogate("Revenue was $412.3 million.") + '", "sources": '
        + json.dumps(SOURCES) + "}",
        json.dumps({"id": "long", "answer": "Revenue was $412.3 million. " * (MAX_ANSWER_CHARS // 28 + 1),
                    "sources": SOURCES}),
        good,
    ]) + "\n")
    result = CliRunner().invoke(cli, ["score", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows if "error" not in r] == ["good"] and rows[-1]["verdict"] == "supported"
    errors = {r["line"]: r for r in rows if "error" in r}
    assert sorted(errors) == [1, 2, 3]
    assert "nested more than" in errors[1]["error"]
    assert "lone surrogate" in errors[2]["error"] and errors[2]["id"] is None
    assert "answer too long" in errors[3]["error"] and errors[3]["id"] == "long" and errors[3]["claims"] == []
    assert "scored 1 row(s), 3 error row(s)" in result.stderr


# ---------------------------------------------------------------------------- run files and answers
def test_run_readers_report_hostile_rows_with_file_and_line(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join([json.dumps({"id": "a"}), DEEP, '{"id": "' + _surrogate("b") + '"}',
                               json.dumps({"id": "c"})]) + "\n")
    with pytest.raises(UserError, match=rf"{path}:2:1: row rejected: arrays or objects nested"):
        list(read_jsonl(path))
    skipped: list[str] = []
    assert [obj["id"] for _, obj in read_jsonl(path, skipped)] == ["a", "c"]
    assert [s.split(": ")[0] for s in skipped] == [f"{path}:2", f"{path}:3"]
    assert "lone surrogate" in skipped[1]


def test_eval_answers_file_counts_hostile_rows_as_bad_lines(tmp_path):
    from cai.stages.eval import load_answers

    path = tmp_path / "answers.jsonl"
    path.write_text("\n".join([_deep_row(id="q1", answer="a"), '{"id": "q2", "answer": "' + _surrogate("b") + '"}',
                               json.dumps({"id": "q3", "answer": "fine"})]) + "\n")
    loaded = load_answers(path, {"q1", "q2", "q3"})
    assert loaded.answers == {"q3": "fine"}
    assert [b.split(": ")[0] for b in loaded.bad_lines] == [f"{path}:1", f"{path}:2"]
