"""`cai export rl-prompts RUN_DIR --format openrlhf|verl|trl --out PATH`: the RL prompts of a
`cai generate` run — the very prompts `cai train` rolls out (`rewards.rl_prompts.rl_prompt_rows`) —
as a dataset another trainer reads, each with the label its reward finds the sources by.

Formats (each loads with `datasets.load_dataset`):

  openrlhf  JSONL {"input": messages, "label": label, "id"}: `--data.input_key input
            --data.label_key label --data.apply_chat_template` (openrlhf 0.11's PromptDataset
            applies the policy's chat template to the messages; the label reaches the remote reward
            as `labels`).
  verl      Parquet with the columns verl's RLHFDataset and reward managers read (verl 0.9.1; the
            layout of its examples/data_preprocess): `data_source`, `prompt` (the chat messages),
            `ability`, `reward_model` {"style": "rule", "ground_truth": label}, `extra_info`
            {"index", "id", "question", "split"}.
  trl       JSONL {"prompt": messages, "label": label, "id"}: a conversational prompt dataset for
            TRL's GRPOTrainer/RLOOTrainer; the `label` column reaches the reward function
            (`rewards.engines.trl_reward`) as a keyword.

The label is the JSON string of `rewards.rl_prompts.RLLabel` (question id, question, the hits'
locators, each document's sha256). Sources stay whole unless --tokenizer and --max-prompt-tokens
are given: then they are cut from the end until the prompt fits, as `cai train` cuts them (the
engines' own limits would instead drop the prompt, or cut its front: the instructions).

The file is written atomically (a temporary file beside it, then renamed): a reader never sees
half a dataset, and a failed export leaves an existing file as it was.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from cai.core.errors import UserError
from cai.core.runs import atomic_write_bytes, atomic_write_text, generate_run_config
from rewards.rl_prompts import RLPrompt, rl_prompt_rows

FORMATS = ("openrlhf", "verl", "trl")
ABILITY = "grounded_qa"  # verl's `ability` column: a free-form tag its examples use per task family


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: int
    counts: dict[str, int]

    def line(self) -> str:
        cut = f", {self.counts['truncated']} with sources cut, {self.counts['dropped']} dropped (too long)"
        return f"wrote {self.rows} RL prompt(s){cut if any(self.counts.values()) else ''} to {self.path}"


def _tokenizer(name: str):
    """The tokenizer prompts are fitted with (a HF id, a local path or a built-in model name)."""
    from transformers import AutoTokenizer

    from cai.core.builtin_models import is_builtin, resolve_model
    from cai.training.adapters import check_model_source

    if is_builtin(name):
        name = resolve_model(name).manifest()["loaded_from"]
    check_model_source(name, "--tokenizer")
    try:
        return AutoTokenizer.from_pretrained(name)
    except OSError as e:
        first = next((line for line in str(e).splitlines() if line.strip()), type(e).__name__)
        raise UserError(f"--tokenizer {name}: cannot load it: {first.strip()[:300]}") from None


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def openrlhf_rows(prompts: list[RLPrompt]) -> list[dict]:
    return [{"input": p.prompt, "label": p.label.to_json(), "id": p.id} for p in prompts]


def trl_rows(prompts: list[RLPrompt]) -> list[dict]:
    return [{"prompt": p.prompt, "label": p.label.to_json(), "id": p.id} for p in prompts]


def verl_rows(prompts: list[RLPrompt], data_source: str) -> list[dict]:
    return [{"data_source": data_source, "prompt": p.prompt, "ability": ABILITY,
             "reward_model": {"style": "rule", "ground_truth": p.label.to_json()},
             "extra_info": {"index": i, "id": p.id, "question": p.question, "split": "train"}}
            for i, p in enumerate(prompts)]


def _parquet(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


def export(run_dir: Path, fmt: str, out: Path, *, index: Path | None = None, tokenizer: str | None = None,
           max_prompt_tokens: int | None = None, data_source: str = "cai") -> ExportResult:
    """Write the RL prompts of the generate run `run_dir` to `out` in `fmt` (see the module docstring)."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    if (tokenizer is None) != (max_prompt_tokens is None):
        raise UserError("--tokenizer and --max-prompt-tokens go together: the budget is counted in that tokenizer's "
                        "tokens")
    if out.is_dir():
        raise UserError(f"--out {out}: is a directory; give a file name such as {out / ('rl.' + _suffix(fmt))}")
    run_cfg = generate_run_config(run_dir)
    index = index or (Path(run_cfg["index"]) if run_cfg.get("index") else None)
    if index is None or not index.is_dir():
        raise UserError(f"--index {index}: not found; give the `cai ingest` index the run used (the labels carry "
                        "its documents' sha256)")
    tok = _tokenizer(tokenizer) if tokenizer else None
    prompts, counts = rl_prompt_rows(run_dir, index, tok, max_prompt_tokens)
    if not prompts:
        raise UserError(f"{run_dir}/records.jsonl: no answered question with sources"
                        + (f" fits --max-prompt-tokens {max_prompt_tokens}" if tok else "") + "; nothing written")
    if fmt == "verl":
        atomic_write_bytes(out, _parquet(verl_rows(prompts, data_source)))
    else:
        atomic_write_text(out, _jsonl(openrlhf_rows(prompts) if fmt == "openrlhf" else trl_rows(prompts)))
    return ExportResult(out, len(prompts), counts)


def _suffix(fmt: str) -> str:
    return "parquet" if fmt == "verl" else "jsonl"
