"""Training rows from a finished record: SFT examples and preference pairs (revision and judge).

Revision pairs follow Constitutional AI (Bai et al. 2022, §3): the revised answer is preferred to
the draft it fixed. Judge pairs are RLAIF labels (§4): a teacher compares two answers under a
sampled comparison principle, in both orders to cancel position bias (Zheng et al. 2023, "Judging
LLM-as-a-judge"); pairs whose two orders disagree are dropped, and the soft label is the mean of
the two orders' probabilities.
"""

from __future__ import annotations

import random

from cai.core.configs import JudgeConfig
from cai.core.constitution import Constitution
from cai.core.contracts import (
    Message,
    PreferencePair,
    Record,
    SearchHit,
    SFTExample,
    Sources,
    Verdict,
)
from cai.core.prompts import policy_messages
from cai.teachers.base import Teacher
from rewards.score import support_rate


def _messages(question: str, sources: list[SearchHit]) -> list[Message]:
    return [Message.model_validate(m) for m in policy_messages(question, sources)]


def sft_example(record: Record) -> SFTExample | None:
    """The final answer as an SFT target, unless any of its claims is still unsupported."""
    if record.status != "ok" or not record.final_answer:
        return None
    if any(c.verdict == Verdict.unsupported for c in record.claims):
        return None
    msgs = [*_messages(record.question, record.sources), Message(role="assistant", content=record.final_answer)]
    return SFTExample(id=record.id, messages=msgs)


def revision_pair(record: Record) -> PreferencePair | None:
    """(final ≻ draft) when the loop changed the draft and the final is at least as supported."""
    if (record.status != "ok" or not record.draft or not record.final_answer
            or record.final_answer.strip() == record.draft.strip()):
        return None
    gain = (support_rate(record.claims) or 0.0) - (support_rate(record.draft_claims) or 0.0)
    if gain < 0:
        return None  # the revision made things worse: no preference to learn
    rule_ids = sorted({v.rule_id for r in record.rounds for v in r.critique.violations})
    return PreferencePair(
        id=f"{record.id}:revision",
        prompt=_messages(record.question, record.sources),
        chosen=[Message(role="assistant", content=record.final_answer)],
        rejected=[Message(role="assistant", content=record.draft)],
        source="revision",
        confidence=round(min(1.0, 0.5 + 0.5 * max(gain, 0.0) + (0.25 if rule_ids else 0.0)), 4),
        rule_ids=rule_ids,
    )


async def judge_pairs(teacher: Teacher, record: Record, sources: Sources, constitution: Constitution, cfg: JudgeConfig,
                      rng: random.Random) -> tuple[list[PreferencePair], list[str]]:
    """Judge draft vs final under sampled principles, both orders; returns (pairs, call ids)."""
    if (not cfg.enabled or record.status != "ok" or not record.draft or not record.final_answer
            or record.draft == record.final_answer):
        return [], []
    principles = constitution.comparison_principles
    if not principles:
        return [], []
    weights = [p.weight for p in principles]
    chosen_principles = []
    pool = list(zip(principles, weights, strict=True))
    for _ in range(min(cfg.n_principles, len(pool))):
        pick = rng.choices(range(len(pool)), weights=[w for _, w in pool])[0]
        chosen_principles.append(pool.pop(pick)[0])
    a, b = record.final_answer, record.draft
    pairs, call_ids = [], []
    for principle in chosen_principles:
        ab = await teacher.judge(record.question, sources, a, b, principle)
        call_ids += ab.call_ids
        p_a = ab.p_first
        if cfg.both_orders:
            ba = await teacher.judge(record.question, sources, b, a, principle)
            call_ids += ba.call_ids
            if (ab.p_first - 0.5) * ((1.0 - ba.p_first) - 0.5) < 0:
                continue  # the two orders disagree: position bias, not a preference
            p_a = (ab.p_first + (1.0 - ba.p_first)) / 2
        confidence = max(p_a, 1.0 - p_a)
        if confidence < cfg.min_confidence:
            continue
        chosen, rejected = (a, b) if p_a >= 0.5 else (b, a)
        pairs.append(PreferencePair(
            id=f"{record.id}:judge:{principle.id}",
            prompt=_messages(record.question, record.sources),
            chosen=[Message(role="assistant", content=chosen)],
            rejected=[Message(role="assistant", content=rejected)],
            source="judge",
            confidence=round(confidence, 4),
            rule_ids=[principle.id],
        ))
    return pairs, call_ids
