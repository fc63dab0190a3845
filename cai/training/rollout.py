"""Rollout engines: how PPO samples its responses (`PPOConfig.rollout_engine`).

Generation is where RLHF systems spend most of a step (OpenRLHF, Hu et al. 2024, and HybridFlow/verl,
Sheng et al. 2024, report ~80%); transformers' `model.generate` with a dynamic KV cache re-dispatches
every op of every layer per token. Every engine here samples from the same distribution the loss
evaluates, so the PPO ratio is exactly 1 before the first update ([PPO] Schulman et al. 2017, eq. 6):

  - softmax(logits / temperature) over the whole vocabulary: a fresh GenerationConfig, no top-k, no
    top-p, no repetition penalty (the model's own generation defaults would change the distribution);
  - one response per left-padded prompt, at most `max_new_tokens`, stopping at EOS; the caller cuts
    each response after its first EOS and pads the rest (`cai.training.ppo.cut_at_eos`).

Engines (one `sample` method: the `RolloutEngine` protocol):

  generate  `model.generate`, dynamic KV cache: the reference implementation the others are tested
            against.
  static    `model.generate` with a static (preallocated) KV cache; on CUDA transformers compiles the
            decoding step with `torch.compile` (mode "reduce-overhead": CUDA graphs). Prompts are
            left-padded to a multiple of 64 tokens so a few shapes cover every batch (each new shape
            recompiles). On CPU it runs uncompiled; if compilation fails, it warns once and continues
            uncompiled.
  paged     transformers' continuous batching (`generate_batch`): a paged KV cache (Kwon et al. 2023,
            "Efficient Memory Management for LLM Serving with PagedAttention"), requests scheduled
            token by token, prompts unpadded; the cache is sized to the batch. Its sampler draws from
            its own seeded generator (the seed comes from torch's RNG, so runs stay reproducible), so
            its samples differ from `generate`'s for the same seed, not their distribution.

Shapes: B rows, P prompt width (left-padded), R response width.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal, Protocol

import torch

EngineName = Literal["generate", "static", "paged"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sampling:
    """What every engine samples with."""

    max_new_tokens: int
    temperature: float
    eos: int
    pad: int

    def generation_config(self):
        """A fresh transformers GenerationConfig: pure sampling at `temperature`, nothing else."""
        from transformers import GenerationConfig

        return GenerationConfig(do_sample=True, temperature=self.temperature, top_k=0, top_p=1.0,
                                max_new_tokens=self.max_new_tokens, eos_token_id=self.eos, pad_token_id=self.pad)


class RolloutEngine(Protocol):
    """Samples one response per prompt."""

    prompt_multiple: int  # the caller left-pads prompts to a multiple of this width (1: no extra padding)

    def sample(self, model, ids: torch.Tensor, attn: torch.Tensor, spec: Sampling) -> tuple[torch.Tensor, torch.Tensor]:
        """ids, attn: (B, P) left-padded prompts -> (tokens (B, R) int64, generated (B, R) bool: True
        where the engine produced a token; tokens after a row's EOS may be anything)."""
        ...


@dataclass
class GenerateEngine:
    """`model.generate` with transformers' dynamic cache (cache=None) or a static one ("static")."""

    cache: str | None = None
    prompt_multiple: int = 1
    compile: bool = True

    def sample(self, model, ids, attn, spec: Sampling) -> tuple[torch.Tensor, torch.Tensor]:
        gen = spec.generation_config()
        if self.cache:
            gen.cache_implementation = self.cache
            gen.disable_compile = not self.compile
        try:
            out = model.generate(input_ids=ids, attention_mask=attn, generation_config=gen)
        except Exception as err:  # compilation (inductor, a C compiler, triton) can fail on a machine
            if not (self.cache and self.compile and ids.device.type != "cpu"):
                raise
            log.warning("static-cache generation failed compiled (%s: %s); continuing uncompiled",
                        type(err).__name__, err)
            self.compile = False
            gen.disable_compile = True
            out = model.generate(input_ids=ids, attention_mask=attn, generation_config=gen)
        resp = out[:, ids.shape[1]:]
        return resp, torch.ones_like(resp, dtype=torch.bool)


@dataclass
class PagedEngine:
    """transformers continuous batching with a paged KV cache sized to the batch."""

    page_size: int = 256
    max_batch_tokens: int = 16384
    prompt_multiple: int = 1

    def sample(self, model, ids, attn, spec: Sampling) -> tuple[torch.Tensor, torch.Tensor]:
        from transformers.generation import ContinuousBatchingConfig

        prompts = [row[m.bool()].tolist() for row, m in zip(ids, attn, strict=True)]
        total = sum(len(p) + spec.max_new_tokens for p in prompts)
        cb = ContinuousBatchingConfig(
            page_size=self.page_size, num_blocks=math.ceil(total / self.page_size) + len(prompts),
            max_batch_tokens=max(max(map(len, prompts)) + len(prompts), min(total, self.max_batch_tokens)),
            max_requests_per_batch=len(prompts), auto_switch_to_flash=False,
            seed=int(torch.randint(2**31 - 1, (1,))))
        out = model.generate_batch(prompts, generation_config=spec.generation_config(), continuous_batching_config=cb,
                                   progress_bar=False, warmup=ids.device.type == "cuda")
        rows = [list(r.generated_tokens) for r in out.values()]
        if len(rows) != len(prompts):
            raise RuntimeError(f"continuous batching returned {len(rows)} of {len(prompts)} responses")
        width = max(1, max(map(len, rows)))
        resp = torch.full((len(rows), width), spec.pad, dtype=torch.long)
        generated = torch.zeros((len(rows), width), dtype=torch.bool)
        for i, r in enumerate(rows):
            resp[i, :len(r)] = torch.tensor(r, dtype=torch.long)
            generated[i, :len(r)] = True
        return resp.to(ids.device), generated.to(ids.device)


def make_engine(name: EngineName | Literal["auto"], device: torch.device | str) -> RolloutEngine:
    """The engine called `name` (module docstring); "auto": static on CUDA, generate elsewhere."""
    if name == "auto":
        name = "static" if torch.device(device).type == "cuda" else "generate"
    if name == "generate":
        return GenerateEngine()
    if name == "static":
        return GenerateEngine(cache="static", prompt_multiple=64)
    if name == "paged":
        return PagedEngine()
    raise ValueError(f"unknown rollout engine {name!r}")
