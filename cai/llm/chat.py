"""Types and helpers shared by the chat backends (`openai_chat`, `hf_chat`): the reply, usage
totals, the failure type, JSON extraction from model text, and the call-cache lookup."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from cai.llm.cache import CallCache, call_key


class TeacherCallFailed(Exception):
    """A call that failed after all retries; the question is recorded as failed, not lost."""


@dataclass
class ChatReply:
    text: str
    parsed: dict | None
    call_id: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    attempts: int = 1


@dataclass
class Usage:
    """Running totals across a run (what the manifest records)."""

    calls: int = 0
    cached_calls: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    # openai: per endpoint, the structured-output mode configured and settled on, the modes it refused
    # and its extra_body; recorded in the manifest so a run says how its teacher was called.
    endpoints: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "endpoints": [dict(e) for e in self.endpoints]}


def extract_json(text: str) -> dict:
    """Parse a JSON object from model output: plain, in a ```json fence, or the outermost {...}."""
    text = text.strip()
    fence = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, re.S)
    if fence:
        text = fence.group(1)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise ValueError("no JSON object in the reply") from None
        obj = json.loads(text[start : end + 1])
    if not isinstance(obj, dict):
        raise ValueError("the reply is JSON but not an object")
    return obj


@functools.cache
def json_schema(model: type[BaseModel]) -> dict:
    """The model's JSON schema, built once per class (pydantic rebuilds it on every call)."""
    return model.model_json_schema()


def request_key(backend: str, model: str | None, messages: list[dict], temperature: float, max_tokens: int,
                response_model: type[BaseModel] | None, extra_body: list[dict] | None = None) -> tuple[str, dict]:
    """The cache key of a chat request and the params it hashes (what determines the answer).
    `extra_body`: the endpoints' extra sampling fields, hashed only when some are set, so that
    `repeat_penalty: 1.0` gets its own answers and keys made without any stay valid."""
    schema = json_schema(response_model) if response_model else None
    params: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens, "schema": schema}
    if extra_body and any(extra_body):
        params["extra_body"] = extra_body
    return call_key(backend, model, messages, params), params


def cached_reply(cache: CallCache | None, key: str, usage: Usage) -> ChatReply | None:
    """The stored reply for `key`, if any (counted as a cached call)."""
    return replayed(cache.get(key) if cache is not None else None, key, usage)


def replayed(hit: dict | None, key: str, usage: Usage) -> ChatReply | None:
    """A reply from the cache row `hit` looked up for `key` (counted as a cached call)."""
    if hit is None:
        return None
    usage.cached_calls += 1
    return ChatReply(text=hit["text"], parsed=hit.get("parsed"), call_id=key, cached=True)
