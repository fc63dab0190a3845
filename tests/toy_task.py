"""The toy RL task shared by the PPO and GRPO learning tests, with one reward callable for both.

Reward = share of response tokens in a target set T (optimum 1.0). T is the 1,500 tokens (5 % of
the vocabulary) whose embeddings point furthest along a fixed random direction u, so one change of
the final hidden state raises them all: a policy gradient that generalises across tokens.
"""

from __future__ import annotations

from pathlib import Path

import torch


def target_share_task(policy_dir: Path):
    """(smoke policy path, its tokenizer, reward) with TRL's reward signature
    `reward(prompts, completions, completion_ids, **kwargs) -> list[float]`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cai.smoke import build_smoke_policy

    path = build_smoke_policy(policy_dir)
    tok = AutoTokenizer.from_pretrained(path)
    emb = AutoModelForCausalLM.from_pretrained(path).get_input_embeddings().weight.detach()
    u = torch.randn(emb.shape[1], generator=torch.Generator().manual_seed(1))
    target = set((emb @ u).topk(1500).indices.tolist())

    def reward(prompts, completions, completion_ids, **_):
        return [sum(t in target for t in ids) / max(len(ids), 1) for ids in completion_ids]

    return path, tok, reward
