"""Prompt token counts for `cai generate --dry-run`: the teacher's own tokenizer when it is known,
otherwise an estimate that says it is one.

Why: the words × 1.3 rule of thumb read ~40% under the real count for SmolLM2 (issue #22), and a
budget or context-length decision made on it is wrong. Counts go through the tokenizer's chat
template when it has one, as an OpenAI-compatible server applies it (the server's `prompt_tokens`).
Tokenizers load with `local_files_only=True`: a dry run never downloads anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cai.core.configs import TeacherConfig
from cai.core.errors import UserError

WORDS_TO_TOKENS = 1.3  # the usual ratio for BPE on English prose


def estimate_tokens(messages: list[dict]) -> int:
    """Rough token count: words × 1.3."""
    return round(sum(len(m["content"].split()) for m in messages) * WORDS_TO_TOKENS)


@dataclass
class PromptCounter:
    """`label(messages)`: "412 tokens, teacher tokenizer X" or "≈530 tokens, estimate (why)"."""

    tokenizer: Any | None
    name: str  # the tokenizer's name, or why there is none

    def count(self, messages: list[dict]) -> int:
        if self.tokenizer is None:
            return estimate_tokens(messages)
        if getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                     return_dict=True)["input_ids"]
            return len(ids)
        return sum(len(self.tokenizer.encode(m["content"], add_special_tokens=False)) for m in messages)

    def label(self, messages: list[dict]) -> str:
        if self.tokenizer is None:
            return f"≈{self.count(messages)} tokens, estimate: {WORDS_TO_TOKENS} per word; {self.name}"
        return f"{self.count(messages)} tokens, teacher tokenizer {self.name}"


def _load_offline(name: str):
    """The tokenizer at `name` (a path or a cached hub id), or None when it is not here."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError):  # not a local path nor in the HF cache; or not a valid repo id
        return None


def prompt_counter(teacher: TeacherConfig, chat: Any = None) -> PromptCounter:
    """The counter for this teacher: the hf teacher's loaded tokenizer (`chat.tokenizer`), else
    `teacher.tokenizer` (which must load offline: a UserError otherwise), else the first of
    teacher.model and the endpoints' models that loads offline, else an estimate."""
    loaded = getattr(chat, "tokenizer", None)
    if loaded is not None:
        return PromptCounter(loaded, str(teacher.model))
    if teacher.tokenizer:
        tok = _load_offline(teacher.tokenizer)
        if tok is None:
            raise UserError(f"teacher.tokenizer: '{teacher.tokenizer}' cannot be loaded offline; give a local "
                            "tokenizer directory or a hub id already in the Hugging Face cache (nothing is "
                            "downloaded), or remove the key to get estimates")
        return PromptCounter(tok, teacher.tokenizer)
    if teacher.backend == "grounded":
        return PromptCounter(None, "the grounded teacher has no tokenizer")
    names = [teacher.model, *(ep.model for ep in teacher.endpoints)]
    for name in dict.fromkeys(n for n in names if n):
        if (tok := _load_offline(name)) is not None:
            return PromptCounter(tok, name)
    return PromptCounter(None, "no tokenizer for the teacher's model here (set teacher.tokenizer to count exactly)")
