"""The prompted teacher: draft / critique / revise / judge through any chat backend.

`openai` and `hf` differ only in how a chat call is made (`ChatBackend`); the prompts, the
structured replies and their mapping to contracts are shared here.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel

from cai.core.constitution import ResolvedPrinciple, Rule
from cai.core.contracts import Evidence, Locator, RuleViolation, SearchHit, Sources
from cai.core.prompts import (
    AnswerReply,
    CritiqueReply,
    JudgeReply,
    critique_messages,
    draft_messages,
    judge_messages,
    revision_messages,
)
from cai.llm.chat import ChatReply
from cai.teachers.base import Judgement, TeacherCritique, TeacherText

# Clamp judge probabilities away from 0/1: chain-of-thought judges are overconfident
# (Bai et al. 2022, §4.1 clamp CoT probabilities to [0.4, 0.6] — we use a milder [0.05, 0.95]).
P_MIN, P_MAX = 0.05, 0.95


class ChatBackend(Protocol):
    model: str | None

    async def chat(self, messages: list[dict], *, response_model: type[BaseModel] | None = None,
                   max_tokens: int | None = None) -> ChatReply: ...


def _evidence(v, sources: list[SearchHit]) -> Evidence | None:
    """The violation's cited evidence, when it names a source that was actually given."""
    if not v.evidence_doc or not v.evidence_quote:
        return None
    for hit in sources:
        if hit.doc_id == v.evidence_doc and (v.evidence_page in (None, hit.page)) and v.evidence_quote in hit.text:
            start = hit.locator.char_start + hit.text.index(v.evidence_quote)
            loc = Locator(doc_id=hit.doc_id, page=hit.page, char_start=start, char_end=start + len(v.evidence_quote),
                          sentence=hit.locator.sentence)
            return Evidence(locator=loc, quote=v.evidence_quote)
    return None


class PromptedTeacher:
    """A Teacher over a chat backend (`name` is 'openai' or 'hf')."""

    def __init__(self, name: str, chat: ChatBackend):
        self.name = name
        self.chat = chat
        self.model = chat.model

    async def draft(self, question: str, sources: Sources) -> TeacherText:
        reply = await self.chat.chat(draft_messages(question, sources.hits), response_model=AnswerReply)
        return TeacherText(text=reply.parsed["answer"].strip(), call_ids=[reply.call_id])

    async def critique(self, question: str, sources: Sources, answer: str, rules: list[Rule]) -> TeacherCritique:
        messages = critique_messages(question, sources.hits, answer, rules)
        reply = await self.chat.chat(messages, response_model=CritiqueReply)
        known = {r.id: r for r in rules}
        violations = []
        for v in CritiqueReply.model_validate(reply.parsed).violations:
            rule = known.get(v.rule_id)
            if rule is None:  # a rule the teacher invented: not part of this round's constitution
                continue
            violations.append(RuleViolation(rule_id=rule.id, severity=rule.severity, claim=v.claim or None,
                                            evidence=_evidence(v, sources.hits), fix=v.fix or None))
        return TeacherCritique(violations=violations, call_ids=[reply.call_id], text=reply.text)

    async def revise(self, question: str, sources: Sources, answer: str, critique: TeacherCritique,
                     rules: list[Rule]) -> TeacherText:
        lines = [f"[{v.rule_id}] {v.claim or ''} → {v.fix or v.message or ''}".strip() for v in critique.violations]
        messages = revision_messages(question, sources.hits, answer, lines, rules)
        reply = await self.chat.chat(messages, response_model=AnswerReply)
        return TeacherText(text=reply.parsed["answer"].strip(), call_ids=[reply.call_id])

    async def judge(self, question: str, sources: Sources, first: str, second: str,
                    principle: ResolvedPrinciple) -> Judgement:
        messages = judge_messages(question, sources.hits, first, second, principle)
        reply = await self.chat.chat(messages, response_model=JudgeReply)
        parsed = JudgeReply.model_validate(reply.parsed)
        p_chosen = min(P_MAX, max(P_MIN, parsed.confidence))
        p_first = p_chosen if parsed.preferred == "A" else 1.0 - p_chosen
        return Judgement(principle_id=principle.id, p_first=p_first, reasoning=parsed.reasoning,
                         call_ids=[reply.call_id])
