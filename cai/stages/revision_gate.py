"""The revision gate: a revision is applied only when it keeps what the checker supported.

Constitutional AI's critique → revision loop (Bai et al. 2022, §3) assumes each revision is at
least as good as the text it revises: the revised text becomes the SFT target and the chosen side
of a revision pair. A weak teacher breaks that assumption — a 135M model asked to add a citation
rewrote a correct answer as "Halvorsen Tidewater Logistics, Inc." (issue #22). The gate compares a
revision with the text it revises, claim by claim, on the checker's verdicts (`rewards.claim_diff`,
after RARR's attribution-and-preservation view of revision, Gao et al. 2023), and rejects it when

* `dropped-supported-claim`: a claim the checker supported is gone;
* `weakened-supported-claim`: it is reworded but no longer supported, or lost a figure;
* `less-supported`: the revision's claims are supported at a lower rate than the previous text's.

A supported claim may still go when this round's critique asked for a change to it — named by a
violation of a rule that is not only about citations, or breaking a rule on its own (advice, a
forecast stated as fact): removing it is then the fix. A rejected revision stays in the trace
(round, text, reasons) while the previous text is kept, so it never becomes an SFT target nor the
chosen side of a pair. Instruction-like sentences (`rewards.injection`) are not content: never
protected, never counted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from cai.core.constitution import Rule
from cai.core.contracts import ClaimVerdict, RuleViolation, Verdict
from rewards.claim_diff import (
    DROPPED,
    WEAKENED,
    content_claims,
    fate,
    plain,
    similarity,
    support_of,
    supported_count,
)
from rewards.injection import INJECTION_RULE_ID

LESS_SUPPORTED = "less-supported"
REASONS = (DROPPED, WEAKENED, LESS_SUPPORTED)
NAMED_SIMILARITY = 0.6  # a violation's claim this similar to a claim names it (LLM critiques paraphrase)

# Machine checks of a rule on one claim alone: (rule ids, claim text, its verdicts) → violations.
MachineChecks = Callable[[list[str], str, list[ClaimVerdict]], Awaitable[list[RuleViolation]]]


def citation_only_rules(rules: Iterable[Rule]) -> set[str]:
    """Rules whose only machine check asks for citations: a violation of one is fixed by citing,
    never by changing what a claim says."""
    return {r.id for r in rules if set(r.checks.enabled()) == {"must_cite"}}


def _names(violation_claim: str, claim: str) -> bool:
    a, b = plain(violation_claim), plain(claim)
    return bool(a and b) and (a in b or b in a or similarity(violation_claim, claim) >= NAMED_SIMILARITY)


async def licensed_claims(before: list[ClaimVerdict], violations: list[RuleViolation], citation_rules: set[str],
                          machine: MachineChecks) -> set[str]:
    """The supported claims of `before` that this round's critique asked to change: named by a
    content violation, or (for violations of the whole answer: a forbidden phrase, a missing
    marker) breaking one of those rules on their own."""
    content = [v for v in violations if v.rule_id not in citation_rules and v.rule_id != INJECTION_RULE_ID]
    whole = sorted({v.rule_id for v in content if not v.claim})
    out = set()
    for c in content_claims(before):
        if c.verdict != Verdict.supported:
            continue
        if any(v.claim and _names(v.claim, c.text) for v in content):
            out.add(c.text)
        elif whole and [v for v in await machine(whole, c.text, [c]) if v.rule_id not in citation_rules]:
            out.add(c.text)
    return out


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict on one round's revision, as the trace records it."""

    round: int
    accepted: bool
    reasons: tuple[str, ...] = ()
    claims: tuple[str, ...] = ()  # the supported claims the revision dropped or weakened
    supported_before: int = 0
    supported_after: int = 0
    support_before: float | None = None
    support_after: float | None = None
    dropped_instructions: tuple[str, ...] = ()  # instruction-like sentences removed from the revision

    def trace(self) -> dict:
        out = {"round": self.round, "accepted": self.accepted, "reasons": list(self.reasons),
               "claims": list(self.claims), "supported_before": self.supported_before,
               "supported_after": self.supported_after, "support_before": self.support_before,
               "support_after": self.support_after}
        if self.dropped_instructions:
            out["dropped_instructions"] = list(self.dropped_instructions)
        return out


def judge_revision(round_no: int, before: list[ClaimVerdict], after: list[ClaimVerdict], licensed: set[str],
                   dropped_instructions: Iterable[str] = ()) -> GateDecision:
    """Accept or reject a revision (`after`) of the text whose claims are `before`."""
    before_c, after_c = content_claims(before), content_claims(after)
    reasons: list[str] = []
    hurt: list[str] = []
    for claim in before_c:
        if claim.verdict != Verdict.supported or claim.text in licensed:
            continue
        outcome = fate(claim, after_c)
        if outcome is not None:
            hurt.append(claim.text)
            if outcome not in reasons:
                reasons.append(outcome)
    s_before, s_after = support_of(before_c), support_of(after_c)
    if s_before is not None and s_after is not None and s_after < s_before - 1e-9:
        reasons.append(LESS_SUPPORTED)
    return GateDecision(round=round_no, accepted=not reasons, reasons=tuple(reasons), claims=tuple(hurt),
                        supported_before=supported_count(before_c), supported_after=supported_count(after_c),
                        support_before=None if s_before is None else round(s_before, 4),
                        support_after=None if s_after is None else round(s_after, 4),
                        dropped_instructions=tuple(dropped_instructions))


def rejected_by_reason(records_metadata: Iterable[dict]) -> dict[str, int]:
    """Rejected revisions of a run counted by reason (a revision with two reasons counts under both)."""
    counts = dict.fromkeys(REASONS, 0)
    for meta in records_metadata:
        for step in meta.get("revision_gate", []) or []:
            if not step.get("accepted", True):
                for reason in step.get("reasons", []):
                    counts[reason] = counts.get(reason, 0) + 1
    return counts
