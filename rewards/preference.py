"""The preference (reward) model: trained with TRL's `RewardTrainer` on `preferences.jsonl`.

Loss: the Bradley-Terry pairwise loss of reward modelling (Bradley & Terry 1952; Ouyang et al.
2022, "InstructGPT", eq. 1): for a pair the model scores r_c = r(prompt, chosen) and
r_r = r(prompt, rejected), each a scalar from a sequence classifier with one output, and minimises
-log sigmoid(r_c - r_r). The default base is the offline MiniLM encoder (`cai.core.assets.minilm_path`)
so everything runs without a network; any HF id or path is accepted, LoRA via peft is optional.

Long RAG prompts are handled deliberately, not left to TRL (which silently drops every pair longer
than `max_length` tokens): the `<sources>` block of the prompt (`cai.core.prompts.render_sources`) is
cut from its end (the lowest-ranked sources go first) until prompt + answer fit, keeping the
system text, the question and the whole answer. A pair whose question and answer alone do not fit
is dropped. Both are counted and reported. The held-out split is made by question (a pair id's
part before the first ':'), so pairs about one question never sit on both sides.

Outputs in `out_dir`: the model and tokenizer (`save_pretrained`, LoRA merged) and
`preference_model.json` (base, data, counts, held-out pairwise accuracy, timings).
`PreferenceScorer(out_dir).score(prompts, completions)` scores with the same rendering and
truncation as training.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from cai.core.contracts import PreferencePair
from cai.core.prompts import TRUNCATION_MARK, sources_body, with_sources_cut

METADATA_FILE = "preference_model.json"

Prompt = str | list[dict]
Completion = str | list[dict]


def _plain(x) -> str | list[dict]:
    """Messages as plain dicts (pydantic `Message` or dict), strings unchanged."""
    if isinstance(x, str):
        return x
    return [m.model_dump() if hasattr(m, "model_dump") else dict(m) for m in x]


def render(tokenizer, prompt: Prompt, completion: Completion) -> str:
    """One text for (prompt, completion): the tokenizer's chat template when it has one, else
    `role: content` blocks (an encoder such as MiniLM has no template); strings are concatenated."""
    prompt, completion = _plain(prompt), _plain(completion)
    if isinstance(prompt, str) and isinstance(completion, str):
        return prompt + completion
    messages = ([{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt) + (
        [{"role": "assistant", "content": completion}] if isinstance(completion, str) else completion)
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False)
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)


def _encode(tokenizer, text: str) -> list[int]:
    # A chat template already writes the model's special tokens; plain text gets them here.
    return tokenizer(text, add_special_tokens=not getattr(tokenizer, "chat_template", None), verbose=False)["input_ids"]


def _cut_sources(prompt: Prompt, tokenizer, n_remove: int) -> Prompt | None:
    """`prompt` with about `n_remove` tokens cut from the end of its `<sources>` block (None when
    it has no such block or the block is already empty)."""
    prompt = _plain(prompt)
    texts = [prompt] if isinstance(prompt, str) else [m["content"] for m in prompt]
    for k, text in enumerate(texts):
        span = sources_body(text)
        body = text[span[0]:span[1]].replace(TRUNCATION_MARK, "") if span else ""
        if not body.strip():
            continue
        offsets = tokenizer(body, add_special_tokens=False, return_offsets_mapping=True,
                            verbose=False)["offset_mapping"]
        keep = len(offsets) - n_remove
        new_text = with_sources_cut(text, offsets[keep][0] if keep > 0 else 0)
        if isinstance(prompt, str):
            return new_text
        out = [dict(msg) for msg in prompt]
        out[k]["content"] = new_text
        return out
    return None


def fit_sources(tokenizer, prompt: Prompt, completions: Sequence[Completion],
                max_length: int) -> tuple[Prompt, list[list[int]], bool] | None:
    """`prompt` with its sources cut from the end until (prompt, c) fits `max_length` tokens for
    every completion: (the fitted prompt, ids per completion, truncated?) or None when even an
    empty source block does not fit. SFT, DPO and RL prompts are fitted with this too."""
    truncated = False
    slack = 4  # the cut point's re-tokenisation can differ by a token or two: retry with more
    for _ in range(6):
        ids = [_encode(tokenizer, render(tokenizer, prompt, c)) for c in completions]
        excess = max(len(x) for x in ids) - max_length
        if excess <= 0:
            return prompt, ids, truncated
        marker = len(tokenizer(TRUNCATION_MARK, add_special_tokens=False)["input_ids"])
        prompt = _cut_sources(prompt, tokenizer, excess + marker + slack)
        if prompt is None:
            return None
        truncated, slack = True, slack * 2
    return None


def fit_prompt(tokenizer, prompt: Prompt, completions: Sequence[Completion],
               max_length: int) -> tuple[list[list[int]], bool] | None:
    """Token ids of (prompt, c) for each completion within `max_length` (see `fit_sources`):
    (ids per completion, truncated?) or None when it cannot fit."""
    fitted = fit_sources(tokenizer, prompt, completions, max_length)
    return None if fitted is None else (fitted[1], fitted[2])


@dataclass
class PreparedPairs:
    """Tokenised pairs and what preparing them did."""

    rows: list[dict]  # {"id", "chosen_ids", "rejected_ids"}
    truncated: int
    dropped: int


def prepare_pairs(tokenizer, pairs: Sequence[PreferencePair], max_length: int) -> PreparedPairs:
    rows, truncated, dropped = [], 0, 0
    for pair in pairs:
        fitted = fit_prompt(tokenizer, pair.prompt, [pair.chosen, pair.rejected], max_length)
        if fitted is None:
            dropped += 1
            continue
        (chosen, rejected), cut = fitted
        truncated += cut
        rows.append({"id": pair.id, "chosen_ids": chosen, "rejected_ids": rejected})
    return PreparedPairs(rows, truncated, dropped)


def read_pairs(path: Path) -> list[PreferencePair]:
    """Rows of a preferences.jsonl (or of `<run dir>/preferences.jsonl`), validated."""
    pairs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            pairs.append(PreferencePair.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as error:
            raise ValueError(f"{path}:{n}: not a preference pair: {' '.join(str(error).split())[:200]}") from None
    if not pairs:
        raise ValueError(f"{path}: no preference pairs")
    return pairs


def split_by_question(pairs: Sequence[PreferencePair], eval_fraction: float, seed: int) -> tuple[list, list]:
    """(train, eval): whole questions (id before the first ':') go to eval until it holds about
    `eval_fraction` of the pairs; at least one question each side when there are two or more."""
    groups: dict[str, list[PreferencePair]] = {}
    for p in pairs:
        groups.setdefault(p.id.split(":")[0], []).append(p)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    target = round(eval_fraction * len(pairs))
    eval_keys: list[str] = []
    for key in keys:
        if sum(len(groups[k]) for k in eval_keys) >= target or len(eval_keys) == len(keys) - 1:
            break
        eval_keys.append(key)
    if eval_fraction > 0 and not eval_keys and len(keys) > 1:
        eval_keys = keys[:1]
    held = set(eval_keys)
    return [p for p in pairs if p.id.split(":")[0] not in held], [p for p in pairs if p.id.split(":")[0] in held]


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def score_ids(model, tokenizer, ids: Sequence[list[int]], batch_size: int = 16) -> list[float]:
    """Scalar rewards for token-id sequences: model logits[:, 0], shape (len(ids),)."""
    import torch

    out: list[float] = []
    model.eval()
    for i in range(0, len(ids), batch_size):
        batch = tokenizer.pad({"input_ids": list(ids[i : i + batch_size])}, padding=True, return_tensors="pt")
        batch = {k: v.to(model.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        with torch.inference_mode():
            out += model(**batch).logits[:, 0].float().cpu().tolist()
    return out


def pairwise_accuracy(model, tokenizer, rows: Sequence[dict]) -> float | None:
    """Share of pairs with score(chosen) > score(rejected) (ties count as wrong); None if no rows."""
    if not rows:
        return None
    chosen = score_ids(model, tokenizer, [r["chosen_ids"] for r in rows])
    rejected = score_ids(model, tokenizer, [r["rejected_ids"] for r in rows])
    return sum(c > r for c, r in zip(chosen, rejected, strict=True)) / len(rows)


def load_base(base: str | Path):
    """(model with a 1-output head, tokenizer); a pad token is set when the base lacks one."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def _lora_config(lora: dict | bool | None):
    if not lora:
        return None
    from peft import LoraConfig

    spec = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "target_modules": "all-linear",
            **(lora if isinstance(lora, dict) else {})}
    return LoraConfig(task_type="SEQ_CLS", **spec)


def _data_info(pairs_file: Path) -> dict:
    info = {"path": str(pairs_file), "sha256": hashlib.sha256(pairs_file.read_bytes()).hexdigest()}
    manifest = pairs_file.parent / "manifest.json"
    if manifest.is_file():  # a `cai generate` run directory: record which run
        info["run_dir"] = str(pairs_file.parent)
        info["run_config_hash"] = json.loads(manifest.read_text()).get("config_hash")
    return info


def train_preference_model(pairs_path: str | Path, out_dir: str | Path, *, base: str | Path | None = None,
                           epochs: float = 1.0, lr: float = 5e-5, batch_size: int = 8, max_length: int = 512,
                           eval_fraction: float = 0.1, seed: int = 0, lora: dict | bool | None = None,
                           gradient_checkpointing: bool = False, callbacks: list | None = None) -> dict:
    """Train a Bradley-Terry reward model on preference pairs; returns (and saves) its metadata.

    `pairs_path`: a preferences.jsonl or a `cai generate` run directory. `base`: HF id or path
    (default: the packaged MiniLM). `lora`: None, True, or LoraConfig fields (r, lora_alpha, ...).
    `gradient_checkpointing` (TRL's default is on) trades compute (activations are recomputed in the
    backward pass) for memory: only worth it for large bases, so it is off unless asked for.
    `callbacks`: transformers TrainerCallbacks (e.g. a metrics logger).
    """
    from datasets import Dataset
    from transformers import set_seed
    from trl import RewardConfig, RewardTrainer  # lazy: importing TRL is slow

    from cai.core.assets import minilm_path

    pairs_file = Path(pairs_path)
    pairs_file = pairs_file / "preferences.jsonl" if pairs_file.is_dir() else pairs_file
    out_dir = Path(out_dir)
    base = str(base or minilm_path())
    train_pairs, eval_pairs = split_by_question(read_pairs(pairs_file), eval_fraction, seed)
    set_seed(seed)  # the new 1-output head is drawn at load time
    model, tokenizer = load_base(base)
    train, held = prepare_pairs(tokenizer, train_pairs, max_length), prepare_pairs(tokenizer, eval_pairs, max_length)
    if not train.rows:
        raise ValueError(f"{pairs_file}: no training pair fits max_length={max_length} ({train.dropped} dropped)")
    on_gpu = _device() == "cuda"
    import torch

    args = RewardConfig(
        output_dir=str(out_dir / "trainer"), num_train_epochs=epochs, learning_rate=lr, seed=seed,
        per_device_train_batch_size=batch_size, max_length=max_length, save_strategy="no", report_to=[],
        gradient_checkpointing=gradient_checkpointing,
        logging_steps=max(1, len(train.rows) // batch_size), disable_tqdm=True, use_cpu=not on_gpu,
        bf16=on_gpu and torch.cuda.is_bf16_supported(), lr_scheduler_type="linear",
        warmup_steps=max(1, round(0.1 * epochs * -(-len(train.rows) // batch_size))),  # 10% warm-up
    )
    accuracy_before = pairwise_accuracy(model.to(_device()), tokenizer, held.rows)
    trainer = RewardTrainer(
        model=model, args=args, processing_class=tokenizer, peft_config=_lora_config(lora), callbacks=callbacks,
        train_dataset=Dataset.from_list([{k: r[k] for k in ("chosen_ids", "rejected_ids")} for r in train.rows]))
    started = time.perf_counter()
    result = trainer.train()
    train_s = time.perf_counter() - started
    model = trainer.model.merge_and_unload() if lora else trainer.model
    accuracy = pairwise_accuracy(model, tokenizer, held.rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    meta = {
        "base": base, "data": _data_info(pairs_file), "max_length": max_length, "lora": bool(lora),
        "params": {"epochs": epochs, "lr": lr, "batch_size": batch_size, "eval_fraction": eval_fraction, "seed": seed},
        "counts": {"pairs": len(train_pairs) + len(eval_pairs), "train": len(train.rows), "eval": len(held.rows),
                   "truncated": train.truncated + held.truncated, "dropped": train.dropped + held.dropped},
        "eval_accuracy": accuracy, "eval_accuracy_before": accuracy_before,
        "train_loss": round(result.training_loss, 4), "train_seconds": round(train_s, 2),
    }
    (out_dir / METADATA_FILE).write_text(json.dumps(meta, indent=2))
    return meta


class PreferenceScorer:
    """Scores (prompt, completion) pairs with a model saved by `train_preference_model`."""

    def __init__(self, model_dir: str | Path, *, device: str | None = None, batch_size: int = 16):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model_dir = Path(model_dir)
        meta_file = model_dir / METADATA_FILE
        self.metadata = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForSequenceClassification.from_pretrained(model_dir).to(device or _device()).eval()
        self.max_length = int(self.metadata.get("max_length") or min(self.tokenizer.model_max_length, 512))
        self.batch_size = batch_size
        self.truncated = 0  # prompts whose sources were cut, since construction

    def score(self, prompts: Sequence[Prompt], completions: Sequence[Completion]) -> list[float]:
        """One scalar reward per (prompt, completion), shape (len(prompts),); a completion that
        cannot fit even without sources is scored on its first token and last `max_length - 1`."""
        ids = []
        for prompt, completion in zip(prompts, completions, strict=True):
            fitted = fit_prompt(self.tokenizer, prompt, [completion], self.max_length)
            if fitted is None:
                whole = _encode(self.tokenizer, render(self.tokenizer, prompt, completion))
                ids.append(whole[:1] + whole[len(whole) - self.max_length + 1 :])  # keep [CLS]/BOS: it is pooled
                continue
            (one,), cut = fitted
            self.truncated += cut
            ids.append(one)
        return score_ids(self.model, self.tokenizer, ids, self.batch_size)
