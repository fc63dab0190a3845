"""PPO learns a toy task with a known optimum on the tiny smoke policy, within a CPU budget.

Task: reward = share of response tokens in a target set T (optimum 1.0: every token from T).
T is the 1,500 tokens (5 % of the vocabulary) whose embeddings point furthest along a fixed
random direction u, so one change of the final hidden state raises them all: a policy gradient
that generalises across tokens, which a few PPO steps can follow. The sampling temperature 0.1
(used in rollout and loss alike) is what makes this random 64-wide model steerable at all: its
raw logits span only ~±0.5, so at temperature 1 every policy is near-uniform over 30k tokens.
"""

from __future__ import annotations

import time

import pytest
from toy_task import target_share_task

PROMPTS = [f"question {w} about the report" for w in ["one", "two", "three", "four", "five", "six", "seven", "eight"]]
MIN_RISE = 0.3  # mean reward of the last two steps minus that of the first two
MAX_KL = 25.0  # nats, mean sequence KL(policy || reference) over 6 tokens, at every step


@pytest.mark.slow
def test_ppo_raises_target_token_share_with_bounded_kl(tmp_path, one_torch_thread):


    from cai.training.ppo import LoraConfig, PPOConfig, train_ppo
    path, tok, reward = target_share_task(tmp_path / "policy")

    cfg = PPOConfig(steps=7, batch_size=16, mini_batch_size=8, micro_batch_size=8, rollout_micro_batch_size=16,
                    max_new_tokens=6, ppo_epochs=2, learning_rate=1e-2, critic_learning_rate=1e-3,
                    temperature=0.1, kl_coef=0.01, alarm_max_kl=None, save_adapter=False)
    rows: list[dict] = []
    start = time.perf_counter()
    final = train_ppo(str(path), tok, PROMPTS, reward, cfg, lora=LoraConfig(r=8), seed=0, out_dir=tmp_path / "run",
                      logger=rows.append)
    elapsed = time.perf_counter() - start
    before = sum(r["reward/raw"] for r in rows[:2]) / 2
    after = sum(r["reward/raw"] for r in rows[-2:]) / 2
    print(f"reward {before:.3f} -> {after:.3f}, max KL {max(r['kl/k1'] for r in rows):.2f}, {elapsed:.0f} s")
    assert final["steps_done"] == 7
    assert after >= before + MIN_RISE
    assert all(r["kl/k1"] < MAX_KL for r in rows)
