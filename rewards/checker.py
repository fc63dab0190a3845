"""The checker interface and the fail-closed rule.

A checker decides, claim by claim, whether an answer is supported by its sources (the claim
verdict contract, `ClaimVerdict` in cai/core/contracts.py). Every checker (offline, NLI model,
teacher-as-judge) implements `Checker`; callers wrap it in `FailClosed`, which guarantees the
project's safety property:

* a checker that raises, or is given no sources, yields `unverified` for every claim, never
  `supported`;
* a `supported` verdict must carry an evidence locator whose quote occurs verbatim at that locator
  in the given source text; one that does not is downgraded to `unverified`.

`sources` are pages: objects with `doc_id`, `page` and `text` (the page's text, which locators
index into), e.g. `cai.core.contracts.SourcePage`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from cai.core.contracts import ClaimVerdict, SourcePage, Verdict
from rewards.claims import split_claims


@runtime_checkable
class Checker(Protocol):
    """Decides each claim of an answer against source pages."""

    name: str

    def check(self, question: str | None, answer: str, sources: Sequence[SourcePage]) -> list[ClaimVerdict]:
        ...


def unverified_claims(answer: str, reason: str, checker: str) -> list[ClaimVerdict]:
    """Every claim of `answer` as `unverified` with `reason` (score 0: no support established)."""
    return [
        ClaimVerdict(
            text=c.text, verdict=Verdict.unverified, score=0.0, span=(c.start, c.end),
            citations=c.citations, checker=checker, reason=reason,
        )
        for c in split_claims(answer)
    ]


def quote_at_locator(verdict: ClaimVerdict, sources: Sequence[SourcePage]) -> bool:
    """True when the verdict's evidence quote is exactly the text at its locator in its source."""
    if verdict.evidence is None:
        return False
    loc = verdict.evidence.locator
    for source in sources:
        if source.doc_id == loc.doc_id and source.page == loc.page:
            if source.text[loc.char_start : loc.char_end] == verdict.evidence.quote:
                return True
    return False


class FailClosed:
    """Wraps a checker so that failure can only ever produce `unverified`."""

    def __init__(self, inner: Checker):
        self.inner = inner
        self.name = inner.name

    def check(self, question: str | None, answer: str, sources: Sequence[SourcePage]) -> list[ClaimVerdict]:
        usable = [s for s in sources or [] if isinstance(getattr(s, "text", None), str) and s.text.strip()]
        if not usable:
            return unverified_claims(answer, "no source text to check against", self.name)
        try:
            verdicts = self.inner.check(question, answer, usable)
        except Exception as error:  # noqa: BLE001 - fail closed on any checker fault, by design
            return unverified_claims(answer, f"checker failed: {type(error).__name__}: {error}", self.name)
        return [self._enforce_evidence(v, usable) for v in verdicts]

    def _enforce_evidence(self, verdict: ClaimVerdict, sources: Sequence[SourcePage]) -> ClaimVerdict:
        if verdict.verdict != Verdict.supported or quote_at_locator(verdict, sources):
            return verdict
        return verdict.model_copy(update={
            "verdict": Verdict.unverified,
            "score": min(verdict.score, 0.49),
            "reason": "supported without a verbatim quote at its locator: downgraded",
        })


def get_checker(name: str = "offline", **options) -> FailClosed:
    """A checker by name, wrapped fail-closed. Known names: 'offline', 'nli', 'teacher'.

    `options` go to the checker's constructor. Without them (e.g. `cai score --checker nli`),
    'offline' adds the learned verifier in `$CAI_VERIFIER` when set, and
    'nli' loads `$CAI_NLI_MODEL` in format `$CAI_NLI_FORMAT` (default mnli with
    `rewards.nli.DEFAULT_NLI_MODEL`; see `rewards.nli_formats`; format judge calls
    `$CAI_NLI_BASE_URL`) and 'teacher' calls
    `$CAI_TEACHER_BASE_URL` with model `$CAI_TEACHER_MODEL`. A checker that cannot be built
    raises ValueError with the reason.
    """
    import os

    if name == "offline":
        from rewards.learned_support import THRESHOLD_ENV, VERIFIER_ENV
        from rewards.offline import OfflineChecker

        # The learned verifier for prose claims (`rewards.learned_support`) is opt-in: `verifier=PATH`
        # or `$CAI_VERIFIER` (threshold `$CAI_VERIFIER_THRESHOLD`); one that cannot be loaded is a UserError.
        options.setdefault("verifier", os.environ.get(VERIFIER_ENV) or None)
        if options["verifier"] and os.environ.get(THRESHOLD_ENV) and "verifier_threshold" not in options:
            try:
                options["verifier_threshold"] = float(os.environ[THRESHOLD_ENV])
            except ValueError:
                raise ValueError(f"${THRESHOLD_ENV}={os.environ[THRESHOLD_ENV]!r} is not a number") from None
        return FailClosed(OfflineChecker(**options))
    if name == "nli":
        from rewards.nli import NLIChecker

        # The format (`rewards.nli_formats`) comes with its own default model: an MNLI model is not
        # a MiniCheck checkpoint. The judge format's endpoint is `$CAI_NLI_BASE_URL`.
        options.setdefault("format", os.environ.get("CAI_NLI_FORMAT") or "mnli")
        options.setdefault("model", os.environ.get("CAI_NLI_MODEL") or None)
        if options["format"] == "judge" and "chat" not in options:
            options.setdefault("base_url", os.environ.get("CAI_NLI_BASE_URL"))
        try:
            return FailClosed(NLIChecker(**options))
        except OSError as error:  # not in the local cache (offline) or not a model directory
            raise ValueError(f"cannot load NLI model {options['model']!r}: {str(error).splitlines()[0]}") from None
    if name == "teacher":
        from rewards.teacher_judge import TeacherChecker

        if "chat" not in options:
            url = os.environ.get("CAI_TEACHER_BASE_URL")
            if not url:
                raise ValueError(
                    "the teacher checker needs an endpoint: set CAI_TEACHER_BASE_URL (and CAI_TEACHER_MODEL)")
            options.update(base_url=url, model=os.environ.get("CAI_TEACHER_MODEL", "default"))
        return FailClosed(TeacherChecker(**options))
    raise ValueError(f"unknown checker {name!r} (available: offline, nli, teacher)")


def open_checker(name: str, *, setting: str = "checker:", **options) -> FailClosed:
    """`get_checker` for a name the user gave: a checker that cannot be built is a `UserError`
    naming the setting it came from (`--checker nli: cannot load …`)."""
    from cai.core.errors import UserError

    try:
        return get_checker(name, **options)
    except ValueError as e:
        raise UserError(f"{setting} {name}: {e}") from None
