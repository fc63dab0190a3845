"""What an endpoint's config may say about its requests (the structured-output mode and extra body
fields), shared by the config models (cai.core.configs) and the client (cai.llm.structured): config
validation sits in core, below the clients that use it."""

from __future__ import annotations

import re
from typing import Any, Literal

from cai.core.redact import looks_like_secret

StructuredOutput = Literal["auto", "json_schema", "json_object_schema", "tgi_grammar", "guided_json", "ollama_format",
                           "json_object", "none"]

# Request fields a mode (or the client) sets: extra_body may not set them.
RESERVED_FIELDS = frozenset({"model", "messages", "stream", "n", "temperature", "max_tokens", "response_format",
                             "guided_json", "format", "grammar"})
_SECRET_FIELD = re.compile(r"(?i)(api[-_]?key|authorization|token|secret|password|credential)")


def check_extra_body(value: dict[str, Any]) -> dict[str, Any]:
    """Config validator of an endpoint's `extra_body`: sampling fields only, never the fields the client
    or a structured-output mode sets, never a credential (it is recorded in the manifest). The message
    never repeats a value."""
    for key, item in value.items():
        if key in RESERVED_FIELDS:
            raise ValueError(f"'{key}' is set by cai (teacher settings or structured_output), not by extra_body")
        if _SECRET_FIELD.search(key) or (isinstance(item, str) and looks_like_secret(item)):
            raise ValueError(f"'{key}' looks like a credential; extra_body is recorded in the run manifest, so keys "
                             "go in an environment variable named by api_key_env")
    return value
