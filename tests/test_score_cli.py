"""`cai score`: the contract row formats, bad rows with line numbers, exit codes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cai.cli import cli

PAGE = ("Revenue for fiscal 2024 was $412.3 million, compared with $390.1 million in fiscal 2023. "
        "Net income was $41.0 million.")


def test_score_rows_and_errors(tmp_path):
    rows = [
        {"id": "good", "question": "Revenue in fiscal 2024?",
         "answer": "Revenue for fiscal 2024 was $412.3 million [acme p.3].",
         "sources": [{"doc_id": "acme", "page": 3, "text": PAGE}]},
        {"id": "wrong", "answer": "Revenue for fiscal 2024 was $512.3 million.",
         "sources": [{"doc_id": "acme", "page": 3, "text": PAGE}]},
        {"id": "nosrc", "answer": "Revenue was $412.3 million.", "sources": []},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["score", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    got = {r["id"] or f"line{r['line']}": r for r in map(json.loads, out.read_text().splitlines())}
    assert got["good"]["verdict"] == "supported"
    claim = got["good"]["claims"][0]
    loc = claim["evidence"]["locator"]
    assert PAGE[loc["char_start"]:loc["char_end"]] == claim["evidence"]["quote"]
    assert got["wrong"]["verdict"] == "unsupported"
    assert got["nosrc"]["verdict"] == "unverified"  # fail closed: nothing to check against
    assert got["line4"]["error"] and got["line4"]["verdict"] == "unverified"


def test_nothing_scorable_exits_2(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("{broken\n")
    result = CliRunner().invoke(cli, ["score", str(src)])
    assert result.exit_code == 2
    result = CliRunner().invoke(cli, ["score", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2 and "not found" in result.output
