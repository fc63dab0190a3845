"""The learned verifier as an optional part of the `offline` checker (`OfflineChecker(verifier=PATH)`).

The rules of `rewards.offline` stay a hard gate: names, periods, figures, arithmetic and directions
are decided by them alone, and a claim with figures never reaches this module. What the rules
cannot read is prose: a claim without figures that passes the name and period checks is decided
there by lexical recall and MiniLM cosine, which reject a paraphrase that shares too few words with
its source and accept a negated sentence that shares them all. For those claims only, a
cross-encoder trained on claims synthesized from the corpus (`rewards.verifier`; MiniCheck, Tang et
al. 2024) reads each of the rules' best-aligned windows as the premise and scores P(supported):

* a claim the rules reject for lack of lexical evidence is supported when the best window's score
  reaches `threshold` (None: never), with that window, quoted verbatim, as its evidence: the
  premise the verifier read is the evidence a reviewer sees. Only windows that share at least one
  content word with the claim are read (an anchor: an unrelated fluent sentence is never scored,
  so no score can support it);
* a claim the rules support can be vetoed when the best window's score is below `veto_threshold`
  (None, the default: no veto, and the verifier does not read it).

Every prose verdict records the score and the rules' own verdict in its reason
(`... | verifier p=0.8123 (rules: unsupported) -> supported`), so a verdict can be re-decided at
another threshold without scoring again (`rethreshold`). That is how the benchmark chooses the
threshold on training companies only (a post-hoc decision threshold, in the spirit of the
calibration study of Guo et al. 2017: a score is only a probability once checked against observed
rates, see bench/verifier_calibration.py).

A verifier that was asked for and cannot be loaded (missing, truncated, edited) is a `UserError`
from `rewards.verifier.Verifier.load`: the checker is not built, rather than silently running
without it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cai.core.contracts import ClaimVerdict, Evidence, Verdict
from cai.core.errors import UserError
from rewards.claims import Claim
from rewards.premises import content_tokens, occurs, window_evidence

VERIFIER_ENV = "CAI_VERIFIER"  # path of a verifier for `get_checker("offline")` without options
THRESHOLD_ENV = "CAI_VERIFIER_THRESHOLD"  # its support threshold (default DEFAULT_THRESHOLD)
DEFAULT_THRESHOLD = 0.5
TOP_WINDOWS = 2  # the rules' best-aligned windows the verifier reads for one claim

_MARK_RE = re.compile(r" \| verifier p=(?P<p>[0-9.]+) \(rules: (?P<rules>supported|unsupported)\) -> \w+.*$")


@dataclass(frozen=True)
class ProseClaim:
    """A claim the rules decided by alignment alone: its index among the answer's verdicts and
    the rules' ranked windows, (lexical recall, page, window), best first."""

    index: int
    claim: Claim
    top: list


def _threshold(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if not 0.0 < float(value) < 1.0:
        raise UserError(f"{name} {value!r}: must be strictly between 0 and 1")
    return float(value)


def decide(rules_supported: bool, p: float, threshold: float | None, veto_threshold: float | None) -> bool:
    """Supported or not: the rules' support stands unless vetoed; the rules' rejection stands
    unless the score reaches the threshold."""
    if rules_supported:
        return veto_threshold is None or p >= veto_threshold
    return threshold is not None and p >= threshold


def _score(supported: bool, p: float, cut: float | None, rules_score: float) -> float:
    """The verdict's score: the rules' own when no cut applies, else `p` rescaled around the cut
    (>= 0.5 when supported, < 0.5 when not)."""
    if cut is None:
        return rules_score if (rules_score >= 0.5) == supported else (0.75 if supported else 0.25)
    if supported:
        return round(min(1.0, max(0.5, 0.5 + 0.5 * (p - cut) / (1.0 - cut))), 4)
    return round(min(0.49, max(0.0, 0.49 * p / cut)), 4)


def _decided(verdict: ClaimVerdict, rules_reason: str, rules_supported: bool, p: float, best: Evidence | None,
             threshold: float | None, veto_threshold: float | None) -> ClaimVerdict:
    """`verdict` (the rules') re-decided with the verifier's score `p` on the window `best`."""
    supported = decide(rules_supported, p, threshold, veto_threshold)
    if supported and best is None and not rules_supported:
        supported = False  # never supported without a window to quote
    if supported == rules_supported:
        outcome = "kept"
    else:
        outcome = "supported" if supported else "vetoed"
    cut = veto_threshold if rules_supported else threshold
    rules = "supported" if rules_supported else "unsupported"
    bound = "" if cut is None else f" ({'>=' if p >= cut else '<'} {cut:.3f})"
    evidence = verdict.evidence if rules_supported else (best or verdict.evidence)
    return verdict.model_copy(update={
        "verdict": Verdict.supported if supported else Verdict.unsupported,
        "score": _score(supported, p, cut, verdict.score),
        "evidence": evidence,
        "reason": f"{rules_reason} | verifier p={p:.4f} (rules: {rules}) -> {outcome}{bound}",
    })


def anchored_windows(item: ProseClaim, top_windows: int = TOP_WINDOWS) -> list[Evidence]:
    """The premises the verifier reads for a prose claim: the rules' best-aligned windows, at most
    `top_windows`, that share a content word with it (an anchor: an unrelated fluent sentence is
    never scored, so no score can support it); best-aligned first."""
    words = content_tokens(item.claim.plain)
    return [window_evidence(page, window) for _, page, window in item.top[:top_windows]
            if any(occurs(t, window.lowered) for t in words)]


class LearnedSupport:
    """A loaded verifier and its thresholds, applied to the prose claims of one answer at a time."""

    def __init__(self, path: str | Path, *, threshold: float | None = DEFAULT_THRESHOLD,
                 veto_threshold: float | None = None, top_windows: int = TOP_WINDOWS, batch_size: int = 32):
        from rewards.verifier import Verifier

        self.threshold = _threshold(threshold, "verifier threshold")
        self.veto_threshold = _threshold(veto_threshold, "verifier veto threshold")
        self.top_windows = max(1, int(top_windows))
        self.verifier = Verifier.load(path, batch_size=batch_size)  # UserError when missing or damaged
        self.path = Path(path)

    def revise(self, verdicts: list[ClaimVerdict | None], prose: Sequence[ProseClaim]) -> None:
        """Re-decide, in place, the verdicts of the prose claims with one batched verifier call."""
        pending = [(item, verdicts[item.index]) for item in prose if verdicts[item.index] is not None]
        # A claim the rules support is read only when it can be vetoed: the verifier's cost is per claim.
        pending = [(item, v) for item, v in pending if not _MARK_RE.search(v.reason or "")
                   and (v.verdict != Verdict.supported or self.veto_threshold is not None)]
        if not pending:
            return
        claims, premises, owners, quotes = [], [], [], []
        for n, (item, _) in enumerate(pending):
            for evidence in anchored_windows(item, self.top_windows):
                claims.append(item.claim.text)
                premises.append(evidence.quote)  # the premise read is the quote shown
                owners.append(n)
                quotes.append(evidence)
        scores = self.verifier.score(claims, premises)
        best: dict[int, tuple[float, Evidence]] = {}
        for n, p, evidence in zip(owners, scores, quotes, strict=True):
            if n not in best or p > best[n][0]:
                best[n] = (p, evidence)
        for n, (item, verdict) in enumerate(pending):
            if n not in best:
                continue  # no window shares a word with the claim: the rules' verdict stands, unscored
            p, evidence = best[n]
            verdicts[item.index] = _decided(verdict, verdict.reason or "", verdict.verdict == Verdict.supported,
                                            p, evidence, self.threshold, self.veto_threshold)


def verifier_score(verdict: ClaimVerdict) -> tuple[bool, float] | None:
    """(the rules' own verdict was supported, the verifier's P(supported)) of a prose verdict the
    verifier scored; None for any other verdict."""
    found = _MARK_RE.search(verdict.reason or "")
    if found is None:
        return None
    return found["rules"] == "supported", float(found["p"])


def rethreshold(verdicts: Sequence[ClaimVerdict], threshold: float | None,
                veto_threshold: float | None = None) -> list[ClaimVerdict]:
    """The verdicts re-decided at other thresholds, from the scores their reasons record. A
    promotion keeps the verifier's window (recorded as the evidence of every prose claim the rules
    reject); the rules' verdicts on other claims are returned as they are."""
    out = []
    for verdict in verdicts:
        found = _MARK_RE.search(verdict.reason or "")
        if found is None:
            out.append(verdict)
            continue
        rules_supported, p = found["rules"] == "supported", float(found["p"])
        rules_reason = verdict.reason[: found.start()]
        out.append(_decided(verdict, rules_reason, rules_supported, p, verdict.evidence, threshold, veto_threshold))
    return out
