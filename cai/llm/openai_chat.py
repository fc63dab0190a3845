"""Chat calls to OpenAI-compatible servers (OpenAI, vLLM, TGI, llama.cpp, `transformers serve`).

What this adds over the `openai` client: several endpoints with least-in-flight routing, bounded
concurrency, one retry policy that also covers unparseable output and moves to another endpoint
(the client's built-in retries cannot do either, so they are switched off: `max_retries=0`),
structured output in each server family's own request field (cai.llm.structured: `auto` finds the
one that works once per endpoint, and a refusal that names the format is never retried as a
transient error), per-endpoint extra sampling fields (`extra_body`), the on-disk call cache,
token accounting and a cost budget that stops cleanly.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from dataclasses import dataclass, field
from typing import Any

import openai
from pydantic import BaseModel, ValidationError

from cai.core.configs import TeacherConfig
from cai.core.reach import describe
from cai.core.redact import redact
from cai.llm.cache import CallCache
from cai.llm.chat import (
    ChatReply,
    TeacherCallFailed,
    Usage,
    extract_json,
    replayed,
    request_key,
)
from cai.llm.structured import FormatRejected, ModeState, names_format, request_fields

RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError, openai.APIConnectionError)
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 20.0
MAX_TOKENS_GROWTH = 4  # a reply cut at max_tokens is retried with twice the budget, up to 4x the setting


class BudgetExhausted(Exception):
    """The cost budget is spent: stop scheduling new calls, keep finished work."""


def _error_text(e: openai.APIStatusError) -> str:
    """What the server said: the client's message, plus an error body it leaves out (TGI answers
    `{"error": "..."}` with a plain string, and the client's message is then only the status)."""
    if isinstance(e.body, str) and e.body not in e.message:
        return f"{e.message} - {e.body}"
    return e.message


@dataclass
class _Endpoint:
    client: openai.AsyncOpenAI
    model: str
    url: str
    shown: str  # the URL as recorded and cached: credentials in it redacted
    structured: ModeState
    extra_body: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)  # this endpoint's entry in Usage.endpoints
    in_flight: int = 0
    errors: int = field(default=0)

    @property
    def key(self) -> str:
        """The endpoint's name in the call cache: its URL without credentials, and its model."""
        return f"{self.shown} {self.model}"

    @property
    def json_schema_ok(self) -> bool:
        """Whether structured calls go out in the `json_schema` mode (as far as is known so far)."""
        return self.structured.mode == "json_schema"

    def note_mode(self) -> None:
        self.record.update(self.structured.describe())


class OpenAIChat:
    """Async chat client over one or more OpenAI-compatible endpoints."""

    backend = "openai"

    def __init__(self, cfg: TeacherConfig, cache: CallCache | None = None):
        if not cfg.endpoints:
            raise ValueError("teacher.endpoints is empty")
        self.cfg = cfg
        self.cache = cache
        self.usage = Usage()
        self._sem = asyncio.Semaphore(cfg.max_concurrency)
        self._endpoints = []
        self._secrets: list[str] = []  # the key values, redacted from every error message
        for ep in cfg.endpoints:
            key = os.environ.get(ep.api_key_env or cfg.api_key_env) or "not-set"  # local servers need none
            self._secrets.append(key)
            # aiohttp: the official client's optional transport (`openai[aiohttp]`), cheaper in CPU per
            # request than httpx; with many calls in flight the client's CPU, not the server, sets the
            # pace (BENCHMARKS.md, "Throughput of the openai backend").
            use_aiohttp = cfg.http_client == "aiohttp"
            http = {"http_client": openai.DefaultAioHttpClient(timeout=cfg.timeout_s)} if use_aiohttp else {}
            client = openai.AsyncOpenAI(base_url=ep.base_url, api_key=key, max_retries=0,
                                        timeout=cfg.timeout_s, **http)
            self._endpoints.append(_Endpoint(
                client=client, model=ep.model or cfg.model or "default", url=ep.base_url,
                shown=redact(ep.base_url, [key]), structured=ModeState(ep.structured_output),
                extra_body=dict(ep.extra_body)))
        self.model = self._endpoints[0].model
        self._extra_body = [e.extra_body for e in self._endpoints]  # part of every call's cache key
        for e in self._endpoints:
            if cache is not None and (stored := cache.endpoint_mode(e.key)):
                e.structured.restore(stored)  # what `auto` settled on in an earlier run with this cache
            e.record.update(base_url=e.shown, model=e.model, extra_body=e.extra_body)
            e.note_mode()
        self.usage.endpoints = [e.record for e in self._endpoints]

    def _pick(self) -> _Endpoint:
        """Least in-flight endpoint; ties go to the one with fewer recent errors."""
        return min(self._endpoints, key=lambda e: (e.in_flight, e.errors))

    def _check_budget(self) -> None:
        if self.cfg.budget_usd is not None and self.usage.cost_usd >= self.cfg.budget_usd:
            raise BudgetExhausted(f"teacher budget ${self.cfg.budget_usd:.2f} spent (${self.usage.cost_usd:.2f})")

    def _account(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.usage.prompt_tokens += prompt_tokens
        self.usage.completion_tokens += completion_tokens
        table = self.cfg.cost_per_1k_tokens or {}
        self.usage.cost_usd += (prompt_tokens / 1000 * table.get("input", 0.0)
                                + completion_tokens / 1000 * table.get("output", 0.0))

    async def chat(self, messages: list[dict], *, response_model: type[BaseModel] | None = None,
                   max_tokens: int | None = None) -> ChatReply:
        """One chat completion; `response_model` asks for (and validates) a JSON object."""
        key, params = request_key(self.backend, self.model, messages, self.cfg.temperature,
                                  max_tokens or self.cfg.max_tokens, response_model, self._extra_body)
        # The cache's SQLite work runs in a thread (sqlite3 releases the GIL): on the event loop each
        # read or write would stall every call in flight, and a put of a long prompt is not cheap.
        if self.cache is not None:
            hit = replayed(await asyncio.to_thread(self.cache.get, key), key, self.usage)
            if hit is not None:
                return hit
        self._check_budget()
        reply = await self._call_with_retries(messages, response_model, params, key)
        if self.cache is not None:
            await asyncio.to_thread(self.cache.put, key, backend=self.backend, model=self.model,
                                    request={"messages": messages, "params": params},
                                    response={"text": reply.text, "parsed": reply.parsed})
        return reply

    async def _call_with_retries(self, messages, response_model, params, key) -> ChatReply:
        last_error = "no attempt made"
        repaired, previous = False, None
        convo, cap = list(messages), MAX_TOKENS_GROWTH * params["max_tokens"]
        for attempt in range(self.cfg.max_retries + 1):
            ep = self._pick()
            ep.in_flight += 1
            text, ct = "", 0
            try:
                async with self._sem:  # a slot per request: a call backing off leaves its slot to others
                    text, pt, ct = await self._complete_structured(ep, convo, response_model, params)
                self.usage.calls += 1
                self._account(pt, ct)
                parsed = self._parse(text, response_model)
                ep.errors = max(0, ep.errors - 1)
                return ChatReply(text=text, parsed=parsed, call_id=key, prompt_tokens=pt, completion_tokens=ct,
                                 attempts=attempt + 1)
            except (ValueError, ValidationError) as e:  # unparseable output
                last_error = f"unparseable output: {' '.join(str(e).split())[:200]}"
                if ct >= params["max_tokens"] and params["max_tokens"] < cap:
                    # Cut at max_tokens (a long critique, or whitespace a JSON grammar allows): the same
                    # budget would cut it again.
                    params = {**params, "max_tokens": min(cap, 2 * params["max_tokens"])}
                elif (text, convo) == previous and params["temperature"] == 0:
                    # Greedy decoding of the same request gives the same reply: further tries are waste.
                    # Only twice in a row, with no transport error between: a proxy's garbage is transient.
                    self.usage.failures += 1
                    raise self._failed(f"gave up after {attempt + 1} attempts: {last_error} (the same reply "
                                       "again at temperature 0)") from None
                previous = (text, convo)
                if not repaired:  # one repair turn: show the model its output and the error
                    repaired = True
                    ask = ("Reply with only the JSON object." if response_model is not None
                           else "Reply with a non-empty answer.")
                    convo = [*messages, {"role": "assistant", "content": text},
                             {"role": "user", "content": f"That reply was not valid: {last_error}. {ask}"}]
            except FormatRejected as e:
                raise self._failed(str(e)) from None
            except openai.BadRequestError as e:
                raise self._failed(f"{ep.url}: request rejected (400): {_error_text(e)}") from None
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as e:
                hint = f"check the model name and the API key variable {self.cfg.api_key_env}"
                raise self._failed(f"{ep.url}: {type(e).__name__}: {e.message} ({hint})") from None
            except RETRYABLE as e:
                ep.errors += 1
                last_error = f"{ep.url}: {describe(e) or type(e).__name__}"  # "connection refused", not a timeout
                previous = None  # a faulty endpoint: an unparseable reply beside it may be transient too
                await asyncio.sleep(self._backoff(attempt, e))
            except openai.APIStatusError as e:
                ep.errors += 1
                last_error = f"{ep.url}: HTTP {e.status_code}"
                previous = None
                await asyncio.sleep(self._backoff(attempt, e))
            finally:
                ep.in_flight -= 1
            if attempt < self.cfg.max_retries:  # the last failed attempt is a give-up, not a retry
                self.usage.retries += 1
        self.usage.failures += 1
        raise self._failed(f"gave up after {self.cfg.max_retries + 1} attempts: {last_error}")

    def _failed(self, message: str) -> TeacherCallFailed:
        """The failure to raise, its message redacted: a server may echo the request's Authorization
        header in an error body, and this message is stored in failed.jsonl and shown by `cai audit`."""
        return TeacherCallFailed(redact(message, self._secrets))

    @staticmethod
    def _backoff(attempt: int, error: Exception) -> float:
        """Exponential backoff with full jitter (AWS architecture blog, 2015); honours Retry-After."""
        response = getattr(error, "response", None)
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after:
            try:
                return min(BACKOFF_CAP_S, float(retry_after))
            except ValueError:
                pass
        return random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))

    async def _complete_structured(self, ep: _Endpoint, messages, response_model, params) -> tuple[str, int, int]:
        """`_complete` in the endpoint's structured-output mode. Until that mode is settled, structured
        calls to the endpoint take turns, so one probe finds it while the others wait; a refusal that
        names the format moves `auto` to the next mode and resends at once (no backoff, no attempt
        used), and with an explicit mode ends the call (`FormatRejected`)."""
        if response_model is None:
            return await self._complete(ep, messages, None, params)
        state = ep.structured
        while True:
            probing = not state.settled
            if probing:
                await state.lock.acquire()
                if state.settled:  # another call settled it while this one waited
                    state.lock.release()
                    probing = False
            mode = state.mode
            try:
                out = await self._complete(ep, messages, (mode, response_model.__name__), params)
                if probing:  # settled before the lock is released: a waiting call must not probe again
                    state.settled = True
                    ep.note_mode()
            except openai.APIStatusError as e:
                said = _error_text(e)
                if mode == "none" or not names_format(e.status_code, said):
                    raise
                fall_back = state.reject(mode, e.status_code, said)
                ep.note_mode()
                if not fall_back:
                    raise FormatRejected(f"{ep.url}: the server refused structured_output '{mode}' (HTTP "
                                         f"{e.status_code}: {said}); set structured_output: auto (or the mode "
                                         "`cai teacher check` finds)") from None
                continue
            finally:
                if probing:
                    state.lock.release()
            if probing and self.cache is not None and state.configured == "auto":
                await asyncio.to_thread(self.cache.put_endpoint_mode, ep.key, mode)
            return out

    async def _complete(self, ep: _Endpoint, messages, structured: tuple[str, str] | None,
                        params) -> tuple[str, int, int]:
        """One request; `structured`: (mode, schema name) for a structured call."""
        body: dict[str, Any] = {**ep.extra_body, "model": ep.model, "messages": messages,
                                "temperature": params["temperature"], "max_tokens": params["max_tokens"]}
        if structured is not None:
            body.update(request_fields(structured[0], structured[1], params["schema"]))
        # The client's generic `post` (its documented way to send a raw body) keeps its transport,
        # timeouts and status → exception mapping, but skips `chat.completions.create`'s walk of
        # the params through their TypedDicts and the response's pydantic models, the largest
        # client CPU cost per call at high concurrency (BENCHMARKS.md, "Throughput of the openai backend").
        raw = await ep.client.post("/chat/completions", body=body, cast_to=str)
        try:
            resp = json.loads(raw)
            choice = resp["choices"][0]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError):
            raise ValueError("the server's reply is not a chat completion") from None
        text = (choice.get("message") or {}).get("content") or ""
        usage = resp.get("usage") or {}
        return text, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)

    @staticmethod
    def _parse(text: str, response_model: type[BaseModel] | None) -> dict | None:
        if response_model is None:
            if not text.strip():
                raise ValueError("empty reply")
            return None
        return response_model.model_validate(extract_json(text)).model_dump(mode="json")

    async def served_models(self, index: int = 0) -> list[str] | None:
        """The model ids endpoint `index` lists at /models; None when it has no such route. Connection
        and other status errors are raised (`cai teacher check` reports them)."""
        try:
            raw = await self._endpoints[index].client.get("/models", cast_to=str)
        except openai.APIStatusError as e:
            if e.status_code in (404, 405, 501):
                return None
            raise
        try:
            data = json.loads(raw).get("data") or []
            return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]
        except (ValueError, AttributeError):
            return None

    async def aclose(self) -> None:
        for ep in self._endpoints:
            await ep.client.close()
