"""`cai reward serve` benchmark: throughput and p50/p99 latency of the server at 1, 16 and 64
concurrent clients, against calling the `HybridReward` in process (the baseline, same run).

    HF_HUB_OFFLINE=1 python bench/reward_server.py --config /tmp/h20/train.yaml [--preference DIR] \
        [--concurrency 1,16,64] [--requests 640] [--repeats 3]

The workload is the RL prompts of the config's generate run (`rewards.rl_prompts`, the labels
`cai export rl-prompts` writes), each answered by its record's draft and its final answer in turn.
Clients send what openrlhf 0.11 sends: one sample per request, `{"query": [prompt + response +
"<|im_end|>"], "prompts": [prompt], "labels": [label]}` (prompt = the messages in a ChatML
template), from one asyncio loop (aiohttp) in this process; the server runs as `cai reward serve`
in its own process, so the two share the machine's cores but not a GIL. Each level sends
`--requests` requests (at least 8 per client) after a warm-up of 2 per client; latency is per
request, client side (connect to answer); throughput is rows / wall time of the level.

Baselines, in this process on the same rows: the same `HybridReward` (built as the server builds
it: `rewards.service.open_service`) called with one row per call (what a reward function called per
sample does) and with 64 rows per call (a trainer that batches). Median of `--repeats` runs; every
run is kept in the JSON (bench/results/reward_server.json).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = Path(__file__).resolve().parent / "results" / "reward_server.json"
LOG = Path("/tmp/cai-bench/reward_server.log")  # the server's own output, kept out of the repository


def chat(messages: list[dict]) -> str:
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"


def workload(config) -> list[dict]:
    """One row per (RL prompt, answer): prompt text, response, label, and the in-process inputs."""
    from cai.core.runs import generate_run_config, read_jsonl
    from rewards.rl_prompts import rl_prompt_rows

    prompts, _ = rl_prompt_rows(config.data, config.index or Path(generate_run_config(config.data)["index"]))
    records = {obj["id"]: obj for _, obj in read_jsonl(config.data / "records.jsonl")}
    rows = []
    for p in prompts:
        for answer in (records[p.id].get("draft"), records[p.id].get("final_answer")):
            if answer:
                rows.append({"prompt": chat(p.prompt), "response": answer, "label": p.label.to_json(), "rl": p})
    return rows


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# ------------------------------------------------------------------------------------- in process
def in_process(config, preference: Path | None, rows: list[dict], batch: int, n_rows: int) -> dict:
    from rewards.service import open_service

    reward = open_service(config, preference).reward
    reward([rows[0]["rl"].prompt], [rows[0]["response"]], sources=[rows[0]["rl"].sources],
           question=[rows[0]["rl"].question])  # warm-up: lazy model loads
    latencies, done = [], 0
    started = time.perf_counter()
    while done < n_rows:
        chunk = [rows[(done + k) % len(rows)] for k in range(batch)]
        t0 = time.perf_counter()
        reward([r["rl"].prompt for r in chunk], [r["response"] for r in chunk],
               sources=[r["rl"].sources for r in chunk], question=[r["rl"].question for r in chunk])
        latencies.append(time.perf_counter() - t0)
        done += batch
    wall = time.perf_counter() - started
    return {"rows": done, "wall_s": wall, "rows_per_s": done / wall, "p50_ms": 1000 * percentile(latencies, 50),
            "p99_ms": 1000 * percentile(latencies, 99)}


# ----------------------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(config_path: Path, preference: Path | None, port: int, max_batch: int) -> subprocess.Popen:
    args = [sys.executable, "-m", "cai.cli", "reward", "serve", str(config_path), "--port", str(port),
            "--max-batch", str(max_batch), "--queue", "1024"]
    if preference:
        args += ["--preference", str(preference)]
    log = open(LOG, "w")  # the server writes it for as long as it runs; closed with the process
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {LOG.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the server did not start in 180 s")


async def client_level(url: str, rows: list[dict], concurrency: int, n_requests: int) -> dict:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency, force_close=True)
    latencies: list[float] = []
    errors = 0
    ids = itertools.count()

    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
        async def one(k: int, record: bool) -> None:
            nonlocal errors
            row = rows[k % len(rows)]
            payload = {"query": [row["prompt"] + row["response"] + "<|im_end|>"], "prompts": [row["prompt"]],
                       "labels": [row["label"]]}
            t0 = time.perf_counter()
            async with session.post(url, json=payload) as answer:
                body = await answer.json()
            if answer.status != 200 or body["errors"][0] is not None:
                errors += 1
            if record:
                latencies.append(time.perf_counter() - t0)

        async def worker(record: bool, quota: int) -> None:
            for _ in range(quota):
                await one(next(ids), record)

        await asyncio.gather(*(worker(False, 2) for _ in range(concurrency)))  # warm-up: 2 per client
        per_client = max(8, n_requests // concurrency)
        started = time.perf_counter()
        await asyncio.gather(*(worker(True, per_client) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return {"requests": len(latencies), "errors": errors, "wall_s": wall, "rows_per_s": len(latencies) / wall,
            "p50_ms": 1000 * percentile(latencies, 50), "p99_ms": 1000 * percentile(latencies, 99)}


def median_run(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: abs(r["rows_per_s"] - statistics.median(x["rows_per_s"] for x in runs)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="A train config (its data run: the workload).")
    parser.add_argument("--preference", type=Path, default=None, help="Preference model (or cai train run).")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--requests", type=int, default=640, help="Requests per level (at least 8 per client).")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--label", default="default")
    args = parser.parse_args()

    from cai.core.configs import load_config

    config = load_config(args.config, stage="train")
    rows = workload(config)
    levels = [int(c) for c in args.concurrency.split(",")]
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
              "rows": len(rows), "preference": str(args.preference), "max_batch": args.max_batch,
              "in_process": {}, "server": {}}
    for batch in (1, 64):
        runs = [in_process(config, args.preference, rows, batch, max(256, batch * 8)) for _ in range(args.repeats)]
        result["in_process"][f"batch{batch}"] = {"median": median_run(runs), "runs": runs}
        print(f"in process, {batch} row(s) per call: {median_run(runs)}", flush=True)
    LOG.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = start_server(args.config, args.preference, port, args.max_batch)
    try:
        for c in levels:
            runs = [asyncio.run(client_level(f"http://127.0.0.1:{port}/get_reward", rows, c, args.requests))
                    for _ in range(args.repeats)]
            result["server"][f"c{c}"] = {"median": median_run(runs), "runs": runs}
            print(f"server, {c} client(s): {median_run(runs)}", flush=True)
    finally:
        proc.terminate()
        proc.wait(30)
    result["load_after"] = os.getloadavg()[0]
    stored = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    stored[args.label] = result
    RESULTS.write_text(json.dumps(stored, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
