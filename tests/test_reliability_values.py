"""Issue #21 point 9 (values that misbehaved quietly) and point 3 (a question filter that hung
generate): each is now a located error at validation, exit code 2."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core.configs import load_config
from cai.core.constitution import load_constitution, question_regex
from cai.core.errors import UserError

RULE = "rules:\n  - id: a\n    principle: p\n    critique: c\n    revision: r\n"


def _constitution_errors(tmp_path, text: str) -> list[str]:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as info:
        load_constitution(str(path))
    return info.value.lines()


@pytest.mark.parametrize("extra, line, field, words", [
    ("    checks:\n      no_forbidden_phrases: ['']\n", 8, "checks.no_forbidden_phrases.0", "empty"),
    ("    checks:\n      no_forbidden_phrases: [ok, '  ']\n", 8, "checks.no_forbidden_phrases.1", "empty"),
    ("    checks:\n      require_marker: [{when_any: [''], require_any: [x]}]\n", 8,
     "checks.require_marker.0.when_any.0", "empty"),
    ("    applies_to:\n      tags: ['']\n", 8, "applies_to.tags.0", "empty"),
    ("    weight: true\n", 7, "weight", "boolean"),
    ("    checks:\n      max_words: yes\n", 8, "checks.max_words", "boolean"),
    ("    applies_to:\n      question_matches: '(?<=a)b'\n", 8, "applies_to.question_matches", "lookaround"),
])
def test_rule_values_that_used_to_pass(tmp_path, extra, line, field, words):
    [error] = _constitution_errors(tmp_path, "name: x\n" + RULE + extra)
    assert f"c.yaml:{line}:" in error and f"rule a: {field}:" in error and words in error


def test_empty_extends_is_an_error_not_no_parent(tmp_path):
    [error] = _constitution_errors(tmp_path, "name: x\nextends: ''\n" + RULE)
    assert "c.yaml:2:" in error and "extends" in error and "empty" in error


def test_catastrophic_question_filter_runs_in_linear_time(tmp_path):
    """`^(a+)+$` backtracks exponentially in Python's `re` (a 30-character question takes minutes):
    the filter is matched with RE2 instead, so a long hostile question is answered at once."""
    path = tmp_path / "c.yaml"
    path.write_text("name: x\n" + RULE + "    applies_to:\n      question_matches: '^(a+)+$'\n")
    rule = load_constitution(str(path)).rule("a")
    assert not isinstance(question_regex(rule.applies_to.question_matches), re.Pattern)
    assert rule.applies("a" * 10_000) and not rule.applies("a" * 10_000 + "!")
    assert not rule.applies("a" * 50 + "\ud800")  # a lone surrogate: no crash in the UTF-8 engine
    assert load_constitution("finance-10k")  # the shipped filters all compile under RE2


def _config(tmp_path, **extra) -> str:
    (tmp_path / "q.jsonl").write_text('{"id": "1", "question": "q?"}\n')
    (tmp_path / "idx").mkdir(exist_ok=True)
    cfg = tmp_path / "g.yaml"
    cfg.write_text(json.dumps({"stage": "generate", "questions": str(tmp_path / "q.jsonl"),
                               "index": str(tmp_path / "idx"), **extra}))
    return str(cfg)


@pytest.mark.parametrize("overrides, field, words", [
    (["loop.principles=0"], "loop.principles", "at least 1"),
    (["loop.principles=-2"], "loop.principles", "at least 1"),
    (["loop.max_rounds=true"], "loop.max_rounds", "boolean"),
    (["seed=false"], "seed", "boolean"),
    (["retrieval.k=yes"], "retrieval.k", "boolean"),
    (["teacher.temperature=true"], "teacher.temperature", "boolean"),
    (["teacher.cost_per_1k_tokens={input: -0.5, output: 1}", "teacher.budget_usd=5"],
     "teacher.cost_per_1k_tokens.input", "greater than or equal to 0"),
    (["teacher.cost_per_1k_tokens={input: 1, output: .inf}", "teacher.budget_usd=5"],
     "teacher.cost_per_1k_tokens.output", "finite"),
    (["teacher.cost_per_1k_tokens={input: 1, outptu: 1}", "teacher.budget_usd=5"],
     "teacher.cost_per_1k_tokens.outptu", "'output'"),
])
def test_config_values_that_used_to_pass(tmp_path, overrides, field, words):
    with pytest.raises(UserError) as info:
        load_config(_config(tmp_path), overrides)
    assert any(f"{field}:" in line and words in line for line in info.value.lines()), info.value.lines()


def test_booleans_still_accepted_where_booleans_belong(tmp_path):
    cfg = load_config(_config(tmp_path), ["retrieval.route=false", "judge.enabled=true", "loop.principles=2"])
    assert cfg.retrieval.route is False and cfg.judge.enabled is True and cfg.loop.principles == 2


def test_config_validate_checks_the_constitution_exists_and_is_valid(tmp_path):
    missing = CliRunner().invoke(cli, ["config", "validate", _config(tmp_path, constitution="no-such-rules")])
    assert missing.exit_code == 2
    assert "g.yaml:1:" in missing.output and "constitution:" in missing.output and "not found" in missing.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n" + RULE + "    weight: -3\n")
    invalid = CliRunner().invoke(cli, ["config", "validate", _config(tmp_path, constitution=str(bad))])
    assert invalid.exit_code == 2 and "bad.yaml:7:" in invalid.output and "weight" in invalid.output
    ok = CliRunner().invoke(cli, ["config", "validate", _config(tmp_path, constitution="finance-10k")])
    assert ok.exit_code == 0, ok.output
