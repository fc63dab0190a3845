"""TRL's GRPOTrainer learns the PPO learning test's toy task on the tiny smoke policy, on CPU.

Same task as tests/test_ppo_learning.py: reward = share of response tokens in a target set T of
1,500 tokens chosen along a fixed random embedding direction (optimum 1.0), sampling temperature
0.1 in rollout and loss (GRPO divides the logits by `temperature` in both), up to 6 new tokens.
The reward callable has the signature our PPO calls, `reward(prompts, completions, completion_ids,
**kwargs)`, so this also checks that one reward serves PPO and GRPO alike. The policy gets a fresh
LoRA adapter through `peft_config`; with beta > 0 TRL takes the reference log-probs from the same
model with the adapter disabled and logs `kl`, the mean per-token k3 estimate of
KL(policy || reference) over the step's completions.

Settings, and why: 16 completions per step = 2 prompts × num_generations 8 (4 prompts × 4
generations learned less in the same steps: more groups whose rewards are all 0, hence advantages
all 0); one optimiser step per rollout batch (num_iterations 1, TRL's default); learning rate
5e-3, constant (1e-2 learns faster but at seed 0 collapsed back to a near-uniform policy right
after reaching 0.9; linear decay from 1e-2, the Trainer's default schedule, did no better); 20
steps. With these settings seed 0 goes from reward 0.0 to ~1.0 (reached
at step 12) with a KL of at most 2.6 nats/token; seeds 1-4, checked by hand, rise by 0.31-0.91,
so MIN_RISE has margin at seed 0 and is not a lucky seed's (their KL has one-step spikes to ~5.7
nats/token, above MAX_KL). TRL-specific: use_cpu and bf16=False (TRL's configs default to bf16),
gradient checkpointing off (TRL defaults it on: a wasted recompute at this size), logging_steps=1
so every step's reward and KL reach the callback. One torch thread: on a small shared machine
two threads ran each step several times slower under load, with identical results.
"""

from __future__ import annotations

import time

import pytest
from toy_task import target_share_task

PROMPTS = [f"question {w} about the report" for w in ["one", "two", "three", "four", "five", "six", "seven", "eight"]]
STEPS = 20
MAX_NEW_TOKENS = 6
MIN_RISE = 0.3  # mean reward of the last two steps minus that of the first two
MAX_KL = 4.0  # nats per token: GRPO's logged `kl` (mean per-token k3 over the step), at every step


@pytest.mark.slow
def test_grpo_raises_target_token_share_with_bounded_kl(tmp_path, one_torch_thread):
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    path, tok, reward = target_share_task(tmp_path / "policy")

    rows: list[dict] = []

    class Rows(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "reward" in logs:
                rows.append(dict(logs))

    args = GRPOConfig(
        output_dir=str(tmp_path / "run"), seed=0, max_steps=STEPS, per_device_train_batch_size=16,
        num_generations=8, max_completion_length=MAX_NEW_TOKENS, temperature=0.1, beta=0.01,
        learning_rate=5e-3, lr_scheduler_type="constant", use_cpu=True, bf16=False,
        gradient_checkpointing=False, logging_steps=1, report_to="none", save_strategy="no",
        disable_tqdm=True,
    )
    lora = LoraConfig(r=8, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = GRPOTrainer(model=str(path), reward_funcs=reward, args=args, processing_class=tok,
                          train_dataset=Dataset.from_dict({"prompt": PROMPTS}), peft_config=lora,
                          callbacks=[Rows()])
    start = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - start
    before = sum(r["reward"] for r in rows[:2]) / 2
    after = sum(r["reward"] for r in rows[-2:]) / 2
    print(f"reward {before:.3f} -> {after:.3f}, max KL {max(r['kl'] for r in rows):.3f}/token, {elapsed:.0f} s")
    assert len(rows) == STEPS
    assert after >= before + MIN_RISE
    assert all(r["kl"] < MAX_KL for r in rows)
