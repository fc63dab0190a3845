"""Check that our page numbers are the physical pages FinanceBench's evidence lives on.

FinanceBench (development data beside the project, never copied into it) gives each question's
evidence as `{doc_name, page, text}` with `page` a 0-based physical page index. For every evidence
item this script parses `<pdfs>/<doc_name>.pdf` with `rag.parse.parse_file`, scores every page by
idf-weighted token containment of the evidence text, and counts a match when the best page is
`page + 1` (our pages are 1-based). It also reports extraction speed (pages/s over the parsed
PDFs: read + normalise + sentences + chunks) and chunk statistics.

    python bench/check_pages.py [--data ../shared/data/financebench-dev] [--overlap 0 1]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.chunking import Chunker  # noqa: E402
from rag.extract import read_pages  # noqa: E402
from rag.parse import parse_file  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "financebench-dev"
_WORD_RE = re.compile(r"[a-z0-9]+")


def words(text: str) -> set[str]:
    return set(_WORD_RE.findall(unicodedata.normalize("NFKC", text).lower()))


def best_page(evidence: str, page_words: list[set[str]]) -> tuple[int, float]:
    """(1-based best page, its score): idf-weighted share of evidence words found on the page."""
    document_frequency = Counter(word for page in page_words for word in page)
    n_pages = len(page_words)
    evidence_words = words(evidence)
    idf = {
        w: math.log((n_pages + 1) / (document_frequency.get(w, 0) + 1)) + 1 for w in evidence_words
    }
    total = sum(idf.values()) or 1.0
    scores = [sum(idf[w] for w in evidence_words & page) / total for page in page_words]
    best = max(range(n_pages), key=scores.__getitem__)
    return best + 1, scores[best]


def evidence_items(questions: Path) -> list[dict]:
    items = []
    with questions.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            for evidence in row.get("evidence", []):
                items.append({"question_id": row["id"], **evidence})
    return items


def check_pages(data: Path, chunker: Chunker) -> tuple[int, int, list[str]]:
    """(matches, total, mismatch descriptions) over all evidence items."""
    items = evidence_items(data / "questions.jsonl")
    page_words: dict[str, list[set[str]]] = {}
    matches, failures = 0, []
    for item in items:
        doc_name = item["doc_name"]
        if doc_name not in page_words:
            parsed = parse_file(data / "pdfs" / f"{doc_name}.pdf", doc_id=doc_name, chunker=chunker)
            page_words[doc_name] = [words(page.text) for page in parsed.pages]
        found, score = best_page(item["text"], page_words[doc_name])
        expected = item["page"] + 1
        if found == expected:
            matches += 1
        else:
            failures.append(
                f"{item['question_id']} {doc_name}: expected p.{expected}, best p.{found} ({score:.2f})"
            )
    return matches, len(items), failures


def measure_speed(pdfs: list[Path], chunker: Chunker) -> None:
    """pages/s for extraction alone (read_pages) and for the whole parse_file.

    Both wall-clock and CPU-time rates are printed: on a shared machine the CPU-time rate is the
    one that does not depend on what else is running.
    """
    for label, run in (
        ("extract (pypdfium2 + normalise)", lambda p: len(read_pages(p).pages)),
        (
            "parse_file (+ sentences, chunks, metadata)",
            lambda p: len(parse_file(p, doc_id=p.stem, chunker=chunker).pages),
        ),
    ):
        wall, cpu = time.perf_counter(), time.process_time()
        n_pages = sum(run(pdf) for pdf in pdfs)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"{label}: {n_pages} pages in {wall:.1f} s wall = {n_pages / wall:.0f} pages/s; "
            f"{cpu:.1f} s CPU = {n_pages / cpu:.0f} pages/CPU-s"
        )


def chunk_statistics(pdfs: list[Path], overlaps: list[int]) -> None:
    """Chunk count and token sizes per overlap setting (the cost side of overlap)."""
    for overlap in overlaps:
        chunker = Chunker.for_model(overlap_sentences=overlap)
        sizes: list[int] = []
        for pdf in pdfs:
            parsed = parse_file(pdf, doc_id=pdf.stem, chunker=chunker)
            sizes.extend(chunker.count_tokens([chunk.text for chunk in parsed.chunks]))
        over = sum(size + 2 > chunker.max_tokens for size in sizes)
        print(
            f"overlap={overlap}: {len(sizes)} chunks, tokens mean {statistics.mean(sizes):.0f} "
            f"median {statistics.median(sizes):.0f} max {max(sizes)} (+2 special); over window: {over}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--overlap", type=int, nargs="*", default=[], help="chunk stats per overlap"
    )
    parser.add_argument("--speed", action="store_true", help="measure pages/s")
    args = parser.parse_args()
    chunker = Chunker.for_model()
    pdfs = sorted((args.data / "pdfs").glob("*.pdf"))
    if args.speed:
        measure_speed(pdfs, chunker)
    if args.overlap:
        chunk_statistics(pdfs, args.overlap)
    matches, total, failures = check_pages(args.data, chunker)
    for failure in failures:
        print("MISMATCH", failure)
    print(f"page check: {matches}/{total} evidence items best match our page = page+1")
    return 0 if matches == total else 1


if __name__ == "__main__":
    raise SystemExit(main())
