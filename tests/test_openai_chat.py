"""The OpenAI-compatible teacher client against a real local HTTP server with injected faults."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import BaseModel

from cai.core.configs import TeacherConfig
from cai.llm.cache import CallCache
from cai.llm.openai_chat import BudgetExhausted, OpenAIChat, TeacherCallFailed
from tests.openai_server import FakeOpenAIServer


class Answer(BaseModel):
    answer: str
    n_messages: int


def _cfg(*urls: str, **kw) -> TeacherConfig:
    base = {"backend": "openai", "model": "fake", "endpoints": [{"base_url": u} for u in urls], "timeout_s": 2.0,
            "max_retries": 6}
    return TeacherConfig.model_validate({**base, **kw})


_OPEN: list[OpenAIChat] = []


def _chat(cfg: TeacherConfig, cache=None) -> OpenAIChat:
    _OPEN.append(OpenAIChat(cfg, cache))
    return _OPEN[-1]


def _run(coro):
    """Run `coro`, then close the clients it used in the same loop (aiohttp sessions belong to it)."""
    async def go():
        try:
            return await coro
        finally:
            while _OPEN:
                await _OPEN.pop().aclose()
    return asyncio.run(go())


def test_structured_reply_and_usage():
    with FakeOpenAIServer() as srv:
        chat = _chat(_cfg(srv.base_url))
        reply = _run(chat.chat([{"role": "user", "content": "hi there"}], response_model=Answer))
        assert reply.parsed == {"answer": "ok", "n_messages": 1} and reply.attempts == 1
        assert chat.usage.calls == 1 and chat.usage.prompt_tokens == 2


def test_faults_are_retried_until_success():
    async def many(chat):
        return await asyncio.gather(*[chat.chat([{"role": "user", "content": f"q{i}"}], response_model=Answer)
                                      for i in range(40)])

    with FakeOpenAIServer(fault_rate=0.3, faults=("429", "500", "garbage", "drop"), seed=1) as srv:
        chat = _chat(_cfg(srv.base_url, max_concurrency=8, max_retries=10))
        replies = _run(many(chat))
        assert all(r.parsed["answer"] == "ok" for r in replies)
        assert chat.usage.retries > 0 and chat.usage.failures == 0
        assert sum(srv.stats[f] for f in ("429", "500", "garbage", "drop")) > 0
        assert srv.max_in_flight <= 8


def test_timeout_is_retried():
    with FakeOpenAIServer(fault_rate=1.0, faults=("timeout",), timeout_sleep_s=1.5) as srv:
        chat = _chat(_cfg(srv.base_url, timeout_s=0.3, max_retries=1))
        with pytest.raises(TeacherCallFailed, match="timed out"):  # said in words (cai.core.reach.describe)
            _run(chat.chat([{"role": "user", "content": "slow"}]))
        assert chat.usage.failures == 1 and srv.stats["requests"] == 2
        assert chat.usage.retries == 1  # two attempts are one retry, then a give-up


def test_server_down_fails_cleanly():
    chat = _chat(_cfg("http://127.0.0.1:9/v1", max_retries=1))
    with pytest.raises(TeacherCallFailed, match="gave up after 2 attempts"):
        _run(chat.chat([{"role": "user", "content": "anyone?"}]))


def test_second_endpoint_takes_over_when_first_is_down():
    with FakeOpenAIServer() as srv:
        chat = _chat(_cfg("http://127.0.0.1:9/v1", srv.base_url, max_retries=4))

        async def six():
            return await asyncio.gather(*[chat.chat([{"role": "user", "content": f"x{i}"}]) for i in range(6)])

        replies = _run(six())
        assert len(replies) == 6 and srv.stats["ok"] == 6


def test_schema_fallback_when_server_rejects_response_format():
    fenced = 'Here: ```json\n{"answer": "fb", "n_messages": 1}\n```'
    with FakeOpenAIServer(json_schema=False, reply=lambda m, b: fenced) as srv:
        chat = _chat(_cfg(srv.base_url))
        reply = _run(chat.chat([{"role": "user", "content": "x"}], response_model=Answer))
        assert reply.parsed["answer"] == "fb"


def test_one_repair_turn_for_invalid_json():
    calls = []

    def reply(messages, body):
        calls.append(messages)
        return "not json at all" if len(calls) == 1 else json.dumps({"answer": "fixed", "n_messages": len(messages)})

    with FakeOpenAIServer(reply=reply) as srv:
        chat = _chat(_cfg(srv.base_url))
        out = _run(chat.chat([{"role": "user", "content": "x"}], response_model=Answer))
        assert out.parsed == {"answer": "fixed", "n_messages": 3}  # user, bad assistant reply, repair request
        assert "not valid" in calls[1][-1]["content"]


def test_cache_makes_reruns_free(tmp_path):
    with FakeOpenAIServer() as srv:
        cache = CallCache(tmp_path / "cache.sqlite")
        msgs = [{"role": "user", "content": "cached?"}]
        first = _run(_chat(_cfg(srv.base_url), cache).chat(msgs, response_model=Answer))
        chat2 = _chat(_cfg(srv.base_url), CallCache(tmp_path / "cache.sqlite"))
        second = _run(chat2.chat(msgs, response_model=Answer))
        assert second.cached and second.parsed == first.parsed and second.call_id == first.call_id
        assert srv.stats["requests"] == 1 and chat2.usage.cached_calls == 1


def test_budget_stops_cleanly():
    with FakeOpenAIServer() as srv:
        chat = _chat(_cfg(srv.base_url, budget_usd=0.001, cost_per_1k_tokens={"input": 1.0, "output": 1.0}))
        _run(chat.chat([{"role": "user", "content": "one two three"}]))
        with pytest.raises(BudgetExhausted):
            _run(chat.chat([{"role": "user", "content": "again"}]))


def test_api_key_comes_from_environment_and_is_sent(monkeypatch):
    seen = []

    with FakeOpenAIServer() as srv:
        orig = srv.reply
        srv.reply = lambda m, b: (seen.append(True), orig(m, b))[1]
        monkeypatch.setenv("MY_TEACHER_KEY", "sk-test-123")
        chat = _chat(_cfg(srv.base_url, api_key_env="MY_TEACHER_KEY"))
        assert chat._endpoints[0].client.api_key == "sk-test-123"
        _run(chat.chat([{"role": "user", "content": "k"}]))
        assert seen


class _Answer(BaseModel):
    answer: str


def test_the_same_unparseable_reply_at_temperature_0_is_not_retried_again():
    with FakeOpenAIServer(reply=lambda messages, body: "Sure! {not json") as srv:
        chat = _chat(_cfg(srv.base_url, max_retries=5))
        with pytest.raises(TeacherCallFailed, match="gave up after 3 attempts: unparseable .*same reply again"):
            _run(chat.chat([{"role": "user", "content": "json please"}], response_model=_Answer))
        # the first reply, the repair turn, and the repair turn once more: greedy decoding repeats it
        assert srv.stats["requests"] == 3 and chat.usage.failures == 1


def test_garbage_between_transport_errors_is_transient_and_retried():
    # A proxy's garbage ("Sure! {not json") beside 500s is not a model's deterministic reply: the early
    # give-up above needs the same reply twice in a row, with no transport error between.
    with FakeOpenAIServer(reply=lambda messages, body: json.dumps({"answer": "ok"})) as srv:
        faults = iter(["garbage", "garbage", "500", "garbage"])
        srv._draw_fault = lambda body: next(faults, None)
        chat = _chat(_cfg(srv.base_url, max_retries=5))
        out = _run(chat.chat([{"role": "user", "content": "json please"}], response_model=_Answer))
    assert out.parsed == {"answer": "ok"} and srv.stats["requests"] == 5


def test_a_reply_cut_at_max_tokens_is_retried_with_a_larger_budget():
    budgets = []

    def reply(messages, body):
        budgets.append(body["max_tokens"])
        if body["max_tokens"] < 40:  # the fake server counts words as tokens: fill the budget, unclosed
            return '{"answer": "' + "word " * body["max_tokens"]
        return json.dumps({"answer": "whole"})

    with FakeOpenAIServer(reply=reply) as srv:
        chat = _chat(_cfg(srv.base_url, max_tokens=10, max_retries=5))
        out = _run(chat.chat([{"role": "user", "content": "a long json"}], response_model=_Answer))
    assert out.parsed == {"answer": "whole"} and budgets == [10, 20, 40]
