"""The tensor math of PPO with a critic: pure functions, no models, no state but the KL controller.

Shapes: B = sequences in the batch, T = response tokens (right-padded: a row's real tokens are a
prefix of its T positions and `mask` is 1 on them, 0 on the padding after the stop token), V =
vocabulary. Every function that takes a `mask` ignores masked positions completely: their values
may be anything (including garbage from padding) without changing the result.

References:
  [PPO]  Schulman et al. 2017, "Proximal Policy Optimization Algorithms", eq. (7) and (9).
  [GAE]  Schulman et al. 2015, "High-Dimensional Continuous Control Using Generalized Advantage
         Estimation", eq. (11)-(16).
  [N-IMPL] Huang et al. 2024, "The N+ Implementation Details of RLHF with PPO" (and Huang et al.
         2022, "The 37 Implementation Details of PPO"): masked whitening with Bessel's correction,
         value clipping, the per-token KL penalty in the reward.
  [K3]   Schulman 2020, "Approximating KL Divergence" (k1 and k3 estimators).
  [ADAPT] Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences", §2.2.
"""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of `x` over positions where `mask` is 1.

    x: (B, T) float; mask: (B, T), 1 = real token, 0 = padding. dim=None gives a scalar; dim=1
    gives (B,) per-row means. A row (or batch) with no real token gives 0, not NaN.
    """
    mask = mask.to(x.dtype)
    x = torch.where(mask.bool(), x, torch.zeros_like(x))  # NaN/inf in padding must not leak
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1.0)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1.0)


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of `x` over the masked positions, a scalar.

    Unbiased (Bessel's correction n/(n-1)) by default, as in [N-IMPL]; with one real position the
    correction is skipped rather than dividing by zero.
    """
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    n = mask.sum()
    if unbiased and n > 1:
        var = var * n / (n - 1)
    return var


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True,
                  eps: float = 1e-8) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps) over masked positions; (B, T), 0 where masked.

    shift_mean=False keeps the mean (only rescales): used for rewards, where shifting would change
    which responses the policy is pushed towards relative to the KL penalty ([N-IMPL]).
    """
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    white = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        white = white + mean
    return torch.where(mask.bool(), white, torch.zeros_like(white))


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float,
        lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation [GAE eq. (16)] over right-padded responses.

        delta_t = r_t + gamma * V(s_{t+1}) - V(s_t)          (V = 0 after the last real token)
        A_t     = delta_t + gamma * lam * A_{t+1}
        R_t     = A_t + V(s_t)                               (the critic's regression target)

    rewards, values, mask: (B, T) float, mask 1 on real tokens (a prefix of each row).
    Returns (advantages, returns), each (B, T) float32, 0 where masked. The episode ends at the
    last real token, so nothing bootstraps from the padding.
    """
    m = mask.to(values.dtype)
    rewards, values = rewards * m, values * m  # padding contributes neither reward nor value
    adv = torch.zeros_like(values)
    last = torch.zeros_like(values[:, 0])
    T = values.shape[1]
    for t in reversed(range(T)):
        next_value = values[:, t + 1] if t + 1 < T else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = (delta + gamma * lam * last) * m[:, t]
        adv[:, t] = last
    return adv, (adv + values) * m


def kl_k1(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """k1 = log pi(a) - log pi_ref(a) [K3]: unbiased per-token KL estimate, can be negative.

    logp, ref_logp: (B, T) log-probabilities of the sampled tokens. Returns (B, T).
    """
    return logp - ref_logp


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """k3 = (r - 1) - log r with r = pi_ref(a) / pi(a) [K3]: unbiased, always >= 0, low variance.

    logp, ref_logp: (B, T). Returns (B, T). Differentiable in `logp`: the KL-in-loss form.
    """
    log_ratio = ref_logp - logp
    return torch.expm1(log_ratio) - log_ratio


def clipped_value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
                       mask: torch.Tensor, clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped value loss [N-IMPL]: 0.5 * mean(max((V - R)^2, (V_clip - R)^2)).

    V_clip = old_V + clamp(V - old_V, -clip, clip). values, old_values, returns, mask: (B, T).
    Returns (loss scalar, clip fraction scalar = share of real tokens where the clipped term won).
    """
    v_clipped = old_values + (values - old_values).clamp(-clip, clip)
    loss_unclipped = (values - returns) ** 2
    loss_clipped = (v_clipped - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(loss_unclipped, loss_clipped), mask)
    clipfrac = masked_mean((loss_clipped > loss_unclipped).to(values.dtype), mask)
    return loss, clipfrac


def clipped_policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                        mask: torch.Tensor, clip: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO clipped surrogate [PPO eq. (7)], as a loss to minimise.

        ratio = exp(logp - old_logp)
        L     = mean(max(-A * ratio, -A * clamp(ratio, 1 - clip, 1 + clip)))

    logp (grad), old_logp, advantages, mask: (B, T). Returns (loss, clip fraction, approx KL
    0.5 * mean((logp - old_logp)^2)), all scalars; the last two are detached diagnostics.
    """
    log_ratio = logp - old_logp
    ratio = torch.exp(log_ratio)
    loss_unclipped = -advantages * ratio
    loss_clipped = -advantages * ratio.clamp(1.0 - clip, 1.0 + clip)
    loss = masked_mean(torch.maximum(loss_unclipped, loss_clipped), mask)
    with torch.no_grad():
        clipfrac = masked_mean((loss_clipped > loss_unclipped).to(logp.dtype), mask)
        approx_kl = 0.5 * masked_mean(log_ratio**2, mask)
    return loss, clipfrac, approx_kl


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the categorical softmax(logits) per position: logsumexp(z) - sum(p * z).

    logits: (B, T, V) float (already divided by the sampling temperature). Returns (B, T).
    The materialised reference for `cai.training.logprobs`, which PPO uses (no (B, T, V) tensor).
    """
    p = torch.softmax(logits, dim=-1)
    return torch.logsumexp(logits, dim=-1) - (p * logits).sum(-1)


def logprobs_from_logits(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[token] per position. logits: (B, T, V); tokens: (B, T) long -> (B, T).
    The materialised reference for `cai.training.logprobs`, which PPO uses (no (B, T, V) tensor)."""
    return torch.log_softmax(logits, dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1 - Var(R - V) / Var(R) over real tokens: 1 = perfect critic, 0 = predicts the mean, < 0 worse.

    values, returns, mask: (B, T). Returns a scalar; NaN when the returns have no variance.
    """
    var_r = masked_var(returns, mask)
    return 1.0 - masked_var(returns - values, mask) / var_r if var_r > 0 else torch.tensor(float("nan"))


class FixedKLController:
    """A constant KL coefficient beta."""

    def __init__(self, value: float):
        self.value = float(value)

    def update(self, current_kl: float, n_steps: int) -> None:
        """No-op: the coefficient is fixed."""

    def state_dict(self) -> dict[str, float]:
        """JSON-able state, for checkpoints."""
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.value = float(state["value"])


class AdaptiveKLController:
    """Proportional control of beta towards a target KL [ADAPT §2.2]:

        e_t     = clip(KL_t / KL_target - 1, -0.2, 0.2)
        beta_t+1 = beta_t * (1 + K_beta * e_t),   K_beta = n_steps / horizon

    `current_kl` is the batch-mean sequence KL (sum over tokens), `n_steps` the number of
    sequences it was measured on (the global batch size).
    """

    def __init__(self, init_value: float, target: float, horizon: int):
        self.value, self.target, self.horizon = float(init_value), float(target), int(horizon)

    def update(self, current_kl: float, n_steps: int) -> None:
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_steps / self.horizon

    def state_dict(self) -> dict[str, float]:
        """JSON-able state, for checkpoints: beta is the only thing that evolves (target and
        horizon come from the config). JSON floats round-trip exactly, so a resumed run's beta
        is bit-identical."""
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.value = float(state["value"])
