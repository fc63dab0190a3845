"""`cai eval`: faithfulness of one or more targets on held-out questions, side by side.

A **target** answers every question: the grounded teacher (`kind: grounded`, no model), a policy
(`policy` and/or a LoRA `adapter` from `cai train`; base vs SFT vs PPO share one loaded base
model) or an answers file (JSONL of `{id, answer}` joined to the questions by id). Every target
sees the same sources: the top-`k` chunks retrieved once per question, checked against their full
pages by the configured fail-closed checker.

Read top to bottom: **setup** (questions, answers files, checker, run dir), the **loop** (retrieve
once per question, then per target: answer → measure → one row appended to `answers.jsonl`), then
**save** (metrics computed from the rows, `metrics.json`, `table.md`, PNG plots, manifest).

Each answer is measured twice. The **policy answer** is what the target wrote (the raw answer):
it tells whether training made the policy itself more faithful. The **delivered answer** is that
answer after `rewards.verify.verify_answer` (unsupported claims removed, citations fixed): what `cai
answer` would serve. Delivered claims are supported by construction, so only abstention and
length are reported for it.

Metrics, per target (a `Rate` is num/den, `None` when den is 0; sums run over the target's rows):

* **claim support rate** = supported claims / all claims of the policy answers, pooled over
  answers. A claim is a sentence `rewards.claims` classifies as `claim` (abstentions, filler and
  framing are not claims); `unverified` counts as not supported.
* **supported answer rate** = answers all of whose claims are supported / answers with ≥ 1 claim.
* **citation precision** = precise citations / all citations; **citation recall** = claims whose
  citations support them / all claims: ALCE (`rewards.citations`) per answer, counts pooled
  over answers. An uncited claim has recall 0; a citation of a page outside the sources is never
  precise.
* **correct abstention rate** = answers that abstain / questions labelled unanswerable;
  **false abstention rate** = answers that abstain / answerable questions. An answer *abstains*
  when it says the sources do not give the answer (a sentence of kind `abstention`, e.g. "The
  sources do not state …") or asserts no claim at all. A question is unanswerable when its
  `metadata.tags` contains `unanswerable` or `metadata.answerable` is false.
* **mean words** = mean number of words per answer: whitespace-separated tokens holding a letter
  or digit, counted after the inline `[DOC p.N]` citations are removed.
* **correct answer rate**, **claim relevance rate** and the answers on which **support and
  correctness disagree**: where questions carry gold (`metadata.gold` evidence quotes, a
  `metadata.gold_answer`, the `unanswerable` tag), see `cai.stages.eval_gold`. The delivered answer
  is what `cai answer` serves (`rewards.relevance.deliver`: unsupported and off-question claims
  removed), so its correctness is reported too.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from cai.core.configs import EvalConfig, EvalTarget
from cai.core.contracts import SourcePage, Sources, Verdict
from cai.core.errors import UserError
from cai.core.jsonrows import RowRejected, parse_row
from cai.core.runs import (
    JsonlWriter,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    read_jsonl,
    run_guard,
    start_run,
    update_manifest,
)
from cai.stages.eval_gold import (
    correct_counts,
    disagreements,
    judged,
    relevance_counts,
    relevance_of,
    render_disagreements,
)
from rewards.checker import open_checker
from rewards.correctness import DEFAULT_TOLERANCE, Gold, GoldError, abstains, is_answerable, read_gold

if TYPE_CHECKING:  # annotations only: these load heavy libraries
    from cai.training.policy import Policy
    from rag.retrieve import Retriever
    from rewards.checker import Checker

UNANSWERABLE_TAG = "unanswerable"  # the convention of `rewards.correctness.is_answerable`
ANSWER_FIELDS = ("answer", "final_answer")  # final_answer: a `cai generate` records.jsonl
_CITATION_GROUP = re.compile(r"\[[^\[\]]*\bp\.\d+[^\[\]]*\]")
Echo = Callable[[str], None]


# ----------------------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answerable: bool
    gold: Gold | None = None
    filters: dict | None = None  # the row's `metadata.filters`: the filings its retrieval is scoped to


def _line_numbers(path: Path) -> dict[str, int]:
    """Question id → its line in the questions file (for located errors)."""
    lines = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, start=1):
            try:
                obj = parse_row(line)
            except (json.JSONDecodeError, RowRejected):
                continue
            if isinstance(obj, dict) and isinstance(obj.get("id"), str):
                lines.setdefault(obj["id"], n)
    return lines


def load_eval_questions(config: EvalConfig) -> tuple[list[Question], list[Question], list[str]]:
    """(selected questions, all questions, rejected-row messages); no valid question, or a malformed gold
    field (`rewards.correctness.read_gold`) → UserError naming the file, line and field."""
    from cai.core.questions import load_questions

    rows, rejected = load_questions(config.questions)
    if not rows:
        raise UserError(f"{config.questions}: no valid questions"
                        + (f" ({rejected[0]})" if rejected else " (the file is empty)"))
    everything = []
    for r in rows:
        try:
            gold = read_gold(r.metadata)
        except GoldError as e:
            raise UserError(f"{config.questions}:{_line_numbers(config.questions).get(r.id, '?')}: {e}") from None
        everything.append(Question(r.id, r.question, is_answerable(r.metadata), gold, r.metadata.get("filters")))
    return everything[: config.limit] if config.limit else everything, everything, rejected


@dataclass
class AnswersFile:
    """An answers file read leniently: bad lines are counted and reported, never fatal."""

    path: Path
    answers: dict[str, str] = field(default_factory=dict)
    bad_lines: list[str] = field(default_factory=list)
    unknown_ids: list[str] = field(default_factory=list)


def _answer_of(obj: Any) -> tuple[str | None, str | None, str | None]:
    """(id, answer, why the row is bad)."""
    if not isinstance(obj, dict):
        return None, None, "not a JSON object"
    qid = obj.get("id")
    if not isinstance(qid, str | int) or isinstance(qid, bool) or str(qid) == "":
        return None, None, "id: missing or not a string"
    answer = next((obj[k] for k in ANSWER_FIELDS if k in obj), None)
    if not isinstance(answer, str):
        return str(qid), None, "answer: missing or not a string"
    return str(qid), answer, None


def load_answers(path: Path, known_ids: set[str]) -> AnswersFile:
    """Rows `{id, answer}` of `path`; ids not among `known_ids` are kept aside as unknown."""
    out = AnswersFile(Path(path))
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                qid, answer, why = _answer_of(parse_row(line))
            except json.JSONDecodeError as e:
                qid, answer, why = None, None, f"invalid JSON: {e.msg}"
            except RowRejected as e:
                qid, answer, why = None, None, str(e)
            if why is None and qid in out.answers:
                why = f"id: duplicate id {qid!r} (the first row is used)"
            if why is not None:
                out.bad_lines.append(f"{path}:{n}: {why}")
            elif qid not in known_ids:
                out.unknown_ids.append(qid)
            else:
                out.answers[qid] = answer
    return out


# ---------------------------------------------------------------------------------------- measure
def answer_words(text: str) -> int:
    """Words of `text`: whitespace-separated tokens with a letter or digit, inline [DOC p.N]
    citations removed first (so "2024 [d p.3]." is one word, not two)."""
    return sum(any(ch.isalnum() for ch in token) for token in _CITATION_GROUP.sub(" ", text).split())


def _claim_row(v, relevance: dict) -> dict:
    loc = v.evidence.locator if v.evidence else None
    return {"text": v.text, "verdict": v.verdict.value, "score": round(v.score, 4), "citations": v.citations,
            "evidence": str(loc) if loc else None, "quote": v.evidence.quote if v.evidence else None,
            "reason": v.reason, **relevance}


def measure(question: str, raw: str, pages: Sequence[SourcePage], checker, *, citations: bool = True,
            gold: Gold | None = None, lookup=None, tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """Every per-answer count the metrics need, for the policy answer and the delivered one. `gold`:
    the question's gold (correctness); `lookup(doc, page)`: full gold pages (e.g. the index's)."""
    from rewards.citations import citation_metrics
    from rewards.relevance import deliver

    verdicts = checker.check(question, raw, list(pages)) if raw.strip() else []
    cited = None
    if citations:
        c = (citation_metrics(checker, question, raw, pages) if verdicts
             else {"precision": 0.0, "recall": 0.0, "n_claims": 0, "n_citations": 0})
        # citation_metrics returns rates of integer counts; the counts come back exactly. Recall keeps
        # its own denominator: its claim split can differ from the checker's by a claim (37/36 > 1).
        cited = {"citations": c["n_citations"], "precise_citations": round(c["precision"] * c["n_citations"]),
                 "recalled_claims": round(c["recall"] * c["n_claims"]), "citation_claims": c["n_claims"]}
    verified = deliver(question, raw, pages, checker=checker).verification
    relevance = relevance_of(question, verdicts, pages)
    policy = {"claims": len(verdicts), "supported": sum(v.verdict == Verdict.supported for v in verdicts),
              "unverified": sum(v.verdict == Verdict.unverified for v in verdicts),
              **(cited or {"citations": None, "precise_citations": None, "recalled_claims": None,
                           "citation_claims": None}),
              "abstained": abstains(raw), "words": answer_words(raw), "relevant": sum(r["relevant"] for r in relevance),
              **judged(question, raw, gold, checker, sources=pages, lookup=lookup, tolerance=tolerance)}
    delivered = {"claims": len(verified.claims), "abstained": abstains(verified.answer),
                 "words": answer_words(verified.answer),
                 **judged(question, verified.answer, gold, checker, sources=pages, lookup=lookup, tolerance=tolerance)}
    return {"raw_answer": raw, "answer": verified.answer, "raw": policy, "delivered": delivered,
            "claims": [_claim_row(v, r) for v, r in zip(verdicts, relevance, strict=True)]}


# ---------------------------------------------------------------------------------------- metrics
class Rate(NamedTuple):
    num: int
    den: int

    @property
    def value(self) -> float | None:
        return self.num / self.den if self.den else None

    def as_dict(self) -> dict:
        return {"value": None if self.value is None else round(self.value, 4), "num": self.num, "den": self.den}


def claim_support(rows: Sequence[dict]) -> Rate:
    return Rate(sum(r["raw"]["supported"] for r in rows), sum(r["raw"]["claims"] for r in rows))


def answer_support(rows: Sequence[dict]) -> Rate:
    with_claims = [r["raw"] for r in rows if r["raw"]["claims"] > 0]
    return Rate(sum(m["supported"] == m["claims"] for m in with_claims), len(with_claims))


def citation_precision(rows: Sequence[dict]) -> Rate | None:
    measured = [r["raw"] for r in rows if r["raw"]["citations"] is not None]
    return (Rate(sum(m["precise_citations"] for m in measured), sum(m["citations"] for m in measured))
            if measured else None)


def citation_recall(rows: Sequence[dict]) -> Rate | None:
    measured = [r["raw"] for r in rows if r["raw"]["citations"] is not None]
    claims = sum(m.get("citation_claims", m["claims"]) for m in measured)  # rows written before it was kept
    return Rate(sum(m["recalled_claims"] for m in measured), claims) if measured else None


def correct_abstention(rows: Sequence[dict], side: str = "raw") -> Rate:
    unanswerable = [r for r in rows if not r["answerable"]]
    return Rate(sum(r[side]["abstained"] for r in unanswerable), len(unanswerable))


def false_abstention(rows: Sequence[dict], side: str = "raw") -> Rate:
    answerable = [r for r in rows if r["answerable"]]
    return Rate(sum(r[side]["abstained"] for r in answerable), len(answerable))


def mean_words(rows: Sequence[dict], side: str = "raw") -> float | None:
    return sum(r[side]["words"] for r in rows) / len(rows) if rows else None


def target_metrics(rows: Sequence[dict]) -> dict:
    """The metrics of one target's rows (see the module docstring)."""
    def rate(r: Rate | None) -> dict | None:
        return r.as_dict() if r is not None else None

    def words(side: str) -> float | None:
        m = mean_words(rows, side)
        return None if m is None else round(m, 2)

    return {
        "answers": len(rows),
        "answerable": sum(r["answerable"] for r in rows),
        "unanswerable": sum(not r["answerable"] for r in rows),
        "raw": {
            "claim_support_rate": rate(claim_support(rows)),
            "unverified_claims": sum(r["raw"]["unverified"] for r in rows),
            "supported_answer_rate": rate(answer_support(rows)),
            "citation_precision": rate(citation_precision(rows)),
            "citation_recall": rate(citation_recall(rows)),
            "correct_abstention_rate": rate(correct_abstention(rows, "raw")),
            "false_abstention_rate": rate(false_abstention(rows, "raw")),
            "correct_rate": rate(Rate(*correct_counts(rows, "raw"))),
            "claim_relevance_rate": rate(Rate(*relevance_counts(rows))),
            "mean_words": words("raw"),
        },
        "delivered": {
            "correct_abstention_rate": rate(correct_abstention(rows, "delivered")),
            "false_abstention_rate": rate(false_abstention(rows, "delivered")),
            "correct_rate": rate(Rate(*correct_counts(rows, "delivered"))),
            "mean_words": words("delivered"),
        },
        "disagreements": disagreements(rows),
    }


# ------------------------------------------------------------------------------------------ setup
@dataclass(frozen=True)
class Setup:
    """What every target is measured with, opened once by `run` before the run directory exists."""

    config: EvalConfig
    questions: list[Question]
    answer_files: dict[str, AnswersFile]  # target name → its answers file
    checker: Checker
    retriever: Retriever
    echo: Echo
    policies: dict[str, Policy] = field(default_factory=dict)  # policy id → loaded Policy (adapters swap)
    tolerance: float = DEFAULT_TOLERANCE  # relative tolerance of figures against a gold answer


def read_inputs(config: EvalConfig, echo: Echo) -> tuple[list[Question], dict[str, AnswersFile], list[str]]:
    """Questions and answers files, checked before a run directory exists."""
    from cai.training.policy import read_adapter

    selected, everything, rejected = load_eval_questions(config)
    for line in rejected[:20]:
        echo(f"warning: rejected question row: {line}")
    known, wanted = {q.id for q in everything}, {q.id for q in selected}
    files = {}
    for t in config.targets:
        if t.adapter is not None:
            read_adapter(t.adapter)
        if t.answers is None:
            continue
        f = files[t.name] = load_answers(t.answers, known)
        if not wanted & f.answers.keys():
            why = f"; {len(f.bad_lines)} bad line(s), first: {f.bad_lines[0]}" if f.bad_lines else ""
            raise UserError(f"target '{t.name}': {t.answers} answers none of the {len(selected)} selected questions "
                            f"(rows are {{\"id\", \"answer\"}} with ids from {config.questions}){why}")
        missing = sorted(wanted - f.answers.keys())
        for what, items in (("bad line(s)", f.bad_lines), ("unknown id(s)", f.unknown_ids),
                            ("selected question(s) without an answer", missing)):
            if items:
                echo(f"warning: target '{t.name}': {len(items)} {what}: "
                     f"{', '.join(items[:5])}{' …' if len(items) > 5 else ''}")
    return selected, files, rejected


# ------------------------------------------------------------------------------------------- loop
def policy_for(s: Setup, target: EvalTarget):
    """A loaded policy with the target's adapter active; targets naming the same `policy` share it."""
    from cai.training.policy import open_policy

    if target.policy is not None and target.policy in s.policies:
        policy = s.policies[target.policy]
        policy.use_adapter(target.adapter)
        return policy
    policy = open_policy(target.policy, target.adapter, max_new_tokens=s.config.max_new_tokens,
                         warn=lambda m: s.echo(f"warning: {m}"))
    if target.policy is not None:
        s.policies[target.policy] = policy
    return policy


def answerer(s: Setup, target: EvalTarget) -> tuple[Callable[[Question, Sources], str | None], dict]:
    """(question, sources) → the target's raw answer (None: the answers file has none), and who answers."""
    if target.kind == "grounded":
        from cai.teachers.grounded import GroundedTeacher

        teacher = GroundedTeacher(s.retriever.store.page, s.checker)
        return lambda q, sources: asyncio.run(teacher.draft(q.question, sources)).text, {"kind": "grounded"}
    if target.kind == "answers":
        answers = s.answer_files[target.name].answers
        return lambda q, sources: answers.get(q.id), {"kind": "answers", "path": str(target.answers)}
    from transformers import set_seed

    set_seed(s.config.seed)
    policy = policy_for(s, target)
    return lambda q, sources: policy.generate(q.question, sources.hits), policy.described().model_dump(mode="json")


def retrieve_all(s: Setup) -> dict[str, Sources]:
    """Sources per question, retrieved once: every target is measured against the same pages."""
    from rag.quotes import gather_sources

    return {q.id: gather_sources(s.retriever.search(q.question, k=s.config.k, filters=q.filters),
                                 s.retriever.store.page)
            for q in s.questions}


def run_target(s: Setup, target: EvalTarget, sources: dict[str, Sources], writer: JsonlWriter,
               advance: Callable[[], None]) -> dict:
    """Answer and measure every question for one target; each row appended as it is done."""
    answer, answered_by = answerer(s, target)
    missing = []

    def lookup(doc: str, page: int) -> SourcePage | None:  # gold evidence: its full page in the index
        found = s.retriever.store.page(doc, page)
        return SourcePage(doc_id=doc, page=page, text=found.text) if found is not None else None

    for q in s.questions:
        pages = sources[q.id].pages
        raw = answer(q, sources[q.id])
        if raw is None:
            missing.append(q.id)
        else:
            measured = measure(q.question, raw, pages, s.checker, citations=s.config.citations, gold=q.gold,
                               lookup=lookup, tolerance=s.tolerance)
            writer.write({"target": target.name, "id": q.id, "question": q.question, "answerable": q.answerable,
                          "sources": [f"{p.doc_id} p.{p.page}" for p in pages], **measured})
        advance()
    return {"answered_by": answered_by, "missing_ids": missing}


def run_loop(s: Setup, run_dir: Path, show_progress: bool) -> dict[str, dict]:
    """Every target over every question; returns what each target's metrics need beside its rows."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    info = {}
    sources = retrieve_all(s)
    columns = [TextColumn("eval {task.fields[target]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with JsonlWriter(run_dir / "answers.jsonl") as writer, \
            Progress(*columns, disable=not show_progress, transient=True) as bar:
        for target in s.config.targets:
            task = bar.add_task("eval", total=len(s.questions), target=target.name)
            started = time.perf_counter()
            info[target.name] = run_target(s, target, sources, writer, lambda task=task: bar.update(task, advance=1))
            info[target.name]["seconds"] = round(time.perf_counter() - started, 2)
            s.echo(f"{target.name}: {len(s.questions)} question(s) in {info[target.name]['seconds']} s")
    return info


# ------------------------------------------------------------------------------------------- save
def read_rows(run_dir: Path, targets: Sequence[EvalTarget]) -> dict[str, list[dict]]:
    """answers.jsonl grouped by target, in config order."""
    rows: dict[str, list[dict]] = {t.name: [] for t in targets}
    for _, row in read_jsonl(run_dir / "answers.jsonl"):
        rows.setdefault(row["target"], []).append(row)
    return rows


def collect_metrics(s: Setup, rows: dict[str, list[dict]], info: dict[str, dict]) -> dict:
    """metrics.json's content, computed from the rows of answers.jsonl."""
    targets = {}
    for t in s.config.targets:
        f = s.answer_files.get(t.name)
        targets[t.name] = {"kind": t.kind, **info[t.name], **target_metrics(rows[t.name]),
                           "bad_lines": f.bad_lines if f else [], "unknown_ids": f.unknown_ids if f else []}
    return {"questions": len(s.questions), "checker": s.config.checker, "k": s.config.k, "gold_tolerance": s.tolerance,
            "unanswerable_label": f"metadata.tags contains '{UNANSWERABLE_TAG}' or metadata.answerable is false",
            "words": "whitespace-separated tokens with a letter or digit, inline [DOC p.N] citations removed",
            "targets": targets}


COLUMNS = [  # (header, side, metric key)
    ("claim support", "raw", "claim_support_rate"),
    ("supported answers", "raw", "supported_answer_rate"),
    ("correct", "raw", "correct_rate"),
    ("claim relevance", "raw", "claim_relevance_rate"),
    ("citation precision", "raw", "citation_precision"),
    ("citation recall", "raw", "citation_recall"),
    ("correct abstention", "raw", "correct_abstention_rate"),
    ("false abstention", "raw", "false_abstention_rate"),
    ("mean words", "raw", "mean_words"),
    ("delivered: correct abstention", "delivered", "correct_abstention_rate"),
    ("delivered: false abstention", "delivered", "false_abstention_rate"),
    ("delivered: correct", "delivered", "correct_rate"),
    ("delivered: mean words", "delivered", "mean_words"),
]


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, dict):
        shown = "n/a" if value["value"] is None else f"{value['value']:.3f}"
        return f"{shown} ({value['num']}/{value['den']})"
    return f"{value:.1f}"


def render_table(metrics: dict) -> str:
    """The comparison table (markdown): one row per target, rates as value (num/den)."""
    head = ["target", "kind", "answers", *(c[0] for c in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    for name, m in metrics["targets"].items():
        cells = [name, m["kind"], str(m["answers"]), *(_cell(m[side].get(key)) for _, side, key in COLUMNS)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Rates are value (num/den), of each answer as written (the policy's own output) unless marked",
              "delivered (after verification removed unsupported claims). "
              "Definitions: the cai.stages.eval and cai.stages.eval_gold module docstrings."]
    table = "\n".join(lines) + "\n"
    disagreeing = render_disagreements(metrics)
    return table + ("\n" + disagreeing if disagreeing else "")


def _save_png(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    atomic_write_bytes(path, buf.getvalue())


def plot_rates(metrics: dict, path: Path) -> None:
    """Grouped bars: each rate of the policy answers (and delivered abstention), one bar per target."""
    from matplotlib.figure import Figure

    cols = [c for c in COLUMNS if c[2] != "mean_words"]
    names = list(metrics["targets"])
    fig = Figure(figsize=(max(7.0, 1.3 * len(cols)), 4.2), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        values = [(metrics["targets"][name][side][key] or {}).get("value") for _, side, key in cols]
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(cols))]
        bars = ax.bar(xs, [float("nan") if v is None else v for v in values], width, label=name)
        ax.bar_label(bars, labels=["n/a" if v is None else f"{v:.2f}" for v in values], fontsize=7, padding=1)
    ax.set_xticks(range(len(cols)), [c[0].replace(": ", ":\n").replace(" ", "\n", 1) for c in cols], fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("rate")
    ax.set_title(f"cai eval: {metrics['questions']} question(s), checker {metrics['checker']}")
    ax.legend(fontsize=8, loc="upper right")
    _save_png(fig, path)


def plot_lengths(rows: dict[str, list[dict]], path: Path) -> None:
    """Histograms of answer length in words: the policy answer and the delivered answer, per target."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    for n, (side, title) in enumerate((("raw", "answer as written"), ("delivered", "delivered answer (verified)"))):
        ax = fig.add_subplot(1, 2, n + 1)
        data = [[r[side]["words"] for r in target_rows] for target_rows in rows.values()]
        if any(data):
            ax.hist([d or [0] for d in data], bins=10, label=list(rows), histtype="bar")
        ax.set_title(title)
        ax.set_xlabel("words (inline citations excluded)")
        ax.set_ylabel("answers")
        ax.legend(fontsize=8)
    _save_png(fig, path)


def save(s: Setup, run_dir: Path, info: dict[str, dict]) -> dict:
    """metrics.json, table.md, rates.png, lengths.png; returns the metrics."""
    rows = read_rows(run_dir, s.config.targets)  # what was written is what is measured
    metrics = collect_metrics(s, rows, info)
    atomic_write_json(run_dir / "metrics.json", metrics)
    atomic_write_text(run_dir / "table.md", render_table(metrics))
    plot_rates(metrics, run_dir / "rates.png")
    plot_lengths(rows, run_dir / "lengths.png")
    return metrics


def run(config: EvalConfig, *, show_progress: bool = False, echo: Echo = print,
        tolerance: float = DEFAULT_TOLERANCE) -> Path:
    """Evaluate every target; returns the run directory. `tolerance`: relative tolerance of figures
    against a gold answer (`rewards.correctness`)."""
    from rag.retrieve import Retriever

    questions, files, rejected = read_inputs(config, echo)
    checker = open_checker(config.checker)
    retriever = Retriever.open(config.index)
    try:
        return _run(Setup(config, questions, files, checker, retriever, echo, tolerance=tolerance), rejected,
                    show_progress)
    finally:
        retriever.close()


def _run(s: Setup, rejected: list[str], show_progress: bool) -> Path:
    config, questions = s.config, s.questions
    run_dir = start_run("eval", config)
    with run_guard(run_dir):  # a failure marks the run failed with the reason
        update_manifest(run_dir, counts={"questions": len(questions), "rejected_rows": len(rejected),
                                         "targets": len(config.targets)}, rejected_rows=rejected[:200])
        info = run_loop(s, run_dir, show_progress)
        metrics = save(s, run_dir, info)
        update_manifest(run_dir, status="finished",
                        counts={"rows": sum(m["answers"] for m in metrics["targets"].values())},
                        outputs=["answers.jsonl", "metrics.json", "table.md", "rates.png", "lengths.png"])
    return run_dir
