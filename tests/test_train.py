"""`cai train` end to end on the offline smoke policy and the quickstart generate run: the stages,
their outputs, the exported adapter and its metadata, resume after a SIGKILL, DPO and GRPO through
TRL, and errors found before any work starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from cai.cli import cli

# Small enough for a CPU test, big enough that every stage takes real optimiser steps.
FAST = ["sft.max_length=256", "sft.batch_size=8", "sft.epochs=0.5", "reward.max_length=256", "reward.batch_size=8",
        "rl.max_length=256", "ppo.max_length=256", "ppo.steps=2", "ppo.batch_size=4", "ppo.mini_batch_size=2",
        "ppo.micro_batch_size=2", "ppo.rollout_micro_batch_size=4", "ppo.ppo_epochs=1", "ppo.max_new_tokens=8",
        "ppo.save_steps=1"]


def _config(tmp_path: Path, grounded_run: Path, stages: str) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(f"stage: train\ndata: {grounded_run}\npolicy:\n  model: cai-smoke-policy\n  lora: "
                    f"{{r: 4, alpha: 8, dropout: 0.0}}\n"
                    f"stages: {stages}\nruns_dir: {tmp_path / 'runs'}\n")
    return path


def _invoke(args: list[str]):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return Path(result.output.strip().splitlines()[-1])


def _check_finished_run(run: Path, grounded_run: Path, ppo_steps: int) -> None:
    """Every stage's outputs, the PPO metrics, and one adapter whose metadata names the constitution,
    the data run and the base model."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "finished" and set(manifest["stages"]) == {"sft", "reward", "ppo"}
    for stage in ("sft", "reward", "ppo"):
        assert (run / stage / "done.json").is_file() and (run / stage / "config.json").is_file()
        assert (run / stage / "metrics.jsonl").stat().st_size > 0
    assert manifest["stages"]["sft"]["examples"] > 0 and manifest["stages"]["ppo"]["steps_done"] == ppo_steps
    rows = [json.loads(line) for line in (run / "ppo" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(ppo_steps))  # each step once, even across the kill
    assert {"reward/pm", "reward/support", "reward/citation", "reward/rule_penalty", "kl/k1"} <= set(rows[0])
    ppo_cfg = json.loads((run / "ppo" / "config.json").read_text())
    assert ppo_cfg["lora"]["r"] == 4 and ppo_cfg["seed"] == 0 and ppo_cfg["alarm_support_part"] == "support"

    meta = json.loads((run / "adapter" / "cai_adapter.json").read_text())
    data_manifest = json.loads((grounded_run / "manifest.json").read_text())
    assert meta["constitution"]["sha256"] == data_manifest["constitution"]["sha256"]
    assert meta["constitution"]["name"] == "finance-10k" and meta["data_run"] == str(grounded_run)
    assert meta["base_model"] == str(run / "smoke-policy") and meta["smoke_policy"] is True
    card = (run / "adapter" / "README.md").read_text()  # a model card, not PEFT's blank template
    assert "More Information Needed" not in card and "answers are noise" in card
    assert meta["constitution"]["sha256"] in card and str(grounded_run) in card and "cai answer --index" in card
    assert "- ppo: steps_done " in card and "- sft: examples 26" in card
    adapter_cfg = json.loads((run / "adapter" / "adapter_config.json").read_text())
    assert adapter_cfg["r"] == 8  # SFT rank 4 + PPO rank 4, concatenated into one adapter
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(run / "smoke-policy"), run / "adapter")


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["dpo", "grpo"])
def test_trl_stages_run_on_the_generate_run(tmp_path, grounded_run, stage):
    extra = ["rl.steps=2", "rl.batch_size=2", "rl.num_generations=2", "rl.max_new_tokens=8", "rl.save_steps=1"]
    run = _invoke(["train", str(_config(tmp_path, grounded_run, f"[{stage}]")), *FAST, *extra])
    done = json.loads((run / stage / "done.json").read_text())
    assert done["steps"] == 2 and (run / stage / "trainer").is_dir()
    rows = [json.loads(line) for line in (run / stage / "metrics.jsonl").read_text().splitlines()]
    assert rows and all("step" in r for r in rows)
    if stage == "grpo":  # the hybrid reward's parts reach TRL's logs through log_metric
        assert any(k.startswith("hybrid/") or k.startswith("rewards/hybrid_reward") for r in rows for k in r)
    assert json.loads((run / "adapter" / "cai_adapter.json").read_text())["stages"] == [stage]


def test_problems_are_found_before_any_run_directory_is_made(tmp_path, grounded_run):
    config = _config(tmp_path, grounded_run, "[sft, ppo]")
    missing_sink = CliRunner().invoke(cli, ["train", str(config), "report_to=[jsonl, wandb]"])
    assert missing_sink.exit_code == 2 and "wandb is not installed" in missing_sink.output
    taken = CliRunner().invoke(cli, ["train", str(config), "ppo.lora_r=16"])  # one owner: policy.lora.r
    assert taken.exit_code == 2 and "ppo.lora_r: unknown key" in taken.output
    bad_ppo = CliRunner().invoke(cli, ["train", str(config), "ppo.bogus=1"])
    assert bad_ppo.exit_code == 2 and "ppo.bogus: unknown key" in bad_ppo.output
    sizes = CliRunner().invoke(cli, ["train", str(config), "ppo.mini_batch_size=3"])
    assert sizes.exit_code == 2 and "mini_batch_size must divide" in sizes.output
    no_index = CliRunner().invoke(cli, ["train", str(config), f"index={tmp_path / 'nowhere'}"])
    assert no_index.exit_code == 2 and "index" in no_index.output
    # A GPU accelerate config (ddp.yaml: 8 processes) on a machine without CUDA: each process would
    # see itself alone and start its own run directory.
    if not torch.cuda.is_available():
        env = {"WORLD_SIZE": "8", "ACCELERATE_USE_CPU": "0"}
        gpu_launch = CliRunner().invoke(cli, ["train", str(config)], env=env)
        assert gpu_launch.exit_code == 2 and "no CUDA device" in gpu_launch.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_resume_refuses_a_different_config(tmp_path, grounded_run):
    config = _config(tmp_path, grounded_run, "[sft]")
    run = tmp_path / "runs" / "train-x"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"stage": "train", "config_hash": "something else"}))
    result = CliRunner().invoke(cli, ["train", str(config), "--resume", str(run)])
    assert result.exit_code == 2 and "differs from the run's config.yaml" in result.output


@pytest.mark.slow
def test_sft_reward_ppo_killed_during_ppo_resumes_and_finishes(tmp_path, grounded_run):
    """sft → reward → ppo in a subprocess, SIGKILLed after PPO's second step; --resume skips the
    finished stages, continues PPO from its checkpoint and exports the adapter."""
    config = _config(tmp_path, grounded_run, "[sft, reward, ppo]")
    args = [sys.executable, "-m", "cai.cli", "train", str(config), *FAST, "ppo.steps=4"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    runs = tmp_path / "runs"
    deadline = time.monotonic() + 600
    metrics = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = list(runs.glob("train-*/ppo/metrics.jsonl")) if runs.is_dir() else []
        if found and len(found[0].read_text().splitlines()) >= 2:
            metrics = found[0]
            break
        time.sleep(0.2)
    assert metrics is not None, proc.communicate()[1].decode()[-2000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    run = metrics.parent.parent
    assert not (run / "ppo" / "done.json").exists()
    resumed = subprocess.run([sys.executable, "-m", "cai.cli", "train", str(run / "config.yaml"), "--resume", str(run)],
                             env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "sft: done (skipped)" in resumed.stderr and "reward: done (skipped)" in resumed.stderr
    assert resumed.stdout.strip().splitlines()[-1] == str(run)
    _check_finished_run(run, grounded_run, ppo_steps=4)
