"""The `cai` command line. Its command names and options are a contract (documented in README.md
and docs/architecture.md).

Exit codes: 0 success, 2 user error (one line per problem, no traceback), 1 internal error.
`cai --verbose ...` shows tracebacks. Heavy libraries (torch, TRL, faiss) are imported inside the
commands that need them, so `cai --help` and validation stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from cai.cli.base import CaiGroup, config_epilog, quiet_model_loading, quiet_optional_extras
from cai.core.errors import UserError


@click.group(name="cai", cls=CaiGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="cai", prog_name="cai")
def cli(verbose: bool) -> None:
    """cai: constitution-driven critique-revise data, hybrid rewards and evidence-linked answers.

    \b
    Typical flow:
      cai ingest examples/corpus --index runs/index
      cai generate examples/quickstart/generate.yaml
      cai train examples/quickstart/train.yaml
    """
    quiet_optional_extras()


# ------------------------------------------------------------------------------------------ sources
@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--index", "index_dir", required=True, type=click.Path(path_type=Path),
              help="Index directory (created if missing).")
@click.option("--embed-model", default=None,
              help="sentence-transformers model id or path (default: the offline MiniLM).")
@click.option("--remove-missing", is_flag=True, help="Remove documents from the index whose files are no longer given.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def ingest(paths: tuple[Path, ...], index_dir: Path, embed_model: str | None, remove_missing: bool,
           quiet: bool) -> None:
    """Ingest PDF/HTML/TXT/MD files or folders into an index: pages, sentences, chunks, embeddings."""
    from rag.ingest import ingest as run_ingest

    quiet_model_loading()
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UserError(f"not found: {', '.join(missing)} (give files or folders to ingest)")
    report = run_ingest(list(paths), index_dir, embed_model=embed_model, remove_missing=remove_missing,
                        progress=not quiet)
    for issue in report.issues:
        click.echo(f"{issue.status}: {issue.path}: {issue.reason}")
    click.echo(report.summary())
    if not report.ingested_anything:
        raise UserError(f"nothing was ingested into {index_dir}: every input was skipped (reasons above)")


@cli.command()
@click.option("--index", "index_dir", required=True, type=click.Path(path_type=Path),
              help="Index directory built by `cai ingest`.")
@click.argument("query")
@click.option("-k", default=5, show_default=True, type=click.IntRange(1, 1000), help="Number of hits.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list of {doc_id, page, score, text, locator, chunk_id, why}.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "bm25"]), default="hybrid", show_default=True,
              help="Retrieval mode.")
@click.option("--no-route", is_flag=True, help="Do not steer the query to documents it names.")
@click.option("--no-rerank", is_flag=True, help="Do not re-rank with the index's re-ranker (`cai retriever train`).")
@click.option("--filter", "filters", multiple=True, metavar="KEY=VALUE",
              help="Filter: doc_id, company, fiscal_year, form, or kind (page kinds, e.g. "
                   "kind=balance_sheet,cash_flow; see rag/page_kinds.py) (repeatable).")
def search(index_dir: Path, query: str, k: int, as_json: bool, mode: str, no_route: bool, no_rerank: bool,
           filters: tuple[str, ...]) -> None:
    """Search an index; prints hits with their locators and why each ranked.

    why: the route (routed to the hit's filing or not, and by which name the question used), the
    page kind, the fused score's parts (rank in each dense, BM25 and page-kind list; RRF score) and,
    when the index has a re-ranker (`cai retriever train`), its score; the hits are then in the order
    of the re-ranker fused with the first stage.
    """
    from rag.explain import search_explained
    from rag.retrieve import Retriever

    quiet_model_loading()
    parsed = {}
    for f in filters:
        key, sep, value = f.partition("=")
        if not sep:
            raise UserError(f"--filter {f!r}: expected KEY=VALUE, e.g. --filter fiscal_year=2023")
        parsed[key] = int(value) if key == "fiscal_year" and value.isdigit() else value
    hits = search_explained(Retriever.open(index_dir, rerank=not no_rerank), query, k=k, mode=mode,
                            filters=parsed or None, route=not no_route)
    if as_json:
        click.echo(json.dumps([h.as_json() for h in hits], ensure_ascii=False, indent=2))
        return
    for rank, explained in enumerate(hits, 1):
        h, why = explained.hit, explained.why
        text = " ".join(h.text.split())
        route = (f"routed ({why.route.matched_name})" if why.route.routed
                 else "not routed" if why.route.confidence == "none" else "outside the route")
        ranks = ", ".join(f"{c.list}{'@route' if c.scope == 'routed' else ''} #{c.rank}" for c in why.components)
        fused = f"; rrf {why.rrf_score:.4f}" if why.rrf_score is not None else ""
        fused += f"; re-ranker {why.reranker_score:.3f}" if why.reranker_score is not None else ""
        click.echo(f"{rank}. [{h.locator}] score={h.score:.4f}\n   why: {route}; {why.page_kind}; "
                   f"{ranks or 'no list rank'}{fused}\n   {text[:300]}{'…' if len(text) > 300 else ''}")


def _page_retriever(index_dir: Path):
    """question → the full pages of its top hits (checkers index locators into page text)."""
    from rag.quotes import gather_sources
    from rag.retrieve import Retriever

    retriever = Retriever.open(index_dir)
    return lambda question: gather_sources(retriever.search(question, k=5), retriever.store.page).pages


# ------------------------------------------------------------------------------------- constitution
@cli.group()
def constitution() -> None:
    """Validate and inspect constitution files."""


@constitution.command("validate")
@click.argument("files", nargs=-1, required=True)
def constitution_validate(files: tuple[str, ...]) -> None:
    """Validate constitution files (and their parents); report every error at once."""
    from cai.core.constitution import validate_files

    errors = validate_files(list(files))
    if errors:
        raise UserError(errors)
    click.echo(f"ok: {len(files)} constitution file(s) valid")


@constitution.command("show")
@click.argument("name_or_file")
@click.option("--json", "as_json", is_flag=True, help="Print the resolved constitution as JSON.")
def constitution_show(name_or_file: str, as_json: bool) -> None:
    """Print the resolved rules (after `extends`) with where each comes from."""
    from cai.core.constitution import load_constitution

    c = load_constitution(name_or_file)
    if as_json:
        click.echo(json.dumps({**c.model_dump(mode="json"), "sha256": c.content_hash()}, indent=2, ensure_ascii=False))
        return
    click.echo(f"{c.name} v{c.version}  ({' → '.join(c.chain)})  sha256 {c.content_hash()[:16]}")
    click.echo(" ".join(c.description.split()))
    click.echo(f"\nrules ({len(c.rules)}):")
    for r in c.rules:
        checks = ", ".join(r.checks.enabled()) or "none"
        click.echo(f"- {r.id}  [{r.severity}, weight {r.weight:g}]  from {r.origin}")
        click.echo(f"    principle: {' '.join(r.principle.split())}")
        click.echo(f"    checks: {checks}" + (f"; examples: {len(r.examples)}" if r.examples else ""))
    click.echo(f"\ncomparison principles ({len(c.comparison_principles)}):")
    for p in c.comparison_principles:
        click.echo(f"- {p.id} (weight {p.weight:g}) from {p.origin}: {' '.join(p.principle.split())}")


# ------------------------------------------------------------------------------------------- config
@cli.group()
def config() -> None:
    """Validate stage configs and print documented templates."""


@config.command("validate")
@click.argument("config_file", type=click.Path(path_type=Path))
@click.argument("overrides", nargs=-1)
@click.option("--stage", type=click.Choice(["generate", "train", "eval"]), default=None,
              help="Stage (default: the file's `stage:` key, else inferred).")
def config_validate(config_file: Path, overrides: tuple[str, ...], stage: str | None) -> None:
    """Validate a stage config (with optional key=value overrides); report every error at once."""
    from cai.core.configs import load_config

    cfg = load_config(config_file, list(overrides), stage=stage)
    click.echo(f"ok: {config_file} is a valid '{cfg.stage}' config")


@config.command("template")
@click.argument("stage", type=click.Choice(["generate", "train", "eval"]))
def config_template(stage: str) -> None:
    """Print a documented YAML config for STAGE (every key, its default and description)."""
    from cai.core.configs import render_template

    click.echo(render_template(stage), nl=False)


# ------------------------------------------------------------------------------------------- stages
def _load_stage_config(stage: str, config_file: Path, overrides: tuple[str, ...]):
    from cai.core.configs import load_config

    return load_config(config_file, list(overrides), stage=stage)


@cli.command(epilog=config_epilog("generate"))
@click.argument("config_file", metavar="CONFIG.yaml", type=click.Path(path_type=Path))
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--resume", type=click.Path(path_type=Path), default=None, help="Continue a killed run in RUN_DIR.")
@click.option("--dry-run", type=click.IntRange(1), default=None, metavar="N",
              help="Run N questions without writing a run; print prompts and token counts.")
def generate(config_file: Path, overrides: tuple[str, ...], resume: Path | None, dry_run: int | None) -> None:
    """Critique and revise drafts against retrieved sources under a constitution.

    Prints the run directory as the last line of stdout.
    """
    from cai.stages import generate as stage

    cfg = _load_stage_config("generate", config_file, overrides)
    quiet_model_loading()
    if dry_run is not None:
        stage.dry_run(cfg, dry_run, echo=click.echo)
        return
    run_dir = stage.run(cfg, resume=resume, show_progress=sys.stderr.isatty())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    c = manifest["counts"]
    click.echo(f"{manifest['status']}: {c['records']} records, {c['failed']} failed, "
               f"{c['rejected_rows']} rejected rows; sft {c['sft']}, preferences {c['preferences']}; "
               f"claim support {c['draft_support_rate']} → {c['final_support_rate']}")
    if manifest.get("stop_reason") or c["failed"]:
        why = manifest.get("stop_reason") or f"{c['failed']} question(s) failed (see failed.jsonl)"
        click.echo(f"incomplete: {why}; continue with `cai generate {run_dir}/config.yaml --resume {run_dir}`")
    click.echo(str(run_dir))


@cli.command()
@click.argument("input_file", metavar="INPUT.jsonl", type=click.Path(path_type=Path))
@click.option("--index", "index_dir", type=click.Path(path_type=Path), default=None,
              help="Retrieve sources for rows without inline sources.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output JSONL (default: stdout).")
@click.option("--checker", default="offline", show_default=True, help="offline | nli | teacher.")
def score(input_file: Path, index_dir: Path | None, out: Path | None, checker: str) -> None:
    """Check each answer's claims against its sources; one verdict per row and per claim.

    Rows: {"id", "question"?, "answer", "sources"?: [{"doc_id", "page", "text"}]}; rows without
    sources are retrieved from --index. A bad row gets an output row with "error" and "line" (and
    its reason on stderr); the others are scored. Exit 0 when any row was scored.

    --out is replaced atomically once every row is scored, and only then: an input with no
    scorable row, an interrupted run or a crash leaves an existing --out as it was. --out may
    not be the input file (exit 2): the scores would replace the rows they came from.
    """
    from cai.core.runs import atomic_write_text
    from rewards.checker import open_checker
    from rewards.score import score_rows

    if not input_file.is_file():
        raise UserError(f"{input_file}: file not found")
    if out is not None and out.is_dir():
        raise UserError(f"--out {out}: is a directory; give a file name such as {out / 'scores.jsonl'}")
    if out is not None and (out.resolve() == input_file.resolve() or (out.exists() and out.samefile(input_file))):
        raise UserError(f"--out {out}: is the input file; write the scores to a different file")
    with open(input_file, "rb") as f:
        lines = f.readlines()  # all of it before anything is written; rows are decoded one by one
    if not any(line.strip() for line in lines):
        raise UserError(f"{input_file}: no rows (the file is empty)" + (f"; {out} left unchanged" if out else ""))
    quiet_model_loading()
    scorer = open_checker(checker, setting="--checker")
    retrieve = _page_retriever(index_dir) if index_dir else None
    shown_errors = 20  # reasons printed on stderr; every error row also carries its reason in the output
    scored = errors = 0
    out_lines: list[str] = []
    for row in score_rows(lines, checker=scorer, retrieve=retrieve):
        line = json.dumps(row, ensure_ascii=False)
        out_lines.append(line) if out else click.echo(line)
        if row.get("error"):
            errors += 1
            if errors <= shown_errors:
                click.echo(f"rejected: {input_file}:{row.get('line')}: {row['error']}", err=True)
        else:
            scored += 1
    if errors > shown_errors:
        click.echo(f"rejected: {errors - shown_errors} more row(s); each error row in the output has its "
                   "\"error\" and \"line\"", err=True)
    click.echo(f"scored {scored} row(s), {errors} error row(s)", err=True)
    if scored == 0:
        raise UserError(f"{input_file}: no row could be scored" + (f"; {out} left unchanged" if out else ""))
    if out:
        atomic_write_text(out, "".join(line + "\n" for line in out_lines))


@cli.command(epilog=config_epilog("train"))
@click.argument("config_file", metavar="CONFIG.yaml", type=click.Path(path_type=Path))
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--resume", type=click.Path(path_type=Path), default=None,
              help="Continue from the last checkpoint of RUN_DIR.")
def train(config_file: Path, overrides: tuple[str, ...], resume: Path | None) -> None:
    """Train a policy on a generate run: SFT → preference model → PPO (or DPO/GRPO/RLOO).

    Writes one LoRA adapter for the base model (RUN_DIR/adapter, with the constitution, data run
    and base model in cai_adapter.json). Prints the run directory as the last line of stdout.
    Several processes:
    `accelerate launch [--config_file examples/accelerate/X.yaml] -m cai.cli train ...`.
    """
    cfg = _load_stage_config("train", config_file, overrides)
    quiet_model_loading()
    from cai.stages import train as stage

    # Under `accelerate launch` every process runs this command: only the main one reports.
    main_process = os.environ.get("RANK", "0") == "0"

    def echo(line: str) -> None:
        if main_process:
            click.echo(line, err=True)

    run_dir = stage.run(cfg, resume=resume, show_progress=sys.stderr.isatty() and main_process, echo=echo)
    if not main_process:
        return
    manifest = json.loads((run_dir / "manifest.json").read_text())
    if manifest.get("adapter"):
        adapter = manifest["adapter"]
        click.echo(f"adapter: {adapter} (serve it with `cai answer --index DIR --adapter {adapter} QUESTION`)")
    click.echo(str(run_dir))


@cli.command()
@click.option("--index", "index_dir", required=True, type=click.Path(path_type=Path),
              help="Index directory built by `cai ingest`.")
@click.option("--policy", default=None, help="HF model id or path (default: the grounded teacher).")
@click.option("--adapter", type=click.Path(path_type=Path), default=None,
              help="LoRA adapter directory from `cai train`.")
@click.option("--json", "as_json", is_flag=True, help="Print claims with locators, quotes, verdicts and scores.")
@click.option("--checker", default="offline", show_default=True, help="offline | nli | teacher.")
@click.option("-k", default=5, show_default=True, type=click.IntRange(1, 100), help="Retrieved chunks.")
@click.option("--remove-unsupported/--mark-unsupported", "remove_unsupported", default=True, show_default=True,
              help="Remove unsupported/unverified claims, or deliver them with a visible [UNSUPPORTED] marker.")
@click.option("--max-new-tokens", default=256, show_default=True, type=click.IntRange(1),
              help="Policy decoding budget (greedy).")
@click.option("--constitution", default=None, help="Also report this constitution's machine checks on the answer.")
@click.argument("question")
def answer(index_dir: Path, policy: str | None, adapter: Path | None, as_json: bool, checker: str, k: int,
           remove_unsupported: bool, max_new_tokens: int, constitution: str | None, question: str) -> None:
    """Answer a question from the index; every claim verified and cited before delivery.

    Without --policy/--adapter the grounded teacher answers (extractive, no weights). With
    --adapter alone, the base model is read from the adapter's adapter_config.json.
    """
    from cai.stages.answer import answer_command

    quiet_model_loading()
    click.echo(answer_command(index_dir, question, policy=policy, adapter=adapter, checker=checker, k=k,
                              on_unsupported="remove" if remove_unsupported else "mark", max_new_tokens=max_new_tokens,
                              constitution=constitution, as_json=as_json,
                              warn=lambda m: click.echo(f"warning: {m}", err=True)))


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output HTML (default: RUN_DIR/report.html).")
def audit(run_dir: Path, out: Path | None) -> None:
    """Write a self-contained HTML audit report of a generate run.

    RUN_DIR is the directory `cai generate` printed (or a JSONL file of records). Prints the
    report's path as the last line of stdout.
    """
    from cai.stages.audit import write_report

    result = write_report(run_dir, out)
    click.echo(result.line())
    click.echo(str(result.path))


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Bind address. Anything but 127.0.0.1 / localhost / ::1 needs a token (see --token-env).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free port).")
@click.option("--token-env", default="CAI_REVIEW_TOKEN", show_default=True, metavar="NAME",
              help="Environment variable holding the access token; when it is set, every request must carry the token.")
@click.option("--export", "export_dir", type=click.Path(path_type=Path), default=None, metavar="OUT_DIR",
              help="Do not serve: write the reviewed data as a new generate run in OUT_DIR "
                   "(for `cai train data=OUT_DIR`).")
def review(run_dir: Path, host: str, port: int, token_env: str, export_dir: Path | None) -> None:
    """Serve the reviewer UI for a generate run (decisions stored in RUN_DIR/review.sqlite).

    Reviewers accept, reject or flag each claim of the final answers (the AI verdict is pre-filled);
    the agreement page shows Cohen's kappa per rule between reviewers and against the AI. With
    --export, writes a new generate run (human preference pairs, labels.jsonl) and prints its path
    as the last line of stdout.
    """
    from cai.stages import review as stage
    from cai.stages.review_web import serve

    if export_dir is not None:
        out, line = stage.export_command(run_dir, export_dir)
        click.echo(line)
        click.echo(str(out))
        return
    serve(run_dir, host=host, port=port, token=stage.read_token(token_env), token_env=token_env, echo=click.echo)


@cli.command("eval", epilog=config_epilog("eval"))
@click.argument("config_file", metavar="CONFIG.yaml", type=click.Path(path_type=Path))
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--tolerance", default=0.01, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Relative tolerance of an answer's figures against a question's metadata.gold_answer.")
def eval_(config_file: Path, overrides: tuple[str, ...], tolerance: float) -> None:
    """Measure the faithfulness and correctness of policies or answer files on held-out questions.

    Correctness is judged where questions carry gold (metadata.gold quotes, metadata.gold_answer, the
    unanswerable tag). Writes answers.jsonl, metrics.json, table.md and PNG plots; prints the
    comparison table, then the run directory as the last line of stdout.
    """
    cfg = _load_stage_config("eval", config_file, overrides)
    quiet_model_loading()
    from cai.stages import eval as stage

    run_dir = stage.run(cfg, show_progress=sys.stderr.isatty(), echo=lambda line: click.echo(line, err=True),
                        tolerance=tolerance)
    click.echo((run_dir / "table.md").read_text(encoding="utf-8"), nl=False)
    click.echo(str(run_dir))


# ------------------------------------------------------------------------------------------ teacher
@cli.group()
def teacher() -> None:
    """Check the teacher's OpenAI-compatible endpoints before a run."""


@teacher.command("check")
@click.argument("config_file", metavar="CONFIG.yaml", type=click.Path(path_type=Path))
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
def teacher_check(config_file: Path, overrides: tuple[str, ...]) -> None:
    """Probe every endpoint of a generate config's teacher once and print what works.

    Per endpoint: reachable, the model listed by /v1/models (when the server has that route), the
    structured-output mode it takes (`structured_output: auto` tries them in turn) and a tiny
    critique round-trip. Exit 0 when every endpoint works, else 2 with one line per endpoint that
    does not.
    """
    from cai.core.configs import load_config
    from cai.llm.teacher_check import check_teacher

    cfg = load_config(config_file, list(overrides), stage="generate", check_paths=False)
    checks = check_teacher(cfg)
    for check in checks:
        for line in check.lines:
            click.echo(line)
    failed = [check.error_line() for check in checks if check.problem]
    if failed:
        raise UserError(failed)
    click.echo(f"ok: {len(checks)} of {len(checks)} endpoint(s) work")


# ------------------------------------------------------------------------------------------ checker
@cli.group()
def checker() -> None:
    """Learned claim checkers, trained from an index's own pages."""


@checker.command("train")
@click.option("--index", "index_dir", required=True, type=click.Path(path_type=Path),
              help="Index directory built by `cai ingest`.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Output directory (default: INDEX/verifier).")
@click.option("--epochs", default=1, show_default=True, type=click.IntRange(1), help="Training epochs.")
@click.option("--max-pairs", type=click.IntRange(2), default=None, metavar="N",
              help="Train on at most N synthesized pairs (a seeded subset).")
@click.option("--max-length", default=256, show_default=True, type=click.IntRange(16, 512),
              help="Tokens of premise + claim (longer pairs are truncated).")
@click.option("--claims", type=click.Choice(["prose", "all"]), default="prose", show_default=True,
              help="prose: only claims without figures, what the offline checker asks the verifier about; "
                   "all: table rows and figures too.")
@click.option("--labelled", type=click.Path(path_type=Path, dir_okay=False), default=None, metavar="FILE",
              help="Human-labelled answers (`cai score` rows with inline sources and a 'label' of supported or "
                   "unsupported) whose prose claims add training pairs.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of synthesis, split and training.")
def checker_train(index_dir: Path, out_dir: Path | None, epochs: int, max_pairs: int | None, max_length: int,
                  claims: str, labelled: Path | None, seed: int) -> None:
    """Train a claim verifier (a MiniLM cross-encoder) on pairs synthesized from the index's pages.

    Supported claims are sentences of the pages (and table rows with --claims all); unsupported
    ones are their perturbed copies (negated claim, near-topic window of the same page, company,
    direction, period; with figures also figure, scale, denied or injected premises).
    With --labelled, the prose claims of human-labelled answers are added, labelled by their answer.
    The verifier is stored in INDEX/verifier (or --out) and recorded in the index's manifest.json.
    Prints a summary, then the verifier directory as the last line of stdout.
    """
    from cai.stages import checker_train as stage

    quiet_model_loading()
    result = stage.run(index_dir, out_dir, epochs=epochs, max_pairs=max_pairs, max_length=max_length,
                       figures=claims == "all", seed=seed, labelled=labelled)
    click.echo(result.line)
    click.echo(str(result.out_dir))


# ---------------------------------------------------------------------------------------- retriever
@cli.group()
def retriever() -> None:
    """Learned retrieval parts, trained from an index's own pages."""


@retriever.command("train")
@click.option("--index", "index_dir", required=True, type=click.Path(path_type=Path),
              help="Index directory built by `cai ingest`.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Output directory (default: INDEX/reranker).")
@click.option("--epochs", default=1.0, show_default=True, type=click.FloatRange(0.1, 20), help="Training epochs.")
@click.option("--max-queries", type=click.IntRange(1), default=3000, show_default=True, metavar="N",
              help="Train on at most N synthesized questions (a seeded subset); each gives one positive and "
                   "up to four negative passages.")
@click.option("--layers", default=1, show_default=True, type=click.IntRange(1, 6),
              help="Transformer layers kept of the MiniLM base (fewer: faster search).")
@click.option("--max-length", default=128, show_default=True, type=click.IntRange(32, 512),
              help="Tokens of question + passage (longer pairs are truncated).")
@click.option("--lr", default=1e-5, show_default=True, type=click.FloatRange(1e-7, 1e-2),
              help="Peak learning rate of the fine-tuning (linear warmup and decay).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of synthesis, sampling and training.")
def retriever_train(index_dir: Path, out_dir: Path | None, epochs: float, max_queries: int, layers: int,
                    max_length: int, lr: float, seed: int) -> None:
    """Train a page re-ranker (a MiniLM cross-encoder) on questions synthesized from the index's pages.

    Questions are written from table line items, headings and sentences of the filings; each is
    paired with its own page and with the pages search ranks high for it that do not answer it.
    The re-ranker is stored in INDEX/reranker (or --out) and recorded in the index's manifest.json;
    search on this index then re-ranks its top 50 pages with it. Prints a summary, then the
    re-ranker directory as the last line of stdout.
    """
    from cai.stages import retriever_train as stage

    quiet_model_loading()
    settings = stage.Settings(epochs=epochs, max_queries=max_queries, layers=layers, max_length=max_length,
                              lr=lr, seed=seed)
    result = stage.run(index_dir, out_dir, settings)
    click.echo(result.line)
    click.echo(str(result.out_dir))


from cai.cli.reward import export, reward  # noqa: E402 — scale-out commands (cai/cli/reward.py)

cli.add_command(reward)
cli.add_command(export)


def main() -> None:
    from cai import hide_bitsandbytes

    if next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None) != "train":  # QLoRA lives in train
        hide_bitsandbytes()
    cli(prog_name="cai")
