"""cai.training.ppo checkpoints: a run stopped after 2 steps and resumed to 4 ends bit-identical to a run
of 4 straight steps, and a checkpoint write killed half-way leaves the previous one usable.
Tiny smoke policy (built from a config, offline)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file
from toy_task import RunningCount, single_torch_thread

from cai.training import ppo_checkpoint
from cai.training.ppo import LoraConfig, PPOConfig, train_ppo

PROMPTS = ["q one", "q two", "q three", "q four"]
CFG = PPOConfig(steps=4, batch_size=2, mini_batch_size=2, micro_batch_size=1, rollout_micro_batch_size=2,
                max_new_tokens=3, ppo_epochs=1, learning_rate=1e-2, critic_learning_rate=1e-2,
                target_kl=0.5, kl_horizon=10, save_steps=2, save_adapter=True)
RUN = {"lora": LoraConfig(r=2), "seed": 0}  # train_ppo's adapter shape and seed


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Every run of this module, the module-scoped ones included, on one thread: bit-identical
    comparisons need the same thread count on both sides."""
    with single_torch_thread():
        yield


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    from transformers import AutoTokenizer

    from cai.training.smoke import build_smoke_policy

    path = build_smoke_policy(tmp_path_factory.mktemp("smoke-policy"))
    return path, AutoTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def straight(smoke, tmp_path_factory):
    """4 steps in one call (checkpoints after 2 and 4 steps)."""
    path, tok = smoke
    out = tmp_path_factory.mktemp("straight")
    reward = RunningCount()
    final = train_ppo(str(path), tok, PROMPTS, reward, CFG, **RUN, out_dir=out)
    assert final["steps_done"] == 4 and reward.seen == 8
    return out


def _run(smoke, out, steps: int, *, resume: bool, save_steps: int = 2) -> RunningCount:
    path, tok = smoke
    reward = RunningCount()
    cfg = CFG.model_copy(update={"steps": steps, "save_steps": save_steps})
    train_ppo(str(path), tok, PROMPTS, reward, cfg, **RUN, out_dir=out, resume=resume)
    return reward


def _assert_same_training(a, b) -> None:
    """Adapter and critic weights equal; metrics equal but for the wall-clock times.

    Exact equality (atol=rtol=0) is honest here: the resumed process restores the weights (fp32
    safetensors), AdamW moments and step counts, the torch/python/numpy RNG states, the KL
    coefficient (a JSON float round-trips exactly) and the reward's state, then replays the same
    prompt order, so it executes the same float operations on the same inputs on the same CPU."""
    wa = load_file(a / "adapter" / "adapter_model.safetensors")
    wb = load_file(b / "adapter" / "adapter_model.safetensors")
    assert wa.keys() == wb.keys() and wa
    for k in wa:
        assert torch.allclose(wa[k], wb[k], rtol=0, atol=0), k
    ca = load_file(a / "checkpoint" / "model_1.safetensors")  # the critic
    cb = load_file(b / "checkpoint" / "model_1.safetensors")
    assert all(torch.equal(ca[k], cb[k]) for k in ca)
    ra, rb = ([json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()] for d in (a, b))
    assert [r["step"] for r in rb] == [0, 1, 2, 3]
    untimed = [[{k: v for k, v in r.items() if not k.startswith("time/")} for r in rows] for rows in (ra, rb)]
    assert json.dumps(untimed[0]) == json.dumps(untimed[1])  # NaN-safe equality


def test_resume_continues_bit_identical(smoke, straight, tmp_path):
    assert _run(smoke, tmp_path, 2, resume=True).seen == 4  # no checkpoint yet: a fresh start
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["steps_done"] == 2 and state["reward_state"] == [{"seen": 4}]
    # The policy file holds the LoRA weights only, not the frozen base.
    saved = load_file(tmp_path / "checkpoint" / "model.safetensors")
    assert saved and all("lora_" in k for k in saved)
    # Rows written after the checkpoint (as by a run killed before its next save) are redone.
    with (tmp_path / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"step": 2, "kl/k1": 99.0}) + "\n")
    assert _run(smoke, tmp_path, 4, resume=True).seen == 8
    _assert_same_training(straight, tmp_path)
    row = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    for key in ("time/rollout_s", "time/score_s", "time/update_s", "time/step_s"):
        assert row[key] > 0, key
    assert 2 * 1 <= row["tokens/generated"] <= 2 * CFG.max_new_tokens  # both rows, 1..3 tokens each
    # Resuming a finished run trains nothing and keeps its metrics.
    path, tok = smoke
    final = train_ppo(str(path), tok, PROMPTS, RunningCount(), CFG, **RUN, out_dir=tmp_path, resume=True)
    assert final["steps_done"] == 4 and final["step"] == 3
    _assert_same_training(straight, tmp_path)


def test_resume_after_a_save_killed_half_way(smoke, straight, tmp_path):
    """A kill during the next save leaves checkpoint.tmp half-written: the resume ignores it and
    continues from the complete checkpoint, and the next save replaces it."""
    _run(smoke, tmp_path, 2, resume=False, save_steps=1)
    tmp = tmp_path / "checkpoint.tmp"
    tmp.mkdir()
    (tmp / "model.safetensors").write_bytes(b"\x00" * 100)  # torn: no state.json
    assert ppo_checkpoint.find_checkpoint(tmp_path) == tmp_path / "checkpoint"
    assert _run(smoke, tmp_path, 4, resume=True, save_steps=1).seen == 8
    _assert_same_training(straight, tmp_path)
    assert not tmp.exists() and not (tmp_path / "checkpoint.old").exists()


def test_find_checkpoint_falls_back_to_old_between_renames(tmp_path):
    """A kill between the swap's two renames leaves checkpoint.old and no checkpoint."""
    assert ppo_checkpoint.find_checkpoint(tmp_path) is None
    for name in ("checkpoint.old", "checkpoint.tmp"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "state.json").write_text("{}")
    assert ppo_checkpoint.find_checkpoint(tmp_path) == tmp_path / "checkpoint.old"
    shutil.copytree(tmp_path / "checkpoint.old", tmp_path / "checkpoint")
    assert ppo_checkpoint.find_checkpoint(tmp_path) == tmp_path / "checkpoint"


def test_resume_refuses_a_changed_config(smoke, straight, tmp_path):
    shutil.copytree(straight / "checkpoint", tmp_path / "checkpoint")
    path, tok = smoke
    cfg = CFG.model_copy(update={"steps": 5, "learning_rate": 1e-3})
    with pytest.raises(ValueError, match="config changed in learning_rate"):
        train_ppo(str(path), tok, PROMPTS, RunningCount(), cfg, **RUN, out_dir=tmp_path, resume=True)
