"""QLoRA (policy.load_in_4bit): the smoke policy loaded in 4-bit NF4 through bitsandbytes' CPU
backend, PPO training LoRA adapters on it (policy adapter + a critic adapter on its own 4-bit
copy) while the 4-bit weights stay frozen, and `cai train` running sft → ppo with it."""

from __future__ import annotations

import json

import bitsandbytes as bnb  # in the dev extra: a missing install fails here instead of skipping
import pytest
import torch

from cai.training import ppo
from cai.training.adapters import load_model
from cai.training.ppo import LoraConfig, PPOConfig
from tests.test_train import FAST, _config, _invoke


def _four_bit(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The packed NF4 weights of every 4-bit linear layer, copied."""
    return {name: m.weight.data.clone() for name, m in module.named_modules() if isinstance(m, bnb.nn.Linear4bit)}


def _trainable(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad}


def test_ppo_trains_lora_adapters_on_a_frozen_4bit_policy_and_critic(tmp_path):
    from transformers import AutoTokenizer

    from cai.training.smoke import build_smoke_policy

    path = build_smoke_policy(tmp_path / "smoke")
    tok = AutoTokenizer.from_pretrained(path)
    base = load_model(path, load_in_4bit=True)
    assert base.is_loaded_in_4bit and _four_bit(base), "no layer was quantised"

    cfg = PPOConfig(steps=2, batch_size=2, mini_batch_size=2, micro_batch_size=2, rollout_micro_batch_size=2,
                    max_new_tokens=4, ppo_epochs=1, learning_rate=1e-2, critic_learning_rate=1e-2)
    lora = LoraConfig(r=2)
    policy, critic = ppo._load_models(base, cfg, lora)
    # The critic is a second adapter on the policy's own 4-bit base: only LoRA factors and the head train.
    critic_trainable = _trainable(critic)
    assert critic_trainable and all("lora_" in n or n.startswith("head.") for n in critic_trainable)
    assert _four_bit(critic.backbone)
    policy_trainable = _trainable(policy)
    assert policy_trainable and all("lora_" in n for n in policy_trainable)
    frozen_policy, frozen_critic = _four_bit(policy), _four_bit(critic.backbone)

    def reward(prompts, completions, completion_ids, **_):  # longer answers score higher
        return [len(ids) / 4 for ids in completion_ids]

    final = ppo.train_ppo(policy, tok, ["q one", "q two"], reward, cfg, lora=lora, seed=0, out_dir=tmp_path / "ppo",
                          critic=critic)
    assert final["steps_done"] == 2 and final["stop_reason"] is None
    assert all(torch.equal(frozen_policy[n], w) for n, w in _four_bit(policy).items())
    assert all(torch.equal(frozen_critic[n], w) for n, w in _four_bit(critic.backbone).items())
    moved = [n for n, p in _trainable(policy).items() if not torch.equal(p, policy_trainable[n])]
    assert moved, "the policy's LoRA adapter did not train"
    moved = [n for n, p in _trainable(critic).items() if not torch.equal(p, critic_trainable[n]) and "lora_" in n]
    assert moved, "the critic's LoRA adapter did not train"
    assert (tmp_path / "ppo" / "adapter" / "adapter_config.json").is_file()


@pytest.mark.slow
def test_cai_train_sft_then_ppo_with_load_in_4bit(tmp_path, grounded_run):
    config = _config(tmp_path, grounded_run, "[sft, ppo]")
    run = _invoke(["train", str(config), *FAST, "policy.load_in_4bit=true"])
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["stages"]["ppo"]["steps_done"] == 2
    resolved = (run / "config.yaml").read_text()
    assert "load_in_4bit: true" in resolved
    assert (run / "adapter" / "cai_adapter.json").is_file()


def test_load_in_4bit_without_lora_is_refused_before_any_work(tmp_path, grounded_run):
    from click.testing import CliRunner

    from cai.cli import cli

    config = _config(tmp_path, grounded_run, "[sft]")
    result = CliRunner().invoke(cli, ["train", str(config), "policy.load_in_4bit=true", "policy.lora=null"])
    assert result.exit_code == 2 and "load_in_4bit needs lora" in result.output
    assert not (tmp_path / "runs").exists()
