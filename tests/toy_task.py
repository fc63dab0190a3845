"""Toy rewards shared by the PPO tests: the learning task of the PPO and GRPO learning tests (one
reward callable for both), and a stateful reward for the checkpoint/resume tests.

Reward = share of response tokens in a target set T (optimum 1.0). T is the 1,500 tokens (5 % of
the vocabulary) whose embeddings point furthest along a fixed random direction u, so one change of
the final hidden state raises them all: a policy gradient that generalises across tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch


@contextmanager
def single_torch_thread() -> Iterator[None]:
    """The smoke policy is so small that intra-op threads only add synchronisation: on 2 shared,
    busy cores a train_ppo call took several times longer with 2 threads than with 1."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def target_share_task(policy_dir: Path):
    """(smoke policy path, its tokenizer, reward) with TRL's reward signature
    `reward(prompts, completions, completion_ids, **kwargs) -> list[float]`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cai.training.smoke import build_smoke_policy

    path = build_smoke_policy(policy_dir)
    tok = AutoTokenizer.from_pretrained(path)
    emb = AutoModelForCausalLM.from_pretrained(path).get_input_embeddings().weight.detach()
    u = torch.randn(emb.shape[1], generator=torch.Generator().manual_seed(1))
    target = set((emb @ u).topk(1500).indices.tolist())

    def reward(prompts, completions, completion_ids, **_):
        return [sum(t in target for t in ids) / max(len(ids), 1) for ids in completion_ids]

    return path, tok, reward


class RunningCount:
    """A reward whose value depends on everything scored before: the number of completions seen
    so far, plus the share of odd token ids in the response. If its state were not restored on resume, every reward
    after the checkpoint would be off, and so would the weights."""

    def __init__(self):
        self.seen = 0

    def __call__(self, prompts, completions, completion_ids, **_):
        self.seen += len(completions)
        return [self.seen / 10 + sum(i % 2 for i in ids) / max(len(ids), 1) for ids in completion_ids]

    def state_dict(self) -> dict:
        return {"seen": self.seen}

    def load_state_dict(self, state: dict) -> None:
        self.seen = state["seen"]
