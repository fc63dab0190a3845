"""Shared, expensive fixtures: built once per test session from the project's own example corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def example_index(tmp_path_factory) -> Path:
    """examples/corpus ingested into a fresh index (the slowest fixture: it embeds every page)."""
    from rag.ingest import ingest

    out = tmp_path_factory.mktemp("example-index")
    ingest([ROOT / "examples" / "corpus"], out, progress=False)
    return out


@pytest.fixture(scope="session")
def grounded_run(tmp_path_factory, example_index) -> Path:
    """A finished `cai generate` run (grounded teacher, finance-10k) over the quickstart questions."""
    from cai.cli import cli

    work = tmp_path_factory.mktemp("grounded-run")
    cfg = work / "generate.yaml"
    cfg.write_text(json.dumps({
        "questions": str(ROOT / "examples" / "quickstart" / "questions.jsonl"), "index": str(example_index),
        "constitution": "finance-10k", "runs_dir": str(work / "runs"), "teacher": {"backend": "grounded"},
    }))
    result = CliRunner().invoke(cli, ["generate", str(cfg)])
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def checker():
    """The offline checker (real MiniLM), shared by the checker, rules, score and answer tests."""
    from rewards.checker import get_checker

    return get_checker("offline")


@pytest.fixture
def one_torch_thread():
    """See `toy_task.single_torch_thread`."""
    from toy_task import single_torch_thread

    with single_torch_thread():
        yield
