"""The `teacher` checker against a real local OpenAI-compatible server with scripted replies."""

from __future__ import annotations

import asyncio
import json
import re

from cai.core.configs import TeacherConfig
from cai.core.contracts import SourcePage, Verdict
from rewards.checker import FailClosed, get_checker, quote_at_locator
from rewards.teacher_judge import TeacherChecker, find_quote
from tests.openai_server import FakeOpenAIServer

SOURCES = [
    SourcePage(doc_id="acme-10k", page=3,
               text="Net sales were $412.3 million\nin fiscal 2024. Gross margin was 38.1%."),
    SourcePage(doc_id="acme-10k", page=7, text="We operate 14 terminals. Headcount was 2,310 at year end."),
]
ANSWER = (
    "Net sales were $412.3 million in fiscal 2024 [acme-10k p.3]. Gross margin was 38.1% [acme-10k p.3]. "
    "The company operates 20 terminals [acme-10k p.7]. Headcount doubled to 4,620 [acme-10k p.7]. "
    "The CEO was paid $9 million."
)


def scripted(messages: list[dict], body: dict) -> str:
    """A judge that answers by claim number: a re-flowed quote, an exact one, a contradicting one,
    an invented one; it leaves claim 5 out."""
    user = messages[-1]["content"]
    claims = dict(re.findall(r'<claim n="(\d+)">(.*?)</claim>', user))
    assert len(claims) == 5 and body["response_format"]["type"] == "json_schema"
    return json.dumps({"claims": [
        {"n": 1, "verdict": "supported", "score": 0.95, "quote": "Net sales were $412.3 million in fiscal 2024.",
         "doc": "acme-10k", "page": 3},
        {"n": 2, "verdict": "supported", "score": 0.4, "quote": "“Gross margin was 38.1%.”", "doc": "acme-10k",
         "page": 3},
        {"n": 3, "verdict": "unsupported", "score": 0.1, "quote": "We operate 14 terminals.", "doc": "acme-10k",
         "page": 7, "reason": "14, not 20"},
        {"n": 4, "verdict": "supported", "score": 0.9, "quote": "Headcount doubled to 4,620.", "doc": "acme-10k",
         "page": 7},
        {"n": 99, "verdict": "supported", "score": 1.0, "quote": "We operate 14 terminals."},
    ]})


def _config(url: str, **kw) -> TeacherConfig:
    return TeacherConfig.model_validate({"backend": "openai", "model": "judge", "endpoints": [{"base_url": url}],
                                         "timeout_s": 5, "max_retries": 2, **kw})


def test_find_quote_exact_then_whitespace_insensitive():
    at = SOURCES[0].text.index("Gross margin")
    assert find_quote("Gross margin was 38.1%.", SOURCES) == (0, at, at + 23)
    i, start, end = find_quote("Net sales were $412.3 million in fiscal 2024.", SOURCES)
    assert (i, SOURCES[0].text[start:end]) == (0, "Net sales were $412.3 million\nin fiscal 2024.")
    assert find_quote("Revenue tripled.", SOURCES) is None and find_quote("  ", SOURCES) is None


def test_verdicts_quotes_mapped_to_locators():
    with FakeOpenAIServer(reply=scripted) as srv:
        checker = get_checker("teacher", chat=TeacherChecker(config=_config(srv.base_url)).chat)
        verdicts = checker.check("What were net sales?", ANSWER, SOURCES)
    assert [v.verdict for v in verdicts] == [Verdict.supported, Verdict.supported, Verdict.unsupported,
                                            Verdict.unverified, Verdict.unverified]
    one, two, three, four, five = verdicts
    # re-flowed quote: the evidence is the page's own text (with its newline) at exact offsets
    assert one.evidence.quote == "Net sales were $412.3 million\nin fiscal 2024." and quote_at_locator(one, SOURCES)
    assert one.score == 0.95 and one.evidence.locator.sentence == 0 and one.checker == "teacher"
    assert two.score == 0.5 and two.evidence.locator.sentence == 1  # score lifted to agree with 'supported'
    assert three.evidence.locator.page == 7 and three.reason == "14, not 20" and three.score == 0.1
    assert four.score < 0.5 and "quote not found" in four.reason and four.evidence is None
    assert five.reason == "the teacher gave no verdict for this claim"


def test_server_errors_fail_closed():
    with FakeOpenAIServer(fault_rate=1.0, faults=("500",)) as srv:
        checker = FailClosed(TeacherChecker(config=_config(srv.base_url, max_retries=0)))
        verdicts = checker.check(None, ANSWER, SOURCES)
    assert len(verdicts) == 5 and all(v.verdict == Verdict.unverified for v in verdicts)
    assert all("checker failed: TeacherCallFailed" in v.reason for v in verdicts)


def test_check_works_inside_a_running_event_loop():
    async def inside(checker):
        return checker.check(None, "Gross margin was 38.1% [acme-10k p.3].", SOURCES)

    def reply(messages, body):
        return json.dumps({"claims": [{"n": 1, "verdict": "supported", "score": 0.9,
                                       "quote": "Gross margin was 38.1%."}]})

    with FakeOpenAIServer(reply=reply) as srv:
        checker = TeacherChecker(base_url=srv.base_url, model="judge")
        [verdict] = asyncio.run(inside(checker))
        [again] = checker.check(None, "Gross margin was 38.1% [acme-10k p.3].", SOURCES)  # loop reused after
    assert (verdict.verdict == again.verdict == Verdict.supported
            and verdict.evidence.locator.char_start == SOURCES[0].text.index("Gross"))
    assert len(checker.call_ids) == 2
