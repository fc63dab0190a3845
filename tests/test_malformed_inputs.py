"""Malformed constitution and config files: each gives exit 2 and one-line errors that name the
file, the line and (for rules) the rule id — never a traceback."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cai.cli import cli

RULE = """  - id: {id}
    principle: Claims are supported.
    critique: Find unsupported claims.
    revision: Remove them.
"""


def rules(*ids: str) -> str:
    return "rules:\n" + "".join(RULE.format(id=i) for i in ids)


# (name, file content, expected substrings of the error output). Line numbers are 1-based YAML lines.
CONSTITUTIONS: list[tuple[str, str | bytes, list[str]]] = [
    ("bad_yaml_bracket", "name: [unclosed\n", [":2:1:", "invalid YAML"]),
    ("bad_yaml_indent", "name: x\nrules:\n  - id: a\n   principle: p\n", [":4:", "invalid YAML"]),
    ("bad_yaml_tab", "name: x\n\trules: []\n", [":2:", "invalid YAML"]),
    ("unknown_top_key", "name: x\nrulez: []\n", [":2:1:", "unknown key 'rulez'", "did you mean 'rules'"]),
    ("typo_rule_key", "name: x\n" + rules("a").replace("critique:", "critque:"),
     [":5:5:", "rule a:", "did you mean 'critique'"]),
    ("typo_check", "name: x\n" + rules("a") + "    checks:\n      must_cit: true\n",
     [":8:7:", "rule a:", "did you mean 'must_cite'"]),
    ("unknown_check", "name: x\n" + rules("a") + "    checks:\n      frobnicate: 3\n",
     [":8:7:", "rule a:", "unknown key 'frobnicate'"]),
    ("duplicate_rule_id", "name: x\n" + rules("a", "a"), [":7:9:", "rule a:", "duplicate rule id"]),
    ("bad_rule_id", "name: x\n" + rules("Not_Kebab"), [":3:9:", "rule Not_Kebab:", "pattern"]),
    ("wrong_type_severity", "name: x\n" + rules("a") + "    severity: huge\n", [":7:15:", "rule a:", "severity"]),
    ("wrong_type_weight", "name: x\n" + rules("a") + "    weight: heavy\n", [":7:13:", "rule a:", "weight"]),
    ("negative_weight", "name: x\n" + rules("a") + "    weight: -1\n", [":7:13:", "rule a:", "greater than or equal"]),
    ("wrong_type_max_words", "name: x\n" + rules("a") + "    checks:\n      max_words: many\n",
     [":8:18:", "rule a:", "max_words"]),
    ("forbidden_phrases_not_list", "name: x\n" + rules("a") + "    checks:\n      no_forbidden_phrases: 3\n",
     [":8:", "rule a:", "no_forbidden_phrases"]),
    ("missing_field_new_rule", "name: x\nrules:\n  - id: a\n    principle: p\n    critique: c\n",
     [":3:5:", "rule a:", "revision", "required"]),
    ("missing_name", rules("a"), [":1:1:", "name", "required"]),
    ("rules_not_list", "name: x\nrules: 5\n", [":2:8:", "rules"]),
    ("rule_not_mapping", "name: x\nrules:\n  - just a string\n", [":3:5:", "rules"]),
    ("bad_regex_filter", "name: x\n" + rules("a") + "    applies_to:\n      question_matches: '(['\n",
     [":8:", "rule a:", "regular expression"]),
    ("extends_unknown_parent", "name: x\nextends: no-such-constitution\n", [":2:10:", "unknown parent constitution"]),
    ("disable_unknown_rule", "name: x\nextends: faithfulness\ndisable: [no-such-rule]\n",
     [":3:11:", "rule no-such-rule:", "cannot disable"]),
    ("duplicate_yaml_key", "name: x\nname: y\n", [":2:1:", "duplicate key"]),
    ("top_level_list", "- a\n- b\n", [":1:1:", "mapping"]),
    ("empty_file", "", [":1:1:", "empty file"]),
    ("only_comments", "# nothing here\n", [":1:1:", "empty file"]),
    ("binary_file", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", [":3:1:", "binary"]),
    ("non_utf8", "name: caf\xe9\n".encode("latin-1"), [":1:1:", "UTF-8"]),
    ("huge_file", "name: x\n" + "# padding line\n" * 200_000, [":1:1:", "MB"]),
    ("duplicate_principle",
     "name: x\ncomparison_principles:\n  - id: p\n    principle: a?\n  - id: p\n    principle: b?\n",
     [":5:9:", "rule p:", "duplicate"]),
]

CONFIGS: list[tuple[str, str | bytes, list[str]]] = [
    ("cfg_unknown_key", "stage: generate\nquestions: q.jsonl\nindex: idx\nquestoins: x\n",
     [":4:1:", "did you mean 'questions'"]),
    ("cfg_typo_nested", "stage: generate\nquestions: q.jsonl\nindex: idx\nteacher:\n  backnd: grounded\n",
     [":5:3:", "teacher.backnd", "did you mean 'backend'"]),
    ("cfg_bad_backend", "stage: generate\nquestions: q.jsonl\nindex: idx\nteacher:\n  backend: gpt\n",
     [":5:12:", "teacher.backend"]),
    ("cfg_wrong_type", "stage: generate\nquestions: q.jsonl\nindex: idx\nretrieval:\n  k: five\n",
     [":5:6:", "retrieval.k"]),
    ("cfg_missing_required", "stage: generate\nindex: idx\n", [":1:1:", "questions", "required"]),
    ("cfg_unknown_stage", "stage: generat\n", [":1:8:", "did you mean 'generate'"]),
    ("cfg_no_stage", "foo: 1\n", [":1:1:", "stage"]),
    ("cfg_train_bad_order", "stage: train\ndata: run\npolicy: {model: m}\nstages: [ppo, sft]\n",
     [":4:1:", "stages", "order"]),
    ("cfg_train_bad_stage", "stage: train\ndata: run\npolicy: {model: m}\nstages: [sft, ppo2]\n", [":4:", "stages"]),
    ("cfg_openai_no_endpoint", "stage: generate\nquestions: q.jsonl\nindex: idx\nteacher:\n  backend: openai\n",
     [":4:", "endpoints"]),
    ("cfg_bad_yaml", "stage: generate\nquestions: [q\n", [":3:1:", "invalid YAML"]),
    ("cfg_empty", "", [":1:1:", "empty file"]),
    ("cfg_binary", b"\x00\x01\x02", [":1:1:", "binary"]),
    ("cfg_file_missing", None, [":1:1:", "not found"]),
]


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def _write(tmp_path, name: str, content) -> str:
    path = tmp_path / f"{name}.yaml"
    if content is None:
        return str(path)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def _check(code: int, output: str, path: str, expected: list[str]) -> None:
    assert code == 2, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, "no error printed"
    for line in lines:
        assert re.match(r"^error: \S+:\d+:\d+: ", line), f"not a located one-line error: {line!r}"
    assert any(path in line for line in lines)
    joined = "\n".join(lines)
    for want in expected:
        assert want in joined, f"{want!r} not in:\n{joined}"


def test_at_least_thirty_cases():
    assert len(CONSTITUTIONS) + len(CONFIGS) >= 30


@pytest.mark.parametrize("name,content,expected", CONSTITUTIONS, ids=[c[0] for c in CONSTITUTIONS])
def test_malformed_constitution(tmp_path, name, content, expected):
    path = _write(tmp_path, name, content)
    code, output = _run(["constitution", "validate", path])
    _check(code, output, path, expected)


@pytest.mark.parametrize("name,content,expected", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_malformed_config(tmp_path, name, content, expected):
    path = _write(tmp_path, name, content)
    code, output = _run(["config", "validate", path])
    _check(code, output, path, expected)


def test_extends_cycle(tmp_path):
    (tmp_path / "a.yaml").write_text("name: a\nextends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("name: b\nextends: ./a.yaml\n")
    code, output = _run(["constitution", "validate", str(tmp_path / "a.yaml")])
    _check(code, output, "b.yaml", [":2:10:", "extends cycle", "a.yaml -> b.yaml -> a.yaml"])


def test_self_extends_is_a_cycle(tmp_path):
    (tmp_path / "self.yaml").write_text("name: s\nextends: self.yaml\n")
    code, output = _run(["constitution", "validate", str(tmp_path / "self.yaml")])
    _check(code, output, "self.yaml", ["extends cycle"])


def test_all_errors_reported_at_once(tmp_path):
    text = ("name: x\nextends: faithfulness\ndisable: [nope]\n"
            + rules("b", "a", "a").replace("critique:", "critque:", 1))
    path = _write(tmp_path, "many", text)
    code, output = _run(["constitution", "validate", path])
    _check(code, output, path, ["critque", "duplicate rule id", "cannot disable"])
    assert len(output.strip().splitlines()) >= 3


def test_override_error_blamed_on_command_line(tmp_path):
    (tmp_path / "q.jsonl").write_text("")
    (tmp_path / "idx").mkdir()
    path = _write(tmp_path, "ok", f"stage: generate\nquestions: {tmp_path}/q.jsonl\nindex: {tmp_path}/idx\n")
    code, output = _run(["config", "validate", path, "loop.max_rounds=many"])
    assert code == 2 and "<command line>" in output and "loop.max_rounds" in output


def test_real_process_exit_code_and_no_traceback(tmp_path):
    """The installed entry point, not just click's runner: exit 2, one line on stderr."""
    path = _write(tmp_path, "typo", "name: x\nrulez: []\n")
    proc = subprocess.run([sys.executable, "-m", "cai.cli", "constitution", "validate", path], capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert re.match(rf"^error: {re.escape(path)}:2:1: ", proc.stderr)
