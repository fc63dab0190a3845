"""The learned verifier inside the `offline` checker (`rewards.learned_support`): the rules stay a
hard gate on figures, names and content, the verifier decides only prose claims (and vetoes one
only when asked), the evidence of a learned verdict is the verbatim window it read, and a verifier
that cannot be loaded stops the checker from being built."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cai.core.contracts import SourcePage, Verdict
from cai.core.errors import UserError
from rewards.checker import get_checker, quote_at_locator
from rewards.learned_support import THRESHOLD_ENV, VERIFIER_ENV, rethreshold, verifier_score
from rewards.offline import OfflineChecker
from rewards.synth import Pair
from rewards.verifier import METADATA_FILE, train_verifier

TEXT = (
    "ACME Corporation annual report for fiscal 2022.\n"
    "Net revenue was $5.1 billion in 2022, compared with $4.8 billion in 2021.\n"
    "The company closed all of its retail stores in Europe during the year.\n"
    "Management believes that liquidity remains adequate for the next twelve months.\n"
    "The board approved a new share repurchase program in March.\n"
)
SOURCES = [SourcePage(doc_id="ACME_2022_10K", page=1, text=TEXT)]
PARAPHRASE = "Retail shops on the continent were shut down."  # one shared word: too few for the rules
UNRELATED = "The chief executive enjoys sailing with her family on most weekends."  # no shared word
ALIGNED = "The board approved a new share repurchase program."  # prose the rules support
WRONG_FIGURE = "Net revenue was $9.9 billion in 2022."
TINY = {"epochs": 1, "batch_size": 8, "max_length": 32, "seed": 0, "eval_fraction": 0.0}


@pytest.fixture(scope="module")
def tiny_verifier(tmp_path_factory) -> Path:
    """A verifier trained in seconds on a few pairs from TEXT (supported sentences, negated copies)."""
    sentences = [line for line in TEXT.splitlines() if line][1:]
    pairs = []
    for s in sentences:
        pairs.append(Pair(claim=s, premise=s, label=1, kind="sentence", doc_id="ACME_2022_10K"))
        negated = s.replace(" was ", " was not ").replace(" closed ", " never closed ").replace(
            " believes ", " does not believe ").replace(" approved ", " rejected ")
        pairs.append(Pair(claim=negated, premise=s, label=0, kind="negation", doc_id="ACME_2022_10K"))
    out = tmp_path_factory.mktemp("learned") / "verifier"
    train_verifier(pairs * 2, out, **TINY)
    return out


def _force(checker, logit: float) -> None:
    """Make the loaded verifier score every pair sigmoid(logit), whatever it reads."""
    import torch

    head = checker.learned.verifier.model.model.classifier
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(logit)
    checker.learned.verifier._memo.clear()  # scores memoised under the old head


def _verdicts(checker, answer: str):
    return {v.text: v for v in checker.check("What did ACME report for 2022?", answer, SOURCES)}


def test_rules_gate_figures_and_content_whatever_the_verifier_says(tiny_verifier):
    checker = OfflineChecker(verifier=str(tiny_verifier), use_embeddings=False)
    _force(checker, 30.0)  # P(supported) = 1 for every premise
    verdicts = _verdicts(checker, f"{WRONG_FIGURE} It rained. {UNRELATED}")
    assert verdicts[WRONG_FIGURE].verdict == Verdict.unsupported
    assert "figure not in sources" in verdicts[WRONG_FIGURE].reason
    assert verifier_score(verdicts[WRONG_FIGURE]) is None  # the verifier never saw it
    assert verifier_score(verdicts[UNRELATED]) is None  # nothing anchors it to a window
    assert all(v.verdict != Verdict.supported for v in verdicts.values())


def test_learned_score_decides_a_figure_free_claim(tiny_verifier):
    plain = OfflineChecker(use_embeddings=False)
    assert _verdicts(plain, PARAPHRASE)[PARAPHRASE].verdict == Verdict.unsupported  # too few shared words
    checker = get_checker("offline", verifier=str(tiny_verifier), use_embeddings=False)
    _force(checker.inner, 30.0)
    [verdict] = checker.check("What did ACME report for 2022?", PARAPHRASE, SOURCES)
    assert verdict.verdict == Verdict.supported and verdict.score >= 0.5
    assert quote_at_locator(verdict, SOURCES)  # the window the verifier read, verbatim
    assert verifier_score(verdict) == (False, 1.0)
    _force(checker.inner, -30.0)
    [verdict] = checker.check("What did ACME report for 2022?", PARAPHRASE, SOURCES)
    assert verdict.verdict == Verdict.unsupported and verdict.score < 0.5
    assert "(rules: unsupported) -> kept" in verdict.reason


def test_veto_only_when_asked(tiny_verifier):
    kept = OfflineChecker(verifier=str(tiny_verifier), use_embeddings=False)
    vetoing = OfflineChecker(verifier=str(tiny_verifier), use_embeddings=False, verifier_veto=0.2)
    for checker in (kept, vetoing):
        _force(checker, -30.0)
    assert _verdicts(kept, ALIGNED)[ALIGNED].verdict == Verdict.supported
    vetoed = _verdicts(vetoing, ALIGNED)[ALIGNED]
    assert vetoed.verdict == Verdict.unsupported and "-> vetoed" in vetoed.reason
    # Re-decided at other thresholds from the recorded score, without scoring again.
    [back] = rethreshold([vetoed], threshold=0.5, veto_threshold=None)
    assert back.verdict == Verdict.supported and quote_at_locator(back, SOURCES)


def test_rethreshold_matches_a_fresh_check(tiny_verifier):
    checker = OfflineChecker(verifier=str(tiny_verifier), use_embeddings=False, verifier_threshold=0.5)
    answer = f"{PARAPHRASE} {ALIGNED}"
    verdicts = checker.check(None, answer, SOURCES)
    p = verifier_score(verdicts[0])[1]  # the trained model's own score, in [0, 1]
    assert 0.0 <= p <= 1.0
    for threshold in (max(p - 0.01, 0.01), min(p + 0.01, 0.99)):
        fresh = OfflineChecker(verifier=str(tiny_verifier), use_embeddings=False, verifier_threshold=threshold)
        expected = [v.verdict for v in fresh.check(None, answer, SOURCES)]
        assert [v.verdict for v in rethreshold(verdicts, threshold)] == expected
        assert all(quote_at_locator(v, SOURCES) for v in rethreshold(verdicts, threshold) if v.verdict == "supported")


def test_missing_or_damaged_verifier_is_a_user_error(tiny_verifier, tmp_path, monkeypatch):
    with pytest.raises(UserError, match="no verifier here"):
        OfflineChecker(verifier=str(tmp_path / "absent"))
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_verifier, damaged)
    weights = next(p for p in damaged.iterdir() if p.suffix in (".safetensors", ".bin"))
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated
    with pytest.raises(UserError, match="missing or changed"):
        get_checker("offline", verifier=str(damaged))
    (damaged / METADATA_FILE).write_text("{not json")
    with pytest.raises(UserError, match="unreadable"):
        get_checker("offline", verifier=str(damaged))
    monkeypatch.setenv(VERIFIER_ENV, str(damaged))
    with pytest.raises(UserError):
        get_checker("offline")  # $CAI_VERIFIER is asked for too
    monkeypatch.setenv(VERIFIER_ENV, str(tiny_verifier))
    monkeypatch.setenv(THRESHOLD_ENV, "1.5")
    with pytest.raises(UserError, match="between 0 and 1"):
        get_checker("offline")
    monkeypatch.delenv(VERIFIER_ENV)
    assert get_checker("offline").inner.learned is None  # opt-in: off without a path
