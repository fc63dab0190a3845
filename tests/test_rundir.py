"""Run directories: never overwrite, atomic writes, crash-safe JSONL, manifests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from cai.core.configs import load_config
from cai.core.errors import UserError
from cai.core.runs import (
    JsonlWriter,
    atomic_write_json,
    new_run_dir,
    open_run,
    read_jsonl,
    start_run,
    update_manifest,
)


def test_new_run_dir_never_overwrites(tmp_path):
    made = {new_run_dir(tmp_path, "generate") for _ in range(5)}
    assert len(made) == 5 and all(p.is_dir() and not any(p.iterdir()) for p in made)


def test_start_run_writes_resolved_config_and_manifest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value-123")
    (tmp_path / "q.jsonl").write_text('{"id": "1", "question": "q"}\n')
    (tmp_path / "idx").mkdir()
    (tmp_path / "g.yaml").write_text("questions: q.jsonl\nindex: idx\nconstitution: finance-10k\n")
    cfg = load_config(tmp_path / "g.yaml")
    from cai.core.constitution import load_constitution

    run = start_run("generate", cfg, constitution=load_constitution(cfg.constitution))
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stage"] == "generate" and manifest["status"] == "running"
    assert manifest["inputs"]["questions"]["sha256"] and len(manifest["config_hash"]) == 64
    assert manifest["constitution"]["name"] == "finance-10k" and len(manifest["constitution"]["sha256"]) == 64
    assert manifest["packages"]["pydantic"]
    resolved = (run / "config.yaml").read_text()
    assert str(tmp_path / "q.jsonl") in resolved
    for f in run.iterdir():
        assert "sk-secret-value-123" not in f.read_text()
    update_manifest(run, status="finished", counts={"records": 3})
    assert open_run(run, "generate")["counts"] == {"records": 3}
    with pytest.raises(UserError, match="not a 'train' run"):
        open_run(run, "train")


def test_torn_tail_is_skipped_and_repaired(tmp_path):
    path = tmp_path / "r.jsonl"
    with JsonlWriter(path) as w:
        w.write({"id": 1})
        w.write({"id": 2})
    with open(path, "ab") as f:
        f.write(b'{"id": 3, "tex')  # a crash mid-line
    assert [o["id"] for _, o in read_jsonl(path)] == [1, 2]
    with JsonlWriter(path) as w:
        w.write({"id": 3})
    assert [o["id"] for _, o in read_jsonl(path)] == [1, 2, 3]
    assert path.read_bytes().endswith(b"\n")


def test_malformed_complete_line_is_a_located_error(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": 1}\nnot json\n')
    with pytest.raises(UserError, match=r"r.jsonl:2:1: invalid JSON"):
        list(read_jsonl(path))


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from cai.core.runs import JsonlWriter, atomic_write_json
    run = Path(sys.argv[1])
    blob = "x" * 200_000  # big records so a kill lands mid-write often
    with JsonlWriter(run / "records.jsonl", fsync=False) as w:
        for i in range(10**6):
            w.write({"id": i, "blob": blob})
            atomic_write_json(run / "manifest.json", {"counts": {"records": i + 1}, "blob": blob})
            if i == 2:
                print("ready", flush=True)
    """
)


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
def test_killed_writer_leaves_valid_jsonl_and_manifest(tmp_path, delay):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    records = [o for _, o in read_jsonl(tmp_path / "records.jsonl")]
    assert len(records) >= 3 and [r["id"] for r in records] == list(range(len(records)))
    manifest = json.loads((tmp_path / "manifest.json").read_text())  # whole: old or new, never torn
    assert manifest["counts"]["records"] >= 3
    with JsonlWriter(tmp_path / "records.jsonl") as w:  # a resumed writer appends cleanly
        w.write({"id": len(records), "blob": ""})
    assert [r["id"] for _, r in read_jsonl(tmp_path / "records.jsonl")] == list(range(len(records) + 1))


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "m.json"
    atomic_write_json(path, {"a": 1})
    atomic_write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
