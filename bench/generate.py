"""`cai generate` benchmark: openai-backend throughput vs the ideal, per-question CPU overhead of the
grounded teacher, and the grounded teacher on the FinanceBench dev drafts.

    HF_HUB_OFFLINE=1 python bench/generate.py throughput      # FakeOpenAIServer, 200 ms, C = 1/8/64
    HF_HUB_OFFLINE=1 python bench/generate.py overhead        # grounded, example corpus
    HF_HUB_OFFLINE=1 python bench/generate.py financebench    # grounded, every labelled FinanceBench draft
    HF_HUB_OFFLINE=1 python bench/generate.py financebench --run-dir DIR   # re-score a finished run

financebench also judges each final answer against the question's gold answer (correct within 1%,
abstained, supported by the checker but wrong: `bench/generate_correctness.py`), by company group and
fold.

Throughput runs the real generate loop (`cai.stages.generate.setup` + `run_loop`, the code `cai generate`
runs between setup and save) against `tests/openai_server.FakeOpenAIServer` in a separate process
(so its HTTP threads do not share our GIL), with a scripted teacher that answers every prompt kind
with valid JSON. Drafts are given, so a question costs critique + revise per round; the calls are
counted from the run (the records' teacher call ids; the server's request count, retries
included, is reported beside), not assumed. Ideal q/s = concurrency / (latency × calls per
question). Question texts get a unique suffix so no two questions share an embedding or a cached
teacher call. Synchronous sections (retrieval, checker, rule checks, call cache, record writes)
are timed by wrapping them: they block the event loop, so their sum bounds the rate.

Indexes live under /tmp, never in the repository: the example corpus is ingested once; the
FinanceBench dev index (24 PDFs, slow to embed) must already exist (`--fb-index`). Results are
merged into bench/results/generate.json; the markdown tables are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import platform
import re
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cai import hide_bitsandbytes  # noqa: E402

hide_bitsandbytes()  # as the CLI does: no QLoRA here, so no hub-kernel warning on every run

DATA = ROOT.parent / "shared" / "data" / "financebench-dev"  # beside the repo, never copied in
WORK = Path("/tmp/cai-bench/generate")
EXAMPLE_INDEX = WORK / "example-index"
FB_INDEX = Path("/tmp/fb/dev_index")
QUICKSTART = ROOT / "examples" / "quickstart" / "questions.jsonl"
RESULTS = Path(__file__).resolve().parent / "results" / "generate.json"
FAULTS = ("429", "500", "garbage")


# -- shared helpers -----------------------------------------------------------------------------
def example_index() -> Path:
    """examples/corpus ingested once into /tmp (reused when present)."""
    if not (EXAMPLE_INDEX / "manifest.json").exists():
        from rag.ingest import ingest

        ingest([ROOT / "examples" / "corpus"], EXAMPLE_INDEX, progress=False)
    return EXAMPLE_INDEX


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def quickstart_questions(n: int, path: Path) -> Path:
    """n questions cycled from the quickstart set (drafts kept), each text made unique."""
    base = [json.loads(line) for line in QUICKSTART.read_text().splitlines() if line.strip()]
    rows = []
    for i in range(n):
        row = dict(base[i % len(base)])
        rows.append({**row, "id": f"{row['id']}-{i}", "question": f"{row['question']} (request {i})"})
    return write_jsonl(path, rows)


def generate_config(questions: Path, index: Path, teacher: dict, **extra):
    from cai.core.configs import GenerateConfig

    return GenerateConfig.model_validate({"questions": str(questions), "index": str(index),
                                          "constitution": "finance-10k", "runs_dir": str(WORK / "runs"),
                                          "teacher": teacher, **extra})


def machine() -> dict:
    import subprocess

    git = lambda *a: subprocess.run(["git", "-C", str(ROOT), *a],  # noqa: E731
                                    capture_output=True, text=True).stdout.strip()
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "load_avg": [round(x, 2) for x in os.getloadavg()], "git_sha": git("rev-parse", "--short", "HEAD"),
            "uncommitted_files": len(git("status", "--porcelain").splitlines())}


class SyncTimers:
    """Wall time and calls of the synchronous sections of the loop, by wrapping them in place."""

    def __init__(self):
        self.seconds: Counter[str] = Counter()  # wall time: how long each section held the loop
        self.cpu: Counter[str] = Counter()  # CPU time of the calling thread: immune to other load
        self.calls: Counter[str] = Counter()
        self._undo: list = []
        self.stamps: list[float] = []  # perf_counter at each record write (a finished question)

    def wrap(self, owner, attr: str, label: str) -> None:
        original = getattr(owner, attr)

        def timed(*args, **kwargs):
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                t1 = time.perf_counter()
                self.seconds[label] += t1 - t0
                self.cpu[label] += time.thread_time() - c0
                self.calls[label] += 1
                if label == "record write":
                    self.stamps.append(t1)

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, original))

    def __enter__(self) -> SyncTimers:
        import rewards.rules
        from cai.core.runs import JsonlWriter
        from cai.llm.cache import CallCache
        from rag.retrieve import Retriever
        from rewards.checker import FailClosed

        self.wrap(Retriever, "search", "retrieval")
        self.wrap(Retriever, "query_vectors", "retrieval")  # the batched query embedding of a window
        self.wrap(FailClosed, "check", "checker")
        self.wrap(rewards.rules, "evaluate_rules", "rule checks")
        self.wrap(CallCache, "get", "call cache")
        self.wrap(CallCache, "put", "call cache")
        self.wrap(JsonlWriter, "write", "record write")
        return self

    def __exit__(self, *exc) -> None:
        for owner, attr, original in reversed(self._undo):
            setattr(owner, attr, original)

    def per_question_ms(self, n: int, cpu: bool = False) -> dict:
        table = self.cpu if cpu else self.seconds
        return {k: round(1000 * v / n, 2) for k, v in sorted(table.items(), key=lambda kv: -kv[1])}


# -- the fake teacher server, in its own process ------------------------------------------------
def scripted_reply(messages: list[dict], body: dict) -> str:
    """A deterministic stand-in for an LLM: flags an uncited answer, revises by citing source 1."""
    user = next(m["content"] for m in messages if m["role"] == "user")
    src = re.search(r'<source n="1" doc="([^"]+)" page="(\d+)"', user)
    if "Check the answer against each rule" in user:
        answer = re.search(r"<answer>\n(.*?)\n</answer>", user, re.S).group(1)
        bad = [] if "[" in answer else [{"rule_id": "cite-every-claim", "claim": answer, "fix": "add a citation"}]
        return json.dumps({"violations": bad})
    if "Revise the answer" in user:
        answer = re.search(r"<answer>\n(.*?)\n</answer>", user, re.S).group(1)
        cite = f" [{src.group(1)} p.{src.group(2)}]" if src else ""
        return json.dumps({"answer": f"{answer.rstrip('.')}{cite}."})
    return json.dumps({"answer": "The sources do not state this."})


def _serve(conn, latency_s: float, fault_rate: float, seed: int) -> None:
    from http.server import ThreadingHTTPServer

    from tests.openai_server import FakeOpenAIServer

    # socketserver's listen backlog is 5: a burst of 64 new connections overflows it and the
    # client sees resets (retried with backoff). Real servers (vLLM, uvicorn) use 2048.
    ThreadingHTTPServer.request_queue_size = 2048

    with FakeOpenAIServer(latency_s=latency_s, fault_rate=fault_rate, faults=FAULTS, reply=scripted_reply,
                          seed=seed) as srv:
        conn.send(srv.base_url)
        conn.recv()  # wait for "stop"
        conn.send({**srv.stats, "max_in_flight": srv.max_in_flight})


@contextlib.contextmanager
def fake_server(latency_s: float, fault_rate: float, seed: int = 0):
    """Yields (base_url, stats); stats is filled with the server's counters on exit."""
    parent, child = mp.Pipe()
    proc = mp.get_context("fork").Process(target=_serve, args=(child, latency_s, fault_rate, seed), daemon=True)
    proc.start()
    stats: dict = {}
    try:
        yield parent.recv(), stats
    finally:
        parent.send("stop")
        stats.update(parent.recv())
        proc.join(5)


# -- 1. openai-backend throughput -----------------------------------------------------------------
def steady_rate(stamps: list[float]) -> float | None:
    """Completions per second between the 25th and 75th percentile completion (ramp-up/down cut)."""
    if len(stamps) < 8:
        return None
    stamps = sorted(stamps)
    lo, hi = len(stamps) // 4, (3 * len(stamps)) // 4
    return (hi - lo) / max(stamps[hi] - stamps[lo], 1e-9)


def warm_workers(s) -> None:
    """Start and initialise every CPU worker process before timing (spawn + MiniLM load: seconds)."""
    async def warm():
        await asyncio.gather(*(s.cpu.search(f"warm-up query {i}: total revenue")
                               for i in range(4 * max(1, s.cpu.workers))))
    asyncio.run(warm())


def children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def throughput_run(concurrency: int, n: int, latency_s: float, fault_rate: float, loop_module, cpu_workers: int = 0,
                   http_client: str = "aiohttp") -> dict:
    """One timed generate loop against the fake server; the ideal is computed from its counts."""
    from cai.core.constitution import load_constitution
    from cai.core.questions import load_questions
    from cai.core.runs import start_run
    from cai.stages.generate import setup

    questions = quickstart_questions(n, WORK / f"throughput-{n}.jsonl")
    rows, _ = load_questions(questions)
    children_before = children_cpu()  # the rusage of reaped children is cumulative: take the delta
    with fake_server(latency_s, fault_rate) as (url, stats):
        teacher = {"backend": "openai", "model": "scripted", "endpoints": [{"base_url": url}],
                   "max_concurrency": concurrency, "max_retries": 10, "timeout_s": 30, "http_client": http_client}
        config = generate_config(questions, example_index(), teacher, cpu_workers=cpu_workers)
        run_dir = start_run("generate", config, constitution=load_constitution(config.constitution))
        s = setup(config, run_dir)
        s.retriever.search("warm-up query: total revenue", k=config.retrieval.k)  # loads the embedder
        warm_workers(s)
        with SyncTimers() as timers:
            t0, c0 = time.perf_counter(), time.process_time()
            counts = asyncio.run(loop_module.run_loop(s, rows, run_dir, False))  # ends by joining the workers
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            workers_cpu = children_cpu() - children_before  # with their start-up; reported, not used in the rate
        s.retriever.close()
    done = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines() if line.strip()]
    stats["logical_calls"] = sum(len(r["teacher_call_ids"]) for r in done)  # one id per call, however many attempts
    records = len(done)
    steady = steady_rate(timers.stamps)
    out = summarise_throughput(concurrency, n, latency_s, fault_rate, counts, stats, wall, cpu, timers, records)
    out["cpu_workers"], out["http_client"] = cpu_workers, http_client
    out["worker_process_cpu_s_incl_startup"] = round(workers_cpu, 2)
    out["steady_q_per_s"] = round(steady, 3) if steady else None
    out["steady_fraction_of_ideal"] = round(steady / out["ideal_q_per_s"], 3) if steady else None
    return out


def summarise_throughput(concurrency, n, latency_s, fault_rate, counts, stats, wall, cpu, timers, records) -> dict:
    retries = counts["usage"].get("retries", 0)
    requests = stats.get("requests", 0)
    calls_per_q = stats["logical_calls"] / max(records, 1)
    ideal = concurrency / (latency_s * calls_per_q)
    rate = records / wall
    return {
        "concurrency": concurrency, "questions": n, "records": records, "failed": counts["failed"],
        "latency_s": latency_s, "fault_rate": fault_rate, "faults": list(FAULTS) if fault_rate else [], "server": stats,
        "calls_per_question": round(calls_per_q, 3), "requests_per_question": round(requests / max(records, 1), 3),
        "retries": retries, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "q_per_s": round(rate, 3), "ideal_q_per_s": round(ideal, 3), "fraction_of_ideal": round(rate / ideal, 3),
        "fraction_of_request_ideal": round(rate * latency_s * requests / max(records, 1) / concurrency, 3),
        "cpu_ms_per_question": round(1000 * cpu / max(records, 1), 1),
        "sync_ms_per_question": timers.per_question_ms(max(records, 1)),
        "sync_total_ms_per_question": round(1000 * sum(timers.seconds.values()) / max(records, 1), 1),
        "sync_cpu_ms_per_question": timers.per_question_ms(max(records, 1), cpu=True),
        "other_cpu_ms_per_question": round(1000 * (cpu - sum(timers.cpu.values())) / max(records, 1), 1),
        "load_avg": round(os.getloadavg()[0], 2),
    }


def throughput(args) -> list[dict]:
    import importlib

    loop_module = importlib.import_module(args.loop_module)
    out = []
    for concurrency in args.concurrency:
        n = max(args.min_questions, args.questions_per_slot * concurrency)
        for fault_rate in dict.fromkeys((0.0, args.fault_rate)):
            runs = [throughput_run(concurrency, n, args.latency, fault_rate, loop_module, args.cpu_workers,
                                   args.http_client)
                    for _ in range(args.repeats)]
            best = sorted(runs, key=lambda r: r["q_per_s"])[len(runs) // 2]  # the median run
            best = {**best, "repeats": len(runs), "q_per_s_all": [r["q_per_s"] for r in runs],
                    "loop_module": args.loop_module}
            print(f"C={concurrency:3d} faults={fault_rate:.0%} n={n}: {best['q_per_s']:.2f} q/s of ideal "
                  f"{best['ideal_q_per_s']:.2f} = {best['fraction_of_ideal']:.3f} (runs {best['q_per_s_all']})",
                  flush=True)
            out.append(best)
    return out


async def _calls(chat, prompts: list[str]) -> None:
    from cai.core.prompts import CritiqueReply

    await asyncio.gather(*(chat.chat([{"role": "user", "content": p}], response_model=CritiqueReply) for p in prompts))
    await chat.aclose()


def ceiling(args) -> list[dict]:
    """Baseline for the throughput runs: the teacher client alone (our OpenAIChat with its cache,
    no retrieval, no checks) sending critique-sized prompts at the same concurrency and latency,
    so "of ideal" can be read against what the client and server reach on this machine."""
    from cai.core.configs import TeacherConfig
    from cai.llm.cache import CallCache
    from cai.llm.openai_chat import OpenAIChat

    prompt = ("Check the answer against each rule.\n<answer>\nRevenue was $1 [a p.1].\n</answer>\n"
              + "source text " * 700)
    out = []
    for concurrency in args.concurrency:
        n = max(args.min_questions, args.questions_per_slot * concurrency) * 3
        for http_client in ("httpx", "aiohttp"):
            runs = []
            for rep in range(args.repeats):
                with fake_server(args.latency, 0.0) as (url, _stats):
                    cfg = TeacherConfig(backend="openai", model="scripted", endpoints=[{"base_url": url}],
                                        max_concurrency=concurrency, max_retries=10, timeout_s=30,
                                        http_client=http_client)
                    cache = CallCache(WORK / f"ceiling-{http_client}-{concurrency}-{rep}-{time.time_ns()}.sqlite")
                    chat = OpenAIChat(cfg, cache)
                    t0, c0 = time.perf_counter(), time.process_time()
                    asyncio.run(_calls(chat, [f"{prompt} (call {i})" for i in range(n)]))
                    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                    cache.close()
                runs.append({"calls_per_s": round(n / wall, 1), "cpu_ms_per_call": round(1000 * cpu / n, 2)})
            best = sorted(runs, key=lambda r: r["calls_per_s"])[len(runs) // 2]
            ideal = concurrency / args.latency
            row = {"concurrency": concurrency, "http_client": http_client, "calls": n, **best,
                   "ideal_calls_per_s": ideal, "fraction_of_ideal": round(best["calls_per_s"] / ideal, 3),
                   "calls_per_s_all": [r["calls_per_s"] for r in runs], "load_avg": round(os.getloadavg()[0], 2)}
            print(f"ceiling C={concurrency} {http_client}: {row['calls_per_s']} calls/s of ideal {ideal:.0f} = "
                  f"{row['fraction_of_ideal']} ({row['cpu_ms_per_call']} ms CPU per call)", flush=True)
            out.append(row)
    return out


# -- 2. grounded teacher: CPU per question --------------------------------------------------------
def overhead(args) -> dict:
    """Grounded teacher (no teacher calls: everything is non-teacher work) over the quickstart
    questions made unique, one question at a time; wall and CPU per question, by section."""
    from cai.core.constitution import load_constitution
    from cai.core.questions import load_questions
    from cai.core.runs import start_run
    from cai.stages.generate import run_loop, setup

    questions = quickstart_questions(args.overhead_questions, WORK / f"overhead-{args.overhead_questions}.jsonl")
    rows, _ = load_questions(questions)
    runs = []
    for _ in range(args.repeats):
        config = generate_config(questions, example_index(), {"backend": "grounded", "max_concurrency": 1})
        run_dir = start_run("generate", config, constitution=load_constitution(config.constitution))
        s = setup(config, run_dir)
        s.retriever.search("warm-up query: total revenue", k=config.retrieval.k)
        with SyncTimers() as timers:
            t0, c0 = time.perf_counter(), time.process_time()
            counts = asyncio.run(run_loop(s, rows, run_dir, False))
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        s.retriever.close()
        n = counts["done"]
        runs.append({"questions": n, "wall_ms_per_question": round(1000 * wall / n, 1),
                     "cpu_ms_per_question": round(1000 * cpu / n, 1),
                     "q_per_s": round(n / wall, 2), "sync_ms_per_question": timers.per_question_ms(n),
                     "sync_cpu_ms_per_question": timers.per_question_ms(n, cpu=True),
                     "load_avg": round(os.getloadavg()[0], 2)})
        print(f"grounded overhead: {runs[-1]['wall_ms_per_question']} ms wall, "
              f"{runs[-1]['cpu_ms_per_question']} ms CPU per question {runs[-1]['sync_ms_per_question']}", flush=True)
    median = sorted(runs, key=lambda r: r["wall_ms_per_question"])[len(runs) // 2]
    return {**median, "repeats": len(runs), "wall_ms_all": [r["wall_ms_per_question"] for r in runs]}


# -- 3. grounded teacher on the FinanceBench dev drafts -------------------------------------------
def fb_questions(path: Path) -> Path:
    """labeled_answers.jsonl → generate questions (the labelled model answer is the draft)."""
    rows = []
    for line in (DATA / "labeled_answers.jsonl").read_text().splitlines():
        r = json.loads(line)
        rows.append({"id": r["id"], "question": r["question"], "answer": r["answer"],
                     "metadata": {"question_id": r["question_id"], "label": r["label"],
                                  "model_name": r.get("model_name")}})
    return write_jsonl(path, rows)


def fb_run(args) -> tuple[Path, dict]:
    """The real `cai generate` run (cai.stages.generate.run: setup, loop, save), timed."""
    from cai.stages.generate import run

    extra = {"limit": args.fb_limit} if args.fb_limit else {}
    config = generate_config(fb_questions(WORK / "financebench-questions.jsonl"), args.fb_index,
                             {"backend": "grounded"}, cpu_workers=args.cpu_workers, **extra)
    load = os.getloadavg()
    t0, c0 = time.perf_counter(), time.process_time()
    with SyncTimers() as timers:
        run_dir = run(config, show_progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = json.loads((run_dir / "manifest.json").read_text())["counts"]["records"]
    timing = {"questions": n, "limit": args.fb_limit, "cpu_workers": args.cpu_workers, "wall_s": round(wall, 1),
              "cpu_s": round(cpu, 1), "q_per_s": round(n / wall, 3), "cpu_q_per_s": round(n / cpu, 3),
              "sync_ms_per_question": timers.per_question_ms(n),
              "sync_cpu_ms_per_question": timers.per_question_ms(n, cpu=True),
              "load_avg_start": [round(x, 2) for x in load], "load_avg_end": [round(x, 2) for x in os.getloadavg()]}
    print(f"financebench: {n} questions in {wall:.0f} s = {n / wall:.3f} q/s ({run_dir})", flush=True)
    return run_dir, timing


def gold_pages() -> dict[str, set[tuple[str, int]]]:
    """question id → {(doc_id, 1-based page)} of its evidence (FinanceBench pages are 0-based)."""
    out = {}
    for line in (DATA / "questions.jsonl").read_text().splitlines():
        q = json.loads(line)
        out[q["id"]] = {(e.get("doc_name") or q["doc_name"], int(e["page"]) + 1) for e in q["evidence"]}
    return out


def fb_outcome(rec: dict, gold: set[tuple[str, int]]) -> str:
    """hit, or why the final answer does not cite a gold evidence page."""
    from cai.core.contracts import CITATION_RE

    cited = {(m["doc"], int(m["page"])) for m in CITATION_RE.finditer(rec["final_answer"] or "")}
    retrieved = {(h["doc_id"], h["page"]) for h in rec["sources"]}
    if cited & gold:
        return "hit"
    if not retrieved & gold:
        return "miss: retrieval (no gold page in the top k)"
    if not cited:
        return "miss: revision (final answer cites nothing)"
    return "miss: revision (cites only non-gold pages)"


def fb_scores(run_dir: Path) -> dict:
    """Acceptance numbers of a finished run, with the misses broken down."""
    from rewards.claims import sentence_kind

    def is_refusal(text: str) -> bool:  # "The sources do not state …": an abstention, not a claim
        return sentence_kind(text) == "abstention"

    gold = gold_pages()
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines() if line.strip()]
    outcomes = Counter(fb_outcome(r, gold[r["metadata"]["question_id"]]) for r in records)
    retrieved = [r for r in records
                 if {(h["doc_id"], h["page"]) for h in r["sources"]} & gold[r["metadata"]["question_id"]]]
    hits_retrieved = sum(fb_outcome(r, gold[r["metadata"]["question_id"]]) == "hit" for r in retrieved)
    claims = [c for r in records for c in r["claims"]]
    verdicts = Counter(c["verdict"] for c in claims)
    refusals = [c for c in claims if is_refusal(c["text"])]
    factual = [c for c in claims if not is_refusal(c["text"])]
    draft_claims = [c for r in records for c in r["draft_claims"]]
    by_label = Counter((r["metadata"]["label"], fb_outcome(r, gold[r["metadata"]["question_id"]]) == "hit")
                       for r in records)
    return {
        "records": len(records), "cites_gold_share": round(outcomes["hit"] / len(records), 4),
        "retrieval_gold_in_top_k": len(retrieved),
        "cites_gold_share_when_retrieved": round(hits_retrieved / max(len(retrieved), 1), 4),
        "outcomes": dict(outcomes.most_common()),
        "final_claims": len(claims),
        "final_claims_supported_share": round(verdicts["supported"] / max(len(claims), 1), 4),
        "final_claim_verdicts": dict(verdicts), "final_refusal_claims": len(refusals),
        "final_refusal_claim_verdicts": dict(Counter(c["verdict"] for c in refusals)),
        "final_supported_share_excluding_refusals": round(
            sum(c["verdict"] == "supported" for c in factual) / max(len(factual), 1), 4),
        "draft_claims": len(draft_claims),
        "draft_claims_supported_share": round(
            sum(c["verdict"] == "supported" for c in draft_claims) / max(len(draft_claims), 1), 4),
        "hit_by_draft_label": {f"{label} draft, {'hit' if hit else 'miss'}": n
                               for (label, hit), n in sorted(by_label.items())},
        "final_answers_refusal_only": sum(all(is_refusal(c["text"]) for c in r["claims"]) and bool(r["claims"])
                                          for r in records),
        "run_dir": str(run_dir),
    }


def financebench(args) -> dict:
    from generate_correctness import fb_correctness

    if args.run_dir is not None:
        run_dir, timing = args.run_dir, None
    else:
        run_dir, timing = fb_run(args)
    out = {"scores": fb_scores(run_dir), "correctness": fb_correctness(run_dir, DATA, args.fb_index)}
    return {"timing": timing, **out} if timing else out


# -- report -------------------------------------------------------------------------------------
def print_tables(results: dict) -> None:
    for key in [k for k in results if k.startswith("throughput")]:
        rows = results[key]
        print(f"\n{key}:")
        print("\n| concurrency | faults | questions | calls/q | q/s (median) | ideal q/s | of ideal | steady of ideal "
              "| loop CPU ms/q |")
        print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in rows:
            faults = f"{r['fault_rate']:.0%} ({'/'.join(r['faults'])})" if r["fault_rate"] else "none"
            print(f"| {r['concurrency']} | {faults} | {r['records']} | {r['calls_per_question']} | {r['q_per_s']} | "
                  f"{r['ideal_q_per_s']} | {r['fraction_of_ideal']} | {r['steady_fraction_of_ideal']} | "
                  f"{r['cpu_ms_per_question']} |")
    for key in [k for k in results if k.startswith("financebench")]:
        fb = results[key]
        print(f"\n{key}:\n" + json.dumps({k: v for k, v in fb.items() if k != "correctness"}, indent=2))
        if "correctness" in fb:
            from generate_correctness import markdown

            print(markdown(fb["correctness"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=["throughput", "ceiling", "overhead", "financebench", "all"])
    ap.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 64])
    ap.add_argument("--latency", type=float, default=0.2, help="server latency per request (s)")
    ap.add_argument("--fault-rate", type=float, default=0.2, help="429/500/garbage share in the faulted runs")
    ap.add_argument("--questions-per-slot", type=int, default=4, help="questions = this × concurrency")
    ap.add_argument("--min-questions", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cpu-workers", type=int, default=0,
                    help="throughput, financebench: generate's cpu_workers "
                         "(processes for retrieval/checks; whole questions for grounded)")
    ap.add_argument("--http-client", default="aiohttp", choices=["aiohttp", "httpx"],
                    help="throughput: the openai client's transport")
    ap.add_argument("--loop-module", default="cai.stages.generate",
                    help="module providing run_loop (to try a prototype)")
    ap.add_argument("--overhead-questions", type=int, default=52)
    ap.add_argument("--fb-index", type=Path, default=FB_INDEX)
    ap.add_argument("--fb-limit", type=int, default=None, help="only the first N FinanceBench drafts")
    ap.add_argument("--run-dir", type=Path, default=None, help="financebench: score this finished run instead")
    ap.add_argument("--label", default=None, help="store under '<part>:<label>' (e.g. a prototype's numbers)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    parts = ["throughput", "overhead", "financebench"] if args.part == "all" else [args.part]
    for part in parts:
        key = f"{part}:{args.label}" if args.label else part
        before = machine()  # the load as the part starts
        new = globals()[part](args)
        old = results.get(key) or {}
        if "timing" not in new and old.get("scores", {}).get("run_dir") == str(args.run_dir):
            new = {"timing": old.get("timing"), **new}  # re-scored: the run's timing and machine stay
        else:
            results.setdefault("machine", {})[key] = before
        results[key] = new
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    print_tables(results)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
