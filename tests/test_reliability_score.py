"""Issue #21 points 1 and 9 for `cai score` (and the questions file): no output is truncated before
its replacement is complete, the input is never overwritten, and rows that used to be scored
wrongly (null or repeated ids, a BOM, bytes that are not UTF-8) are handled with their line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core.questions import load_questions

PAGE = "Revenue for fiscal 2024 was $412.3 million, compared with $390.1 million in fiscal 2023."
SOURCES = [{"doc_id": "acme", "page": 3, "text": PAGE}]


def _row(row_id, answer="Revenue for fiscal 2024 was $412.3 million.") -> bytes:
    return (json.dumps({"id": row_id, "answer": answer, "sources": SOURCES}) + "\n").encode()


def _score(*args: str):
    return CliRunner().invoke(cli, ["score", *args])


def test_out_equal_to_input_is_refused_and_the_input_kept(tmp_path):
    src = tmp_path / "a.jsonl"
    src.write_bytes(_row("r1"))
    before = src.read_bytes()
    for out in (str(src), str(tmp_path / "." / "a.jsonl")):
        result = _score(str(src), "--out", out)
        assert result.exit_code == 2 and "is the input file" in result.output
        assert src.read_bytes() == before
    link = tmp_path / "link.jsonl"
    link.symlink_to(src)
    assert _score(str(src), "--out", str(link)).exit_code == 2 and src.read_bytes() == before


@pytest.mark.parametrize("content", [b"", b"\n  \n", b"{broken\n", _row(None)])
def test_input_without_a_scorable_row_leaves_existing_results(tmp_path, content):
    src, out = tmp_path / "in.jsonl", tmp_path / "results.jsonl"
    src.write_bytes(content)
    out.write_text('{"id": "earlier", "verdict": "supported"}\n')
    result = _score(str(src), "--out", str(out))
    assert result.exit_code == 2 and "left unchanged" in result.output
    assert out.read_text() == '{"id": "earlier", "verdict": "supported"}\n'


def test_a_run_that_dies_midway_leaves_existing_results(tmp_path, monkeypatch):
    import rewards.score

    src, out = tmp_path / "in.jsonl", tmp_path / "results.jsonl"
    src.write_bytes(_row("r1") + _row("r2") + _row("r3"))
    out.write_text("old results\n")
    real, calls = rewards.score.score_row, []

    def dies_on_second_row(row, **kwargs):
        calls.append(row.id)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return real(row, **kwargs)

    monkeypatch.setattr(rewards.score, "score_row", dies_on_second_row)
    result = _score(str(src), "--out", str(out))
    assert result.exit_code == 1 and calls == ["r1", "r2"]
    assert out.read_text() == "old results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "results.jsonl"]  # no temp file left


def test_hostile_rows_are_rejected_with_their_line_and_reason(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "results.jsonl"
    src.write_bytes(b"\xef\xbb\xbf" + _row("bom-first")  # line 1: a UTF-8 BOM before the first row
                    + _row(None)  # 2: null id
                    + _row("bom-first")  # 3: repeated id
                    + b'{"id": "latin", "answer": "caf\xe9", "sources": []}\n'  # 4: not UTF-8
                    + _row(True)  # 5: a boolean is not an id
                    + _row(7))  # 6: an integer id is fine
    result = _score(str(src), "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows if "error" not in r] == ["bom-first", "7"]
    errors = {r["line"]: r for r in rows if "error" in r}
    assert sorted(errors) == [2, 3, 4, 5]
    assert "null" in errors[2]["error"] and errors[2]["id"] is None
    assert "duplicate id 'bom-first' (first on line 1)" in errors[3]["error"]
    assert "UTF-8" in errors[4]["error"] and "\ufffd" not in out.read_text(encoding="utf-8")
    assert "'id' must be text or an integer" in errors[5]["error"]
    for n in errors:  # each reason on stderr, with file and line, not only a count
        assert f"{src}:{n}: {errors[n]['error']}" in result.stderr
    assert "scored 2 row(s), 4 error row(s)" in result.stderr


def test_questions_file_accepts_a_bom_and_rejects_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "1", "question": "first?"}\n'
                     b'{"id": "2", "question": "caf\xe9?"}\n'
                     b'{"id": "3", "question": "third?"}\n')
    rows, rejected = load_questions(path)
    assert [r.id for r in rows] == ["1", "3"]
    [message] = rejected
    assert message.startswith(f"{path}:2:") and "UTF-8" in message
