"""The `hf` chat backend on the offline smoke policy: batching, chat template, repair, failure."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from cai.core.configs import TeacherConfig
from cai.llm.cache import CallCache
from cai.llm.chat import TeacherCallFailed
from cai.llm.hf_chat import HFChat
from cai.training.smoke import build_smoke_policy


@pytest.fixture(scope="module")
def smoke_dir(tmp_path_factory):
    return build_smoke_policy(tmp_path_factory.mktemp("smoke"))


def _chat(smoke_dir, cache=None, **kw) -> HFChat:
    cfg = TeacherConfig(backend="hf", model=str(smoke_dir), max_tokens=6, max_concurrency=4, **kw)
    return HFChat(cfg, cache)


def test_concurrent_calls_are_batched(smoke_dir):
    chat = _chat(smoke_dir)

    async def many():
        return await asyncio.gather(*[chat.chat([{"role": "user", "content": f"question {i}"}]) for i in range(4)])

    replies = asyncio.run(many())
    assert len(replies) == 4 and all(isinstance(r.text, str) for r in replies)
    assert chat.usage.calls == 4 and chat.usage.completion_tokens > 0


def test_unparseable_structured_output_fails_after_one_repair(smoke_dir, tmp_path):
    class Answer(BaseModel):
        answer: str

    chat = _chat(smoke_dir, CallCache(tmp_path / "c.sqlite"))
    with pytest.raises(TeacherCallFailed, match="after a repair turn"):
        asyncio.run(chat.chat([{"role": "user", "content": "json please"}], response_model=Answer))
    assert chat.usage.calls == 2 and chat.usage.failures == 1


def test_plain_replies_are_cached(smoke_dir, tmp_path):
    cache = CallCache(tmp_path / "c.sqlite")
    msgs = [{"role": "user", "content": "hello"}]
    first = asyncio.run(_chat(smoke_dir, cache).chat(msgs))
    again = _chat(smoke_dir, cache)
    second = asyncio.run(again.chat(msgs))
    assert second.cached and second.text == first.text and again.usage.calls == 0
