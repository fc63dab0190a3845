"""Retrieval benchmark: ingestion and embedding speed, query latency at 10k/100k/1M vectors, index
size on disk, and recall@5 of the gold evidence page on the FinanceBench dev split.

    HF_HUB_OFFLINE=1 python bench/retrieval.py                      # everything
    HF_HUB_OFFLINE=1 python bench/retrieval.py --skip-latency       # quality + embedding only
    HF_HUB_OFFLINE=1 python bench/retrieval.py --sizes 10000,100000 # smaller latency run
    HF_HUB_OFFLINE=1 python bench/retrieval.py --lco                # leave-company-out (bench/retrieval_lco.py)

The dev index (24 PDFs, ~2,700 pages) is slow to embed on CPU, so it is built
once under /tmp (never in the repository: FinanceBench is CC-BY-NC, evaluation use only) and
reused; its build report is kept beside it for the ingestion numbers. Latency uses synthetic
clustered 384-d unit vectors (a Gaussian mixture, so IVF/HNSW see cluster structure as with real
embeddings). Prints a markdown table and writes bench/results/retrieval.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cai import hide_bitsandbytes  # noqa: E402

hide_bitsandbytes()  # as the CLI does: no QLoRA here, so no hub-kernel warning on every run
from rag.embed import Embedder  # noqa: E402
from rag.index import IndexConfig, VectorIndex  # noqa: E402
from rag.ingest import IngestReport, ingest  # noqa: E402
from rag.retrieve import Retriever  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "financebench-dev"  # ../shared beside the repo
DEV_INDEX = Path("/tmp/cai-bench/financebench-dev-index")
RESULTS = Path(__file__).resolve().parent / "results" / "retrieval.json"
BUILD_REPORT = "bench_build_report.json"
DIM = 384


def percentile_ms(samples: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(samples) * 1000.0, q)), 3)


# -- ingestion ------------------------------------------------------------------------------------
def dev_index(index_dir: Path) -> dict:
    """Build the dev index if missing (or incomplete) and return its ingestion numbers."""
    saved = index_dir / BUILD_REPORT
    report = ingest([DATA / "pdfs"], index_dir, progress=sys.stderr.isatty())
    if report.n_chunks_added:  # only a run that embedded something measures ingestion speed
        saved.write_text(report.model_dump_json(indent=2))
    if not saved.exists():
        return {"documents": report.n_documents, "chunks": report.n_chunks,
                "note": f"no build report in {index_dir}: remove the index to measure a fresh build"}
    built = IngestReport.model_validate_json(saved.read_text())
    parse_s = max(built.seconds - built.seconds_embedding, 1e-9)
    return {
        "documents": report.n_documents,
        "chunks": report.n_chunks,
        "pages_added": built.n_pages_added,
        "seconds": built.seconds,
        "pages_per_s": round(built.n_pages_added / built.seconds, 2),
        "chunks_per_s": round(built.n_chunks_added / built.seconds, 2),
        "parse_chunk_pages_per_s": round(built.n_pages_added / parse_s, 1),
        "embedding_share": round(built.seconds_embedding / built.seconds, 3),
        "note": "this run" if report.n_chunks_added else f"the run that built {index_dir}",
    }


# -- embedding speed-ups --------------------------------------------------------------------------
def embedding_speed(texts: list[str]) -> dict:
    """chunks/s for fp32 unsorted / fp32 length-sorted / int8 length-sorted, and int8 agreement."""
    rng = np.random.default_rng(0)
    texts = [texts[i] for i in rng.permutation(len(texts))]
    fp32 = Embedder(None, batch_size=32, sort_by_length=False)
    fp32.encode(texts[:8])  # warm-up (first call allocates)
    out: dict = {"n_chunks": len(texts), "batch_size": 32}
    t0 = time.perf_counter()
    reference = fp32.encode(texts)
    out["fp32_unsorted_chunks_per_s"] = round(len(texts) / (time.perf_counter() - t0), 2)
    fp32.sort_by_length = True
    out["fp32_sorted_chunks_per_s"] = round(fp32.throughput(texts), 2)
    int8 = Embedder(None, precision="int8", batch_size=32, sort_by_length=True)
    int8.encode(texts[:8])
    t0 = time.perf_counter()
    quantised = int8.encode(texts)
    out["int8_sorted_chunks_per_s"] = round(len(texts) / (time.perf_counter() - t0), 2)
    cos = (reference * quantised).sum(axis=1)
    out["int8_vs_fp32_cosine_mean"] = round(float(cos.mean()), 4)
    out["int8_vs_fp32_cosine_min"] = round(float(cos.min()), 4)
    # Retrieval agreement: top-10 neighbours of each chunk among the others, int8 vs fp32.
    top_ref = np.argsort(-(reference @ reference.T), axis=1)[:, 1:11]
    top_q = np.argsort(-(quantised @ quantised.T), axis=1)[:, 1:11]
    overlap = [len(set(a) & set(b)) / 10 for a, b in zip(top_ref, top_q, strict=True)]
    out["int8_top10_neighbour_overlap"] = round(float(np.mean(overlap)), 3)
    out["onnx"] = ("not measured: `optimum[onnxruntime]` from the local PyPI mirror would downgrade "
                   "transformers 5 -> 4.57 and huggingface_hub for the whole environment")
    return out


# -- latency --------------------------------------------------------------------------------------
def clustered_vectors(n: int, seed: int, n_clusters: int = 2000) -> np.ndarray:
    """(n, 384) float32 unit vectors shaped like MiniLM chunk embeddings.

    A Gaussian mixture in a 96-d latent space, projected to 384-d, plus isotropic noise and a
    shared mean direction. Calibrated against the real dev-index embeddings (median cosine to the
    nearest neighbour 0.88, to the 10th 0.67, between random pairs 0.30; 90% of the variance in
    ~115 directions): isotropic random vectors would make every approximate index look worse than
    it is on text, since they have no near neighbours at all.
    """
    latent = 96
    fixed = np.random.default_rng(12345)  # same geometry for every n and seed
    projection = fixed.normal(size=(latent, DIM)).astype(np.float32) / np.sqrt(latent)
    mean_dir = fixed.normal(size=DIM).astype(np.float32)
    mean_dir /= np.linalg.norm(mean_dir)
    centres = fixed.normal(size=(n_clusters, latent)).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        z = centres[rng.integers(0, n_clusters, m)] + 0.7 * rng.normal(size=(m, latent)).astype(np.float32)
        x = z @ projection + 0.1 * rng.normal(size=(m, DIM)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        x += 0.7 * mean_dir
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def real_vector_recall(retriever: Retriever, questions: list[dict]) -> list[dict]:
    """Approximate vs exact top-10 on the real dev embeddings, queried with the dev questions."""
    ids, vectors = retriever.store.all_vectors(DIM)
    queries = retriever.embedder.encode([q["question"] for q in questions])
    exact_row, exact_top = faiss_latency(vectors, queries, "flat", None, ids)
    rows = [{"n": len(ids), "data": "dev embeddings", **exact_row}]
    for kind in ("hnsw", "ivf"):
        row, _ = faiss_latency(vectors, queries, kind, exact_top, ids)
        rows.append({"n": len(ids), "data": "dev embeddings", **row})
    return rows


def faiss_latency(vectors: np.ndarray, queries: np.ndarray, kind: str, exact_top: np.ndarray | None,
                  ids: np.ndarray | None = None) -> tuple[dict, np.ndarray]:
    """Build one index kind over `vectors`, time single-query top-10 searches, measure recall@10."""
    config = IndexConfig(kind=kind, ef_search=64, nprobe=16)
    ids = np.arange(len(vectors), dtype=np.int64) if ids is None else ids
    t0 = time.perf_counter()
    index = VectorIndex.build(ids, vectors, DIM, config)
    build_s = time.perf_counter() - t0
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        _, ids = index.search(q[None, :], 10)
        times.append(time.perf_counter() - t)
        found.append(ids[0])
    with tempfile.TemporaryDirectory() as tmp:
        index.save(Path(tmp), generation=0)
        size = (Path(tmp) / "vectors.faiss").stat().st_size
    row = {"kind": kind, "build_s": round(build_s, 2), "p50_ms": percentile_ms(times, 50),
           "p95_ms": percentile_ms(times, 95), "disk_mb": round(size / 2**20, 1)}
    if exact_top is not None:
        row["recall10_vs_exact"] = round(float(np.mean(
            [len(set(f) & set(e)) / 10 for f, e in zip(found, exact_top, strict=True)])), 3)
    return row, np.asarray(found)


def simple_vector_store_latency(vectors: np.ndarray, queries: np.ndarray, n_queries: int) -> dict:
    """llama-index SimpleVectorStore (pure-Python cosine over every node) as the baseline."""
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores import SimpleVectorStore, VectorStoreQuery

    t0 = time.perf_counter()
    store = SimpleVectorStore()
    store.add([TextNode(id_=str(i), text="", embedding=v.tolist()) for i, v in enumerate(vectors)])
    build_s = time.perf_counter() - t0
    times = []
    for q in queries[:n_queries]:
        t = time.perf_counter()
        store.query(VectorStoreQuery(query_embedding=q.tolist(), similarity_top_k=10))
        times.append(time.perf_counter() - t)
    return {"kind": "llama-index SimpleVectorStore", "build_s": round(build_s, 2),
            "p50_ms": percentile_ms(times, 50), "p95_ms": percentile_ms(times, 95),
            "queries": n_queries}


def latency(sizes: list[int], kinds: list[str], simple_max: int) -> list[dict]:
    rows = []
    queries = clustered_vectors(200, seed=99)
    for n in sizes:
        vectors = clustered_vectors(n, seed=n)
        exact_row, exact_top = faiss_latency(vectors, queries, "flat", None)
        rows.append({"n": n, **exact_row})
        for kind in kinds:
            if kind != "flat":
                row, _ = faiss_latency(vectors, queries, kind, exact_top)
                rows.append({"n": n, **row})
        if n <= simple_max:
            rows.append({"n": n, **simple_vector_store_latency(vectors, queries, 20 if n <= 10_000 else 3)})
        for r in rows:
            if r["n"] == n:
                r["load_avg"] = round(os.getloadavg()[0], 2)
        print(f"latency at {n}: {[(r['kind'], r['p50_ms']) for r in rows if r['n'] == n]}", file=sys.stderr)
    return rows


def extrapolate_simple_store(rows: list[dict], target: int = 1_000_000) -> list[dict]:
    """SimpleVectorStore scans every node in Python, so its latency is linear in n: scale the
    largest measured size up to `target` when `target` itself was too slow to build."""
    simple = [r for r in rows if r["kind"].startswith("llama-index") and not r.get("extrapolated")]
    if not simple or any(r["n"] == target for r in simple):
        return []
    base = max(simple, key=lambda r: r["n"])
    scale = target / base["n"]
    return [{"n": target, "kind": f"llama-index SimpleVectorStore (x{scale:g} from {base['n']:,})",
             "extrapolated": True, "build_s": round(base["build_s"] * scale, 1),
             "p50_ms": round(base["p50_ms"] * scale, 1), "p95_ms": round(base["p95_ms"] * scale, 1)}]


# -- quality ------------------------------------------------------------------------------------
def recall_at_5(retriever: Retriever, questions: list[dict]) -> dict:
    """Share of questions with a gold evidence page (0-based in FinanceBench -> +1) in the top 5."""
    settings = {
        "dense": {"mode": "dense", "route": False},
        "bm25": {"mode": "bm25", "route": False},
        "hybrid": {"mode": "hybrid", "route": False},
        "dense+routing": {"mode": "dense", "route": True},
        "bm25+routing": {"mode": "bm25", "route": True},
        "hybrid+routing": {"mode": "hybrid", "route": True},
    }
    out, misses = {}, []
    routed_right = 0
    for q in questions:
        plan = retriever.route(q["question"])
        routed_right += q["doc_name"] in plan.doc_ids
    for name, kw in settings.items():
        got, times = 0, []
        for q in questions:
            t = time.perf_counter()
            hits = retriever.search(q["question"], k=5, **kw)
            times.append(time.perf_counter() - t)
            gold = {(e["doc_name"], e["page"] + 1) for e in q["evidence"]}
            ok = any((h.doc_id, h.page) in gold for h in hits)
            got += ok
            if name == "hybrid+routing" and not ok:
                misses.append(q["id"])
        out[name] = {"recall_at_5": round(got / len(questions), 3),
                     "query_p50_ms": percentile_ms(times, 50)}
    out["route_contains_gold_filing"] = round(routed_right / len(questions), 3)
    out["hybrid+routing_misses"] = misses
    return out


def markdown(results: dict) -> str:
    lines = ["| metric | value |", "|---|---|"]
    for key, val in results.get("ingestion", {}).items():
        lines.append(f"| ingestion {key} | {val} |")
    for key, val in results.get("embedding", {}).items():
        lines.append(f"| embedding {key} | {val} |")
    for name, val in results.get("recall", {}).items():
        if isinstance(val, dict):
            lines.append(f"| recall@5 {name} | {val['recall_at_5']} (p50 {val['query_p50_ms']} ms) |")
    lines.append(f"| route contains the gold filing | {results.get('recall', {}).get('route_contains_gold_filing')} |")
    for r in results.get("ann_on_real_vectors", []):
        lines.append(f"| real dev vectors n={r['n']} {r['kind']} | p50 {r['p50_ms']} ms, "
                     f"recall@10 vs exact {r.get('recall10_vs_exact', 1.0)} |")
    table = ["", "| n | index | build s | p50 ms | p95 ms | recall@10 vs exact | disk MB |",
             "|---|---|---|---|---|---|---|"]
    for r in results.get("latency", []):
        table.append(f"| {r['n']:,} | {r['kind']} | {r['build_s']} | {r['p50_ms']} | {r['p95_ms']} | "
                     f"{r.get('recall10_vs_exact', '')} | {r.get('disk_mb', '')} |")
    return "\n".join(lines + table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, default=DEV_INDEX, help="cached dev index directory")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--kinds", default="flat,hnsw,ivf")
    ap.add_argument("--simple-max", type=int, default=100_000, help="largest n for SimpleVectorStore")
    ap.add_argument("--embed-sample", type=int, default=256)
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--skip-embedding", action="store_true")
    ap.add_argument("--skip-quality", action="store_true", help="no dev index, no recall")
    ap.add_argument("--lco", action="store_true",
                    help="only the leave-company-out evaluation (bench/retrieval_lco.py) on the dev index")
    ap.add_argument("--folds", type=int, default=3, help="--lco: number of company folds (>= 3 recommended)")
    ap.add_argument("--seed", type=int, default=0, help="--lco: seed of the company shuffle")
    ap.add_argument("--reranker", type=Path, default=None,
                    help="--lco: also rank with this trained re-ranker (`cai retriever train --out DIR`)")
    args = ap.parse_args()
    if args.lco:
        lco_main(args)
        return

    # Sections measured in this run replace those of earlier runs; the others are kept, so a long
    # benchmark can be run piecewise (each section records the load average it ran under).
    results: dict = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "load_avg_start": os.getloadavg()}
    if not args.skip_quality:
        results["ingestion"] = dev_index(args.index)
        retriever = Retriever.open(args.index)
        questions = [json.loads(x) for x in (DATA / "questions.jsonl").read_text().splitlines() if x]
        results["recall"] = recall_at_5(retriever, questions)
        results["ann_on_real_vectors"] = real_vector_recall(retriever, questions)
        if not args.skip_embedding:
            _, texts = retriever.store.all_chunk_texts()
            pick = np.random.default_rng(1).choice(len(texts), min(args.embed_sample, len(texts)), replace=False)
            results["embedding"] = embedding_speed([texts[i] for i in pick])
            results["embedding"]["load_avg"] = os.getloadavg()
    if not args.skip_latency:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        fresh = latency(sizes, args.kinds.split(","), args.simple_max)
        measured = {(r["n"], r["kind"]) for r in fresh}
        kept = [r for r in results.get("latency", []) if (r["n"], r["kind"]) not in measured]
        results["latency"] = sorted(kept + fresh, key=lambda r: r["n"])
        results["latency"] = [r for r in results["latency"] if not r.get("extrapolated")]
        results["latency"] += extrapolate_simple_store(results["latency"])
    results["machine"]["load_avg_end"] = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(markdown(results))
    print(f"\nwrote {RESULTS}")


def lco_main(args: argparse.Namespace) -> None:
    """`--lco`: build the dev index if needed, run bench/retrieval_lco.py, keep its section of the results."""
    from retrieval_lco import markdown as lco_markdown
    from retrieval_lco import run as lco_run

    results: dict = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    dev_index(args.index)
    t0 = time.perf_counter()
    lco = lco_run(args.index, DATA / "questions.jsonl", args.folds, args.seed, args.reranker)
    lco["seconds"] = round(time.perf_counter() - t0, 1)
    lco["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "load_avg": os.getloadavg()}
    results["lco"] = lco
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(lco_markdown(lco))
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
