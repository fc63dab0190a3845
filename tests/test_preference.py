"""The preference model: source truncation, a tiny real training run that must learn a synthetic
preference, and training on the pairs a real `cai generate` run writes."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from cai.core.contracts import PreferencePair
from cai.core.prompts import POLICY_SYSTEM
from rewards.preference import (
    METADATA_FILE,
    TRUNCATION_MARK,
    PreferenceScorer,
    fit_prompt,
    read_pairs,
    split_by_question,
    train_preference_model,
)

COMPANIES = ["Halvorsen Tidewater", "Ostrander Quarry", "Brightwell Foods", "Kestrel Avionics", "Marlow Textiles",
             "Pinecrest Utilities", "Quillon Robotics", "Redfern Shipping", "Sablewood Timber", "Talbot Ceramics"]
METRICS = ["revenue", "net income", "operating income", "capital expenditures", "free cash flow", "gross profit",
           "adjusted EBITDA", "R&D expense"]


def _prompt(doc: str, company: str, metric: str, figure: str, filler: int = 0) -> list[dict]:
    extra = " ".join(f"Segment note {i}: volumes were seasonal and pricing held steady." for i in range(filler))
    sources = (f'<sources>\n<source n="1" doc="{doc}" page="4" locator="{doc} p.4 s.0">\n'
               f"{company} reported {metric} of {figure} for fiscal 2024. {extra}\n</source>\n</sources>")
    return [{"role": "system", "content": POLICY_SYSTEM},
            {"role": "user", "content": f"{sources}\n\nQuestion: What was {company}'s {metric} in fiscal 2024?"}]


def synthetic_pairs(n: int, seed: int = 0) -> list[dict]:
    """Chosen: states the source's figure and cites its page. Rejected (three kinds, mixed): the
    right figure uncited, a wrong figure uncited, or a hedge without figure or citation."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        company, metric = rng.choice(COMPANIES), rng.choice(METRICS)
        value = rng.randint(100, 9000) / 10
        figure, wrong = f"${value:,.1f} million", f"${value * rng.choice([0.5, 1.3, 2.0]):,.1f} million"
        doc = company.lower().replace(" ", "-") + "-10k"
        # two phrasings for each side, so no single template decides
        template = rng.choice(["{c}'s {m} was {f} in fiscal 2024", "In fiscal 2024, {c} reported {m} of {f}"])
        right, off = (template.format(c=company, m=metric, f=f) for f in (figure, wrong))
        chosen = f"{right} [{doc} p.4]."
        rejected = rng.choice([f"{right}.", f"{off}.",
                               f"{company} probably had strong {metric} last year, likely growing."])
        rows.append({"id": f"q{i:03d}:synthetic", "prompt": _prompt(doc, company, metric, figure),
                     "chosen": [{"role": "assistant", "content": chosen}],
                     "rejected": [{"role": "assistant", "content": rejected}],
                     "source": "synthetic", "confidence": 1.0, "rule_ids": ["cite-every-claim"]})
    return rows


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from cai.core.assets import minilm_path

    return AutoTokenizer.from_pretrained(minilm_path())


def test_long_sources_are_cut_keeping_question_and_answer(tokenizer):
    prompt = _prompt("acme-10k", "Acme", "revenue", "$412.3 million", filler=200)  # ~2,500 tokens of sources
    answer = [{"role": "assistant", "content": "Acme's revenue was $412.3 million [acme-10k p.4]."}]
    assert fit_prompt(tokenizer, prompt, [answer], 200) is not None
    (ids,), truncated = fit_prompt(tokenizer, prompt, [answer], 200)
    text = tokenizer.decode(ids).replace(" ", "")  # WordPiece decoding spaces out punctuation
    assert truncated and len(ids) <= 200
    assert "question:whatwasacme'srevenueinfiscal2024?" in text and text.endswith("[acme-10kp.4].[SEP]")
    assert "sourcestruncated" in text and "acmereportedrevenueof$412.3million" in text  # top of the sources kept
    short = fit_prompt(tokenizer, _prompt("acme-10k", "Acme", "revenue", "$1 million"), [answer], 200)
    assert short[1] is False and TRUNCATION_MARK.strip()[:5] not in tokenizer.decode(short[0][0])
    assert fit_prompt(tokenizer, prompt, [answer[0]["content"] * 40], 200) is None  # the answer alone is too long


def test_split_keeps_questions_on_one_side():
    pairs = [PreferencePair.model_validate(r) for r in synthetic_pairs(10)]
    pairs += [p.model_copy(update={"id": p.id.replace("synthetic", "judge:x")}) for p in pairs[:4]]
    train, held = split_by_question(pairs, 0.3, seed=1)
    assert len(train) + len(held) == 14 and held
    assert not {p.id.split(":")[0] for p in train} & {p.id.split(":")[0] for p in held}


def test_bad_rows_are_reported_with_line_numbers(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(synthetic_pairs(1)[0]) + "\n" + '{"id": "x", "prompt": "p"}\n')
    with pytest.raises(ValueError, match=r"p.jsonl:2: not a preference pair"):
        read_pairs(path)


def _as_strings(rows: list[dict]) -> list[dict]:
    """Standard (string) format with a short prompt: the same preference at a third of the
    tokens of the conversational form, so the learning test stays quick on CPU."""
    out = []
    for r in rows:
        user = r["prompt"][1]["content"]
        fact = user.split("\n")[2]
        out.append(dict(r, prompt=f"<sources>\n{fact}\n</sources>\n{user.splitlines()[-1]}\nAnswer: ",
                        chosen=r["chosen"][0]["content"], rejected=r["rejected"][0]["content"]))
    return out


def test_tiny_budget_learns_the_synthetic_preference(tmp_path):
    rows = _as_strings(synthetic_pairs(80, seed=0))
    long_rows = _as_strings(synthetic_pairs(2, seed=9))
    for i, r in enumerate(long_rows):  # RAG-sized sources: must be truncated, not dropped
        r["id"] = f"long{i}:synthetic"
        r["prompt"] = r["prompt"].replace("</sources>", "Segment volumes were seasonal. " * 60 + "</sources>")
    overlong = dict(rows[0], id="huge:synthetic", chosen="word " * 400)
    data = _write(tmp_path / "preferences.jsonl", rows + long_rows + [overlong])
    meta = train_preference_model(data, tmp_path / "pm", epochs=2, lr=1e-4, batch_size=16, max_length=96,
                                  eval_fraction=0.25, seed=0)
    print("synthetic preference model:", json.dumps(meta))  # shown with `pytest -s`: the measured numbers
    counts = meta["counts"]
    assert counts["pairs"] == 83 and counts["dropped"] == 1 and counts["truncated"] >= 2
    assert counts["train"] + counts["eval"] + counts["dropped"] == 83 and counts["eval"] >= 20
    # the held-out pairs are questions never trained on; chance is 0.5
    assert meta["eval_accuracy"] >= 0.9, meta  # the threshold sits above what the untrained head gets
    assert meta["eval_accuracy"] > meta["eval_accuracy_before"]
    from cai.core.assets import minilm_path

    saved = json.loads((tmp_path / "pm" / METADATA_FILE).read_text())
    assert saved == meta and len(saved["data"]["sha256"]) == 64 and saved["base"] == str(minilm_path())
    scorer = PreferenceScorer(tmp_path / "pm")
    held = _as_strings(synthetic_pairs(12, seed=123))
    chosen = scorer.score([r["prompt"] for r in held], [r["chosen"] for r in held])
    rejected = scorer.score([r["prompt"] for r in held],
                            [[{"role": "assistant", "content": r["rejected"]}] for r in held])
    assert len(chosen) == 12 and sum(c > r for c, r in zip(chosen, rejected, strict=True)) >= 9


def tiny_base(tmp_path: Path) -> Path:
    """A 2-layer BERT with a 1-output head (random weights) and the MiniLM tokenizer: plumbing only."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from cai.core.assets import minilm_path

    tok = AutoTokenizer.from_pretrained(minilm_path())
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                                                     num_attention_heads=2, intermediate_size=64, num_labels=1))
    model.save_pretrained(tmp_path / "tiny-base")
    tok.save_pretrained(tmp_path / "tiny-base")
    return tmp_path / "tiny-base"


def test_trains_on_the_pairs_of_a_real_generate_run(tmp_path, grounded_run):
    pairs = read_pairs(grounded_run / "preferences.jsonl")
    assert pairs and isinstance(pairs[0].prompt, list)  # conversational rows, as `cai generate` writes them
    meta = train_preference_model(grounded_run, tmp_path / "pm", base=tiny_base(tmp_path), epochs=1, batch_size=8,
                                  max_length=256, eval_fraction=0.2,
                                  lora={"r": 4, "target_modules": ["query", "value"]})
    counts = meta["counts"]
    assert counts["pairs"] == len(pairs) and counts["train"] + counts["eval"] + counts["dropped"] == len(pairs)
    assert counts["truncated"] > 0  # real RAG prompts exceed 256 tokens: cut, not silently dropped
    assert meta["data"]["run_dir"] == str(grounded_run) and meta["eval_accuracy"] is not None and meta["lora"]
    scorer = PreferenceScorer(tmp_path / "pm")  # LoRA merged: loads as a plain classifier
    scores = scorer.score([p.prompt for p in pairs[:4]], [p.chosen for p in pairs[:4]])
    assert len(scores) == 4 and all(math.isfinite(s) for s in scores) and scorer.truncated > 0
