"""Issue #21 point 10: the first hour — no alarming bitsandbytes/kernels warning from `cai`, light
commands import only what they use (measured by outcome: which modules got imported, not by a
clock; bench/import_time.py has the timings), and files written by the atomic helpers follow the
umask like records.jsonl does."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys

import pytest

from cai.core.runs import JsonlWriter, atomic_write_json, atomic_write_text

CAI = [sys.executable, "-m", "cai.cli"]
NOISE = ("bitsandbytes", "gemm_4bit", "kernels-community", "trust_remote_code", "Traceback")
# Runs the CLI as the console script does, then reports which heavy modules that command imported.
HEAVY = ("cai.core.configs", "pydantic", "torch", "transformers", "peft", "sentence_transformers")
REPORT_IMPORTS = ("import atexit, json, sys\n"
                  "def report():\n"
                  f"    names = {HEAVY!r}\n"
                  "    loaded = [m for m in names if sys.modules.get(m) is not None]\n"
                  "    print('IMPORTED', json.dumps(loaded), file=sys.stderr)\n"
                  "atexit.register(report)\n"
                  "from cai.cli import main\n"
                  "main()\n")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    env.pop("CAI_WITHOUT_BITSANDBYTES", None)
    return subprocess.run([sys.executable, "-c", REPORT_IMPORTS, *args], capture_output=True, text=True, env=env,
                          timeout=300)


def imported(stderr: str) -> list[str]:
    line = next(line for line in stderr.splitlines() if line.startswith("IMPORTED "))
    return json.loads(line.removeprefix("IMPORTED "))


# ------------------------------------------------------------------------------- warnings, imports
@pytest.mark.parametrize("args", [["--help"], ["constitution", "validate", "finance-10k"]], ids=" ".join)
def test_light_commands_print_no_bitsandbytes_or_kernels_warning(args):
    done = subprocess.run([*CAI, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    assert not [word for word in NOISE if word in done.stderr], done.stderr


def test_help_imports_neither_the_config_models_nor_any_model_library():
    done = run_cli("--help")
    assert done.returncode == 0 and "Usage: cai" in done.stdout
    assert imported(done.stderr) == []  # the stage epilogs (pydantic config models) are built only when shown


def test_validate_imports_pydantic_but_no_model_library():
    done = run_cli("constitution", "validate", "finance-10k")
    assert done.returncode == 0 and "valid" in done.stdout
    assert imported(done.stderr) == ["pydantic"]


def test_stage_help_still_shows_its_config_keys():
    done = run_cli("generate", "--help")
    assert done.returncode == 0 and "teacher.backend" in done.stdout and "retrieval.k" in done.stdout
    assert "cai.core.configs" in imported(done.stderr)


def test_cli_hides_bitsandbytes_from_the_model_stack_and_its_workers():
    """A model-loading command imports peft through sentence-transformers; with bitsandbytes hidden
    (by the CLI, and in workers through the environment) that import neither loads it nor warns."""
    if importlib.util.find_spec("bitsandbytes") is None:
        pytest.skip("bitsandbytes is not installed (the qlora extra): nothing to hide")
    worker = subprocess.run(
        [sys.executable, "-c", "import sys, cai, peft; print('LOADED', sys.modules.get('bitsandbytes') is not None)"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "CAI_WITHOUT_BITSANDBYTES": "1"})
    assert worker.returncode == 0, worker.stderr
    assert "LOADED False" in worker.stdout
    assert not [word for word in NOISE if word in worker.stderr], worker.stderr

    code = ("import importlib.util, sys\nfrom cai.cli import main\nsys.argv[1:] = {args!r}\ntry:\n    main()\n"
            "except SystemExit:\n    pass\nprint('VISIBLE', importlib.util.find_spec('bitsandbytes') is not None)")
    for args, visible in ((["constitution", "validate", "finance-10k"], False), (["train", "--help"], True)):
        done = subprocess.run([sys.executable, "-c", code.format(args=args)], capture_output=True, text=True,
                              timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        assert f"VISIBLE {visible}" in done.stdout, (args, done.stdout, done.stderr)


# ------------------------------------------------------------------------------------- file modes
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002], ids=lambda m: f"umask-{m:03o}")
def test_atomic_writes_follow_the_umask_like_jsonl_appends(tmp_path, umask):
    previous = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "sft.jsonl", '{"id": "q1"}\n')
        atomic_write_json(tmp_path / "manifest.json", {"stage": "generate"})
        atomic_write_text(tmp_path / "manifest.json", "{}\n")  # replacing an existing file: same rule
        with JsonlWriter(tmp_path / "records.jsonl", fsync=False) as writer:
            writer.write({"id": "q1"})
    finally:
        os.umask(previous)
    expected = 0o666 & ~umask
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"sft.jsonl": expected, "manifest.json": expected, "records.jsonl": expected}
    assert (tmp_path / "manifest.json").read_text() == "{}\n"  # no temp file left, content replaced
