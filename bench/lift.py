"""The faithfulness lift of a real small model, measured leave-company-out (issue #18, part 4).

SmolLM2-135M-Instruct (the built-in `smollm2-135m`) before training (base), after SFT on the grounded
teacher's revisions of its own drafts (sft), and after PPO on the hybrid reward (ppo; DPO and GRPO
behind `--rl`), on FinanceBench dev questions of companies it was never trained on, with retrieval
from one index over the 42 dev filings.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 nice -n 10 python bench/lift.py --fold 0 --seeds 0,1 --synth 16
    HF_HUB_OFFLINE=1 python bench/lift.py --fold 0 --seeds 0,1 --synth 16 --report-only   # tables again
    ... --stop-after generate          # only the training data (look at it before training)
    ... --rl dpo,grpo --train-override ppo.steps=100   # more RL runs; any train.yaml key, e.g. on a GPU

Protocol:
- Questions: the FinanceBench dev rows whose filing is in the index (the other rows name filings the
  index lacks and are skipped, counted in the results). Their companies are dealt into K folds
  (default 3, seed 0) by `bench/retrieval_lco.company_folds`, the function of the retrieval LCO bench,
  so fold 0 holds the same companies there and here.
- Training data (`--fold` held out): the other folds' questions, plus `--synth` questions written from
  the training companies' own filings by `rag.rerank_synth` (line-item questions, "What was X's total
  net sales in FY2017?", a seeded sample; InPars-style synthesis, Bonifacio et al. 2022). `cai
  generate` (bench/lift/generate.yaml): SmolLM2 drafts each answer on-policy, the offline grounded
  teacher critiques and revises it (Constitutional AI's critique-revise loop, Bai et al. 2022, §3.1):
  SFT data and preference pairs. The drafts are greedy and the teacher deterministic: one generate run
  serves every seed.
- Training, per seed: `cai train` (bench/lift/train.yaml) sft -> reward -> ppo (PPO with a critic,
  Schulman et al. 2017, on the hybrid reward: preference model + claim support + ALCE citation F1 -
  rule penalties); `--rl dpo,grpo` adds a run with stages [sft, dpo] (Rafailov et al. 2023) and one
  with [sft, reward, grpo] (Shao et al. 2024) per seed.
- Evaluation: `cai eval` (bench/lift/eval.yaml, `--tolerance 0.025`) on the held fold's questions
  (gold answer in `metadata.gold_answer`) and unanswerable questions: the dev rows of companies with no
  filing in the index at all, and the quickstart's fictional companies (examples/quickstart/
  unanswerable.jsonl). Base (and the grounded teacher, for reference) once: greedy decoding makes them
  seed-independent; sft and ppo once per seed. Metrics from `cai.stages.eval.target_metrics` over the
  answers (module docstring of cai/stages/eval.py): claim support, ALCE citation precision and recall
  (Gao et al. 2023), correctness against the gold answer (figures within 2.5%, else the checker against
  the gold text), correct abstention on the unanswerable questions, false abstention, mean words. The
  headline is the held-out answerable questions; the unanswerable ones give the abstention rates.
- Spread: each metric's mean over the seeds and its half range ((max - min) / 2), with every seed's value.

Every stage is a `cai` subprocess, the command a user runs, logged with its wall-clock. Resumable: a
stage whose run directory finished with the same config hash and questions file is skipped; an
unfinished generate or train run is resumed with `--resume`; an unfinished eval run is started again.
Work files live under --work (never in the repo), one folder per (fold, sizes); the results are
written to bench/results/lift.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DATA = ROOT.parent / "shared" / "data" / "financebench-dev"  # beside the repo, never copied in
INDEX = Path("/tmp/cai-bench/financebench-dev-index")
WORK = Path("/tmp/cai-bench/lift")
CONFIGS = ROOT / "bench" / "lift"
FICTIONAL = ROOT / "examples" / "quickstart" / "unanswerable.jsonl"
RESULTS = ROOT / "bench" / "results" / "lift.json"
# A row label that is a column header ("For the fiscal year ended December"), not a line item.
_PERIOD_WORDS = re.compile(r"\b(?:year|years|ended|months|fiscal|quarter|january|february|march|april|may|june|july"
                           r"|august|september|october|november|december)\b", re.IGNORECASE)
TOLERANCE = 0.025  # the "numbers within 2.5%"
POLICY = "smollm2-135m"
# (label, metrics.json side, key) of the metrics; rates are read as their value.
METRICS = [
    ("claim support", "raw", "claim_support_rate"),
    ("supported answers", "raw", "supported_answer_rate"),
    ("citation precision", "raw", "citation_precision"),
    ("citation recall", "raw", "citation_recall"),
    ("correct", "raw", "correct_rate"),
    ("false abstention", "raw", "false_abstention_rate"),
    ("mean words", "raw", "mean_words"),
    ("delivered: correct", "delivered", "correct_rate"),
]
ABSTENTION = [("correct abstention", "raw", "correct_abstention_rate"),
              ("delivered: correct abstention", "delivered", "correct_abstention_rate"),
              ("mean words", "raw", "mean_words")]


# ------------------------------------------------------------------------------------ pure helpers
def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def write_jsonl(path: Path, rows: Sequence[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def fold_split(rows: Sequence[dict], k: int, seed: int, fold: int) -> tuple[list[list[str]], list[dict], list[dict]]:
    """(the company folds, the training rows, the held fold's rows): companies dealt by
    `retrieval_lco.company_folds`, so the folds match the retrieval LCO bench's."""
    from retrieval_lco import company_folds

    folds = company_folds([r["company"] for r in rows], k, seed)
    if not 0 <= fold < k:
        raise ValueError(f"--fold must be in 0..{k - 1}, got {fold}")
    held = set(folds[fold])
    return folds, [r for r in rows if r["company"] not in held], [r for r in rows if r["company"] in held]


def split_by_index(rows: Sequence[dict], docs: set[str]) -> tuple[list[dict], list[dict], list[dict]]:
    """(rows whose filing is indexed, rows of companies with no indexed filing at all: unanswerable
    from this index, rows whose filing is missing but whose company has another one: skipped, as a
    neighbouring year's filing may state the figure)."""
    indexed = [r for r in rows if r["doc_name"] in docs]
    companies = {r["company"] for r in indexed}
    absent = [r for r in rows if r["doc_name"] not in docs and r["company"] not in companies]
    skipped = [r for r in rows if r["doc_name"] not in docs and r["company"] in companies]
    return indexed, absent, skipped


def question_row(r: dict, *, gold: bool = True) -> dict:
    """A FinanceBench row as a `cai` question: the gold answer in metadata (eval judges it)."""
    meta = {"company": r["company"], "doc_name": r["doc_name"], "question_type": r.get("question_type")}
    if gold:
        meta["gold_answer"] = r["gold_answer"]
    return {"id": r["id"], "question": r["question"], "metadata": meta}


def unanswerable_rows(absent: Sequence[dict], fictional: Sequence[dict]) -> list[dict]:
    """Questions this index cannot answer, tagged so `cai eval` counts an abstention as right."""
    out = [{"id": f"absent-{r['id']}", "question": r["question"],
            "metadata": {"tags": ["unanswerable", "company_not_indexed"], "company": r["company"]}} for r in absent]
    out += [{"id": f"fictional-{r['id']}", "question": r["question"],
             "metadata": {"tags": ["unanswerable", "fictional_company"]}} for r in fictional]
    return out


def rate_value(m: dict | float | None) -> float | None:
    """A metrics.json entry as a number: a rate's value, a mean as is."""
    return m.get("value") if isinstance(m, dict) else m


def flat(metrics: dict, columns: Sequence[tuple[str, str, str]]) -> dict[str, float | None]:
    """{label: value} of one target's metrics (`cai.stages.eval.target_metrics`)."""
    return {label: rate_value(metrics[side].get(key)) for label, side, key in columns}


def aggregate(values: Sequence[float | None]) -> dict:
    """Mean and half range over seeds (None values left out), with every seed's value."""
    seen = [v for v in values if v is not None]
    if not seen:
        return {"mean": None, "spread": None, "values": list(values)}
    return {"mean": round(sum(seen) / len(seen), 4), "spread": round((max(seen) - min(seen)) / 2, 4),
            "values": list(values)}


def aggregate_targets(per_seed: Sequence[dict[str, dict[str, float | None]]]) -> dict[str, dict[str, dict]]:
    """[{target: {metric: value}}] per seed -> {target: {metric: aggregate}}."""
    targets = dict.fromkeys(t for seed in per_seed for t in seed)
    out = {}
    for t in targets:
        labels = dict.fromkeys(m for seed in per_seed for m in seed.get(t, {}))
        out[t] = {m: aggregate([seed[t].get(m) for seed in per_seed if t in seed]) for m in labels}
    return out


def cell(a: dict) -> str:
    if a["mean"] is None:
        return "n/a"
    fmt = "{:.1f}" if abs(a["mean"]) >= 2 else "{:.3f}"
    return fmt.format(a["mean"]) + (f" ± {fmt.format(a['spread'])}" if len(a["values"]) > 1 else "")


def table(agg: dict[str, dict[str, dict]], labels: Sequence[str]) -> str:
    """Markdown: one row per metric, one column per target, mean ± half range over the seeds."""
    names = list(agg)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for m in labels:
        lines.append(f"| {m} | " + " | ".join(cell(agg[t][m]) if m in agg[t] else "" for t in names) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ stages
class Runner:
    """Runs `cai` stages as subprocesses in one runs folder; skips finished runs, logs commands."""

    def __init__(self, runs_dir: Path, threads: int | None, report_only: bool = False):
        self.runs_dir, self.report_only = runs_dir, report_only
        self.times_file = runs_dir.parent / "stage_times.json"  # wall-clock of every attempt, kept across resumes
        self.times = json.loads(self.times_file.read_text()) if self.times_file.is_file() else {}
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        if threads:
            self.env["OMP_NUM_THREADS"] = str(threads)
        exe = Path(sys.executable).parent / "cai"
        self.cai = [str(exe)] if exe.exists() else [sys.executable, "-m", "cai.cli"]
        self.log: list[dict] = []

    def runs(self, name: str) -> list[tuple[Path, dict]]:
        """This name's run directories (newest first) with their manifests."""
        out = []
        for d in sorted(self.runs_dir.glob(f"{name}-2*"), reverse=True):  # <run_name>-<timestamp>
            try:
                out.append((d, json.loads((d / "manifest.json").read_text())))
            except (OSError, ValueError):
                continue
        return out

    def stage(self, name: str, kind: str, config: Path, overrides: list[str], options: Sequence[str] = (), *,
              resumable: bool = True) -> Path:
        """The finished run `name` made with this very config, else run (or resume) `cai kind config
        options overrides` until it finishes. A run of another config (sizes, steps, seed changed in
        bench/lift/*.yaml) is never reused: the config hash and the questions' sha256 must match."""
        overrides = [*overrides, f"runs_dir={self.runs_dir}", f"run_name={name}"]
        runs = [(d, m) for d, m in self.runs(name) if self.same_config(m, kind, config, overrides)]
        done = next((d for d, m in runs if m.get("status") == "finished"), None)
        if done is not None:
            print(f"[lift] {name}: finished earlier ({done})", flush=True)
            self.log.append({"stage": name, "reused": True, "run_dir": str(done), **self.times.get(name, {}),
                             **self._timing(done)})
            return done
        if self.report_only:
            raise SystemExit(f"[lift] --report-only: {name} has no finished run in {self.runs_dir}")
        argv = [kind, str(config), *options, *overrides]
        if resumable and runs:  # the same config as the killed run (its config.yaml), as `cai` asks
            argv = [kind, str(runs[0][0] / "config.yaml"), "--resume", str(runs[0][0])]
        command = " ".join(["cai", *argv])
        print(f"[lift] {name}: {command}", flush=True)
        started, load = time.perf_counter(), os.getloadavg()
        proc = subprocess.run([*self.cai, *argv], env=self.env, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        seconds = round(time.perf_counter() - started, 1)
        if proc.returncode != 0:  # the time spent still counts: a resumed run continues from it
            self.times.setdefault(name, {}).setdefault("failed_attempts", []).append(
                {"command": command, "seconds": seconds, "exit": proc.returncode})
            self.times_file.write_text(json.dumps(self.times, indent=2) + "\n")
            raise SystemExit(f"[lift] {name} failed (exit {proc.returncode}): {command}\n{proc.stdout[-2000:]}")
        run_dir = Path(proc.stdout.strip().splitlines()[-1])
        print(f"[lift] {name}: {seconds} s -> {run_dir}", flush=True)
        earlier = self.times.get(name, {})
        self.times[name] = {"command": earlier.get("command", command), "seconds": seconds + earlier.get("seconds", 0),
                            "attempts": [*earlier.get("attempts", []), {"command": command, "seconds": seconds}],
                            "load_avg_start": earlier.get("load_avg_start", [round(x, 2) for x in load]),
                            "load_avg_end": [round(x, 2) for x in os.getloadavg()]}
        self.times_file.write_text(json.dumps(self.times, indent=2) + "\n")
        self.log.append({"stage": name, "run_dir": str(run_dir), **self.times[name], **self._timing(run_dir)})
        return run_dir

    @staticmethod
    def same_config(manifest: dict, kind: str, config: Path, overrides: list[str]) -> bool:
        """Whether a run's manifest records the config `cai kind config overrides` would run, and
        the same questions file content (generate and eval read it by path)."""
        import hashlib

        from cai.core.configs import load_config
        from cai.core.runs import config_hash

        cfg = load_config(config, overrides, stage=kind, check_paths=False)
        questions = getattr(cfg, "questions", None)
        recorded = manifest.get("inputs", {}).get("questions", {}).get("sha256")
        if questions is not None and recorded != hashlib.sha256(Path(questions).read_bytes()).hexdigest():
            return False
        return manifest.get("config_hash") == config_hash(cfg)

    @staticmethod
    def _timing(run_dir: Path) -> dict:
        """What the run itself recorded: train's per-stage seconds, eval's per-target seconds."""
        m = json.loads((run_dir / "manifest.json").read_text())
        out: dict = {"created_at": m.get("created_at"), "updated_at": m.get("updated_at")}
        if m.get("stages"):
            out["train_stages"] = m["stages"]
        if (run_dir / "metrics.json").is_file():
            targets = json.loads((run_dir / "metrics.json").read_text())["targets"]
            out["eval_seconds"] = {t: v.get("seconds") for t, v in targets.items()}
        if m.get("counts"):
            out["counts"] = m["counts"]
        return out


def synth_questions(index: Path, companies: set[str], doc_company: dict[str, str], n: int, seed: int) -> list[dict]:
    """`n` line-item questions from the training companies' filings (`rag.rerank_synth`), a seeded
    sample of the ones phrased as questions."""
    from rag.rerank_synth import _company, synthesize_queries
    from rag.retrieve import Retriever

    if n <= 0:
        return []
    retriever = Retriever.open(index, rerank=False)
    try:
        store, docs = retriever.store, [d for d in retriever.documents if doc_company.get(d.doc_id) in companies]
        pages = []
        for doc in docs:
            kinds = store.page_kinds((doc.doc_id, p) for p in range(1, doc.n_pages + 1))
            for number in range(1, doc.n_pages + 1):
                page = store.page(doc.doc_id, number)
                if page is not None and page.text.strip():
                    pages.append((doc.doc_id, number, page.text, kinds.get((doc.doc_id, number), "other")))
        queries = [q for q in synthesize_queries(docs, pages, seed=seed)
                   if q.kind == "row" and q.text.endswith("?") and not _PERIOD_WORDS.search(q.anchor)]
        # The filer's name as FinanceBench writes it ("Best Buy"), not as the synthesizer reads the
        # cover ("Best BUY": short all-caps words may be acronyms, so it keeps them).
        filer = {d.doc_id: _company(d) for d in docs}
    finally:
        retriever.close()
    picked = sorted(random.Random(seed).sample(queries, min(n, len(queries))), key=lambda q: (q.doc_id, q.page))
    return [{"id": f"synth-{q.doc_id}-p{q.page}-{i}",
             "question": q.text.replace(filer[q.doc_id], doc_company[q.doc_id]),
             "metadata": {"company": doc_company[q.doc_id], "doc_name": q.doc_id, "synthesized_from_page": q.page,
                          "anchor": q.anchor}} for i, q in enumerate(picked)]


def write_questions(args, work: Path) -> dict:
    """The training and evaluation questions files of this fold; what went into them."""
    rows = load_jsonl(DATA / "questions.jsonl")
    docs = {d["doc_id"] for d in json.loads((args.index / "manifest.json").read_text())["documents"]}
    indexed, absent, skipped = split_by_index(rows, docs)
    folds, train, held = fold_split(indexed, args.folds, args.fold_seed, args.fold)
    train, held = train[: args.train_limit or None], held[: args.eval_limit or None]
    doc_company = {r["doc_name"]: r["company"] for r in rows}
    synth = synth_questions(args.index, {r["company"] for r in train}, doc_company, args.synth, args.synth_seed)
    fictional = load_jsonl(FICTIONAL) if args.fictional else []
    unanswerable = unanswerable_rows(absent, fictional)[: args.unanswerable_limit or None]
    write_jsonl(work / "train.jsonl", [question_row(r, gold=False) for r in train] + synth)
    write_jsonl(work / "eval.jsonl", [question_row(r) for r in held] + unanswerable)
    return {"folds": folds, "held_out_companies": folds[args.fold], "indexed_questions": len(indexed),
            "train_questions": len(train), "synthesized_questions": len(synth), "eval_questions": len(held),
            "unanswerable_questions": len(unanswerable),
            "unanswerable_by_kind": {"company_not_indexed": len(absent), "fictional_company": len(fictional)},
            "filing_not_indexed": len(skipped) + len(absent),
            "skipped_filing_not_indexed": sorted(r["id"] for r in skipped),
            "unanswerable_company_not_indexed": sorted(f"{r['id']} ({r['company']})" for r in absent),
            "train_file": str(work / "train.jsonl"),
            "eval_file": str(work / "eval.jsonl"), "synthesized_examples": [s["question"] for s in synth[:5]]}


def train_overrides(rl: str, data: Path, seed: int) -> list[str]:
    stages = {"ppo": "[sft,reward,ppo]", "dpo": "[sft,dpo]", "grpo": "[sft,reward,grpo]"}[rl]
    return [f"data={data}", f"seed={seed}", f"stages={stages}"]


def eval_overrides(work: Path, index: Path, targets: list[dict]) -> list[str]:
    flow = "[" + ", ".join("{" + ", ".join(f"{k}: {v}" for k, v in t.items()) + "}" for t in targets) + "]"
    return [f"questions={work / 'eval.jsonl'}", f"index={index}", f"targets={flow}"]


def run_all(args, work: Path, runner: Runner) -> dict:
    """generate once, then per seed: train (ppo, and --rl extras) and eval; base eval once."""
    gen = runner.stage("lift-generate", "generate", CONFIGS / "generate.yaml",
                       [f"questions={work / 'train.jsonl'}", f"index={args.index}"])
    if args.stop_after == "generate":
        raise SystemExit(f"[lift] --stop-after generate: {gen}")
    tolerance = ["--tolerance", str(TOLERANCE)]

    def evaluate(name: str, targets: list[dict]) -> Path:  # an unfinished eval starts again: no --resume
        return runner.stage(name, "eval", CONFIGS / "eval.yaml", eval_overrides(work, args.index, targets), tolerance,
                            resumable=False)

    base = evaluate("lift-eval-base", [{"name": "base", "policy": POLICY}, {"name": "grounded", "kind": "grounded"}])
    if args.stop_after == "base":
        raise SystemExit(f"[lift] --stop-after base: {base}")
    seeds = {}
    for seed in args.seeds:
        trained = {rl: runner.stage(f"lift-train-{rl}-s{seed}", "train", CONFIGS / "train.yaml",
                                    [*train_overrides(rl, gen, seed), *args.train_override])
                   for rl in ["ppo", *args.rl]}
        main = evaluate(f"lift-eval-s{seed}", [
            {"name": "sft", "policy": POLICY, "adapter": trained["ppo"] / "sft" / "adapter"},
            {"name": "ppo", "policy": POLICY, "adapter": trained["ppo"] / "adapter"}])
        extra = {rl: str(evaluate(f"lift-eval-{rl}-s{seed}", [{"name": rl, "policy": POLICY,
                                                                "adapter": trained[rl] / "adapter"}]))
                 for rl in args.rl}
        seeds[seed] = {"train": {rl: str(run) for rl, run in trained.items()}, "eval": str(main), "eval_extra": extra}
    return {"generate": str(gen), "eval_base": str(base), "seeds": seeds}


# ------------------------------------------------------------------------------------------ report
def eval_rows(run_dir: Path) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for row in load_jsonl(run_dir / "answers.jsonl"):
        rows.setdefault(row["target"], []).append(row)
    return rows


def split_metrics(rows: dict[str, list[dict]]) -> dict[str, dict]:
    """Per target: the metrics of the held-out answerable questions and of the unanswerable ones."""
    from cai.stages.eval import target_metrics

    out = {}
    for target, target_rows in rows.items():
        answerable = [r for r in target_rows if r["answerable"]]
        unanswerable = [r for r in target_rows if not r["answerable"]]
        out[target] = {"held_out": target_metrics(answerable), "unanswerable": target_metrics(unanswerable)}
    return out


def ppo_curve(train_run: Path) -> list[dict]:
    """PPO's per-step training numbers (reward parts, KL, length): how far the few CPU steps got."""
    path = train_run / "ppo" / "metrics.jsonl"
    keep = ("step", "reward/raw", "reward/support", "reward/citation", "reward/pm", "reward/rule_penalty", "kl/k1",
            "response/length", "response/eos_rate", "time/step_s")
    return [{k: r[k] for k in keep if k in r} for r in load_jsonl(path)] if path.is_file() else []


def same_answers(a: Sequence[dict], b: Sequence[dict]) -> int:
    """Questions both targets answered word for word alike: how far a stage moved the policy."""
    answers = {r["id"]: r["raw_answer"] for r in a}
    return sum(answers.get(r["id"]) == r["raw_answer"] for r in b)


def report(runs: dict, seeds: Sequence[int]) -> dict:
    """Per-seed and aggregated metrics of every target (base and grounded repeated for each seed)."""
    base = split_metrics(eval_rows(Path(runs["eval_base"])))
    base_rows = eval_rows(Path(runs["eval_base"]))["base"]
    per_seed, per_seed_full, unchanged = {"held_out": [], "unanswerable": []}, {}, {}
    for seed in seeds:
        rows = eval_rows(Path(runs["seeds"][seed]["eval"]))
        for extra in runs["seeds"][seed].get("eval_extra", {}).values():
            rows.update(eval_rows(Path(extra)))
        unchanged[seed] = {"sft_as_base": same_answers(base_rows, rows["sft"]),
                           **{f"{t}_as_sft": same_answers(rows["sft"], rows[t]) for t in rows if t != "sft"},
                           "of": len(base_rows)}
        measured = {**base, **split_metrics(rows)}
        per_seed_full[seed] = measured
        per_seed["held_out"].append({t: flat(m["held_out"], METRICS) for t, m in measured.items()})
        per_seed["unanswerable"].append({t: flat(m["unanswerable"], ABSTENTION) for t, m in measured.items()})
    counts = {t: {"held_out": m["held_out"]["answers"], "unanswerable": m["unanswerable"]["answers"]}
              for t, m in per_seed_full[seeds[0]].items()}
    curves = {seed: ppo_curve(Path(runs["seeds"][seed]["train"]["ppo"])) for seed in seeds}
    return {"held_out": aggregate_targets(per_seed["held_out"]),
            "unanswerable": aggregate_targets(per_seed["unanswerable"]), "answers": counts,
            "identical_answers": unchanged, "ppo_curves": curves, "per_seed": per_seed_full}


def acceptance(agg: dict) -> dict:
    """The issue's acceptance, checked on the means over seeds."""
    def mean(t: str, m: str) -> float | None:
        return agg.get(t, {}).get(m, {}).get("mean")

    base, ppo = mean("base", "claim support"), mean("ppo", "claim support")
    return {"ppo_support": ppo, "base_support": base,
            "ppo_support_at_least_2x_base": None if None in (base, ppo) else ppo >= 2 * base,
            "ppo_support_at_least_0.8": None if ppo is None else ppo >= 0.8,
            "ppo_citation_recall_at_least_0.7": None if mean("ppo", "citation recall") is None
            else mean("ppo", "citation recall") >= 0.7,
            "ppo_correct_not_below_base": None if None in (mean("ppo", "correct"), mean("base", "correct"))
            else mean("ppo", "correct") >= mean("base", "correct")}


def markdown(result: dict) -> str:
    r = result["results"]
    q = result["questions"]
    lines = [f"Fold {result['fold']} of {result['folds_k']} (seed {result['fold_seed']}), held out: "
             f"{', '.join(q['held_out_companies'])}; seeds {result['seeds']}. Training: {q['train_questions']} dev "
             f"questions + {q['synthesized_questions']} synthesized; eval: {q['eval_questions']} held-out "
             f"answerable + {q['unanswerable_questions']} unanswerable.", "",
             "Held-out companies' questions (mean ± half range over seeds):", "",
             table(r["held_out"], [m for m, _, _ in METRICS]), "",
             "Unanswerable questions:", "", table(r["unanswerable"], [m for m, _, _ in ABSTENTION]), "",
             "Wall-clock per stage:", "", "| stage | seconds | inside |", "|---|---:|---|"]
    for s in result["stages"]:
        inside = ", ".join(f"{k} {v.get('seconds')}" for k, v in s.get("train_stages", {}).items()) or \
            ", ".join(f"{k} {v}" for k, v in s.get("eval_seconds", {}).items())
        lines.append(f"| {s['stage']} | {s.get('seconds', 'n/a')} | {inside} |")
    lines += ["", "Acceptance (means): " + json.dumps(result["acceptance"])]
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------- main
def machine() -> dict:
    git = lambda *a: subprocess.run(["git", "-C", str(ROOT), *a],  # noqa: E731
                                    capture_output=True, text=True).stdout.strip()
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "nice": os.nice(0),
            "load_avg": [round(x, 2) for x in os.getloadavg()], "git_sha": git("rev-parse", "--short", "HEAD"),
            "uncommitted_files": len(git("status", "--porcelain").splitlines())}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ints = lambda s: [int(x) for x in s.split(",") if x.strip()]  # noqa: E731
    ap.add_argument("--fold", type=int, default=0, help="the held-out fold")
    ap.add_argument("--folds", type=int, default=3, help="K company folds")
    ap.add_argument("--fold-seed", type=int, default=0, help="seed of the company deal (as bench/retrieval_lco.py)")
    ap.add_argument("--seeds", type=ints, default=[0, 1], help="training seeds, e.g. 0,1")
    ap.add_argument("--synth", type=int, default=0, help="synthesized training questions (rag.rerank_synth)")
    ap.add_argument("--synth-seed", type=int, default=0)
    ap.add_argument("--train-limit", type=int, default=0, help="first N training questions only (0: all)")
    ap.add_argument("--eval-limit", type=int, default=0, help="first N held-out questions only (0: all)")
    ap.add_argument("--unanswerable-limit", type=int, default=0, help="first N unanswerable questions (0: all)")
    ap.add_argument("--no-fictional", dest="fictional", action="store_false",
                    help="leave out the quickstart's fictional-company questions")
    ap.add_argument("--rl", type=lambda s: [x for x in s.split(",") if x], default=[],
                    help="extra RL runs per seed beside ppo: dpo, grpo")
    ap.add_argument("--train-override", action="append", default=[], metavar="KEY=VALUE",
                    help="passed to every `cai train` (e.g. ppo.steps=100 on a GPU); part of the run's config hash")
    ap.add_argument("--index", type=Path, default=INDEX)
    ap.add_argument("--work", type=Path, default=WORK, help="parent of the per-(fold, sizes) work folders")
    ap.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the cai stages")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--label", default=None, help="store under this key of --out (default: fold<F>)")
    ap.add_argument("--report-only", action="store_true", help="no stage runs: only finished runs are read")
    ap.add_argument("--stop-after", choices=["generate", "base"], default=None,
                    help="stop after the generate run, or after the base eval (e.g. to look at the data first)")
    args = ap.parse_args(argv)
    if bad := set(args.rl) - {"dpo", "grpo"}:
        ap.error(f"--rl takes dpo and/or grpo, not {', '.join(sorted(bad))}")
    return args


def work_dir(args) -> Path:
    """One folder per fold and sizes: a finished run is only ever reused for the same questions."""
    return args.work / (f"fold{args.fold}of{args.folds}-s{args.fold_seed}-t{args.train_limit}-e{args.eval_limit}"
                        f"-u{args.unanswerable_limit}-synth{args.synth}.{args.synth_seed}"
                        f"{'' if args.fictional else '-nofict'}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    work = work_dir(args)
    work.mkdir(parents=True, exist_ok=True)
    before, started = machine(), time.perf_counter()
    questions = write_questions(args, work)
    print(f"[lift] {work}: {json.dumps({k: v for k, v in questions.items() if 'skipped' not in k})}", flush=True)
    runner = Runner(work / "runs", args.threads, args.report_only)
    runs = run_all(args, work, runner)
    results = report(runs, args.seeds)
    result = {"fold": args.fold, "folds_k": args.folds, "fold_seed": args.fold_seed, "seeds": args.seeds,
              "rl": ["ppo", *args.rl], "synth_seed": args.synth_seed, "tolerance": TOLERANCE, "index": str(args.index),
              "work": str(work), "questions": questions, "runs": runs, "stages": runner.log,
              "stage_seconds_sum": round(sum(s.get("seconds", 0) for s in runner.log), 1),
              "this_invocation_seconds": round(time.perf_counter() - started, 1), "machine": before,
              "load_avg_end": [round(x, 2) for x in os.getloadavg()],
              "acceptance": acceptance(results["held_out"]), "results": results}
    out = json.loads(args.out.read_text()) if args.out.exists() else {}
    key = args.label or f"fold{args.fold}"
    if args.report_only and key in out:  # re-read: the machine and load are the run's, not this call's
        result.update({k: out[key][k] for k in ("machine", "load_avg_end") if k in out[key]})
    out[key] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(markdown(result))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
