"""Training rows from a finished record: SFT examples and preference pairs (revision and judge).

Revision pairs follow Constitutional AI (Bai et al. 2022, §3): the revised answer is preferred to
the draft it fixed. Judge pairs are RLAIF labels (§4): a teacher compares two answers under a
sampled comparison principle, in both orders to cancel position bias (Zheng et al. 2023, "Judging
LLM-as-a-judge"); pairs whose two orders disagree are dropped, and the soft label is the mean of
the two orders' probabilities.

A pair teaches only the difference between its sides, so each pair must differ in what it claims:
a pair whose sides differ only by an appended `[DOC p.N]` teaches a reward model to add citations,
not to be right (issue #17). So a revision pair is written only when the revision fixed or
withdrew a claim (or removed an injected instruction, or fixed a rule the whole answer broke);
judge pairs compare the final answer with each earlier candidate of the loop that differs from it
in substance; and a chosen side never holds an unsupported claim or an instruction, never has
fewer supported claims than its rejected side, and is never a revision the gate rejected
(`cai.stages.revision_gate`). Each pair carries a `PairLabel`: why the chosen side wins; its
reasons, rules and fixed claims also ride in the pair itself (`PreferencePair.reason`), so that
preferences.jsonl alone says why, and pair_reasons.jsonl adds both sides' claim counts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from cai.core.configs import JudgeConfig
from cai.core.constitution import Constitution
from cai.core.contracts import (
    ClaimVerdict,
    Message,
    PairReason,
    PreferencePair,
    Record,
    SearchHit,
    SFTExample,
    Sources,
    Verdict,
)
from cai.core.prompts import policy_messages
from cai.teachers.base import Teacher
from rewards.claim_diff import content_claims, has_same, same_substance, supported_count, unsupported_count
from rewards.claims import split_claims
from rewards.injection import INJECTION_RULE_ID, instruction_like
from rewards.score import support_rate

# Why a chosen side wins (the dataset card counts pairs by these).
CORRECTED = "claim-corrected"  # a wrong claim replaced by a supported one
WITHDRAWN = "claim-withdrawn"  # a wrong or rule-breaking claim removed, or an explicit abstention
INJECTION_REMOVED = "injection-removed"  # an instruction copied from a source dropped
RULE_FIXED = "rule-fixed"  # a rule the whole answer broke (a missing marker, a forbidden phrase) fixed
MORE_SUPPORTED = "more-supported-claims"  # judge: the chosen side has more supported claims
FEWER_UNSUPPORTED = "fewer-unsupported-claims"  # judge: the chosen side has fewer unsupported claims


@dataclass(frozen=True)
class Candidate:
    """One answer the loop produced for a question, with its claim verdicts."""

    text: str
    claims: list[ClaimVerdict]
    kind: Literal["draft", "revision", "rejected", "final"]


@dataclass(frozen=True)
class PairLabel:
    """Why a pair's chosen side wins: reasons, the rules involved, the claims of the rejected side
    that the chosen side fixes or withdraws, and both sides' supported / unsupported counts."""

    id: str
    source: str
    reasons: tuple[str, ...]
    rule_ids: tuple[str, ...] = ()
    claims_fixed: tuple[str, ...] = ()
    supported: tuple[int, int] = (0, 0)  # (chosen, rejected)
    unsupported: tuple[int, int] = (0, 0)
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"id": self.id, "source": self.source, "reasons": list(self.reasons), "rule_ids": list(self.rule_ids),
                "claims_fixed": list(self.claims_fixed), "supported_chosen": self.supported[0],
                "supported_rejected": self.supported[1], "unsupported_chosen": self.unsupported[0],
                "unsupported_rejected": self.unsupported[1], **self.extra}

    def reason(self) -> PairReason:
        """The part of the label a pair carries in preferences.jsonl."""
        return PairReason(reasons=list(self.reasons), rule_ids=list(self.rule_ids),
                          claims_fixed=list(self.claims_fixed))


def _messages(question: str, sources: list[SearchHit]) -> list[Message]:
    return [Message.model_validate(m) for m in policy_messages(question, sources)]


def clean(text: str | None, claims: list[ClaimVerdict]) -> bool:
    """A text fit to be a training target: no unsupported claim, no instruction-like sentence."""
    return bool(text) and not instruction_like(text) and not any(c.verdict == Verdict.unsupported
                                                                for c in content_claims(claims))


def sft_example(record: Record) -> SFTExample | None:
    """The final answer as an SFT target, unless a claim of it is unsupported or it repeats an
    instruction (a policy trained on it would learn to obey documents)."""
    if record.status != "ok" or not clean(record.final_answer, record.claims):
        return None
    msgs = [*_messages(record.question, record.sources), Message(role="assistant", content=record.final_answer)]
    return SFTExample(id=record.id, messages=msgs)


def _abstains(text: str) -> bool:
    return any(s.kind == "abstention" for s in split_claims(text, keep_non_claims=True))


def _fixes(chosen: Candidate, rejected: Candidate, named: dict[str, set[str]]) -> tuple[list[str], list[str], set]:
    """Claims of `rejected` that `chosen` fixes or withdraws (unsupported ones, or ones a critique
    asked to change), the reasons, and the rule ids involved."""
    gone = [c for c in content_claims(rejected.claims) if not has_same(c.text, chosen.claims)]
    fixed = [c for c in gone if c.verdict != Verdict.supported or c.text in named]
    reasons, rules = [], set()
    for c in fixed:
        rules |= named.get(c.text, set())
    if fixed:
        new = [c for c in content_claims(chosen.claims)
               if c.verdict == Verdict.supported and not has_same(c.text, rejected.claims)]
        reasons.append(CORRECTED if new else WITHDRAWN)
        if new and _abstains(chosen.text):
            reasons.append(WITHDRAWN)
    if instruction_like(rejected.text) and not instruction_like(chosen.text):
        reasons.append(INJECTION_REMOVED)
        rules.add(INJECTION_RULE_ID)
    return [c.text for c in fixed], reasons, rules


def _counts(chosen: Candidate, rejected: Candidate) -> dict:
    return {"supported": (supported_count(chosen.claims), supported_count(rejected.claims)),
            "unsupported": (unsupported_count(chosen.claims), unsupported_count(rejected.claims))}


def may_choose(chosen: Candidate, rejected: Candidate) -> bool:
    """A pair may prefer `chosen` only when it is clean, not a rejected revision, differs from
    `rejected` in substance and has at least as many supported claims."""
    return (chosen.kind != "rejected" and clean(chosen.text, chosen.claims)
            and not same_substance(chosen.text, rejected.text)
            and supported_count(chosen.claims) >= supported_count(rejected.claims))


def critique_claims(record: Record, citation_rules: set[str]) -> tuple[dict[str, set[str]], set[str], set[str]]:
    """From the record's critiques: claim text → the content rules that named it; the content
    rules that flagged the whole answer in the first round; and those still flagged at the end (the
    last critique when it ended the loop, i.e. judged the final answer)."""
    named: dict[str, set[str]] = {}
    for rnd in record.rounds:
        for v in rnd.critique.violations:
            if v.claim and v.rule_id not in citation_rules:
                named.setdefault(v.claim, set()).add(v.rule_id)
    first = {v.rule_id for v in record.rounds[0].critique.violations
             if not v.claim and v.rule_id not in citation_rules} if record.rounds else set()
    last = record.rounds[-1] if record.rounds else None
    still = ({v.rule_id for v in last.critique.violations} if last is not None and last.revision is None
             else set(first))
    # Claims are named as the critique quoted them; a revision's claim texts carry citations.
    for c in record.draft_claims:
        for text, rules in list(named.items()):
            if c.text != text and (text in c.text or c.text in text):
                named.setdefault(c.text, set()).update(rules)
    return named, first, still


def revision_pair(record: Record, citation_rules: set[str] | frozenset = frozenset()
                  ) -> tuple[PreferencePair, PairLabel] | None:
    """(final ≻ draft) when the loop fixed something in substance: a wrong or rule-breaking claim
    corrected or withdrawn, an injected instruction removed, or a whole-answer rule fixed — never
    for a citation appended alone — and the final is a clean, at-least-as-supported answer."""
    if record.status != "ok" or not record.draft or not record.final_answer:
        return None
    chosen = Candidate(record.final_answer, record.claims, "final")
    rejected = Candidate(record.draft, record.draft_claims, "draft")
    if not may_choose(chosen, rejected):
        return None
    named, first, still = critique_claims(record, set(citation_rules))
    fixed, reasons, rules = _fixes(chosen, rejected, named)
    resolved = first - still
    if resolved:
        reasons.append(RULE_FIXED)
        rules |= resolved
    if not reasons:
        return None
    gain = (support_rate(record.claims) or 0.0) - (support_rate(record.draft_claims) or 0.0)
    pair = PreferencePair(
        id=f"{record.id}:revision",
        prompt=_messages(record.question, record.sources),
        chosen=[Message(role="assistant", content=record.final_answer)],
        rejected=[Message(role="assistant", content=record.draft)],
        source="revision",
        confidence=round(min(1.0, 0.75 + 0.25 * max(gain, 0.0)), 4),
        rule_ids=sorted(rules),
    )
    label = PairLabel(pair.id, "revision", tuple(reasons), tuple(sorted(rules)), tuple(fixed),
                      **_counts(chosen, rejected))
    pair.reason = label.reason()
    return pair, label


def _judge_label(pair_id: str, principle_id: str, chosen: Candidate, rejected: Candidate) -> PairLabel:
    fixed, reasons, rules = _fixes(chosen, rejected, {})
    counts = _counts(chosen, rejected)
    if counts["supported"][0] > counts["supported"][1]:
        reasons.append(MORE_SUPPORTED)
    if counts["unsupported"][0] < counts["unsupported"][1]:
        reasons.append(FEWER_UNSUPPORTED)
    return PairLabel(pair_id, "judge", tuple(dict.fromkeys(reasons)), tuple(sorted(rules | {principle_id})),
                     tuple(fixed), **counts, extra={"principle": principle_id})


async def judge_pairs(teacher: Teacher, record: Record, sources: Sources, constitution: Constitution, cfg: JudgeConfig,
                      rng: random.Random, candidates: list[Candidate] | None = None
                      ) -> tuple[list[PreferencePair], list[str], list[PairLabel]]:
    """Judge the final answer against each earlier candidate of the loop that differs from it in
    substance (the draft, revisions, rejected revisions), under sampled principles, both orders.
    Returns (pairs, call ids, labels)."""
    if not cfg.enabled or record.status != "ok" or not record.draft or not record.final_answer:
        return [], [], []
    principles = constitution.comparison_principles
    if not principles:
        return [], [], []
    final = Candidate(record.final_answer, record.claims, "final")
    others: list[Candidate] = []
    for c in candidates or [Candidate(record.draft, record.draft_claims, "draft")]:
        if c.kind != "final" and not same_substance(c.text, final.text) and not any(
                same_substance(c.text, o.text) for o in others):
            others.append(c)
    if not others:
        return [], [], []
    pool = list(zip(principles, [p.weight for p in principles], strict=True))
    chosen_principles = []
    for _ in range(min(cfg.n_principles, len(pool))):
        pick = rng.choices(range(len(pool)), weights=[w for _, w in pool])[0]
        chosen_principles.append(pool.pop(pick)[0])
    pairs, call_ids, labels = [], [], []
    for n, other in enumerate(others):
        for principle in chosen_principles:
            ab = await teacher.judge(record.question, sources, final.text, other.text, principle)
            call_ids += ab.call_ids
            p_a = ab.p_first
            if cfg.both_orders:
                ba = await teacher.judge(record.question, sources, other.text, final.text, principle)
                call_ids += ba.call_ids
                if (ab.p_first - 0.5) * ((1.0 - ba.p_first) - 0.5) < 0:
                    continue  # the two orders disagree: position bias, not a preference
                p_a = (ab.p_first + (1.0 - ba.p_first)) / 2
            confidence = max(p_a, 1.0 - p_a)
            chosen, rejected = (final, other) if p_a >= 0.5 else (other, final)
            if confidence < cfg.min_confidence or not may_choose(chosen, rejected):
                continue
            pair_id = f"{record.id}:judge:{principle.id}" + (f":{n}" if n else "")
            label = _judge_label(pair_id, principle.id, chosen, rejected)
            pairs.append(PreferencePair(
                id=pair_id, prompt=_messages(record.question, record.sources),
                chosen=[Message(role="assistant", content=chosen.text)],
                rejected=[Message(role="assistant", content=rejected.text)],
                source="judge", confidence=round(confidence, 4), rule_ids=[principle.id], reason=label.reason()))
            labels.append(label)
    return pairs, call_ids, labels
