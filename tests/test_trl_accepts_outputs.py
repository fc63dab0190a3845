"""The generate run's outputs load with `datasets` and train TRL's SFT, DPO and reward trainers
as they are — no column renaming (one optimisation step each on the offline smoke policy)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    from cai.training.smoke import build_smoke_policy

    return build_smoke_policy(tmp_path_factory.mktemp("smoke-policy"))


def _args(cls, out, **kw):
    return cls(output_dir=str(out), max_steps=1, per_device_train_batch_size=2, use_cpu=True, bf16=False,
               report_to=[], save_strategy="no", logging_steps=1, **kw)


def test_sft_dpo_and_reward_trainers_accept_run_outputs(grounded_run, smoke, tmp_path):
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
    from trl import DPOConfig, DPOTrainer, RewardConfig, RewardTrainer, SFTConfig, SFTTrainer

    sft = load_dataset("json", data_files=str(grounded_run / "sft.jsonl"), split="train")
    prefs = load_dataset("json", data_files=str(grounded_run / "preferences.jsonl"), split="train")
    assert {"messages"} <= set(sft.column_names) and len(sft) > 0
    assert {"prompt", "chosen", "rejected"} <= set(prefs.column_names) and len(prefs) > 0
    tok = AutoTokenizer.from_pretrained(smoke)

    sft_run = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(smoke),
                         args=_args(SFTConfig, tmp_path / "sft", max_length=2048),
                         train_dataset=sft, processing_class=tok).train()
    assert sft_run.training_loss > 0

    dpo_run = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(smoke),
                         args=_args(DPOConfig, tmp_path / "dpo", max_length=2048),
                         train_dataset=prefs, processing_class=tok).train()
    assert dpo_run.training_loss > 0

    rm = AutoModelForSequenceClassification.from_pretrained(smoke, num_labels=1)
    rm.config.pad_token_id = tok.pad_token_id
    rm_run = RewardTrainer(model=rm, args=_args(RewardConfig, tmp_path / "rm", max_length=2048),
                           train_dataset=prefs, processing_class=tok).train()
    assert rm_run.training_loss > 0
