"""cai.training.precision: the `precision` setting, where each dtype lives, and the bf16 path against
the fp32 one on the tiny smoke policy (bf16 autocast runs on CPU too, so this needs no GPU)."""

from __future__ import annotations

import types

import pytest
import torch
from pydantic import ValidationError

from cai.training import ppo
from cai.training import precision as prec
from cai.training.ppo import LoraConfig, PPOConfig

BACKWARD = types.SimpleNamespace(backward=lambda loss: loss.backward())
PROMPTS = ["a", "what was the revenue in fiscal year 2023", "q three", "q four"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    from transformers import AutoTokenizer

    from cai.training.smoke import build_smoke_policy

    path = build_smoke_policy(tmp_path_factory.mktemp("smoke-policy"))
    return path, AutoTokenizer.from_pretrained(path)


def test_precision_setting_and_defaults():
    assert PPOConfig().precision == "auto"
    assert prec.compute_dtype("auto", "cpu") == torch.float32  # the CPU path stays fp32
    assert prec.compute_dtype("bf16", "cpu") == torch.bfloat16
    assert prec.compute_dtype("fp32", "cpu") == torch.float32
    with pytest.raises(ValidationError):
        PPOConfig(precision="fp16")
    assert isinstance(prec.autocast("cpu", torch.float32), type(prec.autocast("cpu", torch.float32)))
    with prec.autocast("cpu", torch.bfloat16):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    with prec.autocast("cpu", torch.float32):
        assert not torch.is_autocast_enabled("cpu")


def _models(path, precision: str):
    cfg = PPOConfig(batch_size=4, mini_batch_size=4, micro_batch_size=4, rollout_micro_batch_size=4,
                    max_new_tokens=5, precision=precision)
    torch.manual_seed(0)  # the same LoRA initialisation for both precisions
    policy, critic = ppo._load_models(str(path), cfg, LoraConfig(r=4, alpha=8))
    with torch.no_grad():
        g = torch.Generator().manual_seed(3)
        for name, p in [*policy.named_parameters(), *critic.named_parameters()]:
            if "lora_B" in name or name.startswith("head."):
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return cfg, policy, critic


def test_bf16_weights_fp32_trainables(smoke):
    path, _ = smoke
    _, policy, critic = _models(path, "bf16")
    frozen = {p.dtype for p in policy.parameters() if not p.requires_grad}
    trainable = {p.dtype for p in policy.parameters() if p.requires_grad}
    assert frozen == {torch.bfloat16} and trainable == {torch.float32}
    assert {p.dtype for p in critic.parameters()} == {torch.float32}  # LoRA factors + head: master weights
    rotary = [b for n, b in policy.named_buffers() if n.endswith("inv_freq")]
    assert rotary and all(b.dtype == torch.float32 for b in rotary)
    _, policy32, _ = _models(path, "fp32")
    assert {p.dtype for p in policy32.parameters()} == {torch.float32}


def test_bf16_path_matches_fp32_on_a_fixed_batch(smoke):
    """The same rollout scored and trained in bf16 and in fp32: log-probs, reference log-probs and
    values agree within bf16's precision, so do the losses; gradients arrive in fp32."""
    path, tok = smoke
    cfg32, policy32, critic32 = _models(path, "fp32")
    cfg16, policy16, critic16 = _models(path, "bf16")
    torch.manual_seed(1)
    roll = ppo._generate(policy32, tok, PROMPTS, cfg32, "cpu")
    s32 = ppo._score_rollout(policy32, critic32, roll, cfg32)
    s16 = ppo._score_rollout(policy16, critic16, roll, cfg16)
    for key in ("logp", "ref_logp", "entropy", "values"):
        a, b = getattr(s32, key), getattr(s16, key)
        assert b.dtype == torch.float32
        # bf16 keeps 8 bits of mantissa: |logp| ≈ 10 (30k-token vocabulary) within 0.1; values within 5%
        assert (a - b).abs().max() < (0.05 * a.abs().max() if key == "values" else 0.1), key
    assert (s32.logp - s16.logp).abs().max() > 0  # it really ran in bf16
    rewards = ppo._token_rewards(torch.tensor([1.0, -1.0, 0.5, 0.0]), roll.mask, s32.logp, s32.ref_logp, 0.05, cfg32)
    targets = ppo._advantages(roll, s32, rewards, cfg32)
    old = ppo.TokenStats(logp=s32.logp - 0.2 * roll.mask, ref_logp=s32.ref_logp, entropy=s32.entropy,
                         values=s32.values)
    exp = ppo.Experience(roll, old, targets)
    idx = torch.arange(4)
    l32 = ppo._micro_step(BACKWARD, policy32, critic32, exp, idx, 0.05, cfg32, train_actor=True, n_micro=1)
    l16 = ppo._micro_step(BACKWARD, policy16, critic16, exp, idx, 0.05, cfg16, train_actor=True, n_micro=1)
    for key in ("loss/policy", "loss/value"):
        assert float(l16[key]) == pytest.approx(float(l32[key]), rel=0.05, abs=0.02), key
    g16 = [p.grad for p in policy16.parameters() if p.requires_grad]
    assert g16 and all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in g16)


def test_train_ppo_runs_with_every_new_option_on(smoke, tmp_path):
    """bf16, activation checkpointing and the static-cache engine together through train_ppo: two
    steps (critic warm-up, then both), finite metrics, trained fp32 adapters."""
    import json
    import math

    path, tok = smoke
    cfg = PPOConfig(steps=2, batch_size=2, mini_batch_size=2, micro_batch_size=1, rollout_micro_batch_size=2,
                    max_new_tokens=3, ppo_epochs=1, critic_warmup_steps=1, precision="bf16",
                    gradient_checkpointing=True, rollout_engine="static", save_adapter=False)
    final = ppo.train_ppo(str(path), tok, ["q one", "q two"], lambda p, c, completion_ids, **_: [1.0, 0.0], cfg,
                          lora=LoraConfig(r=2), seed=0, out_dir=tmp_path)
    assert final["steps_done"] == 2
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    for key in ("kl/k1", "policy/entropy", "loss/value", "critic/grad_norm"):
        assert all(math.isfinite(r[key]) for r in rows), key
    assert math.isfinite(rows[1]["loss/policy"]) and rows[1]["actor/grad_norm"] > 0
