"""The exported adapter's model card (`adapter/README.md`), written by `cai train`.

PEFT's `save_pretrained` leaves its blank template ("Model Card for Model ID", every section "More
Information Needed"); a reviewer or a hub upload needs what this adapter is: its base model, the data
run and constitution it was trained on, the stages with their headline metrics, and how to load and
serve it. The layout follows the Hugging Face model-card convention (Mitchell et al. 2019, *Model
Cards for Model Reporting*): YAML metadata, then sections.
"""

from __future__ import annotations

import json
from typing import Any

# Per stage, the metrics worth a line in the card (the manifest keeps all of them).
_HEADLINE = {
    "sft": ("examples", "steps", "train_loss", "truncated"),
    "reward": ("pairs", "eval_accuracy", "eval_accuracy_before"),
    "ppo": ("steps_done", "reward/raw", "kl/k1", "response/length", "stop_reason"),
    "dpo": ("pairs", "steps", "train_loss"),
    "grpo": ("prompts", "steps", "reward"),
    "rloo": ("prompts", "steps", "reward"),
}


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else json.dumps(value) if value is None else str(value)


def model_card(meta: dict[str, Any], stages: dict[str, dict[str, Any]]) -> str:
    """README.md text for an adapter from its `cai_adapter.json` metadata `meta` and the train run
    manifest's per-stage results `stages`."""
    base = meta.get("policy_model") or meta.get("base_model")
    constitution = meta.get("constitution") or {}
    front = ["---", f"base_model: {json.dumps(str(base))}", "library_name: peft", "pipeline_tag: text-generation",
             "tags:", "- lora", "- cai", "- rlaif", "- faithfulness", "---", ""]
    lines = [f"# LoRA adapter for {base}, trained by `cai train`", ""]
    if meta.get("smoke_policy"):
        lines += ["**This adapter is on the random smoke policy (`cai-smoke-policy`): it tests the pipeline, and its "
                  "answers are noise.**", ""]
    lines += ["## What it was trained on", "",
              f"- Base model: `{base}` (loaded from `{meta.get('base_model')}`)"
              + (f", weights sha256 `{meta['policy_sha256']}`" if meta.get("policy_sha256") else ""),
              f"- Data: the `cai generate` run `{meta.get('data_run')}` (its `sft.jsonl` and `preferences.jsonl`)",
              f"- Constitution: `{constitution.get('name')}` version {constitution.get('version')}, "
              f"sha256 `{constitution.get('sha256')}`",
              f"- Train run: `{meta.get('train_run')}`; stages: {', '.join(meta.get('stages') or [])}",
              f"- Created: {meta.get('created_at')}", "", "## Results (from the train run's manifest)", ""]
    for stage in meta.get("stages") or []:
        results = stages.get(stage) or {}
        shown = [f"{key} {_value(results[key])}" for key in _HEADLINE.get(stage, ()) if key in results]
        lines.append(f"- {stage}: {'; '.join(shown) if shown else 'no results recorded'}")
    lines += ["", "Faithfulness is measured with `cai eval` (claim support, citations, correctness against gold).", "",
              "## How to use it", "", "```bash",
              f"cai answer --index INDEX --adapter {meta.get('train_run')}/adapter \"QUESTION\"",
              "```", "", "```python", "from peft import PeftModel", "from transformers import AutoModelForCausalLM",
              "", f"base = AutoModelForCausalLM.from_pretrained({json.dumps(str(meta.get('base_model')))})",
              f"model = PeftModel.from_pretrained(base, {json.dumps(str(meta.get('train_run')) + '/adapter')})",
              "```", "", "Answers are meant to be checked before delivery (`cai answer` removes unsupported claims "
              "and cites every kept one); `cai_adapter.json` beside this file holds the same metadata as JSON.", ""]
    return "\n".join(front + lines)
