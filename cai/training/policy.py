"""A policy that answers from sources: a causal LM with an optional LoRA adapter from `cai train`
(one loaded base model serves several adapters via `Policy.use_adapter`), prompted with
`cai.core.prompts.policy_messages` (the one format of SFT data, RL rollouts and serving) through the
tokenizer's chat template, greedy decoding. Used by `cai answer` and `cai eval`.

Generation is batched (`generate_batch`: left padding, one `generate` call with the KV cache) and
runs on torch's current thread count: nothing here calls `torch.set_num_threads`, so the caller's
setting (or OMP_NUM_THREADS) is what runs. Built-in model names (`smollm2-135m`) load through
`cai.core.builtin_models.resolve_model`, like every other consumer of a model name."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cai.core.assets import SMOKE_POLICY
from cai.core.builtin_models import ResolvedModel, is_builtin, resolve_model
from cai.core.contracts import AnsweredBy, SearchHit
from cai.core.errors import UserError
from cai.training.adapters import ADAPTER_META, check_model_source, load_model

DEFAULT_MAX_NEW_TOKENS = 256
ADAPTER_CONFIG = "adapter_config.json"  # peft's; `cai train` writes ADAPTER_META (cai_adapter.json) beside it


def warn_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def read_adapter(adapter: Path, setting: str = "--adapter") -> tuple[dict, dict | None]:
    """(adapter_config.json, cai_adapter.json or None) of a LoRA adapter directory; errors name
    `setting` (the option or config key that gave it)."""
    adapter = Path(adapter)
    if not adapter.is_dir():
        raise UserError(f"{setting} {adapter}: no such directory; give the adapter directory written by `cai train`")
    config_file = adapter / ADAPTER_CONFIG
    if not config_file.is_file():
        raise UserError(f"{setting} {adapter}: not a LoRA adapter (no {ADAPTER_CONFIG}); give the adapter directory "
                        "written by `cai train`")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
        meta_file = adapter / ADAPTER_META
        metadata = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{setting} {adapter}: unreadable adapter files: {e}") from None
    return config, metadata


def _adapter_base(config: dict) -> str | None:
    """The base model peft recorded in adapter_config.json."""
    base = config.get("base_model_name_or_path")
    return base if isinstance(base, str) and base else None


def declared_bases(config: dict, metadata: dict | None) -> list[str]:
    """Names the adapter gives its base model: cai's metadata when present (`base_model`: what was
    loaded; `policy_model`: what the train config named), else peft's adapter_config.json."""
    meta = metadata or {}
    named = [n for n in (meta.get("base_model"), meta.get("policy_model")) if isinstance(n, str) and n]
    return named or [b for b in [_adapter_base(config)] if b]


def same_model(a: str, b: str) -> bool:
    """Whether two model names are one model: the same name, or paths to the same folder."""
    if a == b:
        return True
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


@dataclass
class Policy:
    """A loaded causal LM (+ the active LoRA adapter) that answers from sources."""

    model_id: str
    tokenizer: Any
    lm: Any
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    adapter: Path | None = None
    adapter_metadata: dict | None = None
    warnings: list[str] = field(default_factory=list)
    warn: Callable[[str], None] = warn_stderr
    base: ResolvedModel | None = None  # what `model_id` loaded (a built-in's cache folder and sha256)
    _loaded: dict[str, Path] = field(default_factory=dict, repr=False)  # adapter name → directory

    def use_adapter(self, adapter: Path | None) -> None:
        """Make `adapter` the active LoRA adapter (loaded once, kept beside the others), or serve
        the plain base model with None. One base model thus serves several constitutions' adapters."""
        if adapter is None:
            self.adapter, self.adapter_metadata = None, None
            return
        from peft import PeftModel

        config, metadata = read_adapter(adapter)
        declared = declared_bases(config, metadata)
        ours = [self.model_id] + ([self.base.path] if self.base else [])  # a built-in by name or by its folder
        if declared and not any(same_model(name, mine) for name in declared for mine in ours):
            self._warn(f"adapter {adapter} was trained on {' / '.join(map(repr, declared))}, but the policy is "
                       f"{self.model_id!r}")
        resolved = Path(adapter).resolve()
        name = next((n for n, p in self._loaded.items() if p == resolved), f"adapter{len(self._loaded)}")
        try:
            with warnings.catch_warnings():  # peft calls a transformers 5 deprecated helper on every load
                warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
                if not self._loaded:
                    self.lm = PeftModel.from_pretrained(self.lm, str(adapter), adapter_name=name).eval()
                elif name not in self._loaded:
                    self.lm.load_adapter(str(adapter), adapter_name=name)
        except (OSError, ValueError, RuntimeError, KeyError) as e:
            why = " ".join(str(e).split())[:300]
            raise UserError(f"--adapter {adapter}: cannot apply it to {self.model_id}: {why}") from None
        self.lm.set_adapter(name)
        self._loaded[name] = resolved
        self.adapter, self.adapter_metadata = Path(adapter), metadata

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        self.warn(message)

    def generate(self, question: str, sources: list[SearchHit]) -> str:
        """Greedy completion of `policy_messages(question, sources)` under the chat template."""
        return self.generate_batch([(question, sources)])[0]

    def generate_batch(self, items: list[tuple[str, list[SearchHit]]], *, temperature: float = 0.0) -> list[str]:
        """Completions of several (question, sources) prompts in one batched `generate`: greedy, or
        sampled at `temperature` > 0 (seed torch first for a repeatable sample)."""
        enc = self.encode(items)
        out = self.generate_ids(enc, temperature=temperature)
        return [self.tokenizer.decode(row, skip_special_tokens=True).strip() for row in out]

    def encode(self, items: list[tuple[str, list[SearchHit]]]):
        """The prompts under the chat template, left-padded into one batch (input_ids: (B, T))."""
        from cai.core.prompts import policy_messages

        prompts = [self.tokenizer.apply_chat_template(policy_messages(q, hits), add_generation_prompt=True,
                                                      tokenize=False) for q, hits in items]
        self.tokenizer.padding_side = "left"  # new tokens follow every prompt's last token
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.lm.device)
        window = getattr(self.lm.config, "max_position_embeddings", None)
        if window and enc["input_ids"].shape[1] + self.max_new_tokens > window:
            raise UserError(f"the prompt is {enc['input_ids'].shape[1]} tokens and {self.model_id} reads at most "
                            f"{window}: retrieve fewer chunks (-k) or lower --max-new-tokens")
        return enc

    def generate_ids(self, enc, *, max_new_tokens: int | None = None, min_new_tokens: int | None = None,
                     streamer=None, temperature: float = 0.0):
        """The new token ids (B, new) for an `encode` batch: greedy (or sampled at `temperature` >
        0, plain softmax sampling: no top-k/top-p), with the KV cache (each step feeds one token per
        row and attends to the cached keys/values instead of re-reading the prompt).
        `min_new_tokens` forces a length and `streamer` sees each step (benchmarks)."""
        import contextlib

        import torch

        plain_base = self.adapter is None and bool(self._loaded)  # a PeftModel serving its base
        # Explicit values: a model's generation_config may set top_k/top_p, which would change the sample.
        sampling = (dict(do_sample=True, temperature=temperature, top_k=0, top_p=1.0) if temperature > 0
                    else dict(do_sample=False, temperature=None, top_p=None, top_k=None))
        with torch.no_grad(), (self.lm.disable_adapter() if plain_base else contextlib.nullcontext()):
            out = self.lm.generate(**enc, max_new_tokens=max_new_tokens or self.max_new_tokens,
                                   min_new_tokens=min_new_tokens, **sampling, use_cache=True,
                                   pad_token_id=self.tokenizer.pad_token_id, streamer=streamer)
        return out[:, enc["input_ids"].shape[1]:]

    def described(self) -> AnsweredBy:
        return AnsweredBy(kind="policy", model=self.model_id, model_sha256=self.base.sha256 if self.base else None,
                          adapter=str(self.adapter) if self.adapter else None,
                          adapter_metadata=self.adapter_metadata, max_new_tokens=self.max_new_tokens,
                          warnings=list(self.warnings))


def base_for(model: str | None, config: dict, metadata: dict | None) -> str | None:
    """The base model to load under an adapter (`read_adapter`'s config and metadata; {} and None
    without one): `model` when given, else the one the adapter names. A smoke adapter's base is the
    smoke model its train run built; a built-in base is taken by name (found in this machine's
    cache, converted again if it is not there), not by the folder it was loaded from there."""
    base = model or _adapter_base(config) or next(iter(declared_bases(config, metadata)), None)
    trained_on = (metadata or {}).get("policy_model")
    if base == SMOKE_POLICY and trained_on == SMOKE_POLICY:
        return metadata.get("base_model") or _adapter_base(config)
    if model is None and is_builtin(trained_on):
        return trained_on
    return base


def open_policy(model: str | None, adapter: Path | None = None, *, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                warn: Callable[[str], None] = warn_stderr, device: str | None = None) -> Policy:
    """Load a policy: `model` (HF id, path or built-in name; with only `adapter`, the adapter's base
    model) and, when given, a LoRA `adapter`, on `device` (default: cuda when available). Bad input
    raises UserError with what to do next."""
    config, metadata = read_adapter(adapter) if adapter is not None else ({}, None)
    base = base_for(model, config, metadata)
    if not base:
        raise UserError(f"--adapter {adapter}: it names no base model; give one with --policy MODEL")
    if base == SMOKE_POLICY:
        raise UserError(f"--policy {SMOKE_POLICY}: the smoke policy is built inside a `cai train` run; give --adapter "
                        "RUN_DIR/adapter instead")
    resolved = _resolve(base)
    has_tokenizer = adapter is not None and (Path(adapter) / "tokenizer_config.json").is_file()
    tokenizer, lm = _load_lm(resolved.path, str(adapter) if has_tokenizer else resolved.path, device)
    if not getattr(tokenizer, "chat_template", None):
        raise UserError(f"--policy {base}: the tokenizer has no chat template; use a chat/instruct model or one saved "
                        "by `cai train`")
    policy = Policy(model_id=base, tokenizer=tokenizer, lm=lm, max_new_tokens=max_new_tokens, warn=warn,
                    base=resolved)
    if adapter is not None:
        policy.use_adapter(Path(adapter))
    return policy


def _resolve(base: str) -> ResolvedModel:
    """`resolve_model`, its errors said about the --policy option (or the eval target's policy)."""
    try:
        return resolve_model(base)
    except UserError as e:
        raise UserError(f"--policy {e}") from None


def _load_lm(model: str, tokenizer_dir: str, device: str | None = None):
    import torch
    from transformers import AutoTokenizer

    check_model_source(model, "--policy")  # a missing path or an uncached hub id: said at once, exit 2
    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        lm = load_model(model).to(device).eval()
        if device == "cpu":  # load_model picks bf16 when a GPU is present; bf16 matmuls are slow on a CPU
            lm = lm.float()
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"--policy {model}: cannot load it ({first}); give a local model directory or a hub id in the "
                        "local cache") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, lm
