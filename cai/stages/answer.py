"""`cai answer`: retrieve, answer, verify every claim, deliver only what the sources support.

Read top to bottom:

1. **setup** — `open_policy` (a transformers causal LM, optionally with a LoRA adapter from
   `cai train`; one loaded base model serves several adapters via `Policy.use_adapter`). Without a
   policy the `grounded` teacher drafts extractively (its own `draft`, not a second drafter).
2. **answer** — `answer_question`: retrieve the top-k chunks, prompt the policy with
   `cai.core.prompts.policy_messages` (the one format of SFT data, RL rollouts and serving) through
   the tokenizer's chat template, greedy decoding.
3. **verify** — `rewards.relevance.deliver`: every claim is checked against the full pages of the
   sources by a fail-closed checker (`rewards.checker.FailClosed`: a `supported` verdict must carry
   a quote that is verbatim at its locator; `rewards.verify.verify_answer`). Unsupported /
   unverified claims are removed (default) or kept with a visible `[UNSUPPORTED]` / `[UNVERIFIED]`
   marker; every kept claim cites the page of its evidence (added when the model omitted it;
   citations of pages that are not among the sources are dropped). A supported claim that does not
   address the question — its measure, entity and period (`rewards.relevance`: "When does
   Ostrander's fiscal year end?" is not answered by a business description) — is removed too. The
   kept text is checked again until nothing changes, so the verdicts reported are the verdicts of
   exactly the delivered text. Nothing supported and relevant → the explicit abstention "The
   sources do not state …": retrieval that holds no answer gets no answer.
4. **output** — `render_text` (answer, then the numbered claims with verdict, relevance, locator,
   quote and why each was kept or removed) and `render_json` (one JSON object: `Answer.model_dump`;
   each claim carries its checker verdict, score and reason, its `relevance` and a one-line `why`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import Field

from cai.core.contracts import (
    AnswerClaim,
    AnsweredBy,
    AnsweredQuestion,
    OnUnsupported,
    RuleViolation,
    SourcePage,
    Verdict,
    Verification,
)
from cai.core.errors import UserError
from cai.training.policy import (
    DEFAULT_MAX_NEW_TOKENS,
    Policy,
    open_policy,
    read_adapter,
    warn_stderr,
)
from rewards.checker import open_checker
from rewards.relevance import Relevance, deliver

DEFAULT_K = 5


class ExplainedClaim(AnswerClaim):
    """A claim of the answer with why it was delivered or removed: the checker's verdict, score and
    reason, and whether it addresses the question (`relevance`, None for a claim the checker did not
    support: relevance is only asked of what could be delivered)."""

    relevance: Relevance | None = None
    why: str = Field(description="One line: the verdict and the relevance that decided this claim's fate.")


class Answer(AnsweredQuestion):
    """`cai answer`'s result: `AnsweredQuestion` whose claims say why they were kept or removed."""

    claims: list[ExplainedClaim] = Field(description="Delivered claims, in answer order.")
    removed: list[ExplainedClaim] = Field(default_factory=list,
                                          description="Claims not delivered: unsupported, or off the question.")


def explained(claim: AnswerClaim, relevance: Relevance | None) -> ExplainedClaim:
    """`claim` with its relevance and a one-line `why`."""
    verdict = f"{claim.verdict.value} {claim.score:.2f}" + (f" ({claim.reason})" if claim.reason else "")
    if claim.action == "removed":
        why = (f"removed: {relevance.reason}, though {verdict}" if relevance is not None
               else f"removed: {verdict}")
    elif claim.action == "marked":
        why = f"delivered with a marker: {verdict}"
    else:
        why = f"kept: {verdict}; " + (relevance.reason if relevance is not None else "relevance not judged")
    return ExplainedClaim(**claim.model_dump(), relevance=relevance, why=why)


# --------------------------------------------------------------------------------------- answer
def answer_question(question: str, *, retriever, checker, policy: Policy | None = None, k: int = DEFAULT_K,
                    mode: str = "hybrid", on_unsupported: OnUnsupported = "remove",
                    constitution=None) -> Answer:
    """Retrieve → answer (the policy, else the grounded teacher) → verify and keep what is relevant → Answer.

    `retriever`: a `rag.retrieve.Retriever` (its `search` and `store.page`); `checker`: any
    `rewards.checker.Checker` (wrapped in `FailClosed` if it is not already); `constitution`: a
    resolved constitution whose machine checks are reported on the delivered answer.
    """
    from rag.quotes import gather_sources

    if not question.strip():
        raise UserError("the question is empty; give the question to answer, "
                        "e.g. cai answer --index DIR \"What was …?\"")
    sources = gather_sources(retriever.search(question, k=k, mode=mode), retriever.store.page)
    if policy is None:
        from cai.teachers.grounded import GroundedTeacher

        raw = asyncio.run(GroundedTeacher(retriever.store.page, checker).draft(question, sources)).text
        by = AnsweredBy(kind="grounded")
    else:
        raw, by = policy.generate(question, sources.hits), policy.described()
    delivered = deliver(question, raw, sources.pages, checker=checker, on_unsupported=on_unsupported)
    verified = delivered.verification
    violations = _rule_violations(constitution, question, verified, sources.pages)
    claims = [explained(c, r) for c, r in zip(verified.claims, delivered.relevance, strict=True)]
    removed = [explained(c, None) for c in verified.removed] + [explained(c, r) for c, r in delivered.off_topic]
    return Answer(question=question, sources=sources.hits, answered_by=by, violations=violations,
                  **(dict(verified) | {"claims": claims, "removed": removed}))


def _rule_violations(constitution, question: str, verified: Verification,
                     pages: list[SourcePage]) -> list[RuleViolation]:
    if constitution is None:
        return []
    from rewards.rules import evaluate_rules

    return evaluate_rules(constitution, question, verified.answer, verified.claims, pages)


# --------------------------------------------------------------------------------------- output
def render_json(result: Answer) -> str:
    return json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2)


def render_text(result: Answer) -> str:
    """The answer, then each claim: verdict, score, relevance, locator, the verbatim quote and why."""
    lines = [result.answer, ""]
    if result.claims:
        lines.append(f"Claims ({sum(c.verdict == Verdict.supported for c in result.claims)} supported):")
        lines += _claim_lines(result.claims)
    if result.removed:
        lines.append(f"Removed ({len(result.removed)}, not delivered):")
        lines += _claim_lines(result.removed)
    for v in result.violations:
        lines.append(f"rule {v.rule_id} ({v.severity}): {v.message or v.claim or ''}".rstrip())
    lines.append(_answered_by_line(result.answered_by) + f"; checker {result.checker}")
    return "\n".join(lines)


def _claim_lines(claims: Sequence[ExplainedClaim]) -> list[str]:
    lines = []
    for n, c in enumerate(claims, 1):
        where = str(c.evidence.locator) if c.evidence else "no evidence"
        relevant = "" if c.relevance is None else (
            f" · relevant {c.relevance.score:.2f}" if c.relevance.relevant else " · off the question")
        lines.append(f"{n}. [{c.verdict.value} {c.score:.2f}{relevant}] {' '.join(c.text.split())}")
        lines.append(f"   {where}" + (f': "{" ".join(c.evidence.quote.split())}"' if c.evidence else ""))
        lines.append(f"   why: {c.why}")
    return lines


def _answered_by_line(by: AnsweredBy) -> str:
    if by.kind == "grounded":
        return "answered by: the grounded teacher (extractive)"
    line = f"answered by: policy {by.model}" + (f" + adapter {by.adapter}" if by.adapter else "")
    meta = by.adapter_metadata or {}
    rules = meta.get("constitution")
    if isinstance(rules, dict):  # cai_adapter.json from `cai train`
        line += f" (constitution {rules.get('name')} v{rules.get('version')} sha256 {str(rules.get('sha256'))[:12]}…"
        line += f"; data run {meta['data_run']})" if meta.get("data_run") else ")"
    elif meta:
        line += f" ({json.dumps(meta, ensure_ascii=False, sort_keys=True)})"
    return line


# ------------------------------------------------------------------------------------------- CLI
def answer_command(index_dir: Path, question: str, *, policy: str | None = None, adapter: Path | None = None,
                   checker: str = "offline", k: int = DEFAULT_K, on_unsupported: OnUnsupported = "remove",
                   max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, constitution: str | None = None,
                   as_json: bool = False, warn: Callable[[str], None] = warn_stderr) -> str:
    """`cai answer`: inputs checked first (cheap), then models loaded; returns what to print."""
    from rag.retrieve import Retriever

    if not question.strip():
        raise UserError("the question is empty; give the question to answer, "
                        "e.g. cai answer --index DIR \"What was …?\"")
    if not Path(index_dir).is_dir():
        raise UserError(f"--index {index_dir}: no such directory; build one with `cai ingest PATH --index {index_dir}`")
    if adapter is not None:
        read_adapter(adapter)
    rules = None
    if constitution is not None:
        from cai.core.constitution import load_constitution

        rules = load_constitution(constitution)
    check = open_checker(checker, setting="--checker")
    served = open_policy(policy, adapter, max_new_tokens=max_new_tokens, warn=warn) if policy or adapter else None
    retriever = Retriever.open(index_dir)
    try:
        result = answer_question(question, retriever=retriever, checker=check, policy=served, k=k,
                                 on_unsupported=on_unsupported, constitution=rules)
    finally:
        retriever.close()
    return render_json(result) if as_json else render_text(result)
