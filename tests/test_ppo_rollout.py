"""cai.training.rollout: every engine samples the distribution the loss evaluates, with the EOS and
padding conventions of `model.generate` (the reference engine), on the tiny smoke policy (offline)."""

from __future__ import annotations

import pytest
import torch

from cai.training import ppo
from cai.training import rollout as ro
from cai.training.ppo import PPOConfig
from tests.test_ppo import models_with_random_adapter

PROMPTS = ["a", "what was the revenue in fiscal year 2023", [{"role": "user", "content": "hi"}]]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    from transformers import AutoTokenizer

    from cai.training.smoke import build_smoke_policy

    path = build_smoke_policy(tmp_path_factory.mktemp("smoke-policy"))
    tok = AutoTokenizer.from_pretrained(path)
    cfg = PPOConfig(batch_size=4, mini_batch_size=4, micro_batch_size=4, rollout_micro_batch_size=2,
                    max_new_tokens=6)
    policy, critic = models_with_random_adapter(path, cfg)
    return tok, policy, critic


def test_engine_choice():
    assert isinstance(ro.make_engine("auto", "cpu"), ro.GenerateEngine)
    assert ro.make_engine("auto", "cpu").cache is None
    assert ro.make_engine("static", "cpu").cache == "static"
    assert isinstance(ro.make_engine("paged", "cpu"), ro.PagedEngine)


def test_static_engine_samples_what_generate_samples(smoke):
    """Same seed, same tokens: a static KV cache changes where keys and values are kept, not the
    distribution, and its extra left padding (to a multiple of 64) is dropped from the rollout.
    Three prompts in micro-batches of two: different response widths per micro-batch."""
    tok, policy, _ = smoke
    cfg = PPOConfig(batch_size=4, mini_batch_size=4, micro_batch_size=4, rollout_micro_batch_size=2,
                    max_new_tokens=6)
    rolls = {}
    for name in ("generate", "static"):
        torch.manual_seed(7)
        rolls[name] = ppo._generate(policy, tok, PROMPTS, cfg, "cpu", ro.make_engine(name, "cpu"))
    a, b = rolls["generate"], rolls["static"]
    assert a.context == b.context and a.ids.shape[1] < 64  # the engine's padding to 64 was dropped
    for field in ("ids", "attn", "mask", "has_eos"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field


@pytest.mark.parametrize("engine", ["generate", "paged"])
def test_eos_and_padding_conventions(smoke, engine):
    """With the EOS logit raised (p(EOS) ≈ 0.2 a step) some responses stop early: each row's mask is
    a prefix ending at its EOS, pad follows, rows without EOS run to max_new_tokens, and the
    attention mask over the response is the response mask."""
    from cai.training.logprobs import causal_lm

    tok, policy, _ = smoke
    cfg = PPOConfig(batch_size=8, mini_batch_size=8, micro_batch_size=8, rollout_micro_batch_size=8,
                    max_new_tokens=5)
    eos = tok.eos_token_id

    def raise_eos(_module, _args, logits):
        logits[..., eos] += 9.0
        return logits

    hook = causal_lm(policy).get_output_embeddings().register_forward_hook(raise_eos)
    try:
        torch.manual_seed(0)
        roll = ppo._generate(policy, tok, PROMPTS * 3, cfg, "cpu", ro.make_engine(engine, "cpu"))
    finally:
        hook.remove()
    assert roll.has_eos.any() and not roll.has_eos.all()
    assert roll.response.shape[1] <= cfg.max_new_tokens
    lengths = roll.mask.sum(1).long()
    for i in range(len(lengths)):
        n = int(lengths[i])
        assert roll.mask[i, :n].all() and not roll.mask[i, n:].any()  # a prefix
        assert (roll.response[i, n:] == tok.pad_token_id).all()
        assert bool(roll.has_eos[i]) == (roll.response[i, n - 1] == eos)
        assert (roll.response[i, :n - 1] != eos).all()  # the first EOS ends the response
        assert roll.has_eos[i] or n == cfg.max_new_tokens
    assert torch.equal(roll.attn[:, roll.context:], roll.mask.long())


@pytest.mark.parametrize("engine", ["generate", "static", "paged"])
def test_engine_samples_the_tempered_distribution(smoke, engine):
    """Sampled tokens x_t ~ softmax(z_t / T) (the distribution the loss scores) means
    E[log π(x_t) + H(π(· | s_t))] = 0 at every position. Over 192 samples the mean of log π + H,
    with log π and H from the scoring pass at the same T, is within 4 standard errors of 0. An engine
    that ignored the temperature (T = 1 here: near-uniform samples), or sampled greedily, or with
    top-k / top-p, would be many standard errors off."""
    tok, policy, critic = smoke
    cfg = PPOConfig(batch_size=4, mini_batch_size=4, micro_batch_size=4, rollout_micro_batch_size=96,
                    max_new_tokens=2, temperature=0.1)
    torch.manual_seed(11)
    roll = ppo._generate(policy, tok, ["what was the revenue"] * 192, cfg, "cpu", ro.make_engine(engine, "cpu"))
    stats = ppo._score_rollout(policy, critic, roll, cfg)
    real = roll.mask.bool()
    x = (stats.logp + stats.entropy)[real]
    assert x.numel() >= 192
    assert abs(float(x.mean())) < 4 * float(x.std()) / x.numel() ** 0.5
    assert float(stats.entropy[real].mean()) > 1.0  # not a trivially peaked distribution
