"""`cai teacher check CONFIG.yaml`: probe every endpoint of the teacher once and say what works.

Why: a server that cannot do what `cai generate` needs should show up in seconds, not as a run
whose every question fails after minutes of retries (issue #22: a llama.cpp server answering the
JSON-schema request with HTTP 500). Per endpoint: is it reachable, does /models list the model,
which structured-output mode does it take (cai.llm.structured; `auto` probes in order), and does a
tiny critique come back as a valid structured reply. Error text is redacted of the configured keys.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import openai

from cai.core.configs import GenerateConfig, TeacherConfig
from cai.core.contracts import Locator, SearchHit
from cai.core.prompts import CritiqueReply, critique_messages
from cai.core.redact import env_secrets, redact
from cai.llm.chat import TeacherCallFailed
from cai.llm.openai_chat import OpenAIChat

SOURCE = "Halvorsen Tidewater Logistics reported total revenue of $912.3 million for fiscal 2024."
QUESTION = "What was Halvorsen Tidewater's total revenue for fiscal 2024?"
ANSWER = "Total revenue for fiscal 2024 was $91.3 million."  # a mangled figure, the kind a critique must catch


@dataclass
class EndpointCheck:
    """What one endpoint's probe found: report lines, and the one-line reason when it does not work."""

    number: int
    url: str
    model: str
    lines: list[str] = field(default_factory=list)
    problem: str | None = None

    def error_line(self) -> str:
        return f"endpoint {self.number} {self.url} (model {self.model}): {self.problem}"


def _probe_messages(rules) -> list[dict]:
    loc = Locator(doc_id="check", page=1, char_start=0, char_end=len(SOURCE), sentence=0)
    hit = SearchHit(doc_id="check", page=1, score=1.0, text=SOURCE, locator=loc)
    return critique_messages(QUESTION, [hit], ANSWER, rules)


def _mode_line(entry: dict) -> str:
    """The structured-output outcome of `entry` (a Usage.endpoints record)."""
    refused = entry["rejected"]
    works = entry["mode"] if entry["mode"] not in refused else None
    notes = ["auto" if entry["structured_output"] == "auto" else "configured"]
    notes += [f"{mode} refused: {why.split(':')[0]}" for mode, why in refused.items()]
    return f"  structured output: {works or ('refused' if refused else 'not established')} ({'; '.join(notes)})"


async def _models_line(chat: OpenAIChat, model: str) -> str:
    """The /models outcome; raises connection and authentication errors (the endpoint does not work)."""
    try:
        served = await chat.served_models()
    except (openai.APIConnectionError, openai.AuthenticationError, openai.PermissionDeniedError):
        raise
    except openai.APIStatusError as e:
        return f"  reachable; /models answered HTTP {e.status_code} (model not checked)"
    if served is None:
        return "  reachable; no /models route (model not checked)"
    if model in served:
        return f"  reachable; /models lists '{model}'"
    listed = ", ".join(served[:5]) + (", ..." if len(served) > 5 else "") or "nothing"
    return f"  reachable; /models does not list '{model}' (it lists: {listed})"


async def check_endpoint(teacher: TeacherConfig, index: int, rules) -> EndpointCheck:
    """Probe endpoint `index` alone (one retry on a transient error, no cache, no budget)."""
    ep = teacher.endpoints[index]
    sub = teacher.model_copy(update={"endpoints": [ep], "max_retries": 1, "max_concurrency": 1, "budget_usd": None})
    secrets = env_secrets([teacher.api_key_env, ep.api_key_env])
    chat = OpenAIChat(sub)
    entry = chat.usage.endpoints[0]
    out = EndpointCheck(index + 1, entry["base_url"], entry["model"])
    out.lines.append(f"endpoint {out.number}: {out.url} (model {out.model})")
    try:
        try:
            out.lines.append(await _models_line(chat, out.model))
        except openai.APIConnectionError as e:
            out.problem = f"unreachable: {' '.join(str(e.__cause__ or e).split())[:200] or type(e).__name__}"
        except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
            out.problem = (f"refused the API key (HTTP {e.status_code}); check the variable "
                           f"{ep.api_key_env or teacher.api_key_env}")
        if out.problem is None:
            started = time.perf_counter()
            try:
                reply = await chat.chat(_probe_messages(rules), response_model=CritiqueReply)
                n = len((reply.parsed or {}).get("violations", []))
                out.lines.append(_mode_line(entry))
                out.lines.append(f"  critique round-trip: ok in {time.perf_counter() - started:.1f} s, "
                                 f"{n} violation(s) found")
            except TeacherCallFailed as e:
                out.lines.append(_mode_line(entry))
                out.problem = f"critique round-trip failed: {e}"
        if entry["extra_body"]:
            out.lines.append(f"  extra_body: {json.dumps(entry['extra_body'], sort_keys=True)}")
    finally:
        await chat.aclose()
    if out.problem:
        out.problem = redact(out.problem, secrets)
        out.lines.append(f"  NOT OK: {out.problem}")
    return out


def check_teacher(config: GenerateConfig) -> list[EndpointCheck]:
    """Every endpoint of `config.teacher`, probed side by side."""
    from cai.core.constitution import load_constitution
    from cai.core.errors import UserError

    teacher = config.teacher
    if teacher.backend != "openai":
        raise UserError(f"teacher.backend is '{teacher.backend}': `cai teacher check` probes the endpoints of an "
                        "openai teacher (teacher.backend: openai, teacher.endpoints)")
    rules = load_constitution(config.constitution).rules[:1]

    async def all_endpoints() -> list[EndpointCheck]:
        return list(await asyncio.gather(*(check_endpoint(teacher, i, rules) for i in range(len(teacher.endpoints)))))

    return asyncio.run(all_endpoints())
