"""cai.training.ppo: EOS truncation, per-token rewards, alarms, config, and the rollout's consistency with
the loss on the tiny smoke policy (built from a config, offline)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from pydantic import ValidationError

from cai.training import ppo
from cai.training.ppo import LoraConfig, PPOConfig, check_alarms, cut_at_eos


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    from transformers import AutoTokenizer

    from cai.training.smoke import build_smoke_policy

    path = build_smoke_policy(tmp_path_factory.mktemp("smoke-policy"))
    return path, AutoTokenizer.from_pretrained(path)


def test_cut_at_eos_keeps_eos_and_sampled_pad():
    eos, pad = 9, 0
    resp = torch.tensor([[5, 9, 7, 9], [0, 3, 4, 0], [9, 1, 1, 0]])  # row 1 sampled [PAD] as a token
    generated = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.bool)
    ids, mask, has_eos = cut_at_eos(resp, generated, eos, pad)
    assert ids.tolist() == [[5, 9, 0, 0], [0, 3, 4, 0], [9, 0, 0, 0]]
    assert mask.long().tolist() == [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]]
    assert has_eos.tolist() == [True, False, True]


def test_token_rewards_k1_per_token_and_score_on_last_real_token():
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    logp = torch.tensor([[-1.0, -2.0, -5.0], [-1.0, -1.0, -1.0]])
    ref_logp = torch.tensor([[-1.5, -1.0, 0.0], [-1.0, -3.0, -0.5]])
    scores = torch.tensor([2.0, -1.0])
    cfg = PPOConfig(batch_size=2, mini_batch_size=2, micro_batch_size=2)
    # k1 = logp - ref: row 0 [0.5, -1, pad], row 1 [0, 2, -0.5]; beta 0.1 -> -0.1 * k1, score at the end
    rewards = ppo._token_rewards(scores, mask, logp, ref_logp, 0.1, cfg)
    assert rewards[0].tolist() == pytest.approx([-0.05, 0.1 + 2.0, 0.0])
    assert rewards[1].tolist() == pytest.approx([0.0, -0.2, 0.05 - 1.0])
    k3 = ppo._token_rewards(scores, mask, logp, ref_logp, 0.1, cfg.model_copy(update={"kl_mode": "loss_k3"}))
    assert k3.tolist() == [[0.0, 2.0, 0.0], [0.0, 0.0, -1.0]]  # the KL goes in the loss instead


def _row(step, kl=1.0, pref=None, sup=None):
    row = {"step": step, "kl/k1": kl}
    if pref is not None:
        row.update({"reward/pm": pref, "reward/support": sup})
    return row


def test_alarm_kl_explosion_and_nan():
    cfg = PPOConfig(alarm_max_kl=5.0)
    assert check_alarms([_row(0, 4.9)], cfg) is None
    assert check_alarms([_row(0, 4.9), _row(1, 5.1)], cfg).startswith("kl_explosion")
    assert check_alarms([_row(0, math.nan)], cfg).startswith("kl_explosion")
    assert check_alarms([_row(0, 1e9)], cfg.model_copy(update={"alarm_max_kl": None})) is None


def test_alarm_reward_hacking_needs_both_directions():
    cfg = PPOConfig(alarm_window=2, alarm_min_delta=0.05)
    hacking = [_row(0, pref=0.5, sup=0.8), _row(1, pref=0.5, sup=0.8), _row(2, pref=0.6, sup=0.7),
               _row(3, pref=0.6, sup=0.7)]
    assert check_alarms(hacking[:3], cfg) is None  # not two full windows yet
    assert check_alarms(hacking, cfg).startswith("reward_hacking: pm rose +0.100")
    honest = [_row(i, pref=0.5 + 0.1 * (i > 1), sup=0.8 + 0.1 * (i > 1)) for i in range(4)]
    assert check_alarms(honest, cfg) is None
    assert check_alarms([_row(i) for i in range(4)], cfg) is None  # no parts logged: no opinion


def test_config_rejects_unknown_keys_and_bad_sizes():
    with pytest.raises(ValidationError, match="extra"):
        PPOConfig(learning_rte=1e-5)
    with pytest.raises(ValidationError, match="mini_batch_size must divide"):
        PPOConfig(batch_size=10, mini_batch_size=4, micro_batch_size=2)
    with pytest.raises(ValidationError, match="micro_batch_size must divide"):
        PPOConfig(batch_size=8, mini_batch_size=4, micro_batch_size=3)


def models_with_random_adapter(path, cfg: PPOConfig):
    """Policy and critic of the smoke model (seed 0), the policy's LoRA B factors drawn at random so
    the adapter changes the policy (a zero adapter would equal the reference)."""
    torch.manual_seed(0)
    policy, critic = ppo._load_models(str(path), cfg, LoraConfig(r=4))
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    return policy, critic


def test_rollout_logprobs_match_unpadded_forward(smoke):
    """Left padding + position ids: the batched rollout log-probs equal a forward pass of each row
    alone (so the PPO ratio is 1 before the first update); the reference differs once the
    adapter is non-zero; the critic starts at 0."""
    path, tok = smoke
    cfg = PPOConfig(batch_size=3, mini_batch_size=3, micro_batch_size=3, rollout_micro_batch_size=2,
                    max_new_tokens=4)
    policy, critic = models_with_random_adapter(path, cfg)
    prompts = ["a", "what was the revenue in fiscal year 2023", [{"role": "user", "content": "hi"}]]
    roll = ppo._generate(policy, tok, prompts, cfg, "cpu")
    stats = ppo._score_rollout(policy, critic, roll, cfg)
    ctx = roll.context
    for i in range(3):
        real = roll.attn[i].bool()
        ids = roll.ids[i][real].unsqueeze(0)  # no padding at all
        n_prompt = int(roll.attn[i, :ctx].sum())
        with torch.no_grad():
            logits = policy(input_ids=ids).logits[0, n_prompt - 1:-1] / cfg.temperature
        alone = torch.log_softmax(logits, -1).gather(-1, ids[0, n_prompt:, None]).squeeze(-1)
        n = int(roll.mask[i].sum())
        assert stats.logp[i, :n].tolist() == pytest.approx(alone.tolist(), abs=1e-4)
    assert not torch.allclose(stats.logp, stats.ref_logp)
    assert torch.all(stats.values == 0)


def test_train_ppo_one_step_writes_metrics_parts_and_adapter(smoke, tmp_path):
    path, tok = smoke
    seen = {}

    def reward(prompts, completions, completion_ids, source):
        seen["source"] = list(source)
        reward.last_parts = {"pm": [0.5] * len(prompts), "support": [1.0] * len(prompts)}
        return [len(ids) / 10 for ids in completion_ids]

    cfg = PPOConfig(steps=2, batch_size=2, mini_batch_size=2, micro_batch_size=1, rollout_micro_batch_size=2,
                    max_new_tokens=3, ppo_epochs=1, critic_warmup_steps=1, missing_eos_penalty=1.0)
    lora = LoraConfig(r=2)
    rows = []
    final = ppo.train_ppo(str(path), tok, ["q one", "q two"], reward, cfg, lora=lora, seed=0, out_dir=tmp_path,
                          columns={"source": ["s1", "s2"]}, logger=rows.append)
    assert final["steps_done"] == 2 and final["stop_reason"] is None
    assert sorted(seen["source"]) == ["s1", "s2"]
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [0, 1] and lines == rows
    assert "loss/policy" not in lines[0] and "loss/policy" in lines[1]  # critic warm-up, then both
    for key in ("reward/pm", "reward/support", "kl/k1", "kl/k3", "policy/entropy",
                "critic/explained_variance", "response/length", "response/eos_rate", "critic/clipfrac",
                "time/rollout_s", "time/score_s", "time/update_s", "time/step_s", "tokens/generated"):
        assert key in lines[1], key
    assert lines[1]["tokens/generated"] == round(lines[1]["response/length"] * 2)  # 2 rows, 1 process
    # The score is the raw reward minus the missing-EOS penalty on rows without EOS.
    expected = lines[1]["reward/raw"] - (1 - lines[1]["response/eos_rate"])
    assert lines[1]["reward/score"] == pytest.approx(expected, abs=1e-5)
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    assert json.loads((tmp_path / "summary.json").read_text())["steps_done"] == 2
    assert json.loads((tmp_path / "checkpoint" / "state.json").read_text())["steps_done"] == 2
    # Without resume a second call starts over: metrics.jsonl and the checkpoint are replaced.
    ppo.train_ppo(str(path), tok, ["q one", "q two"], reward, cfg.model_copy(update={"steps": 1}), lora=lora,
                  seed=0, out_dir=tmp_path, columns={"source": ["s1", "s2"]})
    assert [json.loads(x)["step"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [0]
    assert json.loads((tmp_path / "checkpoint" / "state.json").read_text())["steps_done"] == 1
