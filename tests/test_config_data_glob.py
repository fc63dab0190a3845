"""`data: runs/generate-*` in a train config names the newest *finished* generate run; the lookup
happens in `load_config`, not in a validator (a config model stays pure data)."""

from __future__ import annotations

import json
from pathlib import Path

from cai.core.configs import TrainConfig, load_config


def _run(runs: Path, name: str, stage: str = "generate", status: str = "finished") -> Path:
    run = runs / name
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"stage": stage, "status": status}))
    for f in ("sft.jsonl", "preferences.jsonl", "records.jsonl", "config.yaml"):
        (run / f).write_text("")
    return run


def test_glob_picks_the_newest_finished_generate_run(tmp_path):
    runs = tmp_path / "runs"
    _run(runs, "generate-20260101-000000")
    newest_finished = _run(runs, "generate-20260102-000000")
    _run(runs, "generate-20260103-000000", status="running")
    _run(runs, "generate-20260104-000000", stage="train")
    cfg = tmp_path / "train.yaml"
    cfg.write_text(f"stage: train\ndata: {runs}/generate-*\npolicy: {{model: cai-smoke-policy}}\nstages: [sft]\n")
    assert load_config(cfg, check_paths=False).data == newest_finished


def test_the_model_itself_never_reads_the_file_system(tmp_path):
    pattern = tmp_path / "runs" / "generate-*"
    _run(tmp_path / "runs", "generate-20260101-000000")
    config = TrainConfig.model_validate({"data": str(pattern), "policy": {"model": "cai-smoke-policy"},
                                         "stages": ["sft"]})
    assert config.data == pattern


def test_an_eval_adapter_glob_picks_the_newest_finished_train_runs_adapter(tmp_path):
    """`adapter: runs/train-*/adapter` (examples/quickstart/eval-smollm2.yaml): the path inside the
    newest finished train run; a glob nothing finished matches is kept, and path checks report it."""
    runs = tmp_path / "runs"
    for name, status in [("train-20260101-000000", "finished"), ("train-20260102-000000", "finished"),
                         ("train-20260103-000000", "failed")]:
        (_run(runs, name, stage="train", status=status) / "sft" / "adapter").mkdir(parents=True)
    (runs / "train-20260102-000000" / "adapter").mkdir()
    (tmp_path / "questions.jsonl").write_text("")
    (tmp_path / "index").mkdir()
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(json.dumps({"stage": "eval", "questions": str(tmp_path / "questions.jsonl"),
                               "index": str(tmp_path / "index"), "targets": [
                                   {"name": "sft", "policy": "smollm2-135m", "adapter": f"{runs}/train-*/sft/adapter"},
                                   {"name": "ppo", "adapter": f"{runs}/train-*/adapter"},
                                   {"name": "none", "adapter": f"{runs}/generate-*/adapter"}]}))
    targets = load_config(cfg, check_paths=False).targets
    assert targets[0].adapter == runs / "train-20260102-000000" / "sft" / "adapter"
    assert targets[1].adapter == runs / "train-20260102-000000" / "adapter"
    assert targets[2].adapter == runs / "generate-*" / "adapter"  # nothing matched: reported by the path checks
