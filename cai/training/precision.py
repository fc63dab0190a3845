"""Numeric precision of PPO (`PPOConfig.precision`): which dtype the frozen weights and the matmuls use,
and where fp32 is kept.

The mixed-precision recipe of Micikevicius et al. 2018 ("Mixed Precision Training"), in its bf16 form
(no loss scaling: bf16 has fp32's exponent range):

  - frozen base weights in the compute dtype (bf16 on CUDA: half the memory, tensor-core matmuls);
  - trainable parameters (LoRA factors [LoRA] Hu et al. 2021, value head, a fully trained critic) and
    therefore their gradients and AdamW moments in fp32 ("master weights");
  - matmuls under `torch.autocast` in the compute dtype;
  - fp32 where the numbers need it: log-softmax and entropy (`cai.training.logprobs` upcasts each
    vocabulary chunk), values, GAE, the losses (all on fp32 tensors, outside autocast's bf16 ops).

"auto" picks bf16 on a CUDA device that supports it and fp32 elsewhere: on CPU, bf16 matmuls are slow
and would change the numbers, so the CPU path stays fp32 with no autocast at all (bit-stable runs,
bit-identical resumes).
"""

from __future__ import annotations

import contextlib
from typing import Literal

import torch

Precision = Literal["auto", "fp32", "bf16"]


def compute_dtype(precision: Precision, device: torch.device | str) -> torch.dtype:
    """The dtype of frozen weights and matmuls for `precision` on `device`."""
    device = torch.device(device)
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError("precision bf16: this CUDA device has no bf16 support; use fp32")
        return torch.bfloat16
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    return torch.bfloat16 if cuda_bf16 else torch.float32


def autocast(device: torch.device | str, dtype: torch.dtype):
    """torch.autocast to `dtype` on `device`'s type, or a no-op context for fp32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def cast_frozen(model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """Cast `model`'s frozen floating-point parameters to `dtype` in place. Trainable ones (an adapter
    already on the model) and buffers are left alone (rotary `inv_freq` stays fp32, as
    `from_pretrained(dtype=...)` leaves it); quantised (4-bit) weights are not floating point."""
    for p in model.parameters():
        if p.is_floating_point() and p.dtype != dtype and not p.requires_grad:
            p.data = p.data.to(dtype)
    return model


def trainable_to_fp32(model: torch.nn.Module) -> None:
    """Trainable parameters (LoRA factors, `modules_to_save` copies) in fp32: the master weights, so
    their gradients and optimiser moments are fp32 too."""
    for p in model.parameters():
        if p.requires_grad and p.dtype != torch.float32:
            p.data = p.data.float()
