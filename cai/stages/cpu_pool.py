"""The CPU-bound part of a question, off the event loop: retrieval, claim checking, the rules'
machine checks and the preservation measure.

`cpu_workers: 0` (the default) runs them on one thread of this process, which frees the event
loop to keep teacher calls in flight but shares one core with it (the GIL). `cpu_workers: N`
runs them in N worker processes, each opening its own retriever, checker and constitution once,
so a call ships only text, hits and page texts. That is what lets a fast teacher be kept busy:
an LLM server with many calls in flight can take questions far faster than one core can check
them (BENCHMARKS.md, "Throughput of the openai backend").

Workers die with the main process (`cai.core.processes.die_with_parent`): a `kill -9` of
`cai generate` used to leave them running, each holding its own models (~720 MB).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from cai.core.configs import GenerateConfig
from cai.core.constitution import Constitution, load_constitution
from cai.core.contracts import ClaimVerdict, RuleViolation, SourcePage, Sources

T = TypeVar("T")


class CpuWork:
    """What one question needs computed, given an open retriever, checker and constitution."""

    def __init__(self, retriever, checker, constitution: Constitution, config: GenerateConfig):
        self.retriever = retriever
        self.checker = checker
        self.constitution = constitution
        self.config = config

    @classmethod
    def open(cls, config: GenerateConfig) -> CpuWork:
        from rag.retrieve import Retriever
        from rewards.checker import open_checker

        return cls(Retriever.open(config.index), open_checker(config.checker), load_constitution(config.constitution),
                   config)

    def search(self, question: str, filters: dict | None = None) -> Sources:
        """The top-k hits and the full text of the pages they come from (what checks align to), within
        the question row's `metadata.filters` when it has them."""
        from rag.quotes import gather_sources

        r = self.config.retrieval
        hits = self.retriever.search(question, k=r.k, mode=r.mode, route=r.route, filters=filters)
        return gather_sources(hits, self.retriever.store.page)

    def search_window(self, queries: list[str], wanted: list[int],
                      filters: list[dict | None] | None = None) -> dict[int, Sources]:
        """`search` for the queries at positions `wanted`, all of `queries` embedded in one batch
        (the whole window, so its vectors do not depend on which of its questions are wanted). A
        query is a question, or with `retrieval.rewrite` the question with the teacher's terms;
        `filters`: each query's row's `metadata.filters` (None: none)."""
        from rag.quotes import gather_sources

        r = self.config.retrieval
        vectors = self.retriever.query_vectors(queries) if r.mode != "bm25" else [None] * len(queries)
        out = {}
        for i in wanted:
            hits = self.retriever.search(queries[i], k=r.k, mode=r.mode, route=r.route, vector=vectors[i],
                                         filters=filters[i] if filters else None)
            out[i] = gather_sources(hits, self.retriever.store.page)
        return out

    def check(self, question: str, answer: str, pages: list[SourcePage]) -> list[ClaimVerdict]:
        return self.checker.check(question, answer, pages)

    def machine(self, rule_ids: list[str], question: str, answer: str, claims: list[ClaimVerdict],
                pages: list[SourcePage]) -> list[RuleViolation]:
        """The machine checks of the rules `rule_ids` (this round's selection) on `answer`."""
        from rewards.rules import evaluate_rules

        wanted = set(rule_ids)
        rules = self.constitution.model_copy(update={"rules": [r for r in self.constitution.rules if r.id in wanted]})
        return evaluate_rules(rules, question, answer, claims, pages)

    def preservation(self, draft_claims: list[ClaimVerdict], final: str) -> dict:
        """How much supported draft content survived revision (bounded: linear in claims)."""
        from cai.stages.preservation import preservation

        return preservation(draft_claims, final)

    def close(self) -> None:
        self.retriever.close()


# A worker process's own CpuWork, opened once by the pool's initializer.
_WORKER: CpuWork | None = None


def _open_worker(config: dict, parent_pid: int) -> None:
    from cai.core.processes import die_with_parent

    die_with_parent(parent_pid)  # first: a worker still loading its models is an orphan too
    import torch

    global _WORKER
    torch.set_num_threads(1)  # one process per core: intra-op threads would only contend
    _WORKER = CpuWork.open(GenerateConfig.model_validate(config))


def _started() -> None:
    """A no-op task: submitting `workers` of them starts every worker (see CpuPool)."""


def _in_worker(fn: Callable, *args):
    return fn(_WORKER, *args)


class CpuPool:
    """The CPU-bound steps of a question, awaited off the event loop: `await pool.check(question,
    text, pages)`. Each step is a function of a `CpuWork` that runs on the pool's thread or, with
    workers, in a worker process on that process's own `CpuWork` (functions pickle by name)."""

    def __init__(self, local: CpuWork, workers: int):
        self.local = local
        self.workers = workers
        self.executor: Executor
        if workers == 0:
            # One thread: the SQLite store and the checker's caches see one thread at a time.
            self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cai-cpu")
        else:
            import multiprocessing as mp

            # spawn, not fork: the parent holds torch threads and an open SQLite store.
            self.executor = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_open_worker,
                                                initargs=(local.config.model_dump(mode="json"), os.getpid()))
            # Every worker started now, from this thread: on Linux a worker's parent-death signal follows
            # the thread that started it, and the pool would otherwise start workers from whichever
            # thread submits first (they also load their models while the main process sets up).
            for _ in range(workers):
                self.executor.submit(_started)

    async def call(self, fn: Callable[..., T], *args) -> T:
        """`fn(work, *args)` on the thread or a worker; `fn` must be a module-level function (or a
        method of CpuWork) so that a worker process can import it by name."""
        loop = asyncio.get_running_loop()
        if self.workers == 0:
            return await loop.run_in_executor(self.executor, partial(fn, self.local, *args))
        return await loop.run_in_executor(self.executor, partial(_in_worker, fn, *args))

    async def search(self, question: str, filters: dict | None = None) -> Sources:
        return await self.call(CpuWork.search, question, filters)

    async def search_window(self, queries: list[str], wanted: list[int],
                            filters: list[dict | None] | None = None) -> dict[int, Sources]:
        return await self.call(CpuWork.search_window, queries, wanted, filters)

    async def check(self, question: str, answer: str, pages: list[SourcePage]) -> list[ClaimVerdict]:
        return await self.call(CpuWork.check, question, answer, pages)

    async def machine(self, rule_ids: list[str], question: str, answer: str, claims: list[ClaimVerdict],
                      pages: list[SourcePage]) -> list[RuleViolation]:
        return await self.call(CpuWork.machine, rule_ids, question, answer, claims, pages)

    async def preservation(self, draft_claims: list[ClaimVerdict], final: str) -> dict:
        return await self.call(CpuWork.preservation, draft_claims, final)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)
