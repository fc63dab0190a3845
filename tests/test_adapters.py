"""cai.training.adapters: the exported adapter reproduces the trained policy (SFT delta merged, RL adapter on
top) on the unmodified base, and carries its metadata."""

from __future__ import annotations

import json

import pytest
import torch

from cai.training.adapters import (
    ADAPTER_META,
    combine_adapters,
    export_adapter,
    load_model,
    load_tokenizer,
    read_adapter_metadata,
)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    from cai.training.smoke import build_smoke_policy

    return build_smoke_policy(tmp_path_factory.mktemp("smoke-policy"))


def _random_lora(model, r: int, seed: int):
    """A LoRA adapter whose B is random too (peft starts B at zero, which would hide mistakes)."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    cfg = LoraConfig(r=r, lora_alpha=2 * r, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM")
    return get_peft_model(model, cfg)


def test_combined_adapter_equals_sft_merged_then_rl_adapter(smoke, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    sft = _random_lora(AutoModelForCausalLM.from_pretrained(smoke), r=4, seed=1)
    sft.save_pretrained(tmp_path / "sft" / "adapter")
    rl = _random_lora(load_model(smoke, sft_dir=tmp_path / "sft"), r=8, seed=2)  # trained on the SFT-merged policy
    rl.save_pretrained(tmp_path / "rl")
    ids = torch.tensor([[101, 2054, 2001, 1996, 3623, 102, 2000, 3000]])
    with torch.no_grad():
        trained = rl(input_ids=ids).logits
        base = AutoModelForCausalLM.from_pretrained(smoke)(input_ids=ids).logits
    combine_adapters(smoke, [tmp_path / "sft" / "adapter", tmp_path / "rl"], tmp_path / "out")
    config = json.loads((tmp_path / "out" / "adapter_config.json").read_text())
    assert config["r"] == 12 and config["base_model_name_or_path"] == str(smoke)
    served = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(smoke), tmp_path / "out")
    with torch.no_grad():
        out = served(input_ids=ids).logits
    assert (trained - base).abs().max() > 1e-3  # the adapters do change the model
    torch.testing.assert_close(out, trained, rtol=1e-4, atol=1e-5)


def test_export_writes_metadata_atomically_and_replaces(smoke, tmp_path):
    from transformers import AutoModelForCausalLM

    _random_lora(AutoModelForCausalLM.from_pretrained(smoke), r=2, seed=3).save_pretrained(tmp_path / "a")
    (tmp_path / "adapter.tmp").mkdir()  # a leftover from a killed export
    out = export_adapter(tmp_path, str(smoke), [tmp_path / "a"], {"constitution": {"name": "finance-10k"}})
    meta = read_adapter_metadata(out)
    assert meta["constitution"]["name"] == "finance-10k" and meta["base_model"] == str(smoke)
    assert (out / "adapter_model.safetensors").is_file() and not (tmp_path / "adapter.tmp").exists()
    assert (out / ADAPTER_META).is_file()
    assert read_adapter_metadata(tmp_path) == {}


def test_tokenizer_pad_must_differ_from_eos(smoke, tmp_path):
    from transformers import AutoTokenizer

    from cai.core.errors import UserError

    tok = load_tokenizer(smoke)
    assert tok.pad_token_id != tok.eos_token_id and tok.padding_side == "left"
    bad = AutoTokenizer.from_pretrained(smoke)
    bad.pad_token, bad.unk_token = bad.eos_token, None
    bad.save_pretrained(tmp_path / "bad")
    with pytest.raises(UserError, match="no pad token distinct from its EOS"):
        load_tokenizer(tmp_path / "bad")
