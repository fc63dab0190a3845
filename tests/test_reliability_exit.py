"""Issue #21 point 8: user errors exit 2 with one line that says what to do (never "internal
error", exit 1), and a run that fails is marked failed with its reason instead of staying
"running". Every bad input is made here."""

from __future__ import annotations

import builtins
import io
import json
import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.cli.base import os_error_line
from cai.core.errors import UserError
from cai.core.processes import LOCK_NAME
from cai.core.runs import new_run_dir, run_guard, start_run
from tests.openai_server import FakeOpenAIServer

PAGE = "Revenue for fiscal 2024 was $412.3 million, compared with $390.1 million in fiscal 2023.\n"


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory) -> Path:
    from rag.ingest import ingest

    work = tmp_path_factory.mktemp("exit-corpus")
    (work / "corpus").mkdir()
    (work / "corpus" / "acme-2024.txt").write_text(PAGE * 3)
    ingest([work / "corpus"], work / "index", progress=False)
    return work / "index"


def _cai(*args: str):
    return CliRunner().invoke(cli, list(args))


def _generate_config(tmp_path: Path, index: Path, **extra) -> Path:
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"id": f"q{i}", "question": "What was revenue in fiscal 2024?"}) + "\n"
                                 for i in range(2)))
    cfg = tmp_path / "g.yaml"
    cfg.write_text(json.dumps({"questions": str(questions), "index": str(index), "runs_dir": str(tmp_path / "runs"),
                               "teacher": {"backend": "grounded"}, **extra}))
    return cfg


def _data_run(tmp_path: Path) -> Path:
    """A minimal finished generate run: what `cai train` validates and reads before any stage."""
    data = tmp_path / "data-run"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"stage": "generate", "status": "finished", "config_hash": "x"}))
    (data / "config.yaml").write_text("constitution: faithfulness\n")
    prompt = [{"role": "system", "content": "Answer from the sources. " * 20},
              {"role": "user", "content": "What was revenue in fiscal 2024? " + PAGE * 5}]
    (data / "sft.jsonl").write_text(json.dumps({"id": "q0", "messages": [
        *prompt, {"role": "assistant", "content": "Revenue was $412.3 million [acme-2024 p.1]."}]}) + "\n")
    return data


def _train_config(tmp_path: Path, **policy) -> Path:
    cfg = tmp_path / "t.yaml"
    cfg.write_text(json.dumps({"stage": "train", "data": str(_data_run(tmp_path)), "stages": ["sft"],
                               "policy": {"model": "cai-smoke-policy", **policy},
                               "runs_dir": str(tmp_path / "train-runs")}))
    return cfg


@pytest.fixture
def unreadable(monkeypatch):
    """Make a file unreadable: mode 000, or (as root, who reads anything) opening it is refused."""
    def make(path: Path) -> Path:
        if os.geteuid() != 0:
            path.chmod(0)
            return path
        real = builtins.open

        def refusing(file, *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and os.path.abspath(file) == os.path.abspath(path):
                raise PermissionError(13, "Permission denied", str(file))
            return real(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", refusing)
        monkeypatch.setattr(io, "open", refusing)  # pathlib opens through io.open
        return path

    return make


# ------------------------------------------------------------------------------ validation: exit 2
def test_runs_dir_that_is_a_file_is_a_config_error(tmp_path, tiny_index):
    blocker = tmp_path / "runs-file"
    blocker.write_text("not a directory")
    cfg = _generate_config(tmp_path, tiny_index, runs_dir=str(blocker))
    for args in (["config", "validate", str(cfg)], ["generate", str(cfg)]):
        result = _cai(*args)
        assert result.exit_code == 2, result.output
        assert "runs_dir" in result.output and "is a file, not a directory" in result.output
    with pytest.raises(UserError, match="is a file, not a directory"):
        new_run_dir(blocker, "generate")  # callers that skip config validation
    with pytest.raises(UserError, match="cannot create a run directory in .*: Not a directory"):
        new_run_dir(blocker / "below", "generate")


@pytest.mark.parametrize("name", ["a/b", "../escape", "..", ".hidden", "a\\b", "x" * 101])
def test_run_name_must_be_one_directory_name_inside_runs_dir(tmp_path, tiny_index, name):
    cfg = _generate_config(tmp_path, tiny_index)
    result = _cai("generate", str(cfg), f"run_name='{name}'")
    assert result.exit_code == 2, result.output
    assert "run_name" in result.output and "internal error" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.yaml", "q.jsonl"]  # nothing written anywhere


def test_non_finite_numbers_are_refused(tmp_path, tiny_index):
    generate, train = _generate_config(tmp_path, tiny_index), _train_config(tmp_path)
    for cfg, override, field in ((generate, "teacher.timeout_s=.inf", "teacher.timeout_s"),
                                 (train, "sft.learning_rate=.inf", "sft.learning_rate"),
                                 (train, "rl.beta=.inf", "rl.beta")):
        result = _cai("config", "validate", str(cfg), override)
        assert result.exit_code == 2, result.output
        assert field in result.output and "finite" in result.output


def test_unreadable_questions_and_constitution_exit_2_naming_the_file(tmp_path, tiny_index, unreadable):
    constitution = tmp_path / "c.yaml"
    constitution.write_text("name: c\nversion: '1'\nrules:\n  - id: r1\n    principle: Cite sources.\n"
                            "    critique: Which claim has no citation?\n    revision: Cite every claim.\n")
    cfg = _generate_config(tmp_path, tiny_index, constitution=str(constitution))
    unreadable(tmp_path / "q.jsonl")
    result = _cai("generate", str(cfg))
    assert result.exit_code == 2, result.output
    assert f"{tmp_path / 'q.jsonl'}: cannot read the questions file: Permission denied" in result.output
    unreadable(constitution)
    result = _cai("config", "validate", str(cfg))
    assert result.exit_code == 2, result.output
    assert f"{constitution}: Permission denied" in result.output and "internal error" not in result.output
    assert not (tmp_path / "runs").exists()


def test_os_errors_about_the_users_files_are_user_errors():
    assert os_error_line(PermissionError(13, "Permission denied", "/x/c.yaml")) == "/x/c.yaml: Permission denied"
    assert os_error_line(OSError(28, "No space left on device")) == "No space left on device"
    assert os_error_line(ConnectionResetError(104, "Connection reset by peer")) is None  # no file: not the user's
    assert os_error_line(ValueError("x")) is None


# ------------------------------------------------------------------------------------------ models
def test_missing_local_policy_path_is_said_to_be_missing(tmp_path):
    missing = tmp_path / "models" / "my-policy"
    cfg = _train_config(tmp_path, model=str(missing))
    for args in (["config", "validate", str(cfg)], ["train", str(cfg)]):
        result = _cai(*args)
        assert result.exit_code == 2, result.output
        assert f"policy.model: {missing}: no such directory" in result.output and "repo" not in result.output.lower()
    assert not (tmp_path / "train-runs").exists()


def test_uncached_hub_id_fails_at_once_offline_naming_the_model(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = _train_config(tmp_path, model="cai-tests/no-such-model")
    result = _cai("train", str(cfg))
    assert result.exit_code == 2, result.output
    assert "policy.model: cai-tests/no-such-model: not a local directory and not in the Hugging Face cache" in (
        result.output)
    assert "HF_HUB_OFFLINE" in result.output and "huggingface-cli download cai-tests/no-such-model" in result.output
    assert not (tmp_path / "train-runs").exists()


def test_uncached_hub_id_fails_at_once_when_the_hub_cannot_be_reached(monkeypatch):
    from huggingface_hub import constants

    from cai.training.adapters import check_model_source

    with socket.socket() as sock:  # a port nobody listens on: the "Hub" refuses connections
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(UserError, match=r"cai-tests/no-such-model: .* cannot be reached \(connection refused"):
        check_model_source("cai-tests/no-such-model")


# ---------------------------------------------------------------------------------------- teachers
def test_refused_teacher_connection_is_said_before_any_run(tmp_path, tiny_index):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    cfg = _generate_config(tmp_path, tiny_index,
                           teacher={"backend": "openai", "model": "m", "endpoints": [{"base_url": url}]})
    result = _cai("generate", str(cfg))
    assert result.exit_code == 2, result.output
    assert f"teacher.endpoints[0].base_url: {url}: cannot connect: connection refused" in result.output
    assert "timed out" not in result.output and not (tmp_path / "runs").exists()


def test_generate_in_which_every_question_failed_exits_2_with_a_summary(tmp_path, tiny_index):
    with FakeOpenAIServer(echo_auth_status=401) as srv:  # reachable, but refuses every call
        cfg = _generate_config(tmp_path, tiny_index, teacher={
            "backend": "openai", "model": "m", "endpoints": [{"base_url": srv.base_url}], "max_retries": 0})
        result = _cai("generate", str(cfg))
    assert result.exit_code == 2, result.output
    [run_dir] = (tmp_path / "runs").iterdir()
    assert f"error: {run_dir}: every question failed (2 of 2); 2 with: " in result.output
    assert f"--resume {run_dir}" in result.output
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "every question failed" in manifest["reason"]
    assert manifest["counts"]["failed"] == 2 and manifest["counts"]["records"] == 0


# ------------------------------------------------------------------------------ failed runs marked
def test_corrupt_index_store_is_a_user_error_and_marks_the_run_failed(tmp_path, tiny_index):
    broken = tmp_path / "broken-index"
    broken.mkdir()
    for item in tiny_index.iterdir():
        if item.is_file():
            (broken / item.name).write_bytes(item.read_bytes())
    (broken / "store.sqlite").write_bytes(b"this is not a SQLite database\n" * 100)
    search = _cai("search", "--index", str(broken), "revenue")
    assert search.exit_code == 2, search.output
    assert "cannot open the index store" in search.output and "cai ingest" in search.output
    result = _cai("generate", str(_generate_config(tmp_path, broken)))
    assert result.exit_code == 2, result.output
    [run_dir] = (tmp_path / "runs").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "cannot open the index store" in manifest["reason"]


def test_a_failing_train_stage_marks_its_run_failed(tmp_path):
    result = _cai("train", str(_train_config(tmp_path)), "sft.max_length=16")
    assert result.exit_code == 2, result.output
    [run_dir] = (tmp_path / "train-runs").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "no example fits sft.max_length=16" in manifest["reason"]


def test_run_guard_marks_any_failure_and_always_releases_the_lock(tmp_path, tiny_index):
    from cai.core.configs import load_config

    config = load_config(_generate_config(tmp_path, tiny_index))
    for error, reason in ((RuntimeError("boom"), "RuntimeError: boom"),
                          (KeyboardInterrupt(), "interrupted (Ctrl-C or SIGINT)")):
        run_dir = start_run("generate", config)
        with pytest.raises(type(error)), run_guard(run_dir):
            raise error
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert manifest["status"] == "failed" and manifest["reason"] == reason
        assert (run_dir / LOCK_NAME).is_file()
    from cai.core.processes import _HELD

    assert not _HELD  # every lock taken here was released
