"""On-policy drafts (issue #18, `drafter:` in the generate config; cai/stages/drafting.py): the policy
drafts every question from its retrieved sources under the policy prompt, in batches; drafts are
cached, so `--resume` and a run sharing `drafter.cache` generate none again; the manifest and the
dataset card name the drafter; a bad drafter config is one line, exit 2, before any run exists.

The drafter here is the tiny random smoke policy (`cai-smoke-policy`, built into the run directory),
sampled at temperature 1 so its drafts hold text (its greedy output is special tokens only)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core.contracts import SearchHit
from cai.core.prompts import policy_messages
from cai.core.runs import read_jsonl
from cai.training.policy import Policy

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "examples" / "quickstart" / "questions.jsonl"
LIMIT = 5


def _config(tmp_path: Path, index: Path, **drafter) -> Path:
    cfg = {"questions": str(QUESTIONS), "index": str(index), "constitution": "finance-10k", "limit": LIMIT,
           "runs_dir": str(tmp_path / "runs"), "teacher": {"backend": "grounded"}, "drafter": drafter}
    path = tmp_path / "generate.yaml"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    return path


def _generate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["generate", *args])
    return result.exit_code, result.output


@pytest.fixture
def generation_calls(monkeypatch) -> list[int]:
    """The rows of every batched generation the policy runs (in process: the drafter's thread)."""
    calls: list[int] = []
    real = Policy.generate_batch

    def counted(self, items, **kwargs):
        calls.append(len(items))
        return real(self, items, **kwargs)

    monkeypatch.setattr(Policy, "generate_batch", counted)
    return calls


def test_policy_drafts_are_batched_cached_and_never_generated_again(tmp_path, example_index, generation_calls):
    shared = tmp_path / "drafts.sqlite"
    cfg = _config(tmp_path, example_index, model="cai-smoke-policy", max_new_tokens=12, batch_size=2,
                  temperature=1.0, cache=str(shared))
    code, out = _generate(str(cfg))
    assert code == 0, out
    run = Path(out.strip().splitlines()[-1])
    # One window of 5 questions, drafted in batches of 2 (2 + 2 + 1), never one call per question.
    assert generation_calls == [2, 2, 1]
    records = {obj["id"]: obj for _, obj in read_jsonl(run / "records.jsonl")}
    assert len(records) == LIMIT and {r["draft_source"] for r in records.values()} == {"policy"}
    stored = sqlite3.connect(shared).execute("SELECT key, request, response FROM calls").fetchall()
    by_key = {key: (json.loads(request), json.loads(response)["text"]) for key, request, response in stored}
    assert len(by_key) == LIMIT
    for r in records.values():
        request, text = by_key[r["metadata"]["draft_call_id"]]
        assert r["draft"] == text and text.strip()  # the record's draft is the policy's sample
        # On-policy: the prompt is the policy prompt (SFT, PPO, answer, eval) over the record's own sources.
        hits = [SearchHit.model_validate(h) for h in r["sources"]]
        assert request["messages"] == policy_messages(r["question"], hits)
        assert request["temperature"] == 1.0 and request["max_new_tokens"] == 12
    manifest = json.loads((run / "manifest.json").read_text())
    drafter = manifest["drafter"]
    assert drafter["model"] == "cai-smoke-policy" and drafter["loaded_from"] == str(run / "smoke-policy")
    assert drafter["weights"].startswith("sha256:") and (drafter["generated"], drafter["reused_from_cache"]) == (5, 0)
    assert manifest["counts"]["draft_sources"] == {"policy": LIMIT}
    assert "5 from the policy. The policy `cai-smoke-policy`" in (run / "README.md").read_text()

    # --resume after losing the last records: their drafts come from the cache, none is generated.
    lines = (run / "records.jsonl").read_text().splitlines(keepends=True)
    (run / "records.jsonl").write_text("".join(lines[:2]))
    generation_calls.clear()
    code, out = _generate(str(run / "config.yaml"), "--resume", str(run))
    assert code == 0, out
    assert generation_calls == []
    resumed = {obj["id"]: obj for _, obj in read_jsonl(run / "records.jsonl")}
    assert {i: r["draft"] for i, r in resumed.items()} == {i: r["draft"] for i, r in records.items()}
    assert json.loads((run / "manifest.json").read_text())["drafter"]["reused_from_cache"] == LIMIT - 2

    # A second run sharing the cache: the same model (the smoke policy is built the same every time),
    # prompts and sampling settings, so every draft is a cache hit.
    code, out = _generate(str(cfg))
    assert code == 0, out
    again = Path(out.strip().splitlines()[-1])
    assert again != run and generation_calls == []
    assert {obj["id"]: obj["draft"] for _, obj in read_jsonl(again / "records.jsonl")} == \
        {i: r["draft"] for i, r in records.items()}


def _one_line_exit_2(args: list[str]) -> str:
    code, out = _generate(*args)
    lines = out.strip().splitlines()
    assert code == 2 and len(lines) == 1, out
    return lines[0]


def test_a_bad_drafter_is_one_line_exit_2_before_any_run(tmp_path, example_index):
    cfg = _config(tmp_path, example_index, model="cai-smoke-policy")
    line = _one_line_exit_2([str(cfg), f"drafter.adapter={tmp_path / 'no-such-adapter'}"])
    assert "drafter.adapter" in line and "no such directory" in line and "cai train" in line
    not_lora = tmp_path / "not-lora"
    not_lora.mkdir()
    line = _one_line_exit_2([str(cfg), f"drafter.adapter={not_lora}"])
    assert "drafter.adapter" in line and "not a LoRA adapter" in line
    # An adapter trained on another base than drafter.model: said before the model is loaded.
    other = tmp_path / "other-adapter"
    other.mkdir()
    (other / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "some-org/other-model"}))
    base = tmp_path / "base-model"
    base.mkdir()
    line = _one_line_exit_2([str(cfg), f"drafter.model={base}", f"drafter.adapter={other}"])
    assert "drafter.adapter" in line and "some-org/other-model" in line and "drafter.model" in line
    line = _one_line_exit_2([str(cfg), "drafter.model=null"])
    assert "drafter" in line and "give drafter.model" in line
    line = _one_line_exit_2([str(cfg), f"drafter.model={tmp_path / 'missing-model'}"])
    assert "drafter.model" in line and "no such directory" in line
    assert not (tmp_path / "runs").exists()  # nothing was started
