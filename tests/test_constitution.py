"""Constitution loading, overlays and the shipped files."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core.assets import shipped_constitutions as shipped_dir
from cai.core.constitution import load_constitution, shipped_names
from cai.core.errors import UserError


def test_shipped_files_validate():
    files = sorted(str(p) for p in shipped_dir().glob("*.yaml"))
    assert {"faithfulness", "finance-10k"} <= set(shipped_names())
    result = CliRunner().invoke(cli, ["constitution", "validate", *files])
    assert result.exit_code == 0, result.output


def test_finance_extends_faithfulness_with_origins():
    base = load_constitution("faithfulness")
    fin = load_constitution("finance-10k")
    assert fin.chain == ["faithfulness", "finance-10k"]
    base_ids = [r.id for r in base.rules]
    fin_ids = [r.id for r in fin.rules]
    assert fin_ids[: len(base_ids)] == base_ids  # parent order kept, children appended
    assert {"gaap-vs-non-gaap", "no-investment-advice", "forward-looking-marked", "units-as-filed"} <= set(fin_ids)
    over = fin.rule("entities-and-periods-match")
    assert over.weight == 3.0 and "filer's fiscal year" in over.principle
    assert over.critique == base.rule("entities-and-periods-match").critique  # inherited field
    assert "overrides" in over.origin and "finance-10k.yaml" in over.origin
    assert fin.rule("claims-supported").origin == base.rule("claims-supported").origin


def test_show_prints_merged_rules_with_origin():
    result = CliRunner().invoke(cli, ["constitution", "show", "finance-10k"])
    assert result.exit_code == 0, result.output
    assert "faithfulness → finance-10k" in result.output
    assert "gaap-vs-non-gaap" in result.output
    assert "faithfulness.yaml:" in result.output and "finance-10k.yaml:" in result.output
    assert "overrides" in result.output


def test_overlay_override_disable_add(tmp_path):
    child = tmp_path / "child.yaml"
    child.write_text(
        "name: child\nextends: faithfulness\ndisable: [concise]\n"
        "rules:\n"
        "  - id: claims-supported\n    severity: minor\n"
        "  - id: plain-language\n    principle: Use plain words.\n"
        "    critique: Find jargon.\n    revision: Replace it.\n"
        "comparison_principles:\n  - id: plainer\n    principle: Which answer is plainer?\n"
    )
    c = load_constitution(str(child))
    ids = [r.id for r in c.rules]
    assert "concise" not in ids and ids[-1] == "plain-language"
    assert c.rule("claims-supported").severity == "minor"
    assert c.rule("claims-supported").checks.enabled() == {"claims_supported": {"min_score": 0.5}}
    assert c.comparison_principles[-1].id == "plainer"
    assert c.content_hash() != load_constitution("faithfulness").content_hash()


def test_hash_ignores_file_location(tmp_path):
    src = (shipped_dir() / "faithfulness.yaml").read_text()
    (tmp_path / "copy.yaml").write_text(src)
    copied = load_constitution(str(tmp_path / "copy.yaml"))
    assert copied.content_hash() == load_constitution("faithfulness").content_hash()


def test_relative_parent_path(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "parent.yaml").write_text(
        "name: p\nrules:\n  - id: a\n    principle: p\n    critique: c\n    revision: r\n")
    (tmp_path / "sub" / "child.yaml").write_text("name: c\nextends: ../parent.yaml\nrules:\n  - id: a\n    weight: 2\n")
    c = load_constitution(str(tmp_path / "sub" / "child.yaml"))
    assert c.rule("a").weight == 2 and c.chain == ["p", "c"]


def test_rule_applies_filters(tmp_path):
    f = tmp_path / "f.yaml"
    f.write_text("name: f\nrules:\n  - id: q\n    principle: p\n    critique: c\n    revision: r\n"
                 "    applies_to:\n      tags: [numeric]\n      question_matches: '(?i)revenue'\n")
    rule = load_constitution(str(f)).rule("q")
    assert rule.applies("What was revenue?", tags=["numeric"])
    assert not rule.applies("What was revenue?", tags=["other"])
    assert not rule.applies("What was capex?", tags=["numeric"])


def test_unknown_name_lists_shipped():
    with pytest.raises(UserError) as e:
        load_constitution("no-such-name")
    assert "finance-10k" in str(e.value)
