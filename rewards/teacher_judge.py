"""The `teacher` checker: an OpenAI-compatible LLM judges each claim, with structured output.

One call per answer (LLM-as-a-judge, Zheng et al. 2023; claim-level as in FActScore, Min et al.
2023): the teacher sees the source pages (delimited and neutralised, `cai.core.prompts`) and the
numbered claims (`rewards.claims.split_claims`), and replies with a JSON object validated by
`JudgeClaimsReply`: per claim a verdict, a score in [0, 1] and a verbatim evidence quote with its
doc and page.

The teacher's quote is never trusted: it is searched for in the given pages (the named page first,
exactly, then ignoring whitespace differences, since models re-flow line breaks), and the evidence
is the page's own text at the found span, so the locator's char offsets and quote hold by
construction. A `supported` claim whose quote is not found becomes `unverified` (score < 0.5), a
claim the reply leaves out is `unverified`, and a failed call raises: `FailClosed` turns that into
`unverified` for every claim.

`check` is synchronous (the `Checker` protocol); the async client runs on a private event loop in
a daemon thread, so `check` works from plain code and from inside another running loop alike.
"""

from __future__ import annotations

import asyncio
import bisect
import re
import threading
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cai.core.configs import TeacherConfig
from cai.core.contracts import ClaimVerdict, Evidence, Locator, SourcePage, Verdict
from cai.core.prompts import SYSTEM, neutralise
from cai.llm.openai_chat import OpenAIChat
from rag.sentences import sentence_spans
from rewards.claims import Claim, split_claims

_QUOTE_MARKS = "\"'“”‘’ \n\t"


class ClaimJudgement(BaseModel):
    model_config = ConfigDict(extra="ignore")  # servers add fields; we keep what we asked for

    n: int = Field(description="The claim's number as given.")
    verdict: Literal["supported", "unsupported", "unverified"]
    score: float = Field(ge=0.0, le=1.0, description="Probability that the sources support the claim.")
    quote: str = Field("", description="Verbatim excerpt of one source that decides the claim.")
    doc: str | None = Field(None, description="doc attribute of the quoted source.")
    page: int | None = Field(None, description="page attribute of the quoted source.")
    reason: str = ""


class JudgeClaimsReply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    claims: list[ClaimJudgement] = Field(default_factory=list)


def judge_claims_messages(question: str | None, claims: Sequence[Claim], sources: Sequence[SourcePage]) -> list[dict]:
    """The judge prompt: delimited sources, the question, the numbered claims, the reply schema."""
    blocks = "\n".join(
        f'<source n="{i}" doc="{s.doc_id}" page="{s.page}">\n{neutralise(s.text.strip())}\n</source>'
        for i, s in enumerate(sources, 1)
    )
    numbered = "\n".join(f'<claim n="{i}">{neutralise(c.plain)}</claim>' for i, c in enumerate(claims, 1))
    user = (
        f"<sources>\n{blocks}\n</sources>\n\n" + (f"Question: {question}\n\n" if question else "")
        + f"Claims:\n{numbered}\n\n"
        "For each claim decide whether the sources support it: 'supported' only if a source states it "
        "or it follows from stated figures by simple arithmetic; 'unsupported' if the sources contradict "
        "it or do not state it; 'unverified' if you cannot tell. Give a score (probability of support), "
        "the verbatim quote from one source that decides it (copy the text exactly), and that source's "
        'doc and page. Reply as JSON: {"claims": [{"n": 1, "verdict": ..., "score": ..., "quote": ..., '
        '"doc": ..., "page": ..., "reason": ...}]}, one entry per claim.'
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def _collapsed(text: str) -> tuple[str, list[int]]:
    """`text` with whitespace runs collapsed to one space, and each output char's index in `text`."""
    out, index = [], []
    for i, ch in enumerate(text):
        if ch.isspace():
            if out and out[-1] == " ":
                continue
            ch = " "
        out.append(ch)
        index.append(i)
    return "".join(out), index


def find_quote(quote: str, sources: Sequence[SourcePage], doc: str | None = None,
               page: int | None = None) -> tuple[int, int, int] | None:
    """(source index, char_start, char_end) of `quote` in the pages, or None.

    The named (doc, page) is searched first, then every page; exact match first, then a match that
    ignores whitespace differences (mapped back to the page's own offsets).
    """
    quote = quote.strip(_QUOTE_MARKS)
    if len(quote) < 3:
        return None
    order = sorted(range(len(sources)), key=lambda i: (sources[i].doc_id != doc, sources[i].page != page))
    for i in order:
        start = sources[i].text.find(quote)
        if start >= 0:
            return i, start, start + len(quote)
    wanted = re.sub(r"\s+", " ", quote)
    for i in order:
        flat, index = _collapsed(sources[i].text)
        at = flat.find(wanted)
        if at >= 0:
            return i, index[at], index[at + len(wanted) - 1] + 1
    return None


def _evidence(found: tuple[int, int, int], sources: Sequence[SourcePage]) -> Evidence:
    i, start, end = found
    source = sources[i]
    starts = [s for s, _ in sentence_spans(source.text)]
    sentence = max(0, bisect.bisect_right(starts, start) - 1)
    loc = Locator(doc_id=source.doc_id, page=source.page, char_start=start, char_end=end, sentence=sentence)
    return Evidence(locator=loc, quote=source.text[start:end])


class _LoopThread:
    """A private event loop in a daemon thread: runs coroutines for synchronous callers."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True, name="teacher-checker").start()

    def run(self, coro, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


class TeacherChecker:
    """A `Checker` that asks an OpenAI-compatible teacher for claim verdicts.

    Give `chat` (an `OpenAIChat`), or `base_url` + `model` (and optionally `config`, a
    `TeacherConfig`, for retries, timeouts and concurrency).
    """

    name = "teacher"

    def __init__(self, chat: OpenAIChat | None = None, *, base_url: str | None = None, model: str | None = None,
                 config: TeacherConfig | None = None, max_tokens: int = 2048):
        if chat is None:
            if config is None:
                if not base_url:
                    raise ValueError("TeacherChecker needs `chat`, `config` or `base_url`")
                config = TeacherConfig(backend="openai", model=model or "default", endpoints=[{"base_url": base_url}])
            chat = OpenAIChat(config)
        self.chat = chat
        self.max_tokens = max_tokens
        self._loop = _LoopThread()
        self.call_ids: list[str] = []

    def check(self, question: str | None, answer: str, sources: Sequence[SourcePage]) -> list[ClaimVerdict]:
        claims = split_claims(answer)
        if not claims:
            return []
        messages = judge_claims_messages(question, claims, sources)
        reply = self._loop.run(self.chat.chat(messages, response_model=JudgeClaimsReply, max_tokens=self.max_tokens))
        self.call_ids.append(reply.call_id)
        by_n = {j.n: j for j in JudgeClaimsReply.model_validate(reply.parsed).claims}
        return [self._verdict(claim, by_n.get(n), sources) for n, claim in enumerate(claims, 1)]

    def _verdict(self, claim: Claim, judged: ClaimJudgement | None, sources: Sequence[SourcePage]) -> ClaimVerdict:
        common = {"text": claim.text, "span": (claim.start, claim.end), "citations": claim.citations,
                  "checker": self.name}
        if judged is None:
            return ClaimVerdict(verdict=Verdict.unverified, score=0.0,
                                reason="the teacher gave no verdict for this claim", **common)
        found = find_quote(judged.quote, sources, judged.doc, judged.page) if judged.quote else None
        evidence = _evidence(found, sources) if found else None
        reason = judged.reason or None
        if judged.verdict == "supported" and evidence is None:
            return ClaimVerdict(verdict=Verdict.unverified, score=min(judged.score, 0.49),
                                reason=f"teacher's quote not found in the sources: {judged.quote[:120]!r}", **common)
        # Keep score and verdict consistent with the other checkers: supported iff score >= 0.5.
        score = max(judged.score, 0.5) if judged.verdict == "supported" else min(judged.score, 0.49)
        return ClaimVerdict(verdict=Verdict(judged.verdict), score=score, evidence=evidence, reason=reason, **common)
