"""Stage configs: overrides, stage inference, path checks, templates, resolved paths."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cai.core.configs import (
    STAGES,
    GenerateConfig,
    TrainConfig,
    describe_fields,
    load_config,
    render_template,
)
from cai.core.errors import UserError


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "q.jsonl").write_text('{"id": "1", "question": "q"}\n')
    (tmp_path / "idx").mkdir()
    (tmp_path / "run").mkdir()
    for name in ("records.jsonl", "sft.jsonl", "preferences.jsonl"):
        (tmp_path / "run" / name).write_text("")
    return tmp_path


def test_overrides_are_typed_and_dotted(inputs):
    (inputs / "g.yaml").write_text("questions: q.jsonl\nindex: idx\n")
    cfg = load_config(inputs / "g.yaml", ["teacher.max_concurrency=16", "loop.principles=3", "retrieval.route=false",
                                          "run_name=exp-1"])
    assert isinstance(cfg, GenerateConfig)
    assert cfg.teacher.max_concurrency == 16 and cfg.loop.principles == 3 and cfg.retrieval.route is False
    assert cfg.run_name == "exp-1"
    assert cfg.questions == (inputs / "q.jsonl") and cfg.questions.is_absolute()


def test_stage_inferred_or_explicit(inputs):
    (inputs / "t.yaml").write_text("data: run\npolicy:\n  model: tiny\n")
    cfg = load_config(inputs / "t.yaml")
    assert isinstance(cfg, TrainConfig) and cfg.stages == ["sft", "reward", "ppo"]
    explicit = _write(inputs, "x.yaml", "stage: train\ndata: run\npolicy: {model: m}\n")
    with pytest.raises(UserError, match="runs stage 'generate'"):
        load_config(explicit, stage="generate")


def _write(folder: Path, name: str, text: str) -> Path:
    (folder / name).write_text(text)
    return folder / name


def test_missing_paths_reported_together(inputs):
    path = _write(inputs, "g.yaml", "questions: nope.jsonl\nindex: no-index\n")
    with pytest.raises(UserError) as e:
        load_config(path)
    lines = e.value.lines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:1:12: questions: file not found")
    assert "cai ingest" in lines[1]


def test_train_data_must_hold_what_the_stages_read(inputs):
    (inputs / "run" / "preferences.jsonl").unlink()
    path = _write(inputs, "t.yaml", "data: run\npolicy: {model: m}\n")
    with pytest.raises(UserError, match="no preferences.jsonl"):
        load_config(path)
    assert load_config(path, ["stages=[sft]"]).stages == ["sft"]
    with pytest.raises(UserError, match="needs policy.lora"):
        load_config(path, ["stages=[sft]", "policy.lora=null", "stages=[sft, grpo]"])
    with pytest.raises(UserError, match="stage ppo needs policy.lora"):  # its disabled adapter is the reference
        load_config(path, ["policy.lora=null"])


def test_dpo_only_and_rl_choice(inputs):
    path = _write(inputs, "t.yaml", "data: run\npolicy: {model: m}\nstages: [sft, dpo]\n")
    assert load_config(path).stages == ["sft", "dpo"]
    with pytest.raises(UserError, match="one of ppo"):
        load_config(path, ["stages=[ppo, grpo]"])


@pytest.mark.parametrize("stage", ["generate", "train", "eval"])
def test_template_is_valid_yaml_documenting_every_key(stage):
    text = render_template(stage)
    data = yaml.safe_load(text)
    assert data["stage"] == stage
    for key, _, desc in describe_fields(STAGES[stage]):
        assert desc and f"# {desc}" in text, key


def test_template_with_required_fields_filled_loads(inputs):
    data = yaml.safe_load(render_template("generate"))
    data.update(questions="q.jsonl", index="idx")
    path = _write(inputs, "full.yaml", yaml.safe_dump(data))
    assert load_config(path).teacher.backend == "grounded"


QUICKSTART_CONFIGS = sorted((Path(__file__).resolve().parents[1] / "examples" / "quickstart").glob("*.yaml"))


@pytest.mark.parametrize("path", QUICKSTART_CONFIGS, ids=lambda p: p.name)
def test_every_quickstart_config_is_valid(path):
    """The README's quickstart configs (smoke and SmolLM2) validate as they ship; their inputs (an
    index, a generate or train run) exist only after the commands before them, so paths are not checked."""
    config = load_config(path, check_paths=False)
    assert config.stage == yaml.safe_load(path.read_text())["stage"]
    if path.name == "generate-smollm2.yaml":  # the real-model quickstart drafts on-policy with the built-in
        assert config.drafter.model == "smollm2-135m" and config.retrieval.k == 1
