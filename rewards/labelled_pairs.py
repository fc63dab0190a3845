"""Verifier training pairs from human-labelled answers (`cai checker train --labelled FILE`).

A label says whether a whole answer is right, not which of its sentences is, so pairs are taken
only where the label speaks to the decision the verifier makes inside the `offline` checker
(`rewards.learned_support`): the prose claims that the rules can only align by words and do not
support. The rules run first (no verifier), and each such claim is paired with the premise the
verifier would read (`learned_support.anchored_windows`, the best-aligned anchored window). Prose
the rules already support is left out: the verifier is not asked about it, and in labelled answers
it outnumbers the rest, which taught a verifier to accept prose in general (BENCHMARKS.md):

* an answer labelled supported: each prose claim is a supported pair (a correct answer's
  sentences are taken to be true of its sources);
* an answer labelled unsupported whose every other claim the rules support: the fault is in its
  prose, so each prose claim is an unsupported pair. This is noisy (one wrong sentence makes all
  of them negative), the price of answer-level labels, as in MiniCheck's use of human-labelled
  benchmarks (Tang et al. 2024);
* an unsupported answer with a claim the rules already reject gives no pairs: its fault may lie
  there, and its prose says nothing certain.

Rows are `cai score` input rows (`id`, `question`, `answer`, inline `sources`) with a `label`:
"supported" / "unsupported" (or true / false). A bad row is a `UserError` naming the file, line
and field, raised before any training starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from cai.core.contracts import ClaimVerdict, ScoreInput, Verdict
from cai.core.errors import UserError
from cai.core.jsonrows import RowRejected, parse_row
from rewards.learned_support import ProseClaim, anchored_windows
from rewards.synth import Pair

LABELLED_KIND = "labelled"
_LABELS = {"supported": True, "unsupported": False, True: True, False: False}


@dataclass(frozen=True)
class LabelledAnswer:
    """A `cai score` row with its human label."""

    row: ScoreInput
    supported: bool


def read_labelled(path: Path) -> list[LabelledAnswer]:
    """Every row of a labelled JSONL file; the first bad row is a `UserError` with its line and field."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot read the labelled answers: {error}") from None
    rows: list[LabelledAnswer] = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            rows.append(_labelled_row(line, f"{path}:{number}"))
    if not rows:
        raise UserError(f"{path}: no labelled answers (one JSON object per line)")
    return rows


def _labelled_row(line: str, where: str) -> LabelledAnswer:
    try:
        raw = parse_row(line)
    except (ValueError, RowRejected) as error:
        raise UserError(f"{where}: not a JSON row: {error}") from None
    if not isinstance(raw, dict):
        raise UserError(f"{where}: a row must be a JSON object")
    label = raw.get("label")
    if isinstance(label, str):
        label = label.strip().lower()
    if not isinstance(label, (str, bool)) or label not in _LABELS:
        raise UserError(f"{where}: field 'label': expected \"supported\" or \"unsupported\", got {label!r}")
    try:
        row = ScoreInput.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        raise UserError(f"{where}: field '{'.'.join(map(str, first['loc']))}': {first['msg']}") from None
    if not row.sources:
        raise UserError(f"{where}: field 'sources': a labelled answer needs its source pages inline")
    return LabelledAnswer(row, _LABELS[label])


class _ProseRecorder:
    """Stands in for the checker's verifier: keeps the prose claims and the verdicts around them."""

    def __init__(self) -> None:
        self.prose: list[tuple[str, str]] = []  # (claim, premise)
        self.other_rejected = False

    def revise(self, verdicts: list[ClaimVerdict | None], prose: Sequence[ProseClaim]) -> None:
        indices = {item.index for item in prose}
        self.other_rejected = any(v is not None and i not in indices and v.verdict != Verdict.supported
                                  for i, v in enumerate(verdicts))
        for item in prose:
            windows = anchored_windows(item)
            verdict = verdicts[item.index]
            if verdict is not None and verdict.verdict != Verdict.supported and windows:
                self.prose.append((item.claim.text, windows[0].quote))


def labelled_pairs(answers: Sequence[LabelledAnswer]) -> list[Pair]:
    """Pairs from the labelled answers (module docstring), read by an `OfflineChecker` without a verifier."""
    from rewards.offline import OfflineChecker

    checker = OfflineChecker()
    pairs: list[Pair] = []
    for answer in answers:
        recorder = _ProseRecorder()
        checker.learned = recorder  # the checker hands its prose claims to `revise`, as to a verifier
        row = answer.row
        checker.check(row.question, row.answer, row.sources)
        if not answer.supported and recorder.other_rejected:
            continue
        doc_id = row.sources[0].doc_id  # held out by document with the synthesized pairs of its filing
        pairs += [Pair(claim=claim, premise=premise, label=int(answer.supported), kind=LABELLED_KIND, doc_id=doc_id)
                  for claim, premise in recorder.prose]
    return pairs
