"""Issue #21 point 2: an API key never lands in a stored or shown file.

The hostile server echoes the request's Authorization header in its error body (some servers and
proxies do); the error used to go verbatim into failed.jsonl and from there into report.html. And
a key pasted into `teacher.api_key_env` (which names an environment variable) must be refused
before it is written into config.yaml or the manifest.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core.redact import REDACTED, looks_like_secret, redact
from tests.openai_server import FakeOpenAIServer

PAGE = "Revenue for fiscal 2024 was $412.3 million, compared with $390.1 million in fiscal 2023.\n"


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory) -> Path:
    """A one-page index: the run only needs something to retrieve before the teacher fails."""
    from rag.ingest import ingest

    work = tmp_path_factory.mktemp("tiny-corpus")
    (work / "corpus").mkdir()
    (work / "corpus" / "acme-2024.txt").write_text(PAGE * 3)
    ingest([work / "corpus"], work / "index", progress=False)
    return work / "index"


def _files_containing(root: Path, needle: str) -> list[Path]:
    data = needle.encode()
    return [p for p in root.rglob("*") if p.is_file() and data in p.read_bytes()]


@pytest.mark.parametrize("status", [400, 401, 500])
def test_echoed_authorization_header_is_stored_and_shown_redacted(tmp_path, tiny_index, monkeypatch, status):
    canary = "sk-canary-" + secrets.token_hex(16)
    monkeypatch.setenv("CAI_TEST_CANARY_KEY", canary)
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"id": f"q{i}", "question": "What was revenue in fiscal 2024?"}) + "\n"
                                 for i in range(2)))
    with FakeOpenAIServer(echo_auth_status=status) as srv:
        cfg = tmp_path / "generate.yaml"
        cfg.write_text(json.dumps({
            "questions": str(questions), "index": str(tiny_index), "runs_dir": str(tmp_path / "runs"),
            "teacher": {"backend": "openai", "model": "m", "endpoints": [{"base_url": srv.base_url}],
                        "api_key_env": "CAI_TEST_CANARY_KEY", "max_retries": 0, "timeout_s": 10}}))
        result = CliRunner().invoke(cli, ["generate", str(cfg)])
        assert srv.stats["echo_auth"] >= 2  # the server did echo the key back, for every question
    assert result.exit_code == 2, result.output  # every question failed: a summary and exit 2 (issue #21 point 8)
    run_dir = next((tmp_path / "runs").iterdir())
    failed = [json.loads(line) for line in (run_dir / "failed.jsonl").read_text().splitlines()]
    assert len(failed) == 2 and all(r["error"] for r in failed)
    if status != 500:  # a 4xx error's body is part of the message: it was there, and it was redacted
        assert all(REDACTED in r["error"] for r in failed)
    audit = CliRunner().invoke(cli, ["audit", str(run_dir)])
    assert audit.exit_code == 0, audit.output
    report = (run_dir / "report.html").read_text()
    assert "Failed questions" in report
    assert canary not in report and canary not in result.output and canary not in audit.output
    assert _files_containing(tmp_path, canary) == []  # run dir, its teacher cache, manifest, config


def test_audit_redacts_errors_stored_by_older_versions(tmp_path, monkeypatch):
    """A run written before errors were redacted at the source is cleaned on display."""
    canary = "Zq8" + secrets.token_hex(12)  # no vendor prefix: only the configured value identifies it
    monkeypatch.setenv("CAI_TEST_OLD_KEY", canary)
    run = tmp_path / "run"
    run.mkdir()
    (run / "records.jsonl").write_text("")
    (run / "config.yaml").write_text("teacher:\n  backend: openai\n  api_key_env: CAI_TEST_OLD_KEY\n")
    errors = [f"http://x/v1: AuthenticationError: {{'headers': {{'x-api-key': '{canary}'}}}}",
              f"request rejected (400): echo {canary}",
              "request rejected (400): Authorization: Bearer ghp_" + "A1b2" * 6]
    (run / "failed.jsonl").write_text("".join(
        json.dumps({"id": f"q{i}", "question": "q?", "status": "failed", "error": e}) + "\n"
        for i, e in enumerate(errors)))
    result = CliRunner().invoke(cli, ["audit", str(run)])
    assert result.exit_code == 0, result.output
    report = (run / "report.html").read_text()
    assert report.count(REDACTED) >= 3
    assert canary not in report and "ghp_" not in report


def test_key_pasted_into_api_key_env_is_refused_and_never_echoed(tmp_path):
    pasted = "sk-proj-" + secrets.token_urlsafe(24)
    cfg = tmp_path / "g.yaml"
    cfg.write_text(json.dumps({"stage": "generate", "questions": "q.jsonl", "index": "idx",
                               "runs_dir": str(tmp_path / "runs"),
                               "teacher": {"backend": "openai", "endpoints": [{"base_url": "http://127.0.0.1:9/v1"}],
                                           "api_key_env": pasted}}))
    for args in (["config", "validate", str(cfg)], ["generate", str(cfg)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert "teacher.api_key_env" in result.output and "looks like an API key" in result.output
        assert pasted not in result.output
    assert not (tmp_path / "runs").exists()  # nothing written: no config.yaml, no manifest
    override = CliRunner().invoke(cli, ["config", "validate", str(cfg), "teacher.api_key_env=OPENAI_API_KEY",
                                        f"teacher.endpoints=[{{base_url: 'http://h/v1', api_key_env: '{pasted}'}}]"])
    assert override.exit_code == 2 and "api_key_env" in override.output and pasted not in override.output


@pytest.mark.parametrize("value", ["OPENAI_API_KEY", "VLLM_KEY", "my_key_2", "AZURE_OPENAI_API_KEY_WESTEUROPE"])
def test_environment_variable_names_are_not_mistaken_for_keys(value):
    assert not looks_like_secret(value)


@pytest.mark.parametrize("value", ["sk-abcdefgh12345678", "hf_" + "a1B2" * 8, "AKIA" + "A1B2C3D4E5F6G7H8",
                                   "Xy7" + "kQ9mZ2" * 5])
def test_key_shaped_values_are_recognised(value):
    assert looks_like_secret(value)


def test_redact_covers_configured_values_and_credential_shapes():
    text = ("bad key xyzzy-secret-42 for http://user:pw@h/v1; Authorization: Bearer abc.def-ghi; "
            '{"api_key": "plain-value-123"}; key sk-proj-AAAABBBBCCCC; Basic dXNlcjpwYXNz')
    out = redact(text, ["xyzzy-secret-42", "not-set"])
    for leaked in ("xyzzy-secret-42", "user:pw", "abc.def-ghi", "plain-value-123", "sk-proj-AAAABBBBCCCC",
                   "dXNlcjpwYXNz"):
        assert leaked not in out
    assert out.startswith("bad key [REDACTED] for http://[REDACTED]@h/v1")
    assert redact("rate limited (429)", ["k"]) == "rate limited (429)"  # ordinary errors pass unchanged
    assert redact(None) is None
