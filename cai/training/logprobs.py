"""Log-probabilities and entropies of response tokens without materialising (B, R, V) logits.

PPO needs, per response token, log π(a_t | s_t) of the sampled token ([PPO] Schulman et al. 2017,
eq. (6)-(7): the ratio is exp(logp - old_logp)) for the policy, the reference and the loss, and the
entropy of π(· | s_t) for logging. With a 151,936-token vocabulary, a (B, R, V) fp32 logits tensor
is the largest thing a PPO step allocates (and autograd keeps it for the backward). Here the LM head
runs over the vocabulary in chunks of columns with an online log-sum-exp (the streaming softmax of
Milakov & Gimelshein 2018, "Online normalizer calculation for softmax"):

    for each chunk c:   z_c = (h W_c^T + b_c) / T                         (N, C), upcast to fp32
                        m'  = max(m, max z_c);  s = s·e^(m - m') + Σ e^(z_c - m')
                        u   = (u + s·(m - m'))·e^(m - m') + Σ e^(z_c - m')·(z_c - m')
    log Z = m + log s;   log π(a) = z_a - log Z;   H = log Z - E[z] = log s - u / s

(u is kept relative to the running max, so the entropy is not a difference of two large numbers)

and the backward recomputes each chunk: ∂ log π(a) / ∂z = onehot(a) - softmax(z), so
∂L/∂h = Σ_c (g·(onehot_c - p_c) / T) W_c. At most one (N, C) chunk is alive at a time, in fp32.
Matmuls run in the autocast dtype when autocast is on (as the LM head would), softmax statistics in
fp32. Entropy is a diagnostic: it has no gradient.

An LM head that is not a plain frozen `nn.Linear` (a trained `modules_to_save` copy, an adapter on
the head) takes the fallback: row chunks of the head's own forward under activation checkpointing,
the same bound on memory by another route.

Shapes: B rows, P prompt (context) positions, R response tokens, H hidden size, V vocabulary,
N = B·R flattened token positions.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

CHUNK_ELEMENTS = 1 << 25  # logits elements per chunk (tokens × vocabulary columns): 128 MiB in fp32
MIN_CHUNK = 1024


def vocab_chunk(n_tokens: int, vocab: int) -> int:
    """Vocabulary columns per chunk for `n_tokens` positions: CHUNK_ELEMENTS / N, at least MIN_CHUNK."""
    return min(vocab, max(MIN_CHUNK, CHUNK_ELEMENTS // max(n_tokens, 1)))


def _chunk_logits(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, start: int, end: int,
                  temperature: float) -> torch.Tensor:
    """(N, end - start) fp32 logits of vocabulary columns [start, end), divided by the temperature.
    h is already in the matmul dtype."""
    b = None if bias is None else bias[start:end].to(h.dtype)
    return F.linear(h, weight[start:end].to(h.dtype), b).float() / temperature


class _ChunkedLogProbs(torch.autograd.Function):
    """(log π(token), entropy) per row of `hidden` (N, H) under the head (weight (V, H), bias (V,))."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, tokens, temperature: float, chunk: int, mm_dtype: torch.dtype):
        with torch.autocast(hidden.device.type, enabled=False):
            h = hidden.to(mm_dtype)
            n, vocab = hidden.shape[0], weight.shape[0]
            m = torch.full((n,), float("-inf"), device=hidden.device)
            s, u, target = (torch.zeros(n, device=hidden.device) for _ in range(3))
            for start in range(0, vocab, chunk):
                end = min(start + chunk, vocab)
                z = _chunk_logits(h, weight, bias, start, end, temperature)  # (N, C) fp32
                new_m = torch.maximum(m, z.amax(-1))
                scale = torch.exp(m - new_m)
                shift = torch.where(s > 0, m - new_m, 0.0)  # 0 before the first chunk (m = -inf)
                zc = z - new_m[:, None]
                e = torch.exp(zc)
                u = (u + s * shift) * scale + (e * zc).sum(-1)
                s = s * scale + e.sum(-1)
                inside = (tokens >= start) & (tokens < end)
                picked = z.gather(1, (tokens - start).clamp(0, end - start - 1)[:, None]).squeeze(1)
                target = torch.where(inside, picked, target)
                m = new_m
            logz = m + torch.log(s)
        ctx.save_for_backward(hidden, weight, bias, tokens, logz)
        ctx.temperature, ctx.chunk, ctx.mm_dtype = temperature, chunk, mm_dtype
        entropy = torch.log(s) - u / s
        ctx.mark_non_differentiable(entropy)
        return target - logz, entropy

    @staticmethod
    def backward(ctx, grad_logp, _grad_entropy):
        hidden, weight, bias, tokens, logz = ctx.saved_tensors
        need_h, need_w, need_b = ctx.needs_input_grad[:3]
        g = grad_logp.float()
        with torch.autocast(hidden.device.type, enabled=False):
            h = hidden.to(ctx.mm_dtype)
            grad_h = torch.zeros(hidden.shape, dtype=torch.float32, device=hidden.device) if need_h else None
            grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_w else None
            grad_b = torch.zeros(bias.shape, dtype=torch.float32, device=bias.device) if need_b else None
            rows = torch.arange(hidden.shape[0], device=hidden.device)
            for start in range(0, weight.shape[0], ctx.chunk):
                end = min(start + ctx.chunk, weight.shape[0])
                z = _chunk_logits(h, weight, bias, start, end, ctx.temperature)
                dz = -g[:, None] * torch.exp(z - logz[:, None])  # -g·softmax(z), (N, C)
                inside = (tokens >= start) & (tokens < end)
                dz[rows[inside], tokens[inside] - start] += g[inside]  # +g·onehot(token)
                dz = dz / ctx.temperature
                if need_h:
                    grad_h += (dz.to(ctx.mm_dtype) @ weight[start:end].to(ctx.mm_dtype)).float()
                if need_w:
                    grad_w[start:end] = (dz.to(ctx.mm_dtype).T @ h).float()
                if need_b:
                    grad_b[start:end] = dz.sum(0)
        grads = [None if g is None else g.to(t.dtype) for g, t in ((grad_h, hidden), (grad_w, weight), (grad_b, bias))]
        return (*grads, None, None, None, None)


def chunked_logprobs(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, tokens: torch.Tensor,
                     temperature: float = 1.0, chunk: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(log π(token), entropy), each (...) fp32, of `hidden` (..., H) under a linear head weight (V, H)
    (+ bias (V,)) at `temperature`, in vocabulary chunks (module docstring). tokens: (...) int64.
    Differentiable in hidden, weight and bias through log π only."""
    lead = hidden.shape[:-1]
    h, tok = hidden.reshape(-1, hidden.shape[-1]), tokens.reshape(-1)
    dev = hidden.device.type
    mm_dtype = torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else hidden.dtype
    chunk = chunk or vocab_chunk(h.shape[0], weight.shape[0])
    logp, ent = _ChunkedLogProbs.apply(h, weight, bias, tok, float(temperature), chunk, mm_dtype)
    return logp.reshape(lead), ent.reshape(lead)


def _rows_logprobs(head: torch.nn.Module, h: torch.Tensor, tok: torch.Tensor,
                   temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    logits = head(h).float() / temperature  # (n, V) for one row chunk
    logp = torch.log_softmax(logits, -1)
    picked = logp.gather(-1, tok[:, None]).squeeze(-1)
    entropy = -(logp.exp() * logp).sum(-1).detach()
    return picked, entropy


def head_logprobs(head: torch.nn.Module, hidden: torch.Tensor, tokens: torch.Tensor,
                  temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(log π(token), entropy) of `hidden` (..., H) under any LM `head` module: the fast vocabulary-
    chunked path for a plain frozen `nn.Linear`, else row chunks of `head` under activation
    checkpointing (only one (rows, V) chunk alive, forward or backward)."""
    if type(head) is torch.nn.Linear and not any(p.requires_grad for p in head.parameters()):
        return chunked_logprobs(hidden, head.weight, head.bias, tokens, temperature)
    lead = hidden.shape[:-1]
    h, tok = hidden.reshape(-1, hidden.shape[-1]), tokens.reshape(-1)
    vocab = getattr(getattr(head, "weight", None), "shape", (1 << 17,))[0]
    rows = max(1, CHUNK_ELEMENTS // vocab)
    parts = []
    for i in range(0, h.shape[0], rows):
        args = (head, h[i:i + rows], tok[i:i + rows], temperature)
        parts.append(checkpoint(_rows_logprobs, *args, use_reentrant=False) if torch.is_grad_enabled()
                     else _rows_logprobs(*args))
    logp, ent = (torch.cat(x) for x in zip(*parts, strict=True))
    return logp.reshape(lead), ent.reshape(lead)


def causal_lm(model) -> torch.nn.Module:
    """The transformers causal LM inside `model` (a DDP / FSDP wrapper, a PeftModel, or the LM itself)."""
    from accelerate.utils import extract_model_from_parallel

    inner = extract_model_from_parallel(model)
    return inner.get_base_model() if hasattr(inner, "get_base_model") else inner


def positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids for left-padded rows: 0 at the first real token (as `generate` computes them)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def response_hidden(model, ids: torch.Tensor, attn: torch.Tensor, context: int) -> torch.Tensor:
    """(B, R, H) final hidden states (after the last norm) at the positions that predict each response
    token: position P-1+t predicts ids[:, P+t]. ids, attn: (B, P+R).

    The call goes through `model` itself (so a DDP wrapper sees its forward and syncs gradients) with
    the LM head on one position only; the decoder's output is taken by a forward hook."""
    decoder = causal_lm(model).get_decoder()
    seen: list[torch.Tensor] = []

    def keep(_module, _args, out) -> None:
        seen.append(out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0])

    hook = decoder.register_forward_hook(keep)
    try:
        model(input_ids=ids, attention_mask=attn, position_ids=positions(attn), logits_to_keep=1, use_cache=False)
    finally:
        hook.remove()
    return seen[-1][:, context - 1:-1]


def response_logprobs(model, ids: torch.Tensor, attn: torch.Tensor, context: int,
                      temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(log π(a_t), entropy of π(· | s_t)), each (B, R) fp32, for the response tokens ids[:, P:] under
    `model` at the sampling temperature, without (B, R, V) logits. Entropy has no gradient."""
    hidden = response_hidden(model, ids, attn, context)
    head = causal_lm(model).get_output_embeddings()
    return head_logprobs(head, hidden, ids[:, context:], temperature)
