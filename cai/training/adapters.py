"""Policies and adapters for `cai train` and `cai answer`: the one loader of policy weights
(`load_model`: dtype per device, optional 4-bit, optional SFT delta merged in), and the export of
one servable LoRA adapter per training run with its metadata.

One adapter per run, on the unmodified base model: the RL adapter is trained on top of the
SFT-merged policy, so the policy is W + ΔW_sft + ΔW_rl. Both deltas are LoRA products
(ΔW = s·B·A, Hu et al. 2021, eq. 3), and a sum of two LoRA products is one LoRA product of the
concatenated factors, [s1·B1 | s2·B2] · [A1; A2], with rank r1 + r2. peft's
`add_weighted_adapter(..., combination_type="cat")` builds exactly that, so the exported adapter
reproduces the trained policy on the base alone, and several constitutions' adapters can be
served from one base model.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cai.core.errors import UserError
from cai.training.model_card import model_card

ADAPTER_META = "cai_adapter.json"


def policy_dtype():
    """float32 on CPU (bf16 matmuls are slow there and change the numbers); bf16 on a GPU that has it."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def check_model_source(model: str | Path, setting: str = "policy.model") -> None:
    """UserError (exit 2) unless `model` can be loaded without a long wait: a local path that
    exists, or a Hub id that is in the local cache or can be downloaded now. A missing local path
    is said to be one (transformers talks of an invalid repo id), and an uncached Hub id fails at
    once when HF_HUB_OFFLINE is set or the Hub cannot be reached (it used to retry for a minute)."""
    from huggingface_hub import constants, try_to_load_from_cache

    from cai.core.checks import missing_model_path
    from cai.core.reach import probe

    name = str(model)
    if Path(name).expanduser().exists():
        return
    if (problem := missing_model_path(name)) is not None:
        raise UserError(f"{setting}: {problem}")
    try:
        cached = isinstance(try_to_load_from_cache(name, "config.json"), str)
    except ValueError:  # not a valid repo id either
        raise UserError(f"{setting}: {name}: neither a local directory nor a Hugging Face id (org/name)") from None
    if cached:
        return
    where = f"not a local directory and not in the Hugging Face cache ({constants.HF_HUB_CACHE})"
    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise UserError(f"{setting}: {name}: {where}, and HF_HUB_OFFLINE is set; download it once with network "
                        f"(`huggingface-cli download {name}`) or give the path of a local copy")
    if (why := probe(constants.ENDPOINT, timeout_s=5.0)) is not None:
        raise UserError(f"{setting}: {name}: {where}, and {constants.ENDPOINT} cannot be reached ({why}); "
                        "connect to the network, set HF_ENDPOINT to a reachable mirror, or give the path of a "
                        "local copy")


def _from_pretrained(load, model: str | Path, setting: str = "policy.model", **kwargs):
    """`load(model, **kwargs)` (a from_pretrained) with the model checked first and a model the
    Hub does not have (or the user may not read) said as a user error naming it."""
    check_model_source(model, setting)
    try:
        return load(model, **kwargs)
    except OSError as e:
        first = next((line for line in str(e).splitlines() if line.strip()), type(e).__name__)
        raise UserError(f"{setting}: {model}: cannot load it: {first.strip()[:300]}") from None


def load_tokenizer(model: str | Path):
    """The policy tokenizer with a pad token distinct from EOS (a pad equal to EOS would let
    padding end responses and be trained as the stop token). Left padding for generation."""
    from transformers import AutoTokenizer

    tok = _from_pretrained(AutoTokenizer.from_pretrained, model)
    if tok.pad_token is None or tok.pad_token_id == tok.eos_token_id:
        if tok.unk_token is not None and tok.unk_token_id != tok.eos_token_id:
            tok.pad_token = tok.unk_token
        else:
            raise UserError(f"{model}: the tokenizer has no pad token distinct from its EOS; give a model whose "
                            "tokenizer has one (e.g. Qwen2.5, Llama 3 with <|finetune_right_pad_id|>) or add one to "
                            "its tokenizer files")
    tok.padding_side = "left"
    return tok


def load_model(model: str | Path, *, sft_dir: Path | None = None, load_in_4bit: bool = False):
    """The causal LM at `model`, with the SFT stage's result merged in when `sft_dir` holds one
    (`adapter/`: a LoRA merged into the weights in memory; `model/`: a fully fine-tuned copy)."""
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": policy_dtype()}
    if load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                           bnb_4bit_compute_dtype=policy_dtype())
    if sft_dir is not None and (sft_dir / "model").is_dir():
        return AutoModelForCausalLM.from_pretrained(sft_dir / "model", **kwargs)
    base = _from_pretrained(AutoModelForCausalLM.from_pretrained, model, **kwargs)
    if sft_dir is not None and (sft_dir / "adapter").is_dir():
        from peft import PeftModel

        base = PeftModel.from_pretrained(base, sft_dir / "adapter").merge_and_unload()
    return base


def combine_adapters(base_model: str | Path, adapters: list[Path], out_dir: Path) -> None:
    """Write one LoRA adapter equal to the sum of `adapters`' deltas on `base_model` (see the
    module docstring). All must target the same modules."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = _from_pretrained(AutoModelForCausalLM.from_pretrained, base_model, dtype=policy_dtype())
    model = PeftModel.from_pretrained(base, adapters[0], adapter_name="part0")
    for i, path in enumerate(adapters[1:], 1):
        model.load_adapter(path, adapter_name=f"part{i}")
    names = [f"part{i}" for i in range(len(adapters))]
    model.add_weighted_adapter(names, [1.0] * len(names), "policy", combination_type="cat")
    model.set_adapter("policy")
    for name in names:
        model.delete_adapter(name)
    model.save_pretrained(out_dir)  # peft puts a non-default adapter in out_dir/<name>
    nested = out_dir / "policy"
    if nested.is_dir():
        for item in nested.iterdir():
            item.replace(out_dir / item.name)
        nested.rmdir()
    cfg_file = out_dir / "adapter_config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["base_model_name_or_path"] = str(base_model)
    cfg_file.write_text(json.dumps(cfg, indent=2))


def export_adapter(run_dir: Path, base_model: str, adapters: list[Path], metadata: dict[str, Any]) -> Path:
    """`run_dir/adapter`: the run's servable adapter (a copy of one, or the combination of
    several) plus `cai_adapter.json`; written to a temp dir and renamed, so it is whole or absent."""
    out, tmp = run_dir / "adapter", run_dir / "adapter.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    if len(adapters) == 1:
        shutil.copytree(adapters[0], tmp)
    else:
        tmp.mkdir()
        combine_adapters(base_model, adapters, tmp)
    meta = {**metadata, "base_model": str(base_model), "parts": [str(a) for a in adapters],
            "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
    (tmp / ADAPTER_META).write_text(json.dumps(meta, indent=2))
    manifest = run_dir / "manifest.json"
    stages = json.loads(manifest.read_text()).get("stages", {}) if manifest.is_file() else {}
    (tmp / "README.md").write_text(model_card(meta, stages))  # PEFT left its blank template there
    if out.exists():
        shutil.rmtree(out)
    tmp.replace(out)
    return out


def read_adapter_metadata(adapter_dir: Path) -> dict[str, Any]:
    """`cai_adapter.json` of an adapter from `cai train` ({} for adapters made elsewhere)."""
    path = Path(adapter_dir) / ADAPTER_META
    return json.loads(path.read_text()) if path.is_file() else {}
