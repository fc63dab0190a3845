"""cai.training.critic and the PPO loss on a fixed batch, on the tiny smoke policy (offline):

- the LoRA critic (second adapter + value head on the policy's frozen base) gives the values of a
  full critic whose backbone is a copy of the base with the critic's LoRA product merged in;
- the PPO losses and gradients of the new path (chunked log-probs, LoRA critic, two backward passes)
  equal those of the materialised path (full logits + log_softmax, a full-model critic, one summed
  loss), with and without activation checkpointing;
- the critic shares the policy's backbone without touching the policy's adapter or its gradients.
"""

from __future__ import annotations

import types

import pytest
import torch

from cai.training import critic as cr
from cai.training import logprobs as lp
from cai.training import ppo
from cai.training import ppo_math as pm
from cai.training.ppo import LoraConfig, PPOConfig

BACKWARD = types.SimpleNamespace(backward=lambda loss: loss.backward())  # the accelerator's one use here
PROMPTS = ["a", "what was the revenue in fiscal year 2023", [{"role": "user", "content": "hi"}], "q four"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    from transformers import AutoTokenizer

    from cai.training.smoke import build_smoke_policy

    path = build_smoke_policy(tmp_path_factory.mktemp("smoke-policy"))
    return path, AutoTokenizer.from_pretrained(path)


def _models(path, **update):
    """Policy + LoRA critic with non-zero adapters and head (so policy != reference, values != 0)."""
    cfg = PPOConfig(batch_size=4, mini_batch_size=4, micro_batch_size=2, rollout_micro_batch_size=4,
                    max_new_tokens=5, **update)
    torch.manual_seed(0)
    policy, critic = ppo._load_models(str(path), cfg, LoraConfig(r=4, alpha=8))
    with torch.no_grad():
        for name, p in [*policy.named_parameters(), *critic.named_parameters()]:
            if "lora_B" in name or name.startswith("head."):
                p.normal_(0, 0.3)
    return cfg, policy, critic


def _full_critic(path, critic: cr.LoraCritic) -> cr.ValueModel:
    """The full-critic equivalent: a separate copy of the base decoder with W + (alpha/r)·B·A merged
    into every layer the critic's adapter targets, and the same head."""
    from transformers import AutoModel

    backbone = AutoModel.from_pretrained(path, dtype=torch.float32)
    with torch.no_grad():
        for key in critic.lora_A:
            layer = backbone.get_submodule(key.replace("__", "."))
            layer.weight += critic.scaling * critic.lora_B[key].weight @ critic.lora_A[key].weight
    full = cr.ValueModel(backbone).eval()
    full.head.load_state_dict(critic.head.state_dict())
    return full


def _experience(path, tok, cfg, policy, critic) -> ppo.Experience:
    """A fixed batch whose old log-probs are shifted off the current ones, so the ratio is not 1
    and the clip engages."""
    torch.manual_seed(1)
    roll = ppo._generate(policy, tok, PROMPTS, cfg, "cpu")
    stats = ppo._score_rollout(policy, critic, roll, cfg)
    noise = torch.randn(stats.logp.shape, generator=torch.Generator().manual_seed(2)) * 0.3
    stats = ppo.TokenStats(logp=(stats.logp + noise) * roll.mask, ref_logp=stats.ref_logp, entropy=stats.entropy,
                           values=(stats.values + noise) * roll.mask)
    scores = torch.tensor([1.0, -0.5, 0.25, 2.0])
    rewards = ppo._token_rewards(scores, roll.mask, stats.logp, stats.ref_logp, 0.05, cfg)
    return ppo.Experience(roll, stats, ppo._advantages(roll, stats, rewards, cfg))


def _materialised_losses(policy, full_critic, exp, idx, beta, cfg) -> dict[str, torch.Tensor]:
    """The pre-chunking implementation: (B, R, V) logits, log_softmax, a full-model critic, one loss."""
    roll, old, targets = exp.roll, exp.stats, exp.targets
    ctx = roll.context
    ids, attn, mask = roll.ids[idx], roll.attn[idx], roll.mask[idx]
    values = full_critic(ids, attn, lp.positions(attn))[:, ctx - 1:-1]
    vf_loss, _ = pm.clipped_value_loss(values, old.values[idx], targets.returns[idx], mask, cfg.cliprange_value)
    logits = policy(input_ids=ids, attention_mask=attn, position_ids=lp.positions(attn),
                    logits_to_keep=ids.shape[1] - ctx + 1).logits[:, :-1].float() / cfg.temperature
    logp = pm.logprobs_from_logits(logits, ids[:, ctx:])
    pg_loss, _, _ = pm.clipped_policy_loss(logp, old.logp[idx], targets.advantages[idx], mask, cfg.cliprange)
    k3 = pm.masked_mean(pm.kl_k3(logp, old.ref_logp[idx]), mask)
    loss = cfg.vf_coef * vf_loss + pg_loss + (beta * k3 if cfg.kl_mode == "loss_k3" else 0.0)
    loss.backward()
    return {"loss/value": vf_loss.detach(), "loss/policy": pg_loss.detach()}


def test_lora_critic_equals_a_full_critic_with_the_adapter_merged(smoke):
    path, _ = smoke
    _, policy, critic = _models(path)
    full = _full_critic(path, critic)
    ids = torch.randint(5, 3000, (3, 10))
    attn = torch.ones_like(ids)
    attn[1, :4] = 0
    values = critic(ids, attn, lp.positions(attn))
    torch.testing.assert_close(values, full(ids, attn, lp.positions(attn)), atol=1e-5, rtol=1e-5)
    assert values.dtype == torch.float32 and values.abs().max() > 1e-3


def test_same_ppo_loss_and_gradients_on_a_fixed_batch(smoke):
    """New path vs the materialised one with a full critic: same losses, same gradients on the
    policy's LoRA and on the value head; k3 in the loss so the reference enters the loss too."""
    path, tok = smoke
    cfg, policy, critic = _models(path, kl_mode="loss_k3")
    exp = _experience(path, tok, cfg, policy, critic)
    full = _full_critic(path, critic)
    idx = torch.tensor([3, 0, 2])
    new = ppo._micro_step(BACKWARD, policy, critic, exp, idx, 0.1, cfg, train_actor=True, n_micro=1)
    new_grads = {n: p.grad.clone() for n, p in policy.named_parameters() if p.requires_grad}
    head_grad = critic.head.weight.grad.clone()
    policy.zero_grad(set_to_none=True)
    old = _materialised_losses(policy, full, exp, idx, 0.1, cfg)
    for key in ("loss/value", "loss/policy"):
        torch.testing.assert_close(new[key], old[key], atol=1e-5, rtol=1e-5)
    assert 0 < float(new["policy/clipfrac"]) < 1  # the clip engaged on some tokens, not all
    for name, grad in new_grads.items():
        torch.testing.assert_close(grad, dict(policy.named_parameters())[name].grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(head_grad, full.head.weight.grad, atol=1e-5, rtol=1e-4)
    assert all(critic.lora_B[k].weight.grad.abs().sum() > 0 for k in critic.lora_B)


def test_activation_checkpointing_gives_the_same_gradients(smoke):
    """Checkpointed layers are recomputed in the backward: the critic's inside its scope (its LoRA
    deltas on, the policy's adapter off), the policy's outside; gradients are unchanged."""
    path, tok = smoke
    grads = []
    for checkpointing in (False, True):
        cfg, policy, critic = _models(path, gradient_checkpointing=checkpointing)
        exp = _experience(path, tok, cfg, policy, critic)
        ppo._micro_step(BACKWARD, policy, critic, exp, torch.arange(4), 0.05, cfg, train_actor=True, n_micro=2)
        grads.append({n: p.grad.clone() for n, p in [*policy.named_parameters(), *critic.named_parameters()]
                      if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 10
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], atol=1e-6, rtol=1e-5)


def test_critic_shares_the_backbone_and_leaves_the_policy_alone(smoke):
    path, _ = smoke
    _, policy, critic = _models(path)
    policy_params = {id(p) for p in policy.parameters()}
    assert not policy_params & {id(p) for p in critic.parameters()}  # no backbone weight is the critic's
    assert all(k.startswith(("lora_A.", "lora_B.", "head.")) for k in critic.state_dict())
    n_base = sum(p.numel() for p in policy.parameters() if not p.requires_grad)
    assert sum(p.numel() for p in critic.parameters()) < n_base / 10
    trainable = {n for n, p in policy.named_parameters() if p.requires_grad}
    ids = torch.randint(5, 3000, (2, 8))
    attn = torch.ones_like(ids)
    before = policy(input_ids=ids, attention_mask=attn).logits
    critic(ids, attn, lp.positions(attn)).sum().backward()
    assert all(p.grad is None for p in policy.parameters())  # the critic's loss never reaches the actor
    assert {n for n, p in policy.named_parameters() if p.requires_grad} == trainable
    torch.testing.assert_close(policy(input_ids=ids, attention_mask=attn).logits, before, atol=0, rtol=0)
    with cr.adapters_off(policy):
        with cr.adapters_off(policy):  # nests
            reference = policy(input_ids=ids, attention_mask=attn).logits
        assert torch.equal(policy(input_ids=ids, attention_mask=attn).logits, reference)
    assert not torch.allclose(reference, before)  # the reference is the base, the policy is not
