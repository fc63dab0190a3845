"""The `openai` teacher backend against a real `transformers serve` on CPU (issue #5).

One server (a subprocess on a free port, its process group killed at the end) serves two tiny
local models, both built here from a config with the offline MiniLM tokenizer (`cai.training.smoke`):

- `random`: the smoke policy, random weights. Its replies are greedy (temperature 0) garbage, so
  a structured call gets the one repair turn and then fails with the reason; a `cai generate`
  run records every question as failed, none lost, and the process exits normally.
- `scripted`: a hand-wired model that always answers with one fixed JSON object (an added token,
  then EOS). `transformers serve` has no guided decoding — it accepts `response_format` and
  ignores it — so this is how a real server returns valid JSON: every structured reply parses
  and a `cai generate` run finishes, every teacher call in the run's call cache.

What the server does is read back from its uvicorn access log (one line per request), so the
tests count real HTTP requests, not client-side bookkeeping.

Skips (with the reason) when the serving extras (fastapi, uvicorn) are missing or the server does
not come up, unless CAI_REQUIRE_SERVE=1 (set by .ci/run), where that fails the test instead.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core.configs import TeacherConfig
from cai.core.prompts import AnswerReply, CritiqueReply, JudgeReply
from cai.core.runs import read_jsonl
from cai.llm.cache import CallCache
from cai.llm.chat import TeacherCallFailed
from cai.llm.openai_chat import OpenAIChat
from cai.training.smoke import build_smoke_policy, smoke_tokenizer

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "examples" / "quickstart" / "questions.jsonl"
START_TIMEOUT_S = 180  # imports dominate the start-up, longer still on busy cores
SCRIPTED = {"answer": "The filings give no figure for this [scripted].", "violations": [],
            "reasoning": "scripted", "preferred": "A", "confidence": 0.75}
SCRIPTED_TEXT = json.dumps(SCRIPTED)
POST_LINE = re.compile(r'"POST /v1/chat/completions HTTP/1\.1" (\d{3})')

# Slow setup alone (server start and the example index, side by side); `slow` is informational:
# the README's `pytest -q` and .ci/run run it.
pytestmark = pytest.mark.slow


def _skip_or_fail(reason: str):
    if os.environ.get("CAI_REQUIRE_SERVE") == "1":
        pytest.fail(reason + " (CAI_REQUIRE_SERVE=1)")
    pytest.skip(reason)


def build_scripted_model(out_dir: Path) -> Path:
    """A 1-layer Llama whose greedy reply to any prompt is SCRIPTED_TEXT, then EOS.

    SCRIPTED_TEXT is one added token (not normalised, so decoding keeps it verbatim). The blocks'
    output projections are zero, so the last hidden state is the current token's embedding: every
    token embeds on axis 0 and predicts the JSON token; the JSON token embeds on axis 1 and
    predicts EOS.
    """
    import torch
    from tokenizers import AddedToken
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = smoke_tokenizer()
    tok.add_tokens([AddedToken(SCRIPTED_TEXT, normalized=False)])
    reply_id = tok.convert_tokens_to_ids(SCRIPTED_TEXT)
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=4096, bos_token_id=tok.cls_token_id,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
        emb, head = model.model.embed_tokens.weight, model.lm_head.weight
        emb[:, 0] = 1.0
        emb[reply_id] = 0.0
        emb[reply_id, 1] = 1.0
        head[reply_id, 0] = 10.0
        head[tok.eos_token_id, 1] = 10.0
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir


class ServeProcess:
    """`transformers serve` in its own process group, logging to a file."""

    def __init__(self, log_path: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log_path = log_path
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1",
               "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
        cmd = [sys.executable, "-m", "transformers.cli.transformers", "serve", "--device", "cpu",
               "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True)
        self.started = time.monotonic()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self, timeout_s: float) -> str | None:
        """None once /health answers 200; otherwise why not (exited, or timed out) with the log tail."""
        while time.monotonic() - self.started < timeout_s:
            if self.proc.poll() is not None:
                return f"`transformers serve` exited with {self.proc.returncode}:\n{self.log()[-3000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return None
            except OSError:
                pass
            time.sleep(0.25)
        return f"`transformers serve` not healthy after {timeout_s:.0f} s:\n{self.log()[-3000:]}"

    def posts(self) -> list[int]:
        """Status codes of the chat-completion requests the server has answered, in order."""
        return [int(code) for code in POST_LINE.findall(self.log())]

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("serve-models")
    return {"random": build_smoke_policy(root / "random"), "scripted": build_scripted_model(root / "scripted")}


@pytest.fixture(scope="module")
def serve(request, tmp_path_factory) -> ServeProcess:
    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        _skip_or_fail(f"`transformers serve` needs {', '.join(missing)} (pip install -e '.[dev]')")
    srv = ServeProcess(tmp_path_factory.mktemp("serve") / "serve.log")
    request.addfinalizer(srv.stop)
    # built while the server imports (both slow, so side by side); the server loads a model per request
    request.getfixturevalue("example_index")
    request.getfixturevalue("models")
    if (why := srv.wait_healthy(START_TIMEOUT_S)) is not None:
        _skip_or_fail(why)
    return srv


def _chat(serve: ServeProcess, model: Path, cache: CallCache | None = None, **kw) -> OpenAIChat:
    cfg = {"backend": "openai", "model": str(model), "endpoints": [{"base_url": serve.base_url}],
           "timeout_s": 60, "max_retries": 1, "max_tokens": 8, "temperature": 0.0, **kw}
    return OpenAIChat(TeacherConfig.model_validate(cfg), cache)


def _run(chat: OpenAIChat, coro):
    async def go():
        try:
            return await coro
        finally:
            await chat.aclose()

    return asyncio.run(go())


def _prompt_tokens(model: Path, messages: list[dict]) -> int:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    return len(tok.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"])


def _local_greedy(model: Path, messages: list[dict], max_new_tokens: int) -> tuple[str, int]:
    """The model's greedy reply computed here, in-process: (text as the server decodes it, tokens)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    lm = AutoModelForCausalLM.from_pretrained(model)
    inputs = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = lm.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)[0, inputs["input_ids"].shape[1]:]
    return tok.decode(out, skip_special_tokens=True), len(out)


def _cache_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]


# ------------------------------------------------------------------------------ client, one call
def test_plain_reply_is_the_models_greedy_reply_with_usage_and_cache(serve, models, tmp_path, one_torch_thread):
    # One torch thread here, as in the server (OMP_NUM_THREADS=1): the same float sums, the same argmax.
    # A random model may reply with only special tokens (decoded to ""): take a prompt it answers in words.
    candidates = ["hello there", "What was Halvorsen Tidewater's total revenue for fiscal 2024?", "revenue",
                  "cash flow"]
    for question in candidates:
        msgs = [{"role": "user", "content": question}]
        text, n_tokens = _local_greedy(models["random"], msgs, 8)
        if text.strip():
            break
    else:
        pytest.fail(f"the random smoke policy replies to none of {candidates} with text")
    cache = CallCache(tmp_path / "cache.sqlite")
    before = len(serve.posts())

    chat = _chat(serve, models["random"], cache)
    reply = _run(chat, chat.chat(msgs))
    assert reply.text == text and reply.attempts == 1 and not reply.cached  # served by our model, greedily
    assert reply.prompt_tokens == _prompt_tokens(models["random"], msgs)  # the server applied our chat template
    assert reply.completion_tokens == n_tokens  # and honoured max_tokens
    assert chat.usage.calls == 1 and chat.usage.prompt_tokens == reply.prompt_tokens
    assert cache.get(reply.call_id)["text"] == reply.text

    cached = _chat(serve, models["random"], CallCache(tmp_path / "cache.sqlite"))
    again = _run(cached, cached.chat(msgs))
    assert again.cached and again.text == reply.text and again.call_id == reply.call_id
    assert cached.usage.calls == 0 and cached.usage.cached_calls == 1
    assert serve.posts()[before:] == [200]  # the cached call never reached the server


def test_garbage_json_gets_one_repair_turn_then_fails_with_the_reason(serve, models, tmp_path):
    msgs = [{"role": "user", "content": "Reply with a JSON object with the key answer."}]
    cache = CallCache(tmp_path / "cache.sqlite")
    before = len(serve.posts())
    chat = _chat(serve, models["random"], cache)
    with pytest.raises(TeacherCallFailed, match=r"gave up after 2 attempts: unparseable output"):
        _run(chat, chat.chat(msgs, response_model=AnswerReply))
    assert chat.usage.calls == 2 and chat.usage.failures == 1
    # the repair turn resends the task plus the bad reply and the error: a longer prompt
    assert chat.usage.prompt_tokens > 2 * _prompt_tokens(models["random"], msgs)
    # transformers serve accepts response_format and ignores it (no 400), so no fallback is needed
    assert serve.posts()[before:] == [200, 200] and chat._endpoints[0].json_schema_ok
    assert _cache_rows(tmp_path / "cache.sqlite") == 0  # failures are not cached


def test_scripted_model_replies_parse_for_every_reply_schema(serve, models):
    msgs = [{"role": "user", "content": "Critique, revise or judge: reply with JSON."}]
    chat = _chat(serve, models["scripted"])

    async def three():
        return await asyncio.gather(*[chat.chat(msgs, response_model=m)
                                      for m in (AnswerReply, CritiqueReply, JudgeReply)])

    answer, critique, judge = _run(chat, three())
    assert answer.parsed == {"answer": SCRIPTED["answer"]}
    assert critique.parsed == {"violations": []}
    assert judge.parsed == {"reasoning": "scripted", "preferred": "A", "confidence": 0.75}
    for r in (answer, critique, judge):
        assert r.text == SCRIPTED_TEXT and r.attempts == 1
        assert r.completion_tokens in (1, 2)  # the JSON token (+ EOS, as the server counts it)
    assert chat.usage.calls == 3 and chat.usage.failures == 0


# ------------------------------------------------------------------------- `cai generate`, end to end
def _generate_config(tmp_path: Path, index: Path, model: Path, n_questions: int, **teacher) -> tuple[Path, list[str]]:
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines()][:n_questions]
    for row in rows[::2]:
        row.pop("answer")  # half the questions get a teacher draft
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = {"questions": str(questions), "index": str(index), "constitution": "finance-10k",
           "runs_dir": str(tmp_path / "runs"),
           "teacher": {"backend": "openai", "model": str(model), "endpoints": [{"base_url": teacher.pop("base_url")}],
                       "max_concurrency": 2, "max_retries": 1, "max_tokens": 8, "timeout_s": 60, **teacher}}
    path = tmp_path / "generate.yaml"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    return path, [r["id"] for r in rows]


def _generate(config: Path, *extra: str) -> tuple[Path, str]:
    result = CliRunner().invoke(cli, ["generate", str(config), *extra])
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1]), result.output


def test_generate_with_a_garbage_teacher_records_every_question_as_failed(serve, models, example_index, tmp_path):
    config, ids = _generate_config(tmp_path, example_index, models["random"], 4, base_url=serve.base_url)
    before = len(serve.posts())
    result = CliRunner().invoke(cli, ["generate", str(config)])
    # every question failed: exit 2 with a summary naming the commonest error and the resume command
    assert result.exit_code == 2 and "every question failed (4 of 4)" in result.output, result.output
    assert "unparseable output" in result.output and "--resume" in result.output
    run_dir = next((tmp_path / "runs").iterdir())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "every question failed" in manifest["reason"]
    assert manifest["counts"]["records"] == 0 and manifest["counts"]["failed"] == 4
    failed = {obj["id"]: obj for _, obj in read_jsonl(run_dir / "failed.jsonl")}
    assert sorted(failed) == sorted(ids)  # no question lost
    assert all(f["status"] == "failed" and "gave up after 2 attempts: unparseable output" in f["error"]
               for f in failed.values())
    # each question: its first structured call (draft or critique) and the repair turn
    usage = manifest["usage"]
    assert usage["calls"] == 8 and usage["failures"] == 4 and usage["prompt_tokens"] > 0
    assert serve.posts()[before:] == [200] * 8
    assert _cache_rows(run_dir / "teacher_cache.sqlite") == 0


def test_generate_with_a_scripted_teacher_finishes_and_caches_every_call(serve, models, example_index, tmp_path):
    config, ids = _generate_config(tmp_path, example_index, models["scripted"], 4, base_url=serve.base_url)
    data = json.loads(config.read_text())
    data["judge"] = {"enabled": True, "n_principles": 1}
    config.write_text(json.dumps(data))
    before = len(serve.posts())
    run_dir, _ = _generate(config)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["counts"]["records"] == 4 and manifest["counts"]["failed"] == 0
    records = {obj["id"]: obj for _, obj in read_jsonl(run_dir / "records.jsonl")}
    assert sorted(records) == sorted(ids)
    drafted = [r for r in records.values() if r["draft_source"] == "teacher"]
    assert len(drafted) == 2 and all(r["draft"] == SCRIPTED["answer"] for r in drafted)
    for r in records.values():
        assert r["rounds"] and r["teacher_call_ids"]
        for rnd in r["rounds"]:  # the teacher found nothing; any violation is a machine check's
            assert rnd["critique"]["teacher_call_id"] in r["teacher_call_ids"]
            if rnd.get("revision"):
                assert rnd["revision"]["text"] == SCRIPTED["answer"]
    # the judge ran on the input drafts (draft ≠ final) but always answers "A": inconsistent across
    # the two orders, so its pairs are dropped and only revision pairs remain
    for r in records.values():
        if r["draft_source"] == "input":
            assert len(r["teacher_call_ids"]) == sum(1 + bool(rnd.get("revision")) for rnd in r["rounds"]) + 2
        assert r["judge_pairs"] == []
    # its scripted revision ("The filings give no figure for this") fixes nothing the checker supports, so it
    # is never the chosen side of a pair (issue #17: pairs carry a real difference)
    assert manifest["counts"]["preferences"] == manifest["counts"]["revision_pairs"] == 0
    # every call reached the server once and is in the run's cache; repeats were served from it
    cache = CallCache(run_dir / "teacher_cache.sqlite")
    call_ids = {c for r in records.values() for c in r["teacher_call_ids"]}
    assert all(cache.get(c) is not None for c in call_ids)
    usage = manifest["usage"]
    assert usage["failures"] == 0 and usage["calls"] == _cache_rows(run_dir / "teacher_cache.sqlite") == len(call_ids)
    assert serve.posts()[before:] == [200] * usage["calls"]
