"""Issue #21 point 3 (YAML): alias bombs, self-referencing aliases and deep nesting are located
errors (file, line, exit 2), refused before anything is expanded, never a crash or a hang. Point
10: files are parsed by libyaml when PyYAML has it, with the same bounds, documents and errors."""

from __future__ import annotations

import glob
import sys
import tracemalloc

import pytest
import yaml
from click.testing import CliRunner

from cai.cli import cli
from cai.core import yamlfile
from cai.core.errors import UserError
from cai.core.yamlfile import MAX_YAML_DEPTH, MAX_YAML_VALUES, BoundedLoader, parse_yaml

LOADERS = [loader for loader in (BoundedLoader, yamlfile._LibyamlBoundedLoader) if loader is not None]


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """The classic: each level a list of `width` aliases of the one before (width**levels values)."""
    text = "a0: &a0 [" + ", ".join(['"lol"'] * width) + "]\n"
    for i in range(1, levels):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]\n"
    return text + "name: x\n"


def _error(text: str) -> str:
    with pytest.raises(UserError) as info:
        parse_yaml(text, "c.yaml")
    [line] = info.value.lines()
    return line


def test_alias_bomb_is_refused_before_it_expands():
    bomb = billion_laughs()
    assert len(bomb) < 1024 and 9**9 > MAX_YAML_VALUES  # 1 KB that would expand to 387 million values
    tracemalloc.start()
    try:
        line = _error(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert line.startswith("c.yaml:") and "alias bomb" in line
    assert peak < 20 * 1024 * 1024  # refused while composing: nothing was expanded


def test_aliases_within_the_bound_still_work():
    doc = parse_yaml("base: &b {severity: major, weight: 2}\nrule:\n  <<: *b\n  weight: 3\nlist: [*b, *b]\n", "c.yaml")
    assert doc.data["rule"] == {"severity": "major", "weight": 3}
    assert doc.data["list"] == [{"severity": "major", "weight": 2}] * 2
    assert parse_yaml(billion_laughs(levels=3, width=9), "c.yaml").data["a2"][8][8][8] == "lol"


@pytest.mark.parametrize("text, line", [
    ("name: x\nrules: &r [*r]\n", 2),
    ("name: x\nm: &m {a: 1, b: *m}\n", 2),
    ("name: x\nm: &m\n  <<: *m\n", 3),  # a merge key of its own mapping
])
def test_self_referencing_alias_is_a_located_error(text, line):
    message = _error(text)
    assert message.startswith(f"c.yaml:{line}:") and "self-referencing alias" in message


@pytest.mark.parametrize("nest", [
    lambda n: "x: " + "[" * n + "]" * n + "\n",
    lambda n: "x: " + "{a: " * n + "1" + "}" * n + "\n",
    lambda n: "x:\n" + "".join("  " * i + "- \n" for i in range(1, n)),
])
def test_deep_nesting_is_a_located_error_not_a_recursion_error(nest):
    assert sys.getrecursionlimit() < 5000 * 2
    message = _error(nest(5000))
    assert message.startswith("c.yaml:") and f"deeper than {MAX_YAML_DEPTH} levels" in message


def test_aliases_that_nest_deep_only_when_expanded_are_refused():
    # each anchor holds the previous one 40 levels down: 3 levels deep as written per line, 400 expanded
    text = "a0: &a0 1\n" + "".join(f"a{i}: &a{i} " + "[" * 40 + f"*a{i - 1}" + "]" * 40 + "\n" for i in range(1, 11))
    assert "deeper than" in _error(text)


def test_cli_reports_file_line_and_exit_2(tmp_path):
    bomb, deep, loop = tmp_path / "bomb.yaml", tmp_path / "deep.yaml", tmp_path / "loop.yaml"
    bomb.write_text(billion_laughs())
    deep.write_text("name: x\nrules: " + "[" * 5000 + "]" * 5000 + "\n")
    loop.write_text("name: x\nrules: &r [*r]\n")
    result = CliRunner().invoke(cli, ["constitution", "validate", str(bomb), str(deep), str(loop)])
    assert result.exit_code == 2, result.output
    out = result.output
    assert f"{bomb.name}:" in out and f"{deep.name}:2:" in out and f"{loop.name}:2:" in out
    assert "internal error" not in result.output and "Traceback" not in result.output
    gen = tmp_path / "g.yaml"
    gen.write_text("stage: generate\nquestions: q.jsonl\nindex: idx\nx: &x [*x]\n")
    result = CliRunner().invoke(cli, ["config", "validate", str(gen)])
    assert result.exit_code == 2 and "g.yaml:4:" in result.output and "self-referencing" in result.output


def test_key_value_overrides_are_bounded_too(tmp_path):
    cfg = tmp_path / "g.yaml"
    cfg.write_text("stage: generate\nquestions: q.jsonl\nindex: idx\n")
    result = CliRunner().invoke(cli, ["config", "validate", str(cfg), "seed=" + "[" * 5000 + "]" * 5000])
    assert result.exit_code == 2 and "seed" in result.output and "internal error" not in result.output


def test_audit_reads_a_hostile_run_config_without_expanding_it(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "records.jsonl").write_text("")
    (run / "config.yaml").write_text(billion_laughs())
    result = CliRunner().invoke(cli, ["audit", str(run)])
    assert result.exit_code == 0, result.output
    assert "config.yaml: not valid YAML" in (run / "report.html").read_text()
    with pytest.raises(yaml.YAMLError):
        yaml.load(billion_laughs(), Loader=BoundedLoader)  # noqa: S506 — a bounded SafeLoader


# ------------------------------------------------------------------------- libyaml and PyYAML alike
@pytest.mark.parametrize("loader", LOADERS, ids=lambda loader: loader.__name__)
@pytest.mark.parametrize("text, why", [
    (billion_laughs(), "alias bomb"),
    ("x: " + "[" * 500 + "]" * 500 + "\n", "deeper than"),  # libyaml's scanner stops at 1000 by itself
    ("m: &m {a: 1, b: *m}\n", "self-referencing alias"),
], ids=["bomb", "deep", "loop"])
def test_each_loader_bounds_what_it_composes(loader, text, why):
    """parse_yaml falls back to PyYAML's parser when libyaml's path fails, so its own bounds are
    checked here, on each loader alone."""
    with pytest.raises(yaml.composer.ComposerError, match=why):
        yaml.compose(text, Loader=loader)


def test_libyaml_reads_every_file_as_pyyaml_does(monkeypatch):
    if yamlfile._LibyamlBoundedLoader is None:
        pytest.skip("PyYAML was built without libyaml")
    files = sorted(glob.glob("constitution/*.yaml") + glob.glob("examples/**/*.yaml", recursive=True))
    texts = [open(f, encoding="utf-8").read() for f in files] + [
        "\ufeffé: 'ünï — 日本語'\nb:\n  - {x: 1, y: [1, 2.5e3, yes, ~, 0x1f, 2001-12-14]}\n  - |\n    ä\n    b\n",
        "base: &b {severity: major, weight: 2}\nrule:\n  <<: *b\n  weight: 3\n"]
    assert len(files) >= 3
    fast = [parse_yaml(text, "c.yaml") for text in texts]
    monkeypatch.setattr(yamlfile, "_LibyamlBoundedLoader", None)  # PyYAML's pure-Python parser
    for text, doc in zip(texts, fast, strict=True):
        reference = parse_yaml(text, "c.yaml")
        assert (doc.data, doc.value_marks, doc.key_marks) == (reference.data, reference.value_marks,
                                                                reference.key_marks)


def test_syntax_errors_keep_pyyaml_wording():
    # libyaml says "... not allowed in this context" and places an unclosed list at the next line
    assert _error("name: x\na: b: c\n") == "c.yaml:2:5: invalid YAML: mapping values are not allowed here"
    assert _error("a: [1, 2") == "c.yaml:1:9: invalid YAML: expected ',' or ']', but got '<stream end>'"
