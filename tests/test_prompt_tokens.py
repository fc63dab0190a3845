"""`cai generate --dry-run` token counts: the teacher's tokenizer when it is known offline, else a
labelled estimate (issue #22 part 3)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core.configs import TeacherConfig
from cai.core.errors import UserError
from cai.core.prompts import SYSTEM
from cai.llm.tokens import estimate_tokens, prompt_counter
from tests.openai_server import FakeOpenAIServer
from tests.test_generate import _openai_config, scripted_teacher

MESSAGES = [{"role": "system", "content": "You check answers against sources."},
            {"role": "user", "content": "What was Halvorsen Tidewater's total revenue for fiscal 2024? "
                                        "Reply as JSON: {\"answer\": \"...\"}"}]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    """A local tokenizer with a chat template (the smoke policy's, from the offline MiniLM)."""
    from cai.training.smoke import smoke_tokenizer

    out = tmp_path_factory.mktemp("tokenizer")
    smoke_tokenizer().save_pretrained(out)
    return out


def _teacher(**kw) -> TeacherConfig:
    return TeacherConfig.model_validate({"backend": "openai", "endpoints": [{"base_url": "http://127.0.0.1:9/v1"}],
                                         **kw})


def _templated(path: Path, messages: list[dict]) -> int:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    return len(tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
               ["input_ids"])


def test_a_configured_or_local_tokenizer_counts_through_the_chat_template(tokenizer_dir):
    expected = _templated(tokenizer_dir, MESSAGES)
    for teacher in (_teacher(tokenizer=str(tokenizer_dir)), _teacher(model=str(tokenizer_dir))):
        counter = prompt_counter(teacher)
        assert counter.count(MESSAGES) == expected
        assert counter.label(MESSAGES) == f"{expected} tokens, teacher tokenizer {tokenizer_dir}"
    assert expected != estimate_tokens(MESSAGES)  # the template's tokens are what a server counts


def test_an_unknown_model_gets_a_labelled_estimate():
    counter = prompt_counter(_teacher(model="surely-not-a-cached-model-xyz"))
    label = counter.label(MESSAGES)
    assert label.startswith(f"≈{estimate_tokens(MESSAGES)} tokens, estimate: 1.3 per word; ")
    assert "set teacher.tokenizer" in label


def test_a_configured_tokenizer_that_is_not_here_is_an_error_not_a_download():
    with pytest.raises(UserError, match=r"teacher.tokenizer: 'nobody/no-such-tokenizer-xyz' cannot be loaded "
                                        r"offline"):
        prompt_counter(_teacher(tokenizer="nobody/no-such-tokenizer-xyz"))


def test_dry_run_prints_the_teacher_tokenizer_count(tmp_path, example_index, tokenizer_dir):
    with FakeOpenAIServer(reply=scripted_teacher) as srv:
        config = _openai_config(tmp_path, example_index, srv.base_url, 1)
        runner = CliRunner()
        exact = runner.invoke(cli, ["generate", str(config), f"teacher.tokenizer={tokenizer_dir}", "--dry-run", "1"])
        missing = runner.invoke(cli, ["generate", str(config), "teacher.tokenizer=nobody/no-such-xyz",
                                      "--dry-run", "1"])
    assert exact.exit_code == 0, exact.output
    found = re.search(r"--- critique prompt \((\d+) tokens, teacher tokenizer (\S+)\)\n(.*?)\n--- policy prompt \(≈",
                      exact.output, re.S)
    assert found and found.group(2) == str(tokenizer_dir)
    shown = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": found.group(3)}]
    assert int(found.group(1)) == _templated(tokenizer_dir, shown)
    assert missing.exit_code == 2 and missing.output.count("\n") == 1
    assert missing.output.startswith("error: teacher.tokenizer: 'nobody/no-such-xyz' cannot be loaded offline")
    assert json.loads(config.read_text())["teacher"]["model"] == "scripted"  # no tokenizer for it: estimates
