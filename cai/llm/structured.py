"""Structured output across the OpenAI-compatible servers people run, one mode per endpoint.

Why: every server family asks for a JSON schema in its own field, and answers a field it does not
know in its own way. llama-cpp-python's server answers `response_format: {"type": "json_schema"}`
with HTTP 500 ("Input should be 'text' or 'json_object'"), TGI with 422 ("unknown variant"),
OpenAI and vLLM with 400. Treating those as transient errors retried a request that can never
succeed (issue #22), so a rejection that names the format moves the endpoint to the next mode at
once, and the mode that works is remembered for the endpoint (and stored in the run's call cache,
so a resumed run does not probe again).

The modes, in the order `auto` tries them. Fields that carry a schema come first: servers validate
them, while most ignore an unknown top-level field, so a mode sent as one would "work" without
constraining anything.

- `json_schema`: `response_format: {"type": "json_schema", "json_schema": {"name": N, "schema": S}}`.
  OpenAI, vLLM, SGLang, llama.cpp's own server, Ollama >= 0.5; `transformers serve` accepts it and
  does not enforce it.
- `json_object_schema`: `response_format: {"type": "json_object", "schema": S}`. llama-cpp-python's
  server (`python -m llama_cpp.server`), llama.cpp's own server.
- `tgi_grammar`: `response_format: {"type": "json", "value": S}`. TGI (its grammar type, which its
  `/generate` route takes as `grammar`).
- `guided_json`: `guided_json: S`. vLLM's guided-decoding parameter.
- `ollama_format`: `format: S`. Ollama.
- `json_object`: `response_format: {"type": "json_object"}`. JSON mode without a schema.
- `none`: no field; the prompt asks for JSON and the reply is parsed (one repair turn). Any server.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any, get_args

from cai.core.endpoints import RESERVED_FIELDS, StructuredOutput, check_extra_body  # noqa: F401 — re-exported

AUTO_ORDER: tuple[str, ...] = tuple(m for m in get_args(StructuredOutput) if m != "auto")
# What a server's rejection of the format says: the field, the schema, or the grammar it took issue with.
# A bare "format" is not enough ("invalid message format" is about the request, not structured output):
# an error that made every structured call fall back would leave the endpoint on `none` for the run.
_NAMES_FORMAT = re.compile(r"(?i)response[_ ]?format|json[_ ]?schema|json_object|\bschema\b|grammar|guided|"
                           r"[`'\"]format[`'\"]")
FORMAT_STATUSES = (400, 422, 500)


def request_fields(mode: str, name: str, schema: dict) -> dict[str, Any]:
    """The request-body fields that ask for `schema` in `mode` (none for `none`)."""
    if mode == "json_schema":
        return {"response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}}
    if mode == "json_object_schema":
        return {"response_format": {"type": "json_object", "schema": schema}}
    if mode == "tgi_grammar":
        return {"response_format": {"type": "json", "value": schema}}
    if mode == "guided_json":
        return {"guided_json": schema}
    if mode == "ollama_format":
        return {"format": schema}
    if mode == "json_object":
        return {"response_format": {"type": "json_object"}}
    if mode == "none":
        return {}
    raise ValueError(f"unknown structured-output mode {mode!r}")


def names_format(status: int, message: str) -> bool:
    """Whether an error answer is a rejection of the structured-output request, not a transient fault."""
    return status in FORMAT_STATUSES and bool(_NAMES_FORMAT.search(message))


class FormatRejected(Exception):
    """An endpoint refused the structured-output mode it was configured with (not `auto`)."""


@dataclass
class ModeState:
    """One endpoint's structured-output mode: configured, and (for `auto`) the one found to work.

    `settled` once a request in `mode` was accepted; until then calls go through `probe`, one at a
    time, so concurrent first calls wait for one probe instead of each being refused in turn."""

    configured: str = "auto"
    mode: str = ""
    settled: bool = False
    rejected: dict[str, str] = field(default_factory=dict)  # mode → the server's status and message, shortened
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        if self.configured != "auto":
            self.mode, self.settled = self.configured, True
        elif not self.mode:
            self.mode = AUTO_ORDER[0]

    def restore(self, mode: str) -> None:
        """Start from the mode a previous run of this endpoint settled on (auto only)."""
        if self.configured == "auto" and mode in AUTO_ORDER:
            self.mode, self.settled = mode, True

    def reject(self, mode: str, status: int, message: str) -> bool:
        """Record that the server refused `mode`; with `auto`, move to the next untried mode and return
        True (the caller resends at once). False: the refusal stands (an explicit mode)."""
        if mode == "none":
            return False
        self.rejected[mode] = f"HTTP {status}: {' '.join(message.split())[:160]}"
        if self.configured != "auto":
            return False
        if self.mode == mode:  # another call may have moved on already
            self.mode = next(m for m in AUTO_ORDER if m not in self.rejected)  # `none` is never rejected
            self.settled = False
        return True

    def describe(self) -> dict[str, Any]:
        return {"structured_output": self.configured, "mode": self.mode if self.settled else None,
                "rejected": dict(self.rejected)}
