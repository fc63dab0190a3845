"""cai.training.ppo in two CPU processes (DDP over gloo, launched with examples/accelerate/cpu-2proc.yaml):
both end with identical trained weights, and a run resumed from its checkpoint ends where a
straight run does. The work is in tests/ppo_two_ranks.py; this test builds the smoke policy and
launches it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("ppo_two_ranks.py")
ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "examples" / "accelerate"
CPU_CONFIG = CONFIGS / "cpu-2proc.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_ppo_ranks_agree_and_resume_exactly(tmp_path):
    from cai.training.smoke import build_smoke_policy

    policy = build_smoke_policy(tmp_path / "policy")
    out = tmp_path / "out"
    out.mkdir()
    # examples/accelerate/cpu-2proc.yaml, not `--cpu --num_processes 2`: accelerate 1.15 starts
    # `--cpu` runs with its simple launcher, which runs ONE process unless an MPI hostfile is
    # given. The config's MULTI_GPU spawns the processes (torchrun) and ACCELERATE_USE_CPU=1 makes
    # each one's Accelerator pick MULTI_CPU (DDP over gloo).
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CPU_CONFIG),
           "--main_process_port", str(_free_port()), str(SCRIPT), str(policy), str(out)]
    # One thread per process: two processes on two cores; more threads only contend.
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [(r["rank"], r["world_size"]) for r in ranks] == [(0, 2), (1, 2)]
    assert ranks[0]["straight"] == ranks[1]["straight"]  # DDP kept the replicas identical
    assert ranks[0]["straight"] != ranks[0]["initial"]  # and training moved them
    assert ranks[0]["resumed"] == ranks[1]["resumed"] == ranks[0]["straight"]  # bit-exact resume
    rows = [json.loads(x) for x in (out / "straight" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert all(r["tokens/generated"] >= 4 for r in rows)  # 2 rows on each of 2 processes, >= 1 token each
    # A real learning signal, not just AdamW's weight decay: non-zero gradients for the critic from
    # step 0 and for the policy once the critic warm-up (1 step) is over.
    assert all(r["critic/grad_norm"] > 0 for r in rows) and rows[2]["actor/grad_norm"] > 0
    resumed = [json.loads(x) for x in (out / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in resumed] == [0, 1, 2]
    state = json.loads((out / "resumed" / "checkpoint" / "state.json").read_text())
    assert state["world_size"] == 2 and state["reward_state"] == [{"seen": 6}, {"seen": 6}]


def test_example_accelerate_configs_load_and_pick_their_launcher():
    """Each examples/accelerate file is read by accelerate's own config loader and launch-argument
    validation (what `accelerate launch --config_file` runs before starting anything)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    expected = {"cpu-2proc.yaml": ("multi_gpu", 2, "no"), "ddp.yaml": ("multi_gpu", 8, "bf16"),
                "deepspeed-zero2.yaml": ("use_deepspeed", 8, "bf16"),
                "deepspeed-zero3.yaml": ("use_deepspeed", 8, "bf16"), "fsdp.yaml": ("use_fsdp", 8, "bf16")}
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == sorted(expected)
    for name, (launcher, processes, precision) in expected.items():
        argv = ["--config_file", str(CONFIGS / name), "-m", "cai.cli", "train", "train.yaml"]
        args, _, _ = _validate_launch_command(launch_command_parser().parse_args(argv))
        assert getattr(args, launcher) and args.num_processes == processes, name
        assert args.mixed_precision == precision, name
    args, _, _ = _validate_launch_command(launch_command_parser().parse_args(
        ["--config_file", str(CONFIGS / "fsdp.yaml"), "x.py"]))
    assert str(args.fsdp_version) == "2" and args.fsdp_auto_wrap_policy == "TRANSFORMER_BASED_WRAP"
    args, _, _ = _validate_launch_command(launch_command_parser().parse_args(
        ["--config_file", str(CONFIGS / "deepspeed-zero3.yaml"), "x.py"]))
    assert str(args.zero_stage) == "3"
