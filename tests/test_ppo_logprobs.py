"""cai.training.logprobs: vocabulary-chunked log-probs and entropy against the materialised
implementation (full logits, log_softmax, cai.training.ppo_math), values and gradients, fp32 and bf16
autocast, and a check that no (N, V) logits tensor is ever allocated."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from cai.training import logprobs as lp
from cai.training import ppo_math as pm


def _materialised(hidden, weight, bias, tokens, temperature):
    logits = torch.nn.functional.linear(hidden, weight, bias).float() / temperature
    return pm.logprobs_from_logits(logits, tokens), pm.entropy_from_logits(logits)


def _case(seed=0, n=(3, 5), h=16, v=1000, bias=True):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(*n, h, generator=g, requires_grad=True)
    weight = (torch.randn(v, h, generator=g) * 0.5).requires_grad_()
    b = (torch.randn(v, generator=g) * 0.1).requires_grad_() if bias else None
    tokens = torch.randint(v, n, generator=g)
    tokens[0, 0], tokens[-1, -1] = 0, v - 1  # both ends of the vocabulary
    return hidden, weight, b, tokens


@pytest.mark.parametrize("chunk", [1000, 300, 7])  # one chunk; chunks not dividing V; tiny chunks
@pytest.mark.parametrize("temperature", [1.0, 0.3])
def test_chunked_matches_materialised_values_and_gradients(chunk, temperature):
    hidden, weight, bias, tokens = _case()
    logp, ent = lp.chunked_logprobs(hidden, weight, bias, tokens, temperature, chunk=chunk)
    ref_logp, ref_ent = _materialised(hidden, weight, bias, tokens, temperature)
    assert logp.shape == ent.shape == tokens.shape and logp.dtype == torch.float32
    torch.testing.assert_close(logp, ref_logp, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ent, ref_ent, atol=5e-5, rtol=1e-4)
    # Exact (fp64) entropy: the streaming form, relative to the running max, is the more accurate one.
    exact = pm.entropy_from_logits(torch.nn.functional.linear(hidden, weight, bias).double() / temperature)
    assert (ent - exact).abs().max() <= (ref_ent - exact).abs().max() + 1e-6
    assert not ent.requires_grad  # a diagnostic: no gradient through the entropy
    upstream = torch.randn(tokens.shape, generator=torch.Generator().manual_seed(1))
    grads = torch.autograd.grad((logp * upstream).sum(), (hidden, weight, bias))
    ref_grads = torch.autograd.grad((ref_logp * upstream).sum(), (hidden, weight, bias))
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_chunked_frozen_head_needs_no_weight_gradient():
    hidden, weight, _, tokens = _case(bias=False)
    weight.requires_grad_(False)
    logp, _ = lp.chunked_logprobs(hidden, weight, None, tokens, 1.0, chunk=128)
    (grad_h,) = torch.autograd.grad(logp.sum(), (hidden,))
    ref, _ = _materialised(hidden, weight, None, tokens, 1.0)
    torch.testing.assert_close(grad_h, torch.autograd.grad(ref.sum(), (hidden,))[0], atol=1e-5, rtol=1e-4)


def test_chunked_under_bf16_autocast_matches_materialised_under_autocast():
    """bf16 matmuls (as the LM head under autocast), fp32 softmax statistics: the same numbers as
    materialising the bf16 logits and upcasting them, and close to fp32."""
    hidden, weight, bias, tokens = _case(v=3000)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logp, ent = lp.chunked_logprobs(hidden, weight, bias, tokens, 0.7, chunk=512)
        ref_logp, ref_ent = _materialised(hidden, weight, bias, tokens, 0.7)
    torch.testing.assert_close(logp, ref_logp, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ent, ref_ent, atol=1e-4, rtol=1e-4)
    fp32_logp, _ = _materialised(hidden, weight, bias, tokens, 0.7)
    assert (logp - fp32_logp).abs().max() < 0.2  # bf16 logits: ~3 significant digits
    assert logp.dtype == torch.float32
    grad_h, = torch.autograd.grad(logp.sum(), (hidden,))
    assert grad_h.dtype == torch.float32 and torch.isfinite(grad_h).all()


class _LargestOutput(TorchDispatchMode):
    """Records the largest number of elements of any tensor an op returns."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def test_no_op_allocates_the_full_logits_forward_or_backward():
    hidden, weight, bias, tokens = _case(n=(4, 8), v=4096)
    n_tokens = tokens.numel()
    with _LargestOutput() as probe:
        logp, _ = lp.chunked_logprobs(hidden, weight, bias, tokens, 1.0, chunk=256)
        logp.sum().backward()
    assert probe.largest <= max(n_tokens * 256, weight.numel())  # one chunk, or the weight's own gradient
    assert probe.largest < n_tokens * 4096


def test_head_logprobs_fallback_for_a_trained_head_matches_chunked():
    """A head with trainable weights (e.g. peft modules_to_save) goes through row chunks under
    activation checkpointing: same values and gradients as the chunked path and the materialised one."""
    hidden, weight, bias, tokens = _case(v=600)
    head = torch.nn.Linear(16, 600)
    with torch.no_grad():
        head.weight.copy_(weight)
        head.bias.copy_(bias)
    logp, ent = lp.head_logprobs(head, hidden, tokens, 0.5)  # trainable: the fallback
    ref_logp, ref_ent = _materialised(hidden, weight, bias, tokens, 0.5)
    torch.testing.assert_close(logp, ref_logp, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ent, ref_ent, atol=1e-5, rtol=1e-5)
    logp.sum().backward()
    ref_logp.sum().backward()
    torch.testing.assert_close(head.weight.grad, weight.grad, atol=1e-5, rtol=1e-4)


def test_response_logprobs_match_the_models_own_logits(tmp_path):
    """On the smoke policy with a non-zero LoRA adapter: (B, R) log-probs and entropy of the response
    tokens equal those of the model's full logits, and the gradient reaches the adapter."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from cai.training.smoke import build_smoke_policy

    model = AutoModelForCausalLM.from_pretrained(build_smoke_policy(tmp_path / "p"), dtype=torch.float32)
    policy = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear")).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    ids = torch.randint(5, 2000, (3, 9))
    attn = torch.ones_like(ids)
    attn[0, :3] = 0  # a left-padded row
    ctx = 5
    logp, ent = lp.response_logprobs(policy, ids, attn, ctx, 0.8)
    logits = policy(input_ids=ids, attention_mask=attn, position_ids=lp.positions(attn)).logits
    logits = logits[:, ctx - 1:-1].float() / 0.8
    torch.testing.assert_close(logp, pm.logprobs_from_logits(logits, ids[:, ctx:]), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ent, pm.entropy_from_logits(logits).detach(), atol=1e-5, rtol=1e-5)
    logp.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for n, p in policy.named_parameters() if "lora_A" in n)
