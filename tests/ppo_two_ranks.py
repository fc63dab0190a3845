"""Helper for tests/test_ppo_distributed.py (not a test module): run under
`accelerate launch --cpu --num_processes 2 tests/ppo_two_ranks.py POLICY_DIR OUT_DIR`.

Each process trains the smoke policy at POLICY_DIR with cai.training.ppo.train_ppo, twice:

  straight  3 steps in one call;
  resumed   2 steps, then a second call with steps=3 and resume=True (fresh models, so
            everything comes back from the checkpoint);

and writes OUT_DIR/rank<R>.json: its rank and world size, and a sha256 over its policy's trainable
parameters and its critic's parameters (the unwrapped modules it handed to train_ppo, trained in
place) before training, after the straight run, and after the resumed run.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch
from toy_task import RunningCount  # the script's folder (tests/) is on sys.path

PROMPTS = ["q one", "q two", "q three", "q four", "q five"]


def digest(policy: torch.nn.Module, critic: torch.nn.Module) -> str:
    """sha256 over (name, bytes) of the policy's trainable and all of the critic's parameters."""
    h = hashlib.sha256()
    for prefix, model, trainable_only in (("policy.", policy, True), ("critic.", critic, False)):
        for name, p in sorted(model.named_parameters()):
            if p.requires_grad or not trainable_only:
                h.update((prefix + name).encode())
                h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def main(policy_dir: str, out: Path) -> None:
    from accelerate import PartialState
    from transformers import AutoTokenizer

    from cai.training import ppo

    tok = AutoTokenizer.from_pretrained(policy_dir)
    # critic_warmup_steps: step 0 runs no policy forward under DDP (unused-parameter check);
    # target_kl: a KL coefficient that evolves, so the checkpoint must carry it.
    cfg = ppo.PPOConfig(steps=3, batch_size=2, mini_batch_size=2, micro_batch_size=1,
                        rollout_micro_batch_size=2, max_new_tokens=3, ppo_epochs=1,
                        learning_rate=1e-2, critic_learning_rate=1e-2, critic_warmup_steps=1,
                        target_kl=0.5, kl_horizon=10, save_steps=1)
    lora = ppo.LoraConfig(r=2)

    def models():
        torch.manual_seed(0)  # the same initial weights in every process and every call
        return ppo._load_models(policy_dir, cfg, lora)

    def train(policy, critic, config, name: str, **kwargs) -> None:
        ppo.train_ppo(policy, tok, PROMPTS, RunningCount(), config, lora=lora, seed=0, out_dir=out / name,
                      critic=critic, **kwargs)

    policy, critic = models()
    hashes = {"initial": digest(policy, critic)}
    train(policy, critic, cfg, "straight")
    hashes["straight"] = digest(policy, critic)

    policy, critic = models()
    train(policy, critic, cfg.model_copy(update={"steps": 2}), "resumed")
    policy, critic = models()
    train(policy, critic, cfg, "resumed", resume=True)
    hashes["resumed"] = digest(policy, critic)

    state = PartialState()
    result = {"rank": state.process_index, "world_size": state.num_processes, **hashes}
    (out / f"rank{state.process_index}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
