"""The CLI skeleton: every command has --help; exit codes 0/1/2; unbuilt stages say so."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from cai.cli import cli

COMMANDS = [
    ["ingest"], ["search"], ["constitution"], ["constitution", "validate"], ["constitution", "show"],
    ["config"], ["config", "validate"], ["config", "template"], ["generate"], ["score"], ["train"],
    ["answer"], ["audit"], ["review"], ["eval"],
]


def test_top_level_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ["ingest", "search", "constitution", "config", "generate", "score", "train", "answer", "audit",
                 "review", "eval"]:
        assert f"  {name} " in result.output


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_every_subcommand_has_help(args):
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: cai " + " ".join(args) in result.output


def test_stage_help_documents_config_keys():
    out = CliRunner().invoke(cli, ["generate", "--help"]).output
    assert "teacher.backend" in out and "grounded" in out and "retrieval.k" in out
    out = CliRunner().invoke(cli, ["train", "--help"]).output
    assert "policy.model" in out and "stages" in out


def test_config_stages_validate_before_saying_not_available(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "q.jsonl").write_text("")
    (tmp_path / "idx").mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "g.yaml").write_text("questions: q.jsonl\nindex: idx\n")
    (tmp_path / "t.yaml").write_text("data: run\npolicy: {model: m}\n")
    (tmp_path / "e.yaml").write_text("questions: q.jsonl\nindex: idx\ntargets: [{name: base, answers: q.jsonl}]\n")
    for cmd, path in [("generate", "g.yaml"), ("train", "t.yaml"), ("eval", "e.yaml")]:
        bad = CliRunner().invoke(cli, [cmd, path, "seed=x"])
        assert bad.exit_code == 2 and "seed" in bad.output and "not available" not in bad.output
    empty_eval = CliRunner().invoke(cli, ["eval", "e.yaml"])  # valid config, empty questions file
    assert empty_eval.exit_code == 2 and "no valid questions" in empty_eval.output and not (tmp_path / "runs").exists()
    not_a_run = CliRunner().invoke(cli, ["train", "t.yaml"])  # valid config, but `run` holds no generate run
    assert not_a_run.exit_code == 2 and "no sft.jsonl" in not_a_run.output
    empty = CliRunner().invoke(cli, ["generate", "g.yaml"])  # valid config, empty questions file
    assert empty.exit_code == 2 and "no valid questions" in empty.output


def test_verbose_shows_traceback_and_internal_errors_exit_1(tmp_path):
    run = [sys.executable, "-m", "cai.cli"]
    quiet = subprocess.run([*run, "constitution", "show", str(tmp_path / "none.yaml")], capture_output=True, text=True)
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    loud = subprocess.run([*run, "--verbose", "constitution", "show", str(tmp_path / "none.yaml")],
                          capture_output=True, text=True)
    assert loud.returncode == 2 and "Traceback" in loud.stderr
    # An unreadable directory given as a config is a user error, not a crash.
    res = subprocess.run([*run, "config", "validate", str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 2 and "is a directory" in res.stderr


def test_config_template_prints_yaml():
    result = CliRunner().invoke(cli, ["config", "template", "train"])
    assert result.exit_code == 0 and "policy:" in result.output and "# LoRA rank." in result.output


def test_import_of_cli_is_light():
    code = ("import sys, cai.cli; heavy = [m for m in ('torch', 'trl', 'faiss', 'transformers') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
