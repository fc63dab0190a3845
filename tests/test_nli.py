"""The `nli` checker on tiny BERT-style NLI models built from a config, with the MiniLM tokenizer.

Random encoder weights: these tests check plumbing (label mapping from id2label, batching, premise
chunks and evidence locators, fail-closed), not NLI quality. Where a verdict is asserted, the
classifier head is set so that one class wins for every input (a real forward pass, known answer).
"""

from __future__ import annotations

import pytest
import torch

from cai.core.contracts import SourcePage, Verdict
from rewards.checker import FailClosed, get_checker, quote_at_locator
from rewards.nli import LabelRoles, NLIChecker, NLILabelError, label_roles, premise_chunks

PAGE = (
    "Halvorsen Tidewater reported revenue of $412.3 million in fiscal 2024. "
    "Gross margin was 38.1%. The company operates 14 terminals. "
    "Capital expenditures were $55.0 million. Headcount rose to 2,310 employees."
)
SOURCES = [
    SourcePage(doc_id="acme-10k", page=3, text="Item 7. Results\n\n" + PAGE),
    SourcePage(doc_id="acme-10k", page=4, text="The board declared a dividend of $0.42 per share."),
]
ANSWER = "Revenue was $412.3 million in fiscal 2024 [acme-10k p.3]. The dividend was $0.42 per share [acme-10k p.4]."


def build_nli(tmp_path, id2label: dict[int, str], winner: str | None = None, vocab_size: int | None = None):
    """Write a 2-layer BERT classifier with the given labels; `winner` forces that label's class."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from cai.core.assets import minilm_path

    tok = AutoTokenizer.from_pretrained(minilm_path())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=vocab_size or tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
                        num_labels=len(id2label), id2label=id2label, label2id={v: k for k, v in id2label.items()})
    model = BertForSequenceClassification(config)
    if winner is not None:
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.copy_(torch.tensor([6.0 if v == winner else 0.0 for v in id2label.values()]))
    out = tmp_path / f"nli-{winner or 'random'}-{vocab_size or 'full'}"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


LABELS = {0: "entailment", 1: "neutral", 2: "contradiction"}


def test_label_roles_by_name_in_any_order():
    assert label_roles(LABELS) == LabelRoles(entailment=0, contradiction=2, neutral=1)
    assert label_roles({2: "ENTAILMENT", 1: "Neutral", 0: "CONTRADICTION"}) == LabelRoles(2, 0, 1)
    binary = label_roles({0: "entailment", 1: "not_entailment"})
    assert (binary.entailment, binary.contradiction, binary.neutral) == (0, None, None)
    assert label_roles({0: "inconsistent", 1: "consistent"}).contradiction == 0
    with pytest.raises(NLILabelError, match="names no entailment label"):
        label_roles({0: "LABEL_0", 1: "LABEL_1"})


def test_premise_chunks_are_verbatim_sentence_windows():
    from rag.sentences import sentence_spans

    spans = sentence_spans(SOURCES[0].text)
    chunks = premise_chunks(SOURCES, window=2)
    page3 = [c for c in chunks if c.source == 0]
    assert len(spans) >= 5 and len(page3) == len(spans) - 1  # stride one sentence, last window ends the page
    for i, c in enumerate(page3):
        assert (c.sentence, c.char_start, c.char_end) == (i, spans[i][0], spans[i + 1][1])
    for c in chunks:
        assert SOURCES[c.source].text[c.char_start:c.char_end] == c.text
    assert len([c for c in chunks if c.source == 1]) == 1  # one sentence: one chunk
    capped = premise_chunks(SOURCES[:1], window=3, max_chars=90)
    assert all(len(c.text) <= 90 or c.char_end == spans[c.sentence][1] for c in capped)


def test_model_without_entailment_label_is_refused_clearly(tmp_path):
    path = build_nli(tmp_path, {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    with pytest.raises(NLILabelError, match=r"names no entailment label.*id2label"):
        NLIChecker(path)
    with pytest.raises(ValueError, match="no entailment label"):  # the CLI maps ValueError to exit 2
        get_checker("nli", model=str(path))


def test_entailment_wins_gives_supported_with_exact_evidence(tmp_path):
    checker = get_checker("nli", model=str(build_nli(tmp_path, LABELS, winner="entailment")), threshold=0.9)
    verdicts = checker.check("What was revenue?", ANSWER, SOURCES)
    assert [v.verdict for v in verdicts] == [Verdict.supported, Verdict.supported]
    for v in verdicts:
        assert v.score > 0.9 and v.checker == "nli" and quote_at_locator(v, SOURCES)  # FailClosed kept it
        loc = v.evidence.locator
        assert loc.sentence == next(c.sentence for c in premise_chunks(SOURCES)
                                    if (c.char_start, c.char_end) == (loc.char_start, loc.char_end)
                                    and SOURCES[c.source].page == loc.page)
    assert verdicts[0].citations == ["[acme-10k p.3]"]


def test_label_order_comes_from_config_not_position(tmp_path):
    # index 0 is CONTRADICTION here: a checker that assumed MNLI's order would call this supported
    labels = {0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"}
    checker = NLIChecker(build_nli(tmp_path, labels, winner="CONTRADICTION"))
    verdicts = checker.check(None, ANSWER, SOURCES)
    assert all(v.verdict == Verdict.unsupported and v.score < 0.05 for v in verdicts)
    assert all(v.reason.startswith("contradicted") and quote_at_locator(v, SOURCES) for v in verdicts)
    neutral = NLIChecker(build_nli(tmp_path, labels, winner="NEUTRAL")).check(None, ANSWER, SOURCES)
    assert all(v.verdict == Verdict.unsupported and v.reason.startswith("low entailment") for v in neutral)


def test_batches_give_the_same_probabilities_as_one_batch(tmp_path):
    path = build_nli(tmp_path, LABELS)  # random head: every pair gets its own probabilities
    chunks = premise_chunks(SOURCES)
    premises = [c.text for c in chunks] * 2
    hypotheses = ["Revenue was $412.3 million."] * len(chunks) + ["Margin was 38.1%."] * len(chunks)
    small = NLIChecker(path, batch_size=3).probabilities(premises, hypotheses)
    whole = NLIChecker(path, batch_size=64).probabilities(premises, hypotheses)
    assert small.shape == (len(premises), 3)
    assert torch.allclose(small, whole, atol=1e-5)
    assert torch.allclose(small.sum(-1), torch.ones(len(premises)), atol=1e-5)
    assert small[:, 0].std() > 0  # the pairs are really distinct inputs


def test_top_k_keeps_the_lexically_matching_chunks(tmp_path):
    checker = NLIChecker(build_nli(tmp_path, LABELS), top_k=1)
    chunks = premise_chunks(SOURCES)
    [j] = checker._candidates("Capital expenditures were $55.0 million.", chunks)
    assert "$55.0 million" in chunks[j].text


def test_model_error_fails_closed(tmp_path):
    # vocab of 50 ids: the real tokenizer's ids index past the embedding table -> IndexError
    checker = FailClosed(NLIChecker(build_nli(tmp_path, LABELS, winner="entailment", vocab_size=50)))
    verdicts = checker.check(None, ANSWER, SOURCES)
    assert len(verdicts) == 2
    assert all(v.verdict == Verdict.unverified and v.score == 0.0 and "checker failed: IndexError" in v.reason
               for v in verdicts)
