"""cai.training.ppo_math against values computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import pytest
import torch

from cai.training import ppo_math as pm

NAN = float("nan")


def t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def test_masked_mean_ignores_padding_even_nan():
    x = t([[1, 2, NAN], [4, 5, 100]])
    mask = t([[1, 1, 0], [1, 1, 0]])
    assert pm.masked_mean(x, mask).item() == pytest.approx(3.0)  # (1+2+4+5)/4
    assert pm.masked_mean(x, mask, dim=1).tolist() == pytest.approx([1.5, 4.5])
    assert pm.masked_mean(x, torch.zeros_like(mask)).item() == 0.0  # no real token: 0, not NaN


def test_masked_var_bessel():
    x = t([[1, 2, 50], [4, 5, -50]])
    mask = t([[1, 1, 0], [1, 1, 0]])
    # deviations from 3: -2 -1 1 2 -> squares sum 10; n = 4
    assert pm.masked_var(x, mask, unbiased=False).item() == pytest.approx(2.5)
    assert pm.masked_var(x, mask).item() == pytest.approx(10 / 3)


def test_masked_whiten_with_mask():
    x = t([[1, 2, 50], [4, 5, -50]])
    mask = t([[1, 1, 0], [1, 1, 0]])
    sd = math.sqrt(10 / 3)
    white = pm.masked_whiten(x, mask)
    assert white.tolist() == [pytest.approx([-2 / sd, -1 / sd, 0.0]), pytest.approx([1 / sd, 2 / sd, 0.0])]
    kept = pm.masked_whiten(x, mask, shift_mean=False)  # rescaled, mean 3 kept
    assert kept[0].tolist() == pytest.approx([3 - 2 / sd, 3 - 1 / sd, 0.0])
    assert pm.masked_mean(white, mask).item() == pytest.approx(0.0, abs=1e-6)


def test_gae_by_hand_with_padding():
    # gamma 0.9, lambda 0.5 -> gamma*lambda 0.45
    # row 0 (last position is padding: its reward 99 and value 7 must be ignored):
    #   t1: delta = 1 + 0.9*0 - 0.2 = 0.8                       A1 = 0.8
    #   t0: delta = 0 + 0.9*0.2 - 0.5 = -0.32                   A0 = -0.32 + 0.45*0.8 = 0.04
    # row 1 (all real):
    #   t2: delta = 2 - 0.5 = 1.5                                A2 = 1.5
    #   t1: delta = 0 + 0.9*0.5 - 1 = -0.55                      A1 = -0.55 + 0.45*1.5 = 0.125
    #   t0: delta = 1 + 0.9*1 - 0 = 1.9                          A0 = 1.9 + 0.45*0.125 = 1.95625
    rewards = t([[0, 1, 99], [1, 0, 2]])
    values = t([[0.5, 0.2, 7], [0, 1, 0.5]])
    mask = t([[1, 1, 0], [1, 1, 1]])
    adv, ret = pm.gae(rewards, values, mask, gamma=0.9, lam=0.5)
    assert adv[0].tolist() == pytest.approx([0.04, 0.8, 0.0])
    assert adv[1].tolist() == pytest.approx([1.95625, 0.125, 1.5])
    assert ret[0].tolist() == pytest.approx([0.54, 1.0, 0.0])  # A + V
    assert ret[1].tolist() == pytest.approx([1.95625, 1.125, 2.0])


def test_gae_gamma_lambda_one_is_reward_to_go_minus_value():
    rewards, values, mask = t([[1, 0, 2]]), t([[0, 1, 0.5]]), t([[1, 1, 1]])
    adv, ret = pm.gae(rewards, values, mask, gamma=1.0, lam=1.0)
    assert adv[0].tolist() == pytest.approx([3 - 0, 2 - 1, 2 - 0.5])
    assert ret[0].tolist() == pytest.approx([3, 2, 2])


def test_kl_k1_k3_by_hand():
    logp = torch.log(t([0.5, 0.25, 0.3]))
    ref = torch.log(t([0.25, 0.5, 0.3]))
    assert pm.kl_k1(logp, ref).tolist() == pytest.approx([math.log(2), -math.log(2), 0.0])
    # k3 = (r - 1) - log r, r = ref/p: r=0.5 -> -0.5 + ln 2; r=2 -> 1 - ln 2; r=1 -> 0
    assert pm.kl_k3(logp, ref).tolist() == pytest.approx([-0.5 + math.log(2), 1 - math.log(2), 0.0], abs=1e-6)


def test_k1_and_k3_are_unbiased_for_kl():
    p, q = t([0.7, 0.2, 0.1]), t([0.4, 0.4, 0.2])
    kl = float((p * (p / q).log()).sum())  # exact KL(p || q)
    logp, logq = p.log(), q.log()
    assert float((p * pm.kl_k1(logp, logq)).sum()) == pytest.approx(kl, rel=1e-5)
    assert float((p * pm.kl_k3(logp, logq)).sum()) == pytest.approx(kl, rel=1e-5)


def test_clipped_value_loss_by_hand():
    # clip 0.2, last position is padding.
    # t0: V=1, old=0.5 -> V_clip=0.7, R=2: (1-2)^2=1 vs (0.7-2)^2=1.69 -> 1.69 (clipped wins)
    # t1: V=0.6, old=0.5 -> V_clip=0.6, R=0: 0.36 vs 0.36 -> 0.36 (tie: not counted as clipped)
    # loss = 0.5 * (1.69 + 0.36) / 2 = 0.5125; clip fraction 1/2
    values = t([[1.0, 0.6, 5.0]]).requires_grad_()
    loss, clipfrac = pm.clipped_value_loss(values, t([[0.5, 0.5, 0]]), t([[2.0, 0.0, -9]]), t([[1, 1, 0]]), 0.2)
    assert loss.item() == pytest.approx(0.5125)
    assert clipfrac.item() == pytest.approx(0.5)
    loss.backward()
    assert values.grad[0, 0].item() == 0.0  # the clipped branch won: no gradient past the clip
    assert values.grad[0, 2].item() == 0.0  # padding


def test_clipped_policy_loss_by_hand():
    # ratios 1.5, 0.5, 1.0 (old logp 0); advantages 1, 1, -2; clip 0.2; the 4th position is padding.
    # t0: -1*1.5 = -1.5 vs -1*1.2 = -1.2 -> -1.2 (clipped)
    # t1: -1*0.5 = -0.5 vs -1*0.8 = -0.8 -> -0.5
    # t2: 2 vs 2 -> 2
    # loss = (-1.2 - 0.5 + 2) / 3 = 0.1; clip fraction 1/3; approx KL = 0.5 * (ln1.5^2 + ln0.5^2 + 0) / 3
    logp = torch.log(t([[1.5, 0.5, 1.0, 40.0]])).requires_grad_()
    old = t([[0, 0, 0, -30.0]])
    adv = t([[1, 1, -2, 1000]])
    mask = t([[1, 1, 1, 0]])
    loss, clipfrac, approx_kl = pm.clipped_policy_loss(logp, old, adv, mask, 0.2)
    assert loss.item() == pytest.approx(0.1, abs=1e-6)
    assert clipfrac.item() == pytest.approx(1 / 3)
    assert approx_kl.item() == pytest.approx(0.5 * (math.log(1.5) ** 2 + math.log(0.5) ** 2) / 3)
    loss.backward()
    # d/dlogp of -A*ratio/3 = -A*ratio/3 on unclipped positions; 0 where the clip won and on padding
    assert logp.grad[0].tolist() == pytest.approx([0.0, -0.5 / 3, 2 / 3, 0.0])


def test_entropy_and_logprobs_from_logits():
    logits = torch.log(t([[[0.5, 0.25, 0.25], [1 / 3, 1 / 3, 1 / 3]]]))
    assert pm.entropy_from_logits(logits)[0].tolist() == pytest.approx([1.5 * math.log(2), math.log(3)])
    assert pm.entropy_from_logits(t([[[100.0, 0.0, 0.0]]])).item() == pytest.approx(0.0, abs=1e-6)
    lp = pm.logprobs_from_logits(logits + 7.0, torch.tensor([[0, 2]]))  # shift-invariant
    assert lp[0].tolist() == pytest.approx([math.log(0.5), math.log(1 / 3)])


def test_explained_variance():
    returns, mask = t([[1, 2, 3, 99]]), t([[1, 1, 1, 0]])
    assert pm.explained_variance(returns, returns, mask).item() == pytest.approx(1.0)
    assert pm.explained_variance(t([[2, 2, 2, 0]]), returns, mask).item() == pytest.approx(0.0)
    # returns var 1; residuals R - V = 0.5, 0, -0.5 have var 0.25 -> 1 - 0.25 = 0.75
    assert pm.explained_variance(t([[0.5, 2, 3.5, 0]]), returns, mask).item() == pytest.approx(0.75)
    assert math.isnan(pm.explained_variance(t([[0, 0, 0, 0]]), t([[1, 1, 1, 0]]), mask).item())


def test_adaptive_kl_controller():
    ctl = pm.AdaptiveKLController(0.1, target=6.0, horizon=10_000)
    ctl.update(9.0, n_steps=1000)  # error 0.5 clipped to 0.2 -> 0.1 * (1 + 0.2 * 0.1)
    assert ctl.value == pytest.approx(0.102)
    ctl.update(5.4, n_steps=1000)  # error -0.1 -> * (1 - 0.01)
    assert ctl.value == pytest.approx(0.102 * 0.99)
    fixed = pm.FixedKLController(0.05)
    fixed.update(100.0, 1000)
    assert fixed.value == 0.05
