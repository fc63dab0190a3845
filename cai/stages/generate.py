"""`cai generate`: retrieve → draft → (critique → revise)* → verify → records, SFT rows, pairs.

The draft is the questions file's answer, the teacher's, or with `drafter:` the policy's own
(on-policy, as in Constitutional AI, Bai et al. 2022: `cai.stages.drafting`, batched per retrieval
window and cached).

Read top to bottom: setup (config, constitution, questions, index, checker, teacher, run dir),
the loop (one task per question, bounded concurrency, each finished record appended at once),
then save (sft.jsonl, preferences.jsonl, pair reasons, dataset card, manifest: `generate_card`).

Resume: records.jsonl is append-only, so a killed run keeps every finished question; `--resume`
skips ids already recorded and retries failed ones. Teacher calls are cached by content hash and
principle sampling is seeded per (seed, question id, round), so a resumed run writes the same
records an uninterrupted run would.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import BrokenExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cai.core.configs import GenerateConfig
from cai.core.constitution import Constitution, Rule, load_constitution
from cai.core.contracts import ClaimVerdict, Critique, Record, Revision, Round, RuleViolation, SearchHit, Sources
from cai.core.errors import UserError
from cai.core.prompts import refusal
from cai.core.questions import QuestionRow, load_questions
from cai.core.runs import (
    JsonlWriter,
    read_jsonl,
    read_manifest,
    resume_or_start,
    run_guard,
    update_manifest,
)
from cai.llm.chat import TeacherCallFailed
from cai.llm.openai_chat import BudgetExhausted
from cai.stages.cpu_pool import CpuPool, CpuWork
from cai.stages.drafting import Draft, Drafter, check_drafter, open_drafter
from cai.stages.generate_card import save_outputs
from cai.stages.pairs import Candidate, judge_pairs
from cai.stages.revision_gate import (
    GateDecision,
    MachineChecks,
    citation_only_rules,
    judge_revision,
    licensed_claims,
)
from cai.teachers.base import Teacher, TeacherCritique
from rewards.injection import find_injections, without_instructions

if TYPE_CHECKING:  # annotations only: the retriever and checker load heavy libraries
    from cai.teachers.query_rewrite import QueryRewriter
    from rag.retrieve import Retriever
    from rewards.checker import Checker


@dataclass(frozen=True)
class Setup:
    """What the loop runs with, opened once by `setup`."""

    config: GenerateConfig
    constitution: Constitution
    retriever: Retriever
    checker: Checker
    teacher: Teacher
    closers: list[Callable[[], Awaitable[None]]]  # the teacher's async close, called when the loop ends
    cpu: CpuPool  # retrieval, checking, machine checks: off the event loop (cai/stages/cpu_pool.py)
    # Record appends (each fsynced) on their own thread, in order: an fsync on the event loop
    # stalls every teacher call in flight.
    io: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="cai-io"))
    rewriter: QueryRewriter | None = None  # retrieval.rewrite: questions → search queries via the teacher
    drafter: Drafter | None = None  # drafter: the policy that drafts every answer (cai/stages/drafting.py)

    async def write(self, writer: JsonlWriter, record: Record) -> None:
        await asyncio.get_running_loop().run_in_executor(self.io, writer.write, record)

    def shutdown(self) -> None:
        self.cpu.shutdown()
        self.io.shutdown(wait=True)
        if self.drafter is not None:
            self.drafter.close()


# -------------------------------------------------------------------------------------------- setup
def make_teacher(config: GenerateConfig, cache_path: Path, retriever, checker,
                 constitution: Constitution) -> tuple[Teacher, list]:
    """The configured teacher and the async closers to call when done."""
    from cai.llm.cache import CallCache

    if config.teacher.backend == "grounded":
        from cai.teachers.grounded import GroundedTeacher

        return GroundedTeacher(retriever.store.page, checker, constitution), []
    from cai.teachers.prompted import PromptedTeacher

    cache = CallCache(cache_path)
    if config.teacher.backend == "openai":
        from cai.llm.openai_chat import OpenAIChat

        chat = OpenAIChat(config.teacher, cache)
    else:
        from cai.llm.hf_chat import HFChat

        chat = HFChat(config.teacher, cache)
    return PromptedTeacher(config.teacher.backend, chat), [chat.aclose]


def setup(config: GenerateConfig, run_dir: Path) -> Setup:
    from rag.retrieve import Retriever
    from rewards.checker import open_checker

    constitution = load_constitution(config.constitution)
    retriever = Retriever.open(config.index)
    checker = open_checker(config.checker)
    teacher, closers = make_teacher(config, run_dir / "teacher_cache.sqlite", retriever, checker, constitution)
    work = CpuWork(retriever, checker, constitution, config)
    drafter = open_drafter(config.drafter, run_dir, config.seed) if config.drafter is not None else None
    return Setup(config, constitution, retriever, checker, teacher, closers, CpuPool(work, config.cpu_workers),
                 rewriter=make_rewriter(config, teacher), drafter=drafter)


def make_rewriter(config: GenerateConfig, teacher: Teacher) -> QueryRewriter | None:
    """With `retrieval.rewrite`, a query rewriter over the teacher's own chat client: the same call
    cache, concurrency bound and budget as every other teacher call (the config check guarantees an
    openai teacher)."""
    if not config.retrieval.rewrite:
        return None
    from cai.teachers.prompted import PromptedTeacher
    from cai.teachers.query_rewrite import QueryRewriter

    assert isinstance(teacher, PromptedTeacher), "retrieval.rewrite needs an openai teacher (checked by the config)"
    return QueryRewriter(teacher.chat)


# --------------------------------------------------------------------------------------------- loop
QUESTIONS_PER_CALL_SLOT = 2
INTERNAL_ERROR = "internal error on this question"  # a failed record's error that is no teacher failure


class SearchAhead:
    """Retrieval for windows of `size` consecutive questions at a time, one window ahead of the
    loop: the window's queries are embedded in one batch, which costs far less CPU per query than
    embedding them one at a time (BENCHMARKS.md). Windows are cut from the whole question list, not
    from the pending questions, so a resumed run embeds each question in the same batch as an
    uninterrupted run would and retrieves the same hits, to the last bit. With `retrieval.rewrite`
    every question of a window is rewritten first (in the event loop, calls in flight together),
    done ones too: their rewrites are cache hits, so a resumed window embeds the same queries.
    With a drafter, the window's pending questions are drafted together once their sources are in
    (batched generation; the next window's drafting overlaps this window's critiques)."""

    def __init__(self, s: Setup, rows: list[QuestionRow], pending: list[QuestionRow], size: int = 16):
        self.s, self.rows, self.size = s, rows, size
        self.position = {r.id: i for i, r in enumerate(rows)}
        self.pending = {r.id for r in pending}
        self.windows: dict[int, asyncio.Future] = {}
        self.left: dict[int, int] = {}

    def _start(self, w: int) -> None:
        if w in self.left or w * self.size >= len(self.rows):  # started (or started and freed)
            return
        rows = self.rows[w * self.size : (w + 1) * self.size]
        wanted = [i for i, r in enumerate(rows) if r.id in self.pending]
        self.left[w] = len(wanted)
        filters = [r.metadata.get("filters") for r in rows]
        self.windows[w] = asyncio.ensure_future(self._search([r.question for r in rows], wanted, filters))

    async def _search(self, questions: list[str], wanted: list[int],
                      filters: list[dict | None]) -> dict[int, tuple[Sources, str, Draft | None]]:
        queries = questions
        if self.s.rewriter is not None:
            queries = [r.query for r in await asyncio.gather(*(self.s.rewriter.rewrite(q) for q in questions))]
        found = await self.s.cpu.search_window(queries, wanted, filters)
        drafts: dict[int, Draft | UserError] = {}
        if self.s.drafter is not None:  # the policy answers the question itself, never the rewritten query
            order = sorted(found)
            drafts = dict(zip(order, await self.s.drafter.drafts([(questions[i], found[i].hits) for i in order]),
                              strict=True))
        return {i: (sources, queries[i], drafts.get(i)) for i, sources in found.items()}

    async def get(self, row: QuestionRow) -> tuple[Sources, str, Draft | None]:
        """The question's sources, the query that found them (the question, or its rewrite) and the
        drafter's draft (None without a drafter). A question the drafter could not draft raises."""
        w, i = divmod(self.position[row.id], self.size)
        self._start(w)
        self._start(w + 1)
        found = (await self.windows[w])[i]
        self.left[w] -= 1
        if self.left[w] == 0:  # every question of the window has its hits: free the pages
            del self.windows[w]
        if isinstance(found[2], UserError):
            raise found[2]
        return found


def select_rules(constitution: Constitution, row: QuestionRow, hits: list[SearchHit], config: GenerateConfig,
                 round_no: int) -> list[Rule]:
    """Applicable rules; with `loop.principles: N`, N of them sampled per round (seeded)."""
    tags = list(row.metadata.get("tags", [])) if isinstance(row.metadata.get("tags"), list) else []
    applicable = [r for r in constitution.rules if r.applies(row.question, tags=tags)]
    n = config.loop.principles
    if n == "all" or n >= len(applicable):
        return applicable
    seed = int(hashlib.sha256(f"{config.seed}:{row.id}:{round_no}".encode()).hexdigest()[:8], 16)
    picked = set(r.id for r in random.Random(seed).sample(applicable, n))
    return [r for r in applicable if r.id in picked]


def merged(critique: TeacherCritique, extra: list) -> TeacherCritique:
    """An LLM teacher's critique plus machine-check violations it did not already name."""
    seen = {(v.rule_id, v.claim) for v in critique.violations}
    violations = critique.violations + [v for v in extra if (v.rule_id, v.claim) not in seen]
    return TeacherCritique(violations=violations, call_ids=critique.call_ids, text=critique.text,
                           claims=critique.claims)


async def first_draft(s: Setup, row: QuestionRow, sources: Sources,
                      policy_draft: Draft | None) -> tuple[str, str, list[str]]:
    """The text the loop starts from, where it came from (`Record.draft_source`) and the teacher
    calls it took: the drafter's (it drafts every question), else the questions file's answer, else
    the teacher's draft."""
    if policy_draft is not None:
        return policy_draft.text, "policy", []
    if row.answer is not None and row.answer.strip():
        return row.answer, "input", []
    drafted = await s.teacher.draft(row.question, sources)
    return drafted.text, "teacher", drafted.call_ids


async def process(s: Setup, row: QuestionRow, sources: Sources, search_query: str | None = None,
                  policy_draft: Draft | None = None) -> Record:
    """One question through the loop. Raises TeacherCallFailed / BudgetExhausted. `search_query`: the
    rewritten query the sources were retrieved with (`retrieval.rewrite`), kept in the record;
    `policy_draft`: the drafter's draft of this question (`first_draft`).

    Every round's critique also lists the answer's instruction-like sentences (an injection attempt,
    `rewards.injection`, with the source page that holds it), whatever the teacher; every revision
    is stripped of them and passes the revision gate (`cai.stages.revision_gate`) before it is
    applied. A rejected revision ends the loop: the same critique of the same text would ask for
    the same revision."""
    cfg = s.config
    hits, pages = sources.hits, sources.pages
    verdicts: dict[str, list[ClaimVerdict]] = {}  # answer text → claim verdicts (one check per text)

    async def check(text: str) -> list[ClaimVerdict]:
        if text not in verdicts:
            verdicts[text] = await s.cpu.check(row.question, text, pages)
        return verdicts[text]

    async def machine(rule_ids: list[str], text: str, claims: list[ClaimVerdict]) -> list[RuleViolation]:
        return await s.cpu.machine(rule_ids, row.question, text, claims, pages)

    draft, draft_source, call_ids = await first_draft(s, row, sources, policy_draft)
    answer, rounds, gate, candidates = draft, [], [], [("draft", draft)]
    attempts = find_injections(draft, pages)
    for round_no in range(1, cfg.loop.max_rounds + 1):
        rules = select_rules(s.constitution, row, hits, cfg, round_no)
        critique = await s.teacher.critique(row.question, sources, answer, rules)
        if critique.claims is not None:
            verdicts.setdefault(answer, critique.claims)
        if s.teacher.name != "grounded":  # the grounded critique *is* the machine checks
            critique = merged(critique, await machine([r.id for r in rules], answer, await check(answer)))
        critique = merged(critique, [i.violation() for i in find_injections(answer, pages)])
        call_ids += critique.call_ids
        record_critique = Critique(round=round_no, rule_ids=[r.id for r in rules], violations=critique.violations,
                                   text=critique.text, teacher_call_id=(critique.call_ids or [None])[0])
        if not critique.violations:
            rounds.append(Round(critique=record_critique))
            break
        revised = await s.teacher.revise(row.question, sources, answer, critique, rules)
        call_ids += revised.call_ids
        attempts += find_injections(revised.text, pages)
        text, decision = await gated(row.question, round_no, answer, revised.text, critique.violations,
                                     citation_only_rules(s.constitution.rules), check, machine)
        gate.append(decision.trace())
        shown = text if decision.accepted else revised.text  # a rejected revision is traced as written
        rounds.append(Round(critique=record_critique, revision=Revision(
            round=round_no, text=shown, teacher_call_id=(revised.call_ids or [None])[0])))
        candidates.append(("revision" if decision.accepted else "rejected", text))
        if not decision.accepted:
            kept, removed = without_instructions(answer)  # the previous text, never with an instruction
            answer = kept or refusal(row.question)
            if removed:
                gate[-1]["kept_without_instructions"] = removed
            break
        answer = text
    final_claims, draft_claims = await check(answer), await check(draft)
    metadata = {**row.metadata, "preservation": await s.cpu.preservation(draft_claims, answer)}
    if gate:
        metadata["revision_gate"] = gate
    if policy_draft is not None:  # the draft's cache key: the drafter's call, as teacher_call_ids are the teacher's
        metadata["draft_call_id"] = policy_draft.call_id
    if attempts:  # the audit's list of injection attempts (also in the critiques' violations)
        unique = {a.sentence: a.violation() for a in attempts}
        metadata["injection_attempts"] = [v.model_dump(mode="json") for v in unique.values()]
    record = Record(id=row.id, question=row.question, metadata=metadata, sources=hits, draft=draft,
                    draft_source=draft_source, rounds=rounds, final_answer=answer, claims=final_claims,
                    draft_claims=draft_claims, teacher_call_ids=call_ids, search_query=search_query)
    seed = int(hashlib.sha256(f"{cfg.seed}:{row.id}:judge".encode()).hexdigest()[:8], 16)
    others = [Candidate(text, await check(text), kind) for kind, text in candidates]
    record.judge_pairs, judge_ids, labels = await judge_pairs(s.teacher, record, sources, s.constitution, cfg.judge,
                                                              random.Random(seed), others)
    if labels:
        record.metadata["pair_labels"] = [label.as_dict() for label in labels]
    record.teacher_call_ids += judge_ids
    return record


async def gated(question: str, round_no: int, answer: str, revised: str, violations: list[RuleViolation],
                citation_rules: set[str], check: Callable[[str], Awaitable[list[ClaimVerdict]]],
                machine: MachineChecks) -> tuple[str, GateDecision]:
    """A teacher's revision of `answer`, stripped of instruction-like sentences, and the revision
    gate's decision on it (`cai.stages.revision_gate`)."""
    text, dropped = without_instructions(revised)
    text = text or refusal(question)
    before = await check(answer)
    licensed = await licensed_claims(before, violations, citation_rules, machine)
    return text, judge_revision(round_no, before, await check(text), licensed, dropped)


async def run_question(s: Setup, ahead: SearchAhead, row: QuestionRow) -> Record:
    """`process`, or with the grounded teacher and `cpu_workers`, the whole question in a worker
    process: the grounded teacher's drafting and checking is all CPU, so workers are what spread
    it over cores (retrieval stays in windows, so the hits are the same either way)."""
    sources, query, policy_draft = await ahead.get(row)
    if s.teacher.name == "grounded" and s.cpu.workers > 0:  # never rewritten: rewriting needs an openai teacher
        return await s.cpu.call(grounded_record, row.model_dump(), sources, policy_draft)
    return await process(s, row, sources, query if s.rewriter is not None else None, policy_draft)


_WORKER_SETUP: Setup | None = None  # a worker process's Setup for whole grounded questions


def grounded_record(work: CpuWork, row: dict, sources: Sources, policy_draft: Draft | None = None) -> Record:
    """A whole question with the grounded teacher, run in a worker process over its own retriever
    and checker (the Setup is made on the worker's first question)."""
    from cai.teachers.grounded import GroundedTeacher

    global _WORKER_SETUP
    if _WORKER_SETUP is None:
        teacher = GroundedTeacher(work.retriever.store.page, work.checker, work.constitution)
        _WORKER_SETUP = Setup(work.config, work.constitution, work.retriever, work.checker, teacher, [],
                              CpuPool(work, 0))
    return asyncio.run(process(_WORKER_SETUP, QuestionRow.model_validate(row), sources, policy_draft=policy_draft))


async def run_loop(s: Setup, rows: list[QuestionRow], run_dir: Path, show_progress: bool,
                   all_rows: list[QuestionRow] | None = None) -> dict:
    """Every pending question (`rows`), up to 2 × `teacher.max_concurrency` at a time (the teacher
    keeps its calls to max_concurrency); each record appended when done. `all_rows`: the run's
    whole question list (retrieval windows are cut from it)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    counts = {"done": 0, "failed": 0}
    ahead = SearchAhead(s, all_rows or rows, rows)
    stop_reason: list[str] = []
    # The teacher client bounds calls in flight to max_concurrency. Questions are let in at twice
    # that: a question between two calls (retrieval, checks, its record) would otherwise hold a
    # call slot it is not using, and with many slots and slow calls a good share of them would sit
    # idle (BENCHMARKS.md, "Generate").
    sem = asyncio.Semaphore(QUESTIONS_PER_CALL_SLOT * s.config.teacher.max_concurrency)
    usage = getattr(getattr(s.teacher, "chat", None), "usage", None)
    columns = [TextColumn("generate"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[info]}")]
    started = time.perf_counter()
    with JsonlWriter(run_dir / "records.jsonl") as records, JsonlWriter(run_dir / "failed.jsonl") as failed, \
            Progress(*columns, disable=not show_progress, transient=True) as bar:
        task = bar.add_task("generate", total=len(rows), info="")

        async def fail(row: QuestionRow, error: str) -> None:
            await s.write(failed, Record(id=row.id, question=row.question, status="failed", error=error))
            counts["failed"] += 1

        async def one(row: QuestionRow) -> None:
            async with sem:
                if stop_reason:
                    return
                try:
                    await s.write(records, await run_question(s, ahead, row))
                    counts["done"] += 1
                except BudgetExhausted as e:
                    stop_reason.append(str(e))
                    return
                except (TeacherCallFailed, UserError) as e:  # this question's; the others still run
                    await fail(row, str(e))
                except BrokenExecutor:  # a worker process died: every later question would fail the same way
                    raise
                except Exception as e:  # noqa: BLE001 — one question's fault must not end the others
                    await fail(row, f"{INTERNAL_ERROR}: {type(e).__name__}: {' '.join(str(e).split())[:500]}")
            rate = counts["done"] / max(time.perf_counter() - started, 1e-9)
            tokens = f" tokens {usage.prompt_tokens + usage.completion_tokens:,}" if usage else ""
            bar.update(task, advance=1, info=f"{rate:.2f} q/s{tokens} failed {counts['failed']}")

        await asyncio.gather(*(one(r) for r in rows))
    for close in s.closers:
        await close()
    s.shutdown()
    counts["stopped"] = stop_reason[0] if stop_reason else None
    counts["usage"] = usage.as_dict() if usage else {}
    counts["query_rewrite"] = s.rewriter.summary() if s.rewriter is not None else None
    return counts


# --------------------------------------------------------------------------------------------- save
def collect(run_dir: Path, order: list[str]) -> tuple[list[Record], list[Record]]:
    """Finished records in input order (last write wins), and failures not since recovered."""
    rank = {qid: i for i, qid in enumerate(order)}
    done = {obj["id"]: Record.model_validate(obj) for _, obj in read_jsonl(run_dir / "records.jsonl")}
    failed = {}
    if (run_dir / "failed.jsonl").exists():
        failed = {obj["id"]: Record.model_validate(obj) for _, obj in read_jsonl(run_dir / "failed.jsonl")
                  if obj["id"] not in done}
    key = lambda r: rank.get(r.id, len(rank))  # noqa: E731
    return sorted(done.values(), key=key), sorted(failed.values(), key=key)


def run(config: GenerateConfig, *, resume: Path | None = None, show_progress: bool = True) -> Path:
    """Run (or resume) generation; returns the run directory. The run directory is locked while
    this runs (a second `--resume` of it exits 2) and marked failed with the reason if it fails."""

    rows, rejected = load_questions(config.questions)
    if not rows:
        raise UserError(f"{config.questions}: no valid questions" + (f" ({rejected[0]})" if rejected else ""))
    constitution = load_constitution(config.constitution)
    check_teacher_reachable(config)  # before a run directory exists: nothing to clean up when it is down
    if config.drafter is not None:
        check_drafter(config.drafter)
    run_dir = resume_or_start("generate", config, resume, constitution=constitution)
    with run_guard(run_dir):
        _run(config, run_dir, rows, rejected, constitution, show_progress)
    return run_dir


def _run(config: GenerateConfig, run_dir: Path, rows: list[QuestionRow], rejected: list[str],
         constitution: Constitution, show_progress: bool) -> None:
    selected = rows[: config.limit] if config.limit else rows
    done_ids = ({obj["id"] for _, obj in read_jsonl(run_dir / "records.jsonl")}
                if (run_dir / "records.jsonl").exists() else set())
    pending = [r for r in selected if r.id not in done_ids]
    update_manifest(run_dir, status="running",
                    counts={"questions": len(selected), "rejected_rows": len(rejected), "pending": len(pending)},
                    rejected_rows=rejected[:200])
    s = setup(config, run_dir)
    teacher_model = getattr(getattr(s.teacher, "chat", None), "model_record", None)
    if teacher_model:  # an hf teacher's weights: name, folder, sha256 for a built-in (`smollm2-135m`)
        update_manifest(run_dir, teacher_model=teacher_model)
    if s.drafter is not None:  # what drafts: model, weights, adapter (counts added when the loop ends)
        update_manifest(run_dir, drafter=s.drafter.describe())
    if "corpus" not in read_manifest(run_dir):  # the documents the sources come from, as first run (train checks them)
        update_manifest(run_dir, corpus={d.doc_id: d.sha256 for d in s.retriever.store.documents()})
    try:
        loop_counts = asyncio.run(run_loop(s, pending, run_dir, show_progress, selected))
    finally:
        s.shutdown()
        s.retriever.close()
    records, failed = collect(run_dir, [r.id for r in selected])
    counts = {"questions": len(selected), "rejected_rows": len(rejected), "records": len(records),
              "failed": len(failed)}
    extra = {}
    if config.retrieval.rewrite:  # the whole run's records; the calls' outcomes are this invocation's, like usage
        counts["rewritten_queries"] = sum(r.search_query not in (None, r.question) for r in records)
        extra["query_rewrite"] = loop_counts["query_rewrite"]
    if s.drafter is not None:
        extra["drafter"] = s.drafter.describe()
    status = "finished" if not failed and not loop_counts["stopped"] else "incomplete"
    counts = save_outputs(run_dir, config, constitution, records, counts, extra.get("drafter"))
    update_manifest(run_dir, status=status, counts=counts, usage=loop_counts["usage"],
                    stop_reason=loop_counts["stopped"], **extra)
    if failed and not records:
        summary = every_question_failed(run_dir, failed)
        if all((r.error or "").startswith(INTERNAL_ERROR) for r in failed):
            raise RuntimeError(summary)  # the same fault on every question is a bug: exit 1, not a user error
        raise UserError(summary)


def every_question_failed(run_dir: Path, failed: list[Record]) -> str:
    """The summary a run with no record at all ends with (exit 2, the run marked failed)."""
    errors = Counter(" ".join((r.error or "unknown error").split())[:300] for r in failed)
    common, n = errors.most_common(1)[0]
    return (f"{run_dir}: every question failed ({len(failed)} of {len(failed)}); {n} with: {common}"
            + (f" ({len(errors) - 1} other error(s) in failed.jsonl)" if len(errors) > 1 else "")
            + f"; fix the cause, then continue with `cai generate {run_dir}/config.yaml --resume {run_dir}`")


def check_teacher_reachable(config: GenerateConfig) -> None:
    """An openai teacher none of whose endpoints accepts a connection is a UserError naming each
    endpoint and why (refused, unknown host, silent), before any question is tried: otherwise every
    question fails after its retries and the run says only that it timed out."""
    if config.teacher.backend != "openai":
        return
    from cai.core.reach import probe

    timeout = min(config.teacher.timeout_s, 10.0)
    problems = [(i, ep.base_url, probe(ep.base_url, timeout)) for i, ep in enumerate(config.teacher.endpoints)]
    if all(why is not None for _, _, why in problems):
        raise UserError([f"teacher.endpoints[{i}].base_url: {url}: cannot connect: {why}; no run was started"
                         for i, url, why in problems])


def dry_run(config: GenerateConfig, n: int, echo=print) -> None:
    """Run `n` questions in memory — no run directory — and print prompts and token counts."""
    import tempfile

    rows, rejected = load_questions(config.questions)
    for line in rejected:
        echo(f"rejected: {line}")
    if config.drafter is not None:
        check_drafter(config.drafter)
    with tempfile.TemporaryDirectory() as tmp:
        s = setup(config, Path(tmp))
        try:
            # One event loop for all rows: the teacher's HTTP client belongs to the loop it first ran on.
            asyncio.run(_dry_rows(s, rows[:n], echo))
        finally:
            s.shutdown()
            s.retriever.close()


async def _dry_rows(s: Setup, rows: list[QuestionRow], echo) -> None:
    from cai.core.prompts import critique_messages, policy_messages
    from cai.llm.tokens import estimate_tokens, prompt_counter

    config = s.config
    try:
        # the teacher's tokenizer when it is known (offline), else a labelled estimate (cai/llm/tokens.py)
        counter = prompt_counter(config.teacher, getattr(s.teacher, "chat", None))
        for row in rows:
            query = (await s.rewriter.rewrite(row.question)).query if s.rewriter is not None else None
            sources = await s.cpu.search(query or row.question, row.metadata.get("filters"))
            hits = sources.hits
            drafted = (await s.drafter.drafts([(row.question, hits)]))[0] if s.drafter is not None else None
            if isinstance(drafted, UserError):
                raise drafted
            rules = select_rules(s.constitution, row, hits, config, 1)
            draft = drafted.text if drafted is not None else row.answer or "(teacher draft)"
            critique_prompt = critique_messages(row.question, hits, draft, rules)
            echo(f"=== {row.id}: {row.question}")
            if query is not None:
                echo(f"search query: {query}")
            echo(f"sources: {', '.join(str(h.locator) for h in hits)}")
            echo(f"--- critique prompt ({counter.label(critique_prompt)})\n{critique_prompt[1]['content']}")
            echo(f"--- policy prompt (≈{estimate_tokens(policy_messages(row.question, hits))} tokens, estimate: "
                 "the policy's tokenizer is chosen by `cai train`)")
            if drafted is not None:
                echo(f"--- policy draft ({s.drafter.identity['model']})\n{drafted.text}")
            record = await process(s, row, sources, query, drafted)
            for rnd in record.rounds:
                echo(f"--- round {rnd.critique.round}: {len(rnd.critique.violations)} violation(s): "
                     + ", ".join(sorted({v.rule_id for v in rnd.critique.violations})))
            echo(f"--- final answer\n{record.final_answer}")
    finally:
        for close in s.closers:
            await close()
