"""PPO with a critic for RLHF/RLAIF, on accelerate. Read top to bottom: the rollout types, models,
rollout, reward, advantages, PPO epochs, logging and alarms, the loop.

One step ([PPO] Schulman et al. 2017; implementation choices from Huang et al. 2024, "The N+
Implementation Details of RLHF with PPO"):

  1. rollout  - sample a response per prompt from the policy (LoRA adapter on), left-padded
                prompts, batched no-grad generation by the configured engine
                (`cai.training.rollout`); responses are cut after the first EOS.
  2. score    - the hybrid reward `reward_fn(prompts, completions, **columns) -> list[float]`
                (TRL's reward-function signature, so GRPO/RLOO use the same callable), minus a
                penalty when no EOS was produced; optionally clipped and whitened.
  3. KL       - log-probs of the sampled tokens under the policy and the reference (the same
                model with its adapter disabled: no second copy), computed in vocabulary chunks
                (`cai.training.logprobs`: no (B, R, V) logits). Either k1 per token in the reward
                (r_t = -beta * k1_t, plus the score on the last real token) or k3 in the loss.
  4. values   - a critic gives V(s_t): by default a second LoRA adapter + zero-initialised scalar
                head on the policy's frozen base (`cai.training.critic`: one backbone in memory).
  5. GAE      - advantages and returns (`ppo_math.gae`), advantages whitened over real tokens.
  6. update   - `ppo_epochs` passes over shuffled mini-batches, each accumulated over
                micro-batches: clipped surrogate + vf_coef * clipped value loss (+ beta * k3),
                gradient-norm clipping per model. During `critic_warmup_steps` only the critic
                learns.
  7. log      - one JSONL row per step (means gathered over all processes, plus the time spent
                in rollout / score / update and the tokens generated); alarms stop the run on a
                KL explosion or on reward hacking, and the reason is recorded.
  8. save     - every `save_steps` steps and at the end, a checkpoint (`cai.training.ppo_checkpoint`)
                that `train_ppo(..., resume=True)` continues from exactly.

Precision (`cai.training.precision`): frozen weights and matmuls in the compute dtype of
`precision` (bf16 on CUDA by default), trainable parameters, optimiser state, log-softmax, values,
GAE and losses in fp32; on CPU everything is fp32.

Multi-process (`accelerate launch`): DDP on the policy's trainable parameters and on the critic;
each process rolls out its own slice of every global batch with its own sampling seed; metrics
are gathered on every process (so alarms stop all of them together); only the main process
writes files, except that every process writes its RNG state into checkpoints.

Tensor names: P = prompt tokens (left-padded), R = response tokens (right-padded), B = rows.
A step's data is an `Experience`: the `Rollout` sampled (ids, masks), the `TokenStats` scoring
adds (log-probs, reference log-probs, entropy, values) and the `Targets` the advantages add
(per-token rewards, advantages, returns). `mask` (B, R) is 1 on real response tokens up to and
including the first EOS; every (B, R) float tensor below is 0 where it is 0.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

# The configs live with the other stage configs; PPOConfig is re-exported for callers.
from cai.core.configs import LoraConfig, PPOConfig
from cai.core.runs import atomic_write_json
from cai.training import critic as cr
from cai.training import logprobs as lp
from cai.training import ppo_checkpoint
from cai.training import ppo_math as pm
from cai.training import precision as prec
from cai.training import rollout as ro
from cai.training.critic import ValueModel  # the full-model critic (also re-exported from here)

RewardFn = Callable[..., Sequence[float]]
Prompt = str | list[dict]


# ----------------------------------------------------------------------------------- rollout types
@dataclass(frozen=True)
class Rollout:
    """What `_generate` sampled: one response per prompt, after the prompt's context."""

    ids: torch.Tensor  # (B, P+R) int64: left-padded prompt ids, then response ids (pad after EOS)
    attn: torch.Tensor  # (B, P+R) int64: 1 on real prompt tokens and on `mask`'s response tokens
    mask: torch.Tensor  # (B, R) float32: 1 on real response tokens up to and including the EOS
    has_eos: torch.Tensor  # (B,) bool: the response ended with EOS (else cut at max_new_tokens)
    context: int  # P: width of the left-padded prompts; response token t is ids[:, P + t]

    @property
    def response(self) -> torch.Tensor:
        """(B, R) int64: the response token ids, pad after EOS."""
        return self.ids[:, self.context:]


@dataclass(frozen=True)
class TokenStats:
    """What `_score_rollout` adds: per response token, from no-grad forwards at rollout time."""

    logp: torch.Tensor  # (B, R) float32: log-prob of the sampled token under the policy
    ref_logp: torch.Tensor  # (B, R) float32: the same under the reference (adapter disabled)
    entropy: torch.Tensor  # (B, R) float32: entropy of the policy's (temperature-scaled) distribution
    values: torch.Tensor  # (B, R) float32: the critic's V(s_t) of the state before token t


@dataclass(frozen=True)
class Targets:
    """What `_advantages` adds: the per-token rewards and what GAE makes of them."""

    rewards: torch.Tensor  # (B, R) float32: -β·k1 per token (reward_k1) + the score on the last token
    advantages: torch.Tensor  # (B, R) float32: GAE advantages, whitened over real tokens when set
    returns: torch.Tensor  # (B, R) float32: advantages (before whitening) + values: the critic's target


@dataclass(frozen=True)
class Experience:
    """One step's training data: what the PPO epochs learn from."""

    roll: Rollout
    stats: TokenStats
    targets: Targets


# ------------------------------------------------------------------------------------------ models
def _peft_lora(lora: LoraConfig, **extra):
    """peft's LoraConfig for `lora`'s shape, without dropout (see `_load_models`)."""
    from peft import LoraConfig as PeftLoraConfig

    return PeftLoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=0.0, target_modules=lora.target_modules,
                          **extra)


def _load_models(policy_dir_or_model, cfg: PPOConfig, lora: LoraConfig, critic: torch.nn.Module | None = None,
                 device: torch.device | str = "cpu"):
    """(policy PeftModel with a trainable LoRA adapter shaped by `lora`, critic), dropout off. Frozen
    weights in cfg.precision's compute dtype on `device`, trainable parameters in fp32
    (`cai.training.precision`). The critic is `critic` when given, else a second LoRA adapter + value
    head on the policy's base, or a ValueModel on cfg.critic_model (`cai.training.critic`)."""
    from peft import PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    dtype = prec.compute_dtype(cfg.precision, device)
    if isinstance(policy_dir_or_model, str | Path):
        base = AutoModelForCausalLM.from_pretrained(policy_dir_or_model, dtype=dtype)
    else:
        base = prec.cast_frozen(policy_dir_or_model, dtype)
    if isinstance(base, PeftModel):
        policy = base
    else:
        policy = get_peft_model(base, _peft_lora(lora, modules_to_save=lora.modules_to_save, task_type="CAUSAL_LM"))
    prec.trainable_to_fp32(policy)
    if critic is None:
        critic = cr.build_critic(policy, cfg.critic_model, lora.r, lora.alpha)
    # Dropout off everywhere [N-IMPL]: the rollout log-probs and the loss log-probs must come from
    # the same function, or the PPO ratio is not 1 at the first update.
    policy.eval()
    critic.eval()
    if cfg.gradient_checkpointing:
        cr.enable_checkpointing(lp.causal_lm(policy))
        if isinstance(critic, ValueModel):
            cr.enable_checkpointing(critic.backbone)
    return policy, critic


def _amp(cfg: PPOConfig, device):
    """Autocast to cfg.precision's compute dtype (a no-op for fp32)."""
    device = torch.device(device)
    return prec.autocast(device, prec.compute_dtype(cfg.precision, device))


# ----------------------------------------------------------------------------------------- rollout
def _render(tokenizer, prompt: Prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    return tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)


@torch.no_grad()
def _generate(policy, tokenizer, prompts: list[Prompt], cfg: PPOConfig, device,
              engine: ro.RolloutEngine | None = None) -> Rollout:
    """Sample one response per prompt with `engine` (default: cfg.rollout_engine's). Responses are
    cut after the first EOS (the rest is pad); prompt columns that are padding in every row (an
    engine's padding to a multiple) are dropped afterwards."""
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    if eos is None or pad is None or eos == pad:
        raise ValueError("PPO needs distinct EOS and pad tokens (the pad must never end a response)")
    engine = engine or ro.make_engine(cfg.rollout_engine, device)
    tokenizer.padding_side = "left"
    texts = [_render(tokenizer, p) for p in prompts]
    chat = not isinstance(prompts[0], str)  # a chat template already places its special tokens
    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=not chat,
                    pad_to_multiple_of=engine.prompt_multiple if engine.prompt_multiple > 1 else None).to(device)
    spec = ro.Sampling(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, eos=eos, pad=pad)
    chunks = []
    with _amp(cfg, device):
        for i in range(0, len(texts), cfg.rollout_micro_batch_size):
            sl = slice(i, i + cfg.rollout_micro_batch_size)
            chunks.append(engine.sample(policy, enc.input_ids[sl], enc.attention_mask[sl], spec))
    width = max(c.shape[1] for c, _ in chunks)
    resp = torch.cat([torch.nn.functional.pad(c, (0, width - c.shape[1]), value=pad) for c, _ in chunks])
    generated = torch.cat([torch.nn.functional.pad(g, (0, width - g.shape[1]), value=False) for _, g in chunks])
    resp, mask, has_eos = cut_at_eos(resp, generated, eos, pad)
    lead = int((enc.attention_mask == 0).sum(1).min())  # left columns that are padding in every row
    ids, attn = enc.input_ids[:, lead:], enc.attention_mask[:, lead:]
    return Rollout(ids=torch.cat([ids, resp], 1), attn=torch.cat([attn, mask.long()], 1), mask=mask.float(),
                   has_eos=has_eos, context=ids.shape[1])


def cut_at_eos(resp: torch.Tensor, generated: torch.Tensor, eos: int, pad: int):
    """Truncate responses after their first EOS.

    resp: (B, R) sampled ids; generated: (B, R) bool, True where the sampler produced a token.
    Returns (ids with pad after the EOS, mask (B, R) bool = real tokens incl. the EOS, has_eos (B,)).
    The mask comes from positions, never from token ids: the policy may sample [PAD] as a token.
    """
    is_eos = (resp == eos) & generated
    after_eos = (is_eos.long().cumsum(1) - is_eos.long()) > 0
    mask = generated & ~after_eos
    return resp.masked_fill(~mask, pad), mask, is_eos.any(1)


@torch.no_grad()
def _score_rollout(policy, critic, roll: Rollout, cfg: PPOConfig) -> TokenStats:
    """Log-probs under the policy and the reference, entropy and values of `roll`, in micro-batches."""
    parts: dict[str, list[torch.Tensor]] = {"logp": [], "ref_logp": [], "entropy": [], "values": []}
    ctx = roll.context
    with _amp(cfg, roll.ids.device):
        for i in range(0, roll.ids.shape[0], cfg.rollout_micro_batch_size):
            sl = slice(i, i + cfg.rollout_micro_batch_size)
            ids, attn = roll.ids[sl], roll.attn[sl]
            logp, entropy = lp.response_logprobs(policy, ids, attn, ctx, cfg.temperature)
            with cr.adapters_off(policy):  # the reference policy: base weights, no second copy
                ref_logp, _ = lp.response_logprobs(policy, ids, attn, ctx, cfg.temperature)
            values = critic(ids, attn, lp.positions(attn))[:, ctx - 1:-1]
            for key, x in (("logp", logp), ("ref_logp", ref_logp), ("entropy", entropy), ("values", values)):
                parts[key].append(x.float())
    return TokenStats(**{k: torch.cat(v) * roll.mask for k, v in parts.items()})


# ------------------------------------------------------------------------------------------ reward
def _call_reward(reward_fn: RewardFn, prompts: list[Prompt], completions: list[str],
                 completion_ids: list[list[int]],
                 columns: dict[str, list]) -> tuple[list[float], dict[str, list[float]]]:
    """Call the reward as TRL does (conversational prompts get message-list completions, plus
    `completion_ids`); reward parts, when the callable exposes them, come from its `last_parts`
    attribute: {name: list[float]} for the rows just scored."""
    if prompts and not isinstance(prompts[0], str):
        completions = [[{"role": "assistant", "content": c}] for c in completions]
    scores = list(reward_fn(prompts, completions, completion_ids=completion_ids, **columns))
    if len(scores) != len(prompts):
        raise ValueError(f"reward_fn returned {len(scores)} scores for {len(prompts)} completions")
    parts = getattr(reward_fn, "last_parts", None) or {}
    return scores, {k: list(v) for k, v in parts.items() if len(v) == len(prompts)}


def _completions(tokenizer, roll: Rollout) -> tuple[list[list[int]], list[str]]:
    """(token ids, decoded text) of each response: its real tokens, the EOS left out (no text)."""
    ids = [r[m].tolist() for r, m in zip(roll.response, roll.mask.bool(), strict=True)]
    ids = [x[:-1] if has else x for x, has in zip(ids, roll.has_eos.tolist(), strict=True)]
    return ids, tokenizer.batch_decode(ids, skip_special_tokens=True)


def _token_rewards(scores: torch.Tensor, mask: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor,
                   beta: float, cfg: PPOConfig) -> torch.Tensor:
    """Per-token rewards (B, R), 0 where masked: -β·k1 per token when the KL is in the reward, and
    the score added on the last real token (the EOS, or the last token of a truncated response).
    scores: (B,); mask, logp, ref_logp: (B, R) as in Rollout and TokenStats."""
    kl = pm.kl_k1(logp, ref_logp) * mask
    rewards = -beta * kl if cfg.kl_mode == "reward_k1" else torch.zeros_like(kl)
    last = (mask.sum(1).long() - 1).clamp(min=0)
    rewards[torch.arange(len(scores)), last] += scores
    return rewards * mask


def _final_scores(raw: list[float], roll: Rollout, cfg: PPOConfig, accelerator) -> torch.Tensor:
    """(B,) float32 scores after the missing-EOS penalty, clipping and (global) whitening."""
    scores = torch.tensor(raw, dtype=torch.float32, device=roll.mask.device)
    scores = scores - cfg.missing_eos_penalty * (~roll.has_eos).float()
    if cfg.reward_clip is not None:
        scores = scores.clamp(-cfg.reward_clip, cfg.reward_clip)
    if cfg.whiten_rewards:
        every = accelerator.gather(scores)  # statistics of the global batch, same on every process
        scores = (scores - every.mean()) / (every.std() + 1e-8) if every.numel() > 1 else scores - every.mean()
    return scores


# -------------------------------------------------------------------------------------- advantages
def _advantages(roll: Rollout, stats: TokenStats, rewards: torch.Tensor, cfg: PPOConfig) -> Targets:
    """Advantages and returns of the per-token `rewards` (B, R) [GAE eq. (16)]."""
    adv, returns = pm.gae(rewards, stats.values, roll.mask, cfg.gamma, cfg.lam)
    if cfg.whiten_advantages:
        adv = pm.masked_whiten(adv, roll.mask)
    return Targets(rewards=rewards, advantages=adv, returns=returns)


# ------------------------------------------------------------------------------------------ update
def _micro_step(accelerator, policy, critic, exp: Experience, idx: torch.Tensor, beta: float, cfg: PPOConfig,
                train_actor: bool, n_micro: int) -> dict[str, torch.Tensor]:
    """Forward and backward (gradients / n_micro) on the rows `idx` of the experience: vf_coef ·
    clipped value loss [N-IMPL] for the critic, then the clipped surrogate [PPO eq. (7)] (+ β · k3
    when kl_mode is loss_k3) [PPO eq. (9)] for the actor. Two backward passes over disjoint graphs,
    so the gradients are those of the summed loss; the critic's runs inside its scope (a LoRA
    critic's checkpointed layers are recomputed there). Losses in fp32. Returns the statistics."""
    roll, old, targets = exp.roll, exp.stats, exp.targets
    ctx, dev = roll.context, roll.ids.device
    ids, attn, mask = roll.ids[idx], roll.attn[idx], roll.mask[idx]
    with cr.critic_scope(critic):
        with _amp(cfg, dev):
            values = critic(ids, attn, lp.positions(attn))[:, ctx - 1:-1]
        vf_loss, vf_clipfrac = pm.clipped_value_loss(values.float(), old.values[idx], targets.returns[idx],
                                                     mask, cfg.cliprange_value)
        accelerator.backward(cfg.vf_coef * vf_loss / n_micro)
    stats = {"loss/value": vf_loss.detach(), "critic/clipfrac": vf_clipfrac}
    if train_actor:
        with _amp(cfg, dev):
            logp, _ = lp.response_logprobs(policy, ids, attn, ctx, cfg.temperature)
        pg_loss, clipfrac, approx_kl = pm.clipped_policy_loss(logp, old.logp[idx], targets.advantages[idx], mask,
                                                              cfg.cliprange)
        loss = pg_loss
        if cfg.kl_mode == "loss_k3":
            loss = loss + beta * pm.masked_mean(pm.kl_k3(logp, old.ref_logp[idx]), mask)
        accelerator.backward(loss / n_micro)
        stats.update({"loss/policy": pg_loss.detach(), "policy/clipfrac": clipfrac, "policy/approx_kl": approx_kl})
    return stats


def _ppo_epochs(accelerator, policy, critic, opts: dict, exp: Experience, beta: float, cfg: PPOConfig,
                train_actor: bool) -> dict[str, float]:
    """`ppo_epochs` passes over shuffled mini-batches; each mini-batch accumulates gradients over
    micro-batches (gradient sync only on the last) and takes one step per model after clipping
    the gradient norm. Returns the mean of each statistic (losses per micro-batch, gradient norms
    before clipping per optimiser step). Models stay in eval mode: dropout off [N-IMPL]."""
    n = exp.roll.ids.shape[0]
    n_micro = cfg.mini_batch_size // cfg.micro_batch_size
    models = [critic] + ([policy] if train_actor else [])
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}

    def add(key: str, value) -> None:
        sums[key], counts[key] = sums.get(key, 0.0) + float(value), counts.get(key, 0) + 1
    for _ in range(cfg.ppo_epochs):
        order = torch.randperm(n, device=exp.roll.ids.device)
        for start in range(0, n, cfg.mini_batch_size):
            mini = order[start:start + cfg.mini_batch_size]
            for j in range(n_micro):
                idx = mini[j * cfg.micro_batch_size:(j + 1) * cfg.micro_batch_size]
                with contextlib.ExitStack() as stack:
                    if j < n_micro - 1:  # skip the all-reduce until the last micro-batch
                        for m in models:
                            stack.enter_context(accelerator.no_sync(m))
                    stats = _micro_step(accelerator, policy, critic, exp, idx, beta, cfg, train_actor, n_micro)
                for k, v in stats.items():
                    add(k, v)
            for name, model in (("critic", critic), ("actor", policy)):
                if name == "actor" and not train_actor:
                    continue
                add(f"{name}/grad_norm", accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm))
                opts[name].step()
                opts[name].zero_grad(set_to_none=True)
    return {k: v / counts[k] for k, v in sums.items()}


# -------------------------------------------------------------------------------- logging / alarms
def _global_mean(accelerator, x: torch.Tensor) -> float:
    """Mean of a per-row tensor over every process's rows."""
    return float(accelerator.gather(x.detach().float().reshape(-1)).mean())


def _global_explained_variance(accelerator, values, returns, mask) -> float:
    """1 - Var(R - V) / Var(R) over the real tokens of all processes (sums, then one reduce)."""
    m = mask.float()
    resid = (returns - values) * m
    sums = torch.stack([m.sum(), (returns * m).sum(), (returns**2 * m).sum(), resid.sum(), (resid**2).sum()])
    n, sr, srr, se, see = accelerator.reduce(sums, reduction="sum").tolist()
    var_r = srr / n - (sr / n) ** 2 if n else 0.0
    var_e = see / n - (se / n) ** 2 if n else 0.0
    return 1.0 - var_e / var_r if var_r > 0 else float("nan")


def _step_metrics(accelerator, exp: Experience, raw: list[float], parts: dict[str, list[float]],
                  scores: torch.Tensor, beta: float) -> dict[str, float]:
    """The step's row, identical on every process (every value is reduced over all of them)."""
    from accelerate.utils import gather_object

    roll, stats = exp.roll, exp.stats
    mask, dev = roll.mask, roll.mask.device
    row = {"reward/raw": _global_mean(accelerator, torch.tensor(raw, device=dev)),
           "reward/score": _global_mean(accelerator, scores)}
    # Only parts every process has: a gather that some process skips would hang the others.
    names = set.intersection(*(set(n) for n in gather_object([sorted(parts)])))
    for name in sorted(names):
        part = torch.tensor(parts[name], dtype=torch.float32, device=dev)
        row[f"reward/{name}"] = _global_mean(accelerator, part)
    row["kl/k1"] = _global_mean(accelerator, (pm.kl_k1(stats.logp, stats.ref_logp) * mask).sum(1))
    row["kl/k3"] = _global_mean(accelerator, (pm.kl_k3(stats.logp, stats.ref_logp) * mask).sum(1))
    row["kl/beta"] = beta
    row["policy/entropy"] = _global_mean(accelerator, (stats.entropy * mask).sum(1) / mask.sum(1).clamp(min=1))
    row["critic/explained_variance"] = _global_explained_variance(accelerator, stats.values,
                                                                  exp.targets.returns, mask)
    row["response/length"] = _global_mean(accelerator, mask.sum(1))
    row["response/eos_rate"] = _global_mean(accelerator, roll.has_eos)
    row["tokens/generated"] = int(accelerator.reduce(mask.sum(), reduction="sum"))
    return row


def check_alarms(history: list[dict[str, Any]], cfg: PPOConfig) -> str | None:
    """The reason to stop the run now, or None.

    - KL explosion: the last step's mean sequence KL (k1) is not finite or exceeds alarm_max_kl.
    - Reward hacking: over the last `alarm_window` steps versus the window before, the preference
      part rose by at least alarm_min_delta while the NLI-support part fell by at least as much.
    """
    last = history[-1]
    kl = last["kl/k1"]
    if cfg.alarm_max_kl is not None and (not math.isfinite(kl) or kl > cfg.alarm_max_kl):
        return f"kl_explosion: mean sequence KL {kl:.3f} > alarm_max_kl {cfg.alarm_max_kl} at step {last['step']}"
    pref, sup, w = cfg.alarm_preference_part, cfg.alarm_support_part, cfg.alarm_window
    keys = (f"reward/{pref}", f"reward/{sup}")
    if pref and sup and len(history) >= 2 * w and all(k in r for r in history[-2 * w:] for k in keys):
        def window_mean(key, rows):
            return sum(r[key] for r in rows) / len(rows)
        before, now = history[-2 * w:-w], history[-w:]
        d_pref = window_mean(keys[0], now) - window_mean(keys[0], before)
        d_sup = window_mean(keys[1], now) - window_mean(keys[1], before)
        if d_pref >= cfg.alarm_min_delta and -d_sup >= cfg.alarm_min_delta:
            return (f"reward_hacking: {pref} rose {d_pref:+.3f} while {sup} fell {d_sup:+.3f} over the last "
                    f"{w} steps (step {last['step']})")
    return None


# -------------------------------------------------------------------------------------------- loop
def _prompt_batches(n_prompts: int, cfg: PPOConfig, seed: int, accelerator):
    """Endless per-process index batches: one seeded shuffle per epoch shared by all processes,
    each process taking its own slice of every global batch."""
    g = torch.Generator().manual_seed(seed)
    per, world, rank = cfg.batch_size, accelerator.num_processes, accelerator.process_index
    order: list[int] = []
    while True:
        while len(order) < per * world:
            order += torch.randperm(n_prompts, generator=g).tolist()
        batch, order = order[:per * world], order[per * world:]
        yield batch[rank * per:(rank + 1) * per]


def run_settings(config: PPOConfig, lora: LoraConfig, seed: int) -> dict[str, Any]:
    """Everything that decides what a run computes, as JSON: the PPO config, the adapter's shape
    (not its dropout: PPO trains without dropout) and the seed. Checkpoints record it, and a
    resume refuses another (but for ppo_checkpoint.RESUMABLE_FIELDS and the alarm_* fields)."""
    return {**config.model_dump(mode="json"), "lora": lora.model_dump(mode="json", exclude={"dropout"}),
            "seed": seed}


def train_ppo(policy_dir_or_model, tokenizer, prompts: list[Prompt], reward_fn: RewardFn,
              config: PPOConfig, *, lora: LoraConfig, seed: int, out_dir: str | Path,
              columns: dict[str, list] | None = None, logger: Callable[[dict], None] | None = None,
              resume: bool = False, critic: torch.nn.Module | None = None) -> dict[str, Any]:
    """Train a LoRA adapter on the policy with PPO against `reward_fn`; returns the final metrics.

    prompts: plain strings or chat message lists. lora: the adapter's rank, alpha, target modules
    and modules_to_save (its dropout is not used: PPO trains without dropout); not used when the
    policy is already a PeftModel, except for the critic's adapter on a 4-bit policy. seed: prompt
    order, LoRA initialisation and sampling (process i samples with seed + i). columns: extra
    per-prompt lists passed to the reward by name (e.g. sources). Writes out_dir/metrics.jsonl
    (a row per step), out_dir/summary.json, out_dir/checkpoint (every `save_steps` steps and at
    the end) and, when config.save_adapter, out_dir/adapter. The returned dict is the last step's
    row plus `steps_done` and `stop_reason` (None when all steps ran).

    resume: continue from out_dir/checkpoint when there is one (else start fresh): weights,
    optimisers, RNG states, KL coefficient and, when `reward_fn` has `state_dict` /
    `load_state_dict`, its state; metrics rows after the checkpoint are dropped and redone.
    critic: a prebuilt critic, `forward(input_ids, attention_mask, position_ids) -> (B, L)`
    values (see ValueModel); None builds one from config.critic_model or the policy's backbone.
    """
    cfg, columns = config, columns or {}
    if not prompts:
        raise ValueError("no prompts")
    for name, col in columns.items():
        if len(col) != len(prompts):
            raise ValueError(f"column {name!r} has {len(col)} rows for {len(prompts)} prompts")
    accelerator, policy, critic, opts, kl_ctl, engine = _setup(policy_dir_or_model, critic, cfg, lora, seed)
    out, settings = Path(out_dir), run_settings(cfg, lora, seed)
    start, history = ppo_checkpoint.restore(accelerator, out, resume, kl_ctl, reward_fn, settings)
    batches = _prompt_batches(len(prompts), cfg, seed, accelerator)
    for _ in range(start):  # the order is a function of the seed: skip what the checkpoint did
        next(batches)
    stop_reason, done = None, start
    for step in range(start, cfg.steps):
        t0 = _now(accelerator.device)
        row = _train_step(accelerator, policy, critic, opts, engine, tokenizer, prompts, columns, next(batches),
                          reward_fn, kl_ctl, cfg, train_actor=step >= cfg.critic_warmup_steps)
        row = {"step": step, **row, "time/step_s": _now(accelerator.device) - t0}
        history.append(row)
        done = step + 1
        stop_reason = check_alarms(history, cfg)
        if stop_reason:
            row["stop_reason"] = stop_reason
        if accelerator.is_main_process:
            with (out / ppo_checkpoint.METRICS).open("a") as f:
                f.write(json.dumps(row) + "\n")
            if logger:
                logger(row)
        if stop_reason:
            break
        if cfg.save_steps and done % cfg.save_steps == 0 and done < cfg.steps:  # the last: below
            ppo_checkpoint.checkpoint(accelerator, out, done, kl_ctl, reward_fn, settings)
    if done > start:
        ppo_checkpoint.checkpoint(accelerator, out, done, kl_ctl, reward_fn, settings)
    return _finish(accelerator, policy, tokenizer, history, done, stop_reason, cfg, out)


def _setup(policy_dir_or_model, critic, cfg: PPOConfig, lora: LoraConfig, seed: int):
    """(accelerator, policy, critic, {"actor", "critic"} optimisers, KL controller, rollout engine), prepared."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedType, get_int_from_env, set_seed

    accelerator = Accelerator(cpu=cfg.cpu)
    launched = get_int_from_env(["WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"], 1)
    if launched != accelerator.num_processes:  # N independent runs writing one out_dir otherwise
        raise ValueError(f"launched as {launched} processes but accelerate runs {accelerator.num_processes}: "
                         "without GPUs set ACCELERATE_USE_CPU=1 (or cpu: true) for a multi-CPU run")
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        # accelerate drives one DeepSpeed engine per Accelerator, and its backward() also steps
        # that engine's optimiser; PPO here trains two models with their own optimisers.
        raise ValueError("PPO trains a policy and a critic; accelerate's DeepSpeed integration "
                         "drives one model per Accelerator. Use DDP or FSDP for PPO.")
    ours = "bf16" if prec.compute_dtype(cfg.precision, accelerator.device) == torch.bfloat16 else "no"
    if accelerator.mixed_precision not in ("no", ours):  # its autocast wraps the update's forwards only
        raise ValueError(f"accelerate runs {accelerator.mixed_precision} mixed precision but ppo.precision "
                         f"{cfg.precision!r} computes in {ours if ours != 'no' else 'fp32'}: rollout scores and the "
                         "loss would differ. Set ppo.precision to bf16, or launch without mixed precision.")
    set_seed(seed)  # same LoRA init everywhere (DDP also broadcasts rank 0's weights)
    policy, critic = _load_models(policy_dir_or_model, cfg, lora, critic, device=accelerator.device)
    actor_opt = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=cfg.learning_rate)
    critic_opt = torch.optim.AdamW([p for p in critic.parameters() if p.requires_grad],
                                   lr=cfg.critic_learning_rate)
    # One model per prepare call: FSDP2 shards one model per call (DDP does not mind either way).
    # The order fixes the checkpoint's file names: model.safetensors policy, model_1 critic.
    policy, actor_opt = accelerator.prepare(policy, actor_opt)
    critic, critic_opt = accelerator.prepare(critic, critic_opt)
    ppo_checkpoint.skip_frozen_on_save(accelerator)
    set_seed(seed + accelerator.process_index)  # different samples per process
    kl_ctl = (pm.AdaptiveKLController(cfg.kl_coef, cfg.target_kl, cfg.kl_horizon) if cfg.target_kl
              else pm.FixedKLController(cfg.kl_coef))
    engine = ro.make_engine(cfg.rollout_engine, accelerator.device)
    return accelerator, policy, critic, {"actor": actor_opt, "critic": critic_opt}, kl_ctl, engine


def _now(device) -> float:
    """perf_counter once the device has finished its queued work (CUDA kernels run async)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def _train_step(accelerator, policy, critic, opts, engine, tokenizer, prompts, columns, idx: list[int],
                reward_fn, kl_ctl, cfg: PPOConfig, *, train_actor: bool) -> dict[str, Any]:
    """One PPO iteration on the prompts `idx`: rollout, score, advantages, updates, KL control.
    Times (this process): rollout = generation; score = log-probs, reference, values, reward
    call and advantages; update = the PPO epochs."""
    batch = [prompts[i] for i in idx]
    gen_model = accelerator.unwrap_model(policy)  # no DDP forward: no collective per token
    t0 = _now(accelerator.device)
    roll = _generate(gen_model, tokenizer, batch, cfg, accelerator.device, engine)
    t1 = _now(accelerator.device)
    stats = _score_rollout(gen_model, accelerator.unwrap_model(critic), roll, cfg)
    ids, texts = _completions(tokenizer, roll)
    raw, parts = _call_reward(reward_fn, batch, texts, ids, {k: [v[i] for i in idx] for k, v in columns.items()})
    scores = _final_scores(raw, roll, cfg, accelerator)
    beta = kl_ctl.value
    rewards = _token_rewards(scores, roll.mask, stats.logp, stats.ref_logp, beta, cfg)
    exp = Experience(roll, stats, _advantages(roll, stats, rewards, cfg))
    t2 = _now(accelerator.device)
    row = _step_metrics(accelerator, exp, raw, parts, scores, beta)
    t3 = _now(accelerator.device)
    row.update(_ppo_epochs(accelerator, policy, critic, opts, exp, beta, cfg, train_actor))
    t4 = _now(accelerator.device)
    kl_ctl.update(row["kl/k1"], len(idx) * accelerator.num_processes)
    row.update({"time/rollout_s": t1 - t0, "time/score_s": t2 - t1, "time/update_s": t4 - t3})
    return row


def _finish(accelerator, policy, tokenizer, history, steps_done: int, stop_reason, cfg: PPOConfig,
            out: Path) -> dict[str, Any]:
    """Save the adapter and summary (main process) and return the final metrics."""
    accelerator.wait_for_everyone()
    final = {**(history[-1] if history else {}), "steps_done": steps_done, "stop_reason": stop_reason}
    # Every process takes part: under FSDP the full state dict is gathered collectively.
    weights = accelerator.get_state_dict(policy) if cfg.save_adapter else None
    if accelerator.is_main_process:
        if cfg.save_adapter:
            accelerator.unwrap_model(policy).save_pretrained(out / "adapter", state_dict=weights)
            tokenizer.save_pretrained(out / "adapter")
            final["adapter_dir"] = str(out / "adapter")
        atomic_write_json(out / "summary.json", final)
    return final
