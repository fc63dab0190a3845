"""Structured output across server families (issue #22 part 1), against the fault-injecting server
configured as each family: the shapes it takes, and its status and message for any other."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from cai.cli import cli
from cai.core.configs import TeacherConfig
from cai.llm.cache import CallCache
from cai.llm.chat import TeacherCallFailed, request_key
from cai.llm.openai_chat import OpenAIChat
from cai.llm.structured import AUTO_ORDER, names_format, request_fields
from tests.openai_server import FAMILIES, FakeOpenAIServer, shape
from tests.test_generate import _openai_config, scripted_teacher

# The mode `auto` settles on for each family, and the modes refused on the way.
SETTLES = {"openai": "json_schema", "vllm": "json_schema", "sglang": "json_schema", "transformers_serve": "json_schema",
           "llama_cpp": "json_object_schema", "tgi": "tgi_grammar", "ollama": "ollama_format"}
FENCED = 'Here you go: ```json\n{"answer": "fenced", "n": 1}\n```'


class Answer(BaseModel):
    answer: str
    n: int


def reply(messages, body) -> str:
    return json.dumps({"answer": "ok", "n": len(messages)})


def _cfg(url: str, **endpoint) -> TeacherConfig:
    return TeacherConfig.model_validate({"backend": "openai", "model": "m", "timeout_s": 5, "max_retries": 3,
                                         "endpoints": [{"base_url": url, **endpoint}]})


def _calls(chat: OpenAIChat, n: int, tag: str = "q", model=Answer):
    async def go():
        try:
            return await asyncio.gather(*[chat.chat([{"role": "user", "content": f"{tag}{i}"}], response_model=model)
                                          for i in range(n)])
        finally:
            await chat.aclose()
    return asyncio.run(go())


def _on_the_way(family: str) -> tuple[str, ...]:
    """The modes `auto` tries, and the family refuses, before the one it settles on."""
    return () if family == "transformers_serve" else AUTO_ORDER[: AUTO_ORDER.index(SETTLES[family])]


def _refused(srv: FakeOpenAIServer) -> dict[str, int]:
    return {k.split(":", 1)[1]: v for k, v in srv.stats.items() if k.startswith("refused:")}


def test_every_mode_sends_the_shape_its_servers_read():
    """The client's request fields, read back by the fake's own parser of each server's shape."""
    schema = Answer.model_json_schema()
    for mode in AUTO_ORDER:
        assert shape(request_fields(mode, "Answer", schema)) == ([] if mode == "none" else [mode]), mode
    assert set(SETTLES) == set(FAMILIES)


@pytest.mark.parametrize("family", sorted(SETTLES))
def test_auto_probes_once_and_settles_on_the_family_mode(family):
    expected, before = SETTLES[family], _on_the_way(family)
    with FakeOpenAIServer(family=family, reply=reply) as srv:
        chat = OpenAIChat(_cfg(srv.base_url).model_copy(update={"max_concurrency": 8}))
        replies = _calls(chat, 20)
    assert [r.parsed for r in replies] == [{"answer": "ok", "n": 1}] * 20
    # 20 concurrent first calls: one probe walks the refused modes once, the others wait for its outcome
    assert _refused(srv) == {m: 1 for m in before}
    assert srv.stats["requests"] == 20 + len(before) and srv.stats[f"shape:{expected}"] == 20
    assert chat.usage.retries == 0 and chat.usage.failures == 0
    record = chat.usage.as_dict()["endpoints"][0]
    assert record["mode"] == expected and record["structured_output"] == "auto"
    assert sorted(record["rejected"]) == sorted(before)
    assert all(why.startswith(f"HTTP {FAMILIES[family].status}:") for why in record["rejected"].values())


@pytest.mark.parametrize(("status", "message", "refusal"), [
    (500, "Input should be 'text' or 'json_object'", True),  # llama-cpp-python
    (422, "response_format: unknown variant `json_schema`, expected `json` or `regex`", True),  # TGI
    (400, "Grammar error: the JSON schema has an unsupported keyword", True),
    (400, "unknown field 'format'", True),
    (400, "This model's maximum context length is 2048 tokens", False),
    (400, "Invalid message format", False),  # about the request, not structured output
    (500, "boom", False),
    (429, "response_format rate limited", False),
])
def test_which_answers_are_refusals_of_the_format(status, message, refusal):
    assert names_format(status, message) is refusal


def test_a_500_naming_the_format_falls_back_at_once_but_a_plain_500_is_retried():
    with FakeOpenAIServer(family="llama_cpp", reply=reply) as srv:
        chat = OpenAIChat(_cfg(srv.base_url).model_copy(update={"max_retries": 0}))
        (one,) = _calls(chat, 1)
    assert one.parsed["answer"] == "ok" and one.attempts == 1  # the fallback used no attempt
    assert srv.stats["requests"] == 2 and chat.usage.retries == 0
    with FakeOpenAIServer(fault_rate=1.0, faults=("500",), reply=reply) as srv:
        chat = OpenAIChat(_cfg(srv.base_url).model_copy(update={"max_retries": 2}))
        with pytest.raises(TeacherCallFailed, match="gave up after 3 attempts: .*InternalServerError"):
            _calls(chat, 1)
    assert srv.stats["requests"] == 3  # "boom" names no format: a transient error, retried


def test_an_explicit_mode_is_sent_as_is_and_a_refusal_ends_the_call():
    with FakeOpenAIServer(family="tgi", reply=reply) as srv:
        (ok,) = _calls(OpenAIChat(_cfg(srv.base_url, structured_output="tgi_grammar")), 1)
        assert ok.parsed["answer"] == "ok" and srv.stats["requests"] == 1
        chat = OpenAIChat(_cfg(srv.base_url, structured_output="json_schema"))
        with pytest.raises(TeacherCallFailed, match=r"refused structured_output 'json_schema' \(HTTP 422: .*unknown "
                                                    r"variant"):
            _calls(chat, 1, tag="other")
        assert srv.stats["requests"] == 2  # refused once, never retried, no other mode tried
        assert chat.usage.endpoints[0]["rejected"]["json_schema"].startswith("HTTP 422")


def test_none_sends_no_format_and_parses_the_prompted_json():
    with FakeOpenAIServer(family="openai", reply=lambda m, b: FENCED) as srv:
        (out,) = _calls(OpenAIChat(_cfg(srv.base_url, structured_output="none")), 1)
    assert out.parsed == {"answer": "fenced", "n": 1}
    assert not [k for k in srv.stats if k.startswith("shape:")]


def test_the_settled_mode_is_kept_in_the_call_cache_and_a_stale_one_is_probed_again(tmp_path):
    with FakeOpenAIServer(family="llama_cpp", reply=reply) as srv:
        _calls(OpenAIChat(_cfg(srv.base_url), CallCache(tmp_path / "c.sqlite")), 3, tag="first")
        assert _refused(srv) == {"json_schema": 1}
        again = OpenAIChat(_cfg(srv.base_url), CallCache(tmp_path / "c.sqlite"))
        assert again.usage.endpoints[0]["mode"] == "json_object_schema"  # known before any call
        _calls(again, 3, tag="second")  # new prompts: no cache hits, and no probe either
        assert _refused(srv) == {"json_schema": 1} and srv.stats["shape:json_object_schema"] == 6
    with FakeOpenAIServer(family="tgi", reply=reply) as srv:  # another server behind a stored mode
        cache = CallCache(tmp_path / "c2.sqlite")
        cache.put_endpoint_mode(f"{srv.base_url} m", "json_object_schema")
        (out,) = _calls(OpenAIChat(_cfg(srv.base_url), cache), 1)
        assert out.parsed["answer"] == "ok"
        assert _refused(srv) == {"json_object_schema": 1, "json_schema": 1}
        assert cache.endpoint_mode(f"{srv.base_url} m") == "tgi_grammar"


def test_extra_body_is_sent_recorded_and_part_of_the_cache_key():
    with FakeOpenAIServer(family="llama_cpp", reply=reply) as srv:
        chat = OpenAIChat(_cfg(srv.base_url, extra_body={"repeat_penalty": 1.0, "top_k": 1}))
        (out,) = _calls(chat, 1)
        plain = OpenAIChat(_cfg(srv.base_url))
        (same,) = _calls(plain, 1)
    assert all(b["repeat_penalty"] == 1.0 and b["top_k"] == 1 for b in srv.bodies[:2])
    assert "repeat_penalty" not in srv.bodies[-1]
    assert chat.usage.as_dict()["endpoints"][0]["extra_body"] == {"repeat_penalty": 1.0, "top_k": 1}
    assert out.call_id != same.call_id  # other sampling, other answers
    # no extra_body: the key is the one earlier versions computed (caches stay valid)
    assert same.call_id == request_key("openai", "m", [{"role": "user", "content": "q0"}], 0.0, 1024, Answer)[0]


@pytest.mark.parametrize(("extra", "says"), [
    ({"response_format": {"type": "text"}}, "'response_format' is set by cai"),
    ({"temperature": 0.2}, "'temperature' is set by cai"),
    ({"api_key": "abc"}, "'api_key' looks like a credential"),
    ({"note": "sk-proj-Abcdefghijklmnop1234567890"}, "'note' looks like a credential"),
])
def test_bad_extra_body_is_one_line_error_without_the_value(tmp_path, extra, says):
    cfg = tmp_path / "g.yaml"
    cfg.write_text(json.dumps({"stage": "generate", "questions": "q.jsonl", "index": "idx", "teacher": {
        "backend": "openai", "endpoints": [{"base_url": "http://127.0.0.1:9/v1", "extra_body": extra}]}}))
    result = CliRunner().invoke(cli, ["teacher", "check", str(cfg)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {cfg}:") and says in lines[0]
    assert "teacher.endpoints.0.extra_body" in lines[0] and "sk-proj" not in result.output


@pytest.mark.parametrize("family", sorted(SETTLES))
def test_every_family_completes_a_generate_run(tmp_path, example_index, family):
    """Acceptance: `cai generate` with `structured_output: auto` finishes every question on each family."""
    with FakeOpenAIServer(family=family, reply=scripted_teacher) as srv:
        config = _openai_config(tmp_path, example_index, srv.base_url, 3)
        result = CliRunner().invoke(cli, ["generate", str(config)])
    assert result.exit_code == 0, result.output
    run_dir = Path(result.output.strip().splitlines()[-1])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["counts"]["failed"] == 0
    assert manifest["counts"]["records"] == 3
    assert manifest["usage"]["endpoints"][0]["mode"] == SETTLES[family]
    assert _refused(srv) == {m: 1 for m in _on_the_way(family)}  # probed once for the whole run
    assert CallCache(run_dir / "teacher_cache.sqlite").endpoint_mode(f"{srv.base_url} scripted") == SETTLES[family]


def test_a_resumed_run_starts_with_the_mode_its_first_run_found(tmp_path, example_index):
    """The first run settles llama.cpp's mode (one question fails on an unparseable reply); the resumed
    run retries that question against a fresh server and never sends the refused `json_schema`."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = _openai_config(tmp_path, example_index, f"http://127.0.0.1:{port}/v1", 2)
    questions = Path(json.loads(config.read_text())["questions"])
    spoiled = json.loads(questions.read_text().splitlines()[1])["question"]

    def garbles_one(messages, body):
        user = next(m["content"] for m in messages if m["role"] == "user")
        return "no json here" if spoiled in user else scripted_teacher(messages, body)

    with FakeOpenAIServer(family="llama_cpp", reply=garbles_one, port=port) as first:
        result = CliRunner().invoke(cli, ["generate", str(config)])
    assert result.exit_code == 0, result.output
    run_dir = Path(result.output.strip().splitlines()[-1])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["counts"]["failed"] == 1 and _refused(first) == {"json_schema": 1}
    with FakeOpenAIServer(family="llama_cpp", reply=scripted_teacher, port=port) as second:
        result = CliRunner().invoke(cli, ["generate", str(run_dir / "config.yaml"), "--resume", str(run_dir)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["counts"]["failed"] == 0
    assert second.stats["requests"] > 0 and _refused(second) == {}
    assert second.stats["shape:json_object_schema"] == second.stats["requests"]
