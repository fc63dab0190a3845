"""Config checks that configs.py (kept under 600 lines) uses by name: run names, finite numbers,
the runs directory and local model paths. Each turns what used to be an internal error (exit 1)
deep inside a stage into a located config error (exit 2) before any run directory exists."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from cai.core.nobool import NoBoolNumbers

MAX_RUN_NAME = 100


# ------------------------------------------------------------------------------------------- values
def run_name_problem(name: str) -> str | None:
    """Why `name` cannot prefix a run directory, or None. A run name is one directory name inside
    runs_dir: a slash or a leading '.' ('..', '../x') would put the run somewhere else."""
    if not name.strip():
        return "is empty"
    if "/" in name or "\\" in name:
        return "must be a single directory name, without / or \\ (the run is created inside runs_dir)"
    if name.startswith("."):
        return "may not start with '.' ('..' would leave runs_dir; a leading dot hides the run)"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "holds control characters"
    if len(name) > MAX_RUN_NAME:
        return f"is longer than {MAX_RUN_NAME} characters"
    return None


def check_run_name(value: str) -> str:
    """A pydantic AfterValidator for `run_name`."""
    if (problem := run_name_problem(value)) is not None:
        raise ValueError(f"the run name {problem}")
    return value


class FiniteNumbers(BaseModel):
    """Base of the config sections: a number setting is finite. YAML reads `.inf` and `.nan`, and
    `teacher.timeout_s: .inf` used to pass validation and hang on a dead server."""

    @field_validator("*", mode="after")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number (not .inf or .nan)")
        return value


class Section(NoBoolNumbers, FiniteNumbers):
    """Base of every config section (configs.py, ppo_config.py): an unknown key is an error (with a
    "did you mean"), a boolean is never a number, a number is finite."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------------- file system
def looks_like_path(name: str) -> bool:
    """Whether a model name can only be a local path: a Hugging Face id is `name` or `org/name`,
    so an absolute path, `./x`, `~/x`, `a/b/c` or a Windows path is a path."""
    return (name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1 or name.endswith("/")
            or Path(name).is_absolute())


def missing_model_path(name: str | None) -> str | None:
    """Why a model setting names no model, when it is a local path that does not exist; None otherwise
    (a Hub id is checked when it is loaded, cai.training.adapters.check_model_source)."""
    if not name or not looks_like_path(name) or Path(name).expanduser().exists():
        return None
    return f"{name}: no such directory (a local model path; a Hugging Face id has the form org/name)"


def runs_dir_problem(runs_dir: Path) -> str | None:
    """Why no run directory can be created in `runs_dir`, or None: it is a file, or it (or the
    nearest folder above it that exists, where it would be created) cannot be written."""
    path = Path(runs_dir).expanduser().absolute()
    if path.exists() and not path.is_dir():
        return f"{runs_dir} is a file, not a directory; give a directory for the runs"
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{runs_dir} cannot be created: {existing} is a file"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{runs_dir}: {existing} is not writable by this user"
    return None


def extra_path_problems(config: Any) -> list[tuple[tuple[str, ...], str]]:
    """The runs directory and local model paths of a stage config, as (field path, message)."""
    out = []
    if (problem := runs_dir_problem(config.runs_dir)) is not None:
        out.append((("runs_dir",), problem))
    policy = getattr(config, "policy", None)
    if policy is not None and (problem := missing_model_path(policy.model)) is not None:
        out.append((("policy", "model"), problem))
    for target in getattr(config, "targets", None) or []:
        if (problem := missing_model_path(target.policy)) is not None:
            out.append((("targets",), f"target '{target.name}': policy {problem}"))
    return out
