"""The Teacher protocol: what `cai generate` asks of a teacher, whatever runs it.

Three backends implement it: `grounded` (deterministic, no weights), and `openai` / `hf`, which
are the same prompted teacher (`cai.teachers.prompted`) over two chat backends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from cai.core.constitution import ResolvedPrinciple, Rule
from cai.core.contracts import ClaimVerdict, RuleViolation, Sources


@dataclass
class TeacherText:
    """A drafted or revised answer and the teacher call(s) that produced it."""

    text: str
    call_ids: list[str] = field(default_factory=list)


@dataclass
class TeacherCritique:
    violations: list[RuleViolation]
    call_ids: list[str] = field(default_factory=list)
    text: str | None = None
    claims: list[ClaimVerdict] | None = None  # per-claim verdicts, when the teacher computed them


@dataclass
class Judgement:
    """A pairwise preference: P(first answer is better) under one comparison principle."""

    principle_id: str
    p_first: float
    reasoning: str = ""
    call_ids: list[str] = field(default_factory=list)


class Teacher(Protocol):
    """Drafts, critiques, revises and judges answers from delimited sources."""

    name: Literal["grounded", "openai", "hf"]
    model: str | None

    async def draft(self, question: str, sources: Sources) -> TeacherText: ...

    async def critique(self, question: str, sources: Sources, answer: str, rules: list[Rule]) -> TeacherCritique: ...

    async def revise(self, question: str, sources: Sources, answer: str, critique: TeacherCritique,
                     rules: list[Rule]) -> TeacherText: ...

    async def judge(self, question: str, sources: Sources, first: str, second: str,
                    principle: ResolvedPrinciple) -> Judgement: ...
