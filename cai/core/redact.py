"""Keep API keys out of everything cai stores or shows.

Why: some servers and proxies echo the request, Authorization header included, in the body of a
400/401/500; the openai client puts that body in its exception message, and that message used to
go verbatim into `failed.jsonl` and from there into `report.html`. And a key pasted where a config
expects the *name* of an environment variable would be copied into `config.yaml` and the manifest.

`redact` is applied to error text before it is stored (cai.llm.openai_chat) and again before it is
shown (cai.stages.report_html), so runs written by older versions are cleaned on display too. It
replaces the configured key values exactly, then anything shaped like a credential. It is meant
for error text and config text, never for documents or answers ("Basic earnings per share" would
lose its figure to the `Basic <token>` pattern).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"
PLACEHOLDER_KEY = "not-set"  # what cai.llm.openai_chat sends when no key is configured: not a secret

# Vendor key formats with a fixed prefix (OpenAI/Anthropic `sk-`, Hugging Face, GitHub, Slack,
# AWS access key ids, Google API keys). Shared by `redact` and `looks_like_secret`.
_KEY_SHAPES = (
    r"sk-[A-Za-z0-9_\-]{8,}",
    r"sk_(?:live|test)_[A-Za-z0-9]{8,}",
    r"hf_[A-Za-z0-9]{16,}",
    r"gh[pousr]_[A-Za-z0-9]{16,}",
    r"github_pat_[A-Za-z0-9_]{16,}",
    r"xox[abprs]-[A-Za-z0-9\-]{8,}",
    r"AKIA[0-9A-Z]{16}",
    r"AIza[0-9A-Za-z_\-]{30,}",
)
_KEY_SHAPE = re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(_KEY_SHAPES) + r")")
# `Authorization: Bearer x`, `Basic x`, and header/JSON fields named like a key, whatever follows.
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s\"',;}\]]+")
_KEY_FIELD = re.compile(r"(?i)((?:x-)?api[-_]?key|authorization|access[-_]?token|secret)([\"']?\s*[:=]\s*[\"']?)"
                        r"(?!bearer\b|basic\b|\[REDACTED\])([^\s\"',;}\]]+)")
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)[^/\s@]+@")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def redact(text: str | None, secrets: Iterable[str] = ()) -> str | None:
    """`text` with each of `secrets` and every credential-shaped token replaced by [REDACTED]."""
    if not text:
        return text
    for secret in sorted({s for s in secrets if s and s != PLACEHOLDER_KEY}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL_USERINFO.sub(rf"\1{REDACTED}@", text)
    text = _AUTH_SCHEME.sub(rf"\1\2{REDACTED}", text)
    text = _KEY_FIELD.sub(rf"\1\2{REDACTED}", text)
    return _KEY_SHAPE.sub(REDACTED, text)


def env_secrets(names: Iterable[str | None]) -> list[str]:
    """The values of the environment variables `names` (the keys a config points at)."""
    return [v for n in names if n and (v := os.environ.get(n)) and v != PLACEHOLDER_KEY]


def config_secrets(config: dict) -> list[str]:
    """The key values a run's resolved config (plain data from config.yaml) points at, and any
    `api_key_env` that is a key itself (pasted there by a version that did not refuse it)."""
    teacher = config.get("teacher") if isinstance(config, dict) else None
    if not isinstance(teacher, dict):
        return []
    names = [teacher.get("api_key_env")]
    endpoints = teacher.get("endpoints")
    if isinstance(endpoints, list):
        names += [ep.get("api_key_env") for ep in endpoints if isinstance(ep, dict)]
    names = [n for n in names if isinstance(n, str) and n]
    return env_secrets(names) + [n for n in names if looks_like_secret(n)]


def looks_like_secret(value: str) -> bool:
    """Whether `value` looks like a credential rather than a name: a vendor key format, or a long
    mixed-case, digit-bearing string (environment variable names are words, not entropy)."""
    if _KEY_SHAPE.search(value) or _AUTH_SCHEME.match(value):
        return True
    mixed = any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value)
    return len(value) >= 24 and mixed


def check_env_name(value: str) -> str:
    """Validator for settings that name an environment variable. The message never repeats the
    value: it may be the key itself, and error lines end up in terminals and CI logs."""
    if looks_like_secret(value):
        raise ValueError("this looks like an API key itself; put the key in an environment variable "
                         "(export OPENAI_API_KEY=...) and give that variable's name here")
    if not ENV_NAME.match(value):
        raise ValueError("must be the name of an environment variable (letters, digits and _, not starting "
                         "with a digit), e.g. OPENAI_API_KEY")
    return value
