"""`cai export rl-prompts`: the RL prompts of the quickstart generate run in OpenRLHF's, verl's and
TRL's dataset formats, loaded back with `datasets`; the label finds the very prompt and pages
`cai train` uses; sources cut to a token budget; refusals that leave an existing file alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core.assets import minilm_path
from cai.core.prompts import TRUNCATION_MARK
from rag.store import DocStore
from rewards.rl_prompts import LabelError, parse_label, resolve_label, rl_prompt_rows

# The columns verl 0.9.1 reads: RLHFDataset (prompt, extra_info.index) and the reward managers
# (data_source, reward_model.ground_truth, extra_info).
VERL_COLUMNS = {"data_source", "prompt", "ability", "reward_model", "extra_info"}


def export(run: Path, fmt: str, out: Path, *extra: str):
    return CliRunner().invoke(cli, ["export", "rl-prompts", str(run), "--format", fmt, "--out", str(out), *extra])


@pytest.fixture(scope="module")
def exported(grounded_run, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("rl-export")
    out = {}
    for fmt, name in (("openrlhf", "rl.jsonl"), ("verl", "rl.parquet"), ("trl", "trl.jsonl")):
        result = export(grounded_run, fmt, folder / name)
        assert result.exit_code == 0, result.output
        assert result.output.strip().splitlines()[-1] == str(folder / name)
        out[fmt] = folder / name
    return out


def test_each_format_loads_with_datasets(exported, grounded_run, example_index):
    from datasets import load_dataset

    train_rows = rl_prompt_rows(grounded_run, example_index)[0]
    openrlhf = load_dataset("json", data_files=str(exported["openrlhf"]), split="train")
    verl = load_dataset("parquet", data_files=str(exported["verl"]), split="train")
    trl = load_dataset("json", data_files=str(exported["trl"]), split="train")
    assert len(openrlhf) == len(verl) == len(trl) == len(train_rows) > 10
    assert set(openrlhf.column_names) == {"input", "label", "id"} and set(trl.column_names) == {"prompt", "label", "id"}
    assert set(verl.column_names) == VERL_COLUMNS
    first = verl[0]
    assert first["data_source"] == "cai" and first["ability"] == "grounded_qa"
    assert first["reward_model"]["style"] == "rule" and first["extra_info"]["index"] == 0
    assert first["extra_info"]["id"] == train_rows[0].id and first["extra_info"]["question"] == train_rows[0].question
    for k, row in enumerate(train_rows):  # the prompts `cai train` rolls out, with their labels
        assert openrlhf[k]["input"] == trl[k]["prompt"] == verl[k]["prompt"] == row.prompt
        assert openrlhf[k]["label"] == trl[k]["label"] == verl[k]["reward_model"]["ground_truth"] == row.label.to_json()
        assert [m["role"] for m in row.prompt] == ["system", "user"] and row.question in row.prompt[-1]["content"]


def test_the_label_finds_the_prompt_and_pages_train_uses(exported, grounded_run, example_index):
    train_rows = rl_prompt_rows(grounded_run, example_index)[0]
    store = DocStore.open(example_index)
    try:
        shas = {d.doc_id: d.sha256 for d in store.documents()}
        for line, row in zip(exported["openrlhf"].read_text().splitlines(), train_rows, strict=True):
            label = parse_label(json.loads(line)["label"])
            assert label.id == row.id and len(json.loads(line)["label"]) < 4000  # locators, not text
            resolved = resolve_label(label, store.page, shas)
            assert resolved.prompt == row.prompt and resolved.sources == row.sources
            assert resolved.question == row.question
        label = parse_label(train_rows[0].label.to_json())
        doc = label.documents[0].doc_id
        with pytest.raises(LabelError, match=rf"'{doc}' changed since the export"):
            resolve_label(label, store.page, {**shas, doc: "0" * 64})
        with pytest.raises(LabelError, match="the index has no document"):
            resolve_label(label, store.page, {k: v for k, v in shas.items() if k != doc})
        far = label.model_copy(update={"hits": [label.hits[0].model_copy(update={"char_end": 10**7})]})
        with pytest.raises(LabelError, match="is not a span of a page"):
            resolve_label(far, store.page, shas)
    finally:
        store.close()
    for bad, message in (("", "label: empty"), ("{", "not JSON"), ("[]", "expected a JSON object"),
                         ('{"format": "cai-rl/9"}', "label.format: expected"), ('{"format": "cai-rl/1"}', "label.id")):
        with pytest.raises(LabelError, match=message):
            parse_label(bad)


def test_sources_are_cut_to_the_token_budget(grounded_run, tmp_path):
    out = tmp_path / "cut.jsonl"
    result = export(grounded_run, "trl", out, "--tokenizer", str(minilm_path()), "--max-prompt-tokens", "160")
    assert result.exit_code == 0, result.output
    assert "with sources cut" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all(TRUNCATION_MARK in r["prompt"][-1]["content"] for r in rows)
    assert all(json.loads(r["label"])["hits"] for r in rows)  # the label still names every retrieved chunk


def test_refusals_leave_an_existing_file_as_it_was(grounded_run, tmp_path):
    out = tmp_path / "rl.jsonl"
    out.write_text("keep me\n")
    nowhere = export(grounded_run, "openrlhf", out, "--index", str(tmp_path / "no-index"))
    assert nowhere.exit_code == 2 and "--index" in nowhere.output and out.read_text() == "keep me\n"
    alone = export(grounded_run, "openrlhf", out, "--tokenizer", str(minilm_path()))
    assert alone.exit_code == 2 and "go together" in alone.output and out.read_text() == "keep me\n"
    folder = export(grounded_run, "verl", tmp_path)
    assert folder.exit_code == 2 and "is a directory" in folder.output
    not_a_run = export(tmp_path, "verl", tmp_path / "x.parquet")
    assert not_a_run.exit_code == 2 and "not a run directory" in not_a_run.output
    assert not (tmp_path / "x.parquet").exists() and not list(tmp_path.glob(".*.tmp"))
