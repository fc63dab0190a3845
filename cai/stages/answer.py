"""`cai answer`: retrieve, answer, verify every claim, deliver only what the sources support.

Read top to bottom:

1. **setup** — `load_policy` (a transformers causal LM, optionally with a LoRA adapter from
   `cai train`; one loaded base model serves several adapters via `Policy.use_adapter`). Without a
   policy the `grounded` teacher drafts extractively (its own `draft`, not a second drafter).
2. **answer** — `answer_question`: retrieve the top-k chunks, prompt the policy with
   `cai.prompts.policy_messages` (the one format of SFT data, RL rollouts and serving) through
   the tokenizer's chat template, greedy decoding.
3. **verify** — `verify_answer`: every claim is checked against the full pages of the sources by
   a fail-closed checker (`rewards.checker.FailClosed`: a `supported` verdict must carry a quote
   that is verbatim at its locator). Unsupported / unverified claims are removed (default) or
   kept with a visible `[UNSUPPORTED]` / `[UNVERIFIED]` marker; every kept claim cites the page of
   its evidence (added when the model omitted it; citations of pages that are not among the
   sources are dropped). The kept text is checked again until nothing changes, so the verdicts
   reported are the verdicts of exactly the delivered text. Nothing supported → an explicit
   "The sources do not state …".
4. **output** — `render_text` (answer, then the numbered claims with verdict, locator and quote)
   and `render_json` (one JSON object: `AnsweredQuestion.model_dump`).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from cai.adapters import ADAPTER_META, SMOKE_POLICY
from cai.contracts import (
    ClaimVerdict,
    Contract,
    RuleViolation,
    ScoreSource,
    SearchHit,
    Verdict,
)
from cai.errors import UserError

OnUnsupported = Literal["remove", "mark"]
MARKERS = {Verdict.unsupported: "[UNSUPPORTED]", Verdict.unverified: "[UNVERIFIED]"}
DEFAULT_K = 5
DEFAULT_MAX_NEW_TOKENS = 256
ADAPTER_CONFIG = "adapter_config.json"  # peft's; `cai train` writes ADAPTER_META (cai_adapter.json) beside it
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")


# ------------------------------------------------------------------------------------ contracts
class AnswerClaim(ClaimVerdict):
    """A checked claim and what delivery did with it.

    `action`: `kept` (delivered as written), `cited` (delivered with its citations fixed: the
    evidence page added, citations of pages outside the sources dropped), `marked` (delivered
    with a visible marker, `--mark-unsupported`), `removed` (not delivered). `span` indexes the
    delivered `answer` for delivered claims and `raw_answer` for removed ones.
    """

    action: Literal["kept", "cited", "marked", "removed"]


class AnsweredBy(Contract):
    kind: Literal["grounded", "policy"]
    model: str | None = Field(None, description="Base model id or path of the policy.")
    adapter: str | None = Field(None, description="LoRA adapter directory, when one was applied.")
    adapter_metadata: dict[str, Any] | None = Field(None, description=f"The adapter's {ADAPTER_META}, when present.")
    max_new_tokens: int | None = None
    warnings: list[str] = Field(default_factory=list)


class Verification(Contract):
    """A raw answer after verification: the delivered text and every claim's verdict."""

    raw_answer: str
    answer: str = Field(description="The delivered answer.")
    abstained: bool = Field(description="True when no supported claim is delivered.")
    on_unsupported: OnUnsupported
    checker: str
    claims: list[AnswerClaim] = Field(description="Delivered claims (kept, cited or marked), in answer order.")
    removed: list[AnswerClaim] = Field(default_factory=list, description="Claims not delivered.")
    n_raw_claims: int = Field(description="Claims the checker judged in the raw answer.")
    raw_support_rate: float | None = Field(description="Share of the raw answer's claims that are supported.")


class AnsweredQuestion(Verification):
    """The full result of `cai answer` (`--json` prints `model_dump(mode="json")`)."""

    question: str
    sources: list[SearchHit]
    answered_by: AnsweredBy
    violations: list[RuleViolation] = Field(default_factory=list, description="Constitution machine checks on the delivered answer.")


# ---------------------------------------------------------------------------------------- setup
def _warn_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def read_adapter(adapter: Path) -> tuple[dict, dict | None]:
    """(adapter_config.json, cai_adapter.json or None) of a LoRA adapter directory."""
    adapter = Path(adapter)
    if not adapter.is_dir():
        raise UserError(f"--adapter {adapter}: no such directory; give the adapter directory written by `cai train`")
    config_file = adapter / ADAPTER_CONFIG
    if not config_file.is_file():
        raise UserError(f"--adapter {adapter}: not a LoRA adapter (no {ADAPTER_CONFIG}); give the adapter directory written by `cai train`")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
        meta_file = adapter / ADAPTER_META
        metadata = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"--adapter {adapter}: unreadable adapter files: {e}") from None
    return config, metadata


def _adapter_base(config: dict) -> str | None:
    """The base model peft recorded in adapter_config.json."""
    base = config.get("base_model_name_or_path")
    return base if isinstance(base, str) and base else None


def _declared_bases(config: dict, metadata: dict | None) -> list[str]:
    """Names the adapter gives its base model: cai's metadata when present (`base_model`: what was
    loaded; `policy_model`: what the train config named), else peft's adapter_config.json."""
    meta = metadata or {}
    named = [n for n in (meta.get("base_model"), meta.get("policy_model")) if isinstance(n, str) and n]
    return named or [b for b in [_adapter_base(config)] if b]


def _same_model(a: str, b: str) -> bool:
    if a == b:
        return True
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


@dataclass
class Policy:
    """A loaded causal LM (+ the active LoRA adapter) that answers from sources."""

    model_id: str
    tokenizer: Any
    lm: Any
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    adapter: Path | None = None
    adapter_metadata: dict | None = None
    warnings: list[str] = field(default_factory=list)
    warn: Callable[[str], None] = _warn_stderr
    _loaded: dict[str, Path] = field(default_factory=dict, repr=False)  # adapter name → directory

    def use_adapter(self, adapter: Path | None) -> None:
        """Make `adapter` the active LoRA adapter (loaded once, kept beside the others), or serve
        the plain base model with None. One base model thus serves several constitutions' adapters."""
        if adapter is None:
            self.adapter, self.adapter_metadata = None, None
            return
        from peft import PeftModel

        config, metadata = read_adapter(adapter)
        declared = _declared_bases(config, metadata)
        if declared and not any(_same_model(name, self.model_id) for name in declared):
            self._warn(f"adapter {adapter} was trained on {' / '.join(map(repr, declared))}, but the policy is {self.model_id!r}")
        resolved = Path(adapter).resolve()
        name = next((n for n, p in self._loaded.items() if p == resolved), f"adapter{len(self._loaded)}")
        try:
            with warnings.catch_warnings():  # peft calls a transformers 5 deprecated helper on every load
                warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
                if not self._loaded:
                    self.lm = PeftModel.from_pretrained(self.lm, str(adapter), adapter_name=name).eval()
                elif name not in self._loaded:
                    self.lm.load_adapter(str(adapter), adapter_name=name)
        except (OSError, ValueError, RuntimeError, KeyError) as e:
            raise UserError(f"--adapter {adapter}: cannot apply it to {self.model_id}: {' '.join(str(e).split())[:300]}") from None
        self.lm.set_adapter(name)
        self._loaded[name] = resolved
        self.adapter, self.adapter_metadata = Path(adapter), metadata

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        self.warn(message)

    def generate(self, question: str, sources: list[SearchHit]) -> str:
        """Greedy completion of `policy_messages(question, sources)` under the chat template."""
        import contextlib

        import torch

        from cai.prompts import policy_messages

        prompt = self.tokenizer.apply_chat_template(policy_messages(question, sources), add_generation_prompt=True, tokenize=False)
        enc = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(self.lm.device)
        window = getattr(self.lm.config, "max_position_embeddings", None)
        if window and enc["input_ids"].shape[1] + self.max_new_tokens > window:
            raise UserError(f"the prompt is {enc['input_ids'].shape[1]} tokens and {self.model_id} reads at most {window}: "
                            "retrieve fewer chunks (-k) or lower --max-new-tokens")
        plain_base = self.adapter is None and bool(self._loaded)  # a PeftModel serving its base
        with torch.no_grad(), (self.lm.disable_adapter() if plain_base else contextlib.nullcontext()):
            out = self.lm.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=False, temperature=None,
                                   top_p=None, top_k=None, pad_token_id=self.tokenizer.pad_token_id)
        return self.tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()

    def described(self) -> AnsweredBy:
        return AnsweredBy(kind="policy", model=self.model_id, adapter=str(self.adapter) if self.adapter else None,
                          adapter_metadata=self.adapter_metadata, max_new_tokens=self.max_new_tokens,
                          warnings=list(self.warnings))


def load_policy(model: str | None, adapter: Path | None = None, *, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                warn: Callable[[str], None] = _warn_stderr) -> Policy:
    """Load a policy: `model` (HF id or path; with only `adapter`, the adapter's base model)
    and, when given, a LoRA `adapter`. Bad input raises UserError with what to do next."""
    config, metadata = read_adapter(adapter) if adapter is not None else ({}, None)
    base = model or _adapter_base(config) or next(iter(_declared_bases(config, metadata)), None)
    if base == SMOKE_POLICY and (metadata or {}).get("policy_model") == SMOKE_POLICY:
        base = metadata.get("base_model") or _adapter_base(config)  # the smoke model that run built
    if not base:
        raise UserError(f"--adapter {adapter}: it names no base model; give one with --policy MODEL")
    if base == SMOKE_POLICY:
        raise UserError(f"--policy {SMOKE_POLICY}: the smoke policy is built inside a `cai train` run; give --adapter RUN_DIR/adapter instead")
    tokenizer_dir = adapter if adapter is not None and (Path(adapter) / "tokenizer_config.json").is_file() else base
    tokenizer, lm = _load_lm(base, str(tokenizer_dir))
    if not getattr(tokenizer, "chat_template", None):
        raise UserError(f"--policy {base}: the tokenizer has no chat template; use a chat/instruct model or one saved by `cai train`")
    policy = Policy(model_id=base, tokenizer=tokenizer, lm=lm, max_new_tokens=max_new_tokens, warn=warn)
    if adapter is not None:
        policy.use_adapter(Path(adapter))
    return policy


def _load_lm(model: str, tokenizer_dir: str):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cai.adapters import policy_dtype

    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        lm = AutoModelForCausalLM.from_pretrained(model, dtype=policy_dtype()).to(device).eval()
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"--policy {model}: cannot load it ({first}); give a local model directory or a hub id in the local cache") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, lm


def open_checker(name: str = "offline"):
    """A fail-closed checker by name (`offline` | `nli` | `teacher`)."""
    from rewards.checker import get_checker

    try:
        return get_checker(name)
    except ValueError as e:
        raise UserError(f"--checker {name}: {e}") from None


# --------------------------------------------------------------------------------------- answer
def answer_question(question: str, *, retriever, checker, policy: Policy | None = None, k: int = DEFAULT_K,
                    mode: str = "hybrid", on_unsupported: OnUnsupported = "remove", constitution=None) -> AnsweredQuestion:
    """Retrieve → answer (the policy, else the grounded teacher) → verify → AnsweredQuestion.

    `retriever`: a `rag.retrieve.Retriever` (its `search` and `store.page`); `checker`: any
    `rewards.checker.Checker` (wrapped in `FailClosed` if it is not already); `constitution`: a
    resolved constitution whose machine checks are reported on the delivered answer.
    """
    from rag.quotes import source_pages

    if not question.strip():
        raise UserError("the question is empty; give the question to answer, e.g. cai answer --index DIR \"What was …?\"")
    hits = retriever.search(question, k=k, mode=mode)
    pages = source_pages(hits, retriever.store.page)
    if policy is None:
        from cai.teachers.grounded import GroundedTeacher

        raw = asyncio.run(GroundedTeacher(retriever.store.page, checker).draft(question, hits)).text
        by = AnsweredBy(kind="grounded")
    else:
        raw, by = policy.generate(question, hits), policy.described()
    verified = verify_answer(question, raw, pages, checker=checker, on_unsupported=on_unsupported)
    violations = _rule_violations(constitution, question, verified, pages)
    return AnsweredQuestion(question=question, sources=hits, answered_by=by, violations=violations, **dict(verified))


def _rule_violations(constitution, question: str, verified: Verification, pages: list[ScoreSource]) -> list[RuleViolation]:
    if constitution is None:
        return []
    from rewards.rules import evaluate_rules

    return evaluate_rules(constitution, question, verified.answer, verified.claims, pages)


# --------------------------------------------------------------------------------------- verify
@dataclass
class _Piece:
    """One sentence of the raw answer on its way to delivery."""

    text: str  # as it will be delivered (citations may be fixed)
    original: str
    kind: str  # claim | abstention | framing | filler (rewards.claims.sentence_kind)
    sep: str  # what preceded it in the raw answer, reduced to " " or "\n"
    raw_span: tuple[int, int]
    verdict: ClaimVerdict | None = None
    status: Literal["candidate", "rejected", "dropped"] = "candidate"
    cited: bool = False


def verify_answer(question: str | None, raw_answer: str, pages: Sequence[ScoreSource], *, checker,
                  on_unsupported: OnUnsupported = "remove") -> Verification:
    """Check every claim of `raw_answer` against `pages` and build the delivered answer."""
    from rewards.checker import FailClosed

    checker = checker if isinstance(checker, FailClosed) else FailClosed(checker)
    pieces = _pieces(raw_answer)
    source_keys = {(p.doc_id, p.page) for p in pages}
    n_raw, n_supported = None, 0
    while True:  # terminates: each pass rejects a piece or adds a cited page to one, both bounded
        candidates = [p for p in pieces if p.status == "candidate"]
        text, spans = _join(candidates)
        verdicts = checker.check(question, text, list(pages)) if text else []
        if n_raw is None:
            n_raw, n_supported = len(verdicts), sum(v.verdict == Verdict.supported for v in verdicts)
        if not _review(candidates, spans, verdicts, source_keys, checker.name):
            break
    return _deliver(question or "", raw_answer, pieces, on_unsupported, checker.name, n_raw or 0, n_supported)


def _pieces(raw: str) -> list[_Piece]:
    from rewards.claims import split_claims

    pieces, end = [], 0
    for s in split_claims(raw, keep_non_claims=True):
        sep = "\n" if "\n" in raw[end:s.start] else " "
        status = "dropped" if s.kind == "filler" else "candidate"  # "Yes.", courtesy lines: never delivered
        pieces.append(_Piece(s.text.strip(), s.text.strip(), s.kind, sep, (s.start, s.end), status=status))
        end = s.end
    return pieces


def _join(pieces: Sequence[_Piece]) -> tuple[str, list[tuple[int, int]]]:
    """Pieces joined with their separators, and each piece's span in the result."""
    text, spans = "", []
    for p in pieces:
        if text:
            text += p.sep
        spans.append((len(text), len(text) + len(p.text)))
        text += p.text
    return text, spans


def _lookup(verdicts: Sequence[ClaimVerdict], span: tuple[int, int], text: str) -> ClaimVerdict | None:
    for v in verdicts:
        if v.span is not None and tuple(v.span) == span:
            return v
    return next((v for v in verdicts if v.span is None and v.text.strip() == text), None)


def _review(candidates: list[_Piece], spans: list[tuple[int, int]], verdicts: Sequence[ClaimVerdict],
            source_keys: set[tuple[str, int]], checker: str) -> bool:
    """Apply one pass of verdicts to the candidates; True when the delivered text changed."""
    changed = False
    for piece, span in zip(candidates, spans, strict=True):
        v = _lookup(verdicts, span, piece.text)
        if piece.kind == "claim" and v is None:  # the checker skipped it: never a silent pass
            v = ClaimVerdict(text=piece.text, verdict=Verdict.unverified, score=0.0, checker=checker,
                             reason="the checker returned no verdict for this claim")
        piece.verdict = v or piece.verdict
        if v is not None and v.verdict != Verdict.supported:  # an unsupported claim, or framing naming the wrong company/period
            piece.status, changed = "rejected", True
        elif piece.kind == "claim":
            fixed = _with_evidence_citation(piece.text, v, source_keys)
            if fixed != piece.text:
                piece.text, piece.cited, changed = fixed, True, True
    return changed


def _parsed(text: str):
    """The sentence `text` as a `rewards.claims.Claim` (citations, plain text), or None."""
    from rewards.claims import split_sentences

    return next(iter(split_sentences(text)), None)


def _uncited(text: str) -> str:
    """`text` without its inline citations ("… $5 million [d p.2]." → "… $5 million.")."""
    parsed = _parsed(text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", parsed.plain) if parsed else text.strip()


def _with_evidence_citation(text: str, verdict: ClaimVerdict, source_keys: set[tuple[str, int]]) -> str:
    """`text` citing its evidence page, without citations of pages outside the sources
    (unchanged when it already does both)."""
    from cai.teachers.grounded import _with_citation

    parsed = _parsed(text)
    cited = parsed.cited_pages() if parsed else []
    keep = [key for key in cited if key in source_keys]
    loc = verdict.evidence.locator if verdict.evidence else None
    if loc is not None and (loc.doc_id, loc.page) not in keep:
        keep.append((loc.doc_id, loc.page))
    if keep == cited or parsed is None:
        return text
    return _with_citation(_uncited(text), " ".join(f"[{doc} p.{page}]" for doc, page in keep))


def _marked(piece: _Piece) -> str:
    """A rejected sentence as delivered in mark mode: its marker, and no citation (nothing it
    cites supports it)."""
    verdict = piece.verdict.verdict if piece.verdict else Verdict.unverified
    return f"{MARKERS.get(verdict, MARKERS[Verdict.unverified])} {_uncited(piece.original)}"


def _deliver(question: str, raw: str, pieces: list[_Piece], on_unsupported: OnUnsupported, checker: str,
             n_raw: int, n_supported: int) -> Verification:
    """The delivered answer: supported claims (cited) with their framing and abstentions, marked
    rejects in mark mode; an explicit abstention when no claim is supported."""
    from cai.teachers.grounded import refusal

    supported = any(p.status == "candidate" and p.kind == "claim" for p in pieces)
    rejected = [p for p in pieces if p.status == "rejected"]
    if supported:
        delivered = [p for p in pieces if p.status == "candidate" or (on_unsupported == "mark" and p.status == "rejected")]
    else:  # framing around nothing is noise; keep the model's own abstention, else write one
        said = [p for p in pieces if p.status == "candidate" and p.kind == "abstention"]
        said = said or [_Piece(refusal(question), "", "abstention", " ", (0, 0))]
        delivered = said + (rejected if on_unsupported == "mark" else [])
    for p in delivered:
        if p.status == "rejected":
            p.text = _marked(p)
    answer, spans = _join(delivered)
    claims = [_claim(p, p.text, "marked" if p.status == "rejected" else "cited" if p.cited else "kept", span)
              for p, span in zip(delivered, spans, strict=True) if p.verdict is not None]
    removed = [_claim(p, p.original, "removed", p.raw_span) for p in rejected if p not in delivered]
    return Verification(raw_answer=raw, answer=answer, abstained=not supported, on_unsupported=on_unsupported,
                        checker=checker, claims=claims, removed=removed, n_raw_claims=n_raw,
                        raw_support_rate=round(n_supported / n_raw, 4) if n_raw else None)


def _claim(piece: _Piece, text: str, action: str, span: tuple[int, int]) -> AnswerClaim:
    parsed = _parsed(text)
    citations = parsed.citations if parsed else []
    data = piece.verdict.model_dump() | {"text": text, "span": span, "citations": citations}
    return AnswerClaim(**data, action=action)


# --------------------------------------------------------------------------------------- output
def render_json(result: AnsweredQuestion) -> str:
    return json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2)


def render_text(result: AnsweredQuestion) -> str:
    """The answer, then each claim: verdict, score, locator and the verbatim quote."""
    lines = [result.answer, ""]
    if result.claims:
        lines.append(f"Claims ({sum(c.verdict == Verdict.supported for c in result.claims)} supported):")
        lines += _claim_lines(result.claims)
    if result.removed:
        lines.append(f"Removed ({len(result.removed)}, not delivered):")
        lines += _claim_lines(result.removed)
    for v in result.violations:
        lines.append(f"rule {v.rule_id} ({v.severity}): {v.message or v.claim or ''}".rstrip())
    lines.append(_answered_by_line(result.answered_by) + f"; checker {result.checker}")
    return "\n".join(lines)


def _claim_lines(claims: Sequence[AnswerClaim]) -> list[str]:
    lines = []
    for n, c in enumerate(claims, 1):
        where = str(c.evidence.locator) if c.evidence else "no evidence"
        lines.append(f"{n}. [{c.verdict.value} {c.score:.2f}] {' '.join(c.text.split())}")
        lines.append(f"   {where}" + (f': "{" ".join(c.evidence.quote.split())}"' if c.evidence else ""))
        if c.verdict != Verdict.supported and c.reason:
            lines.append(f"   why: {c.reason}")
    return lines


def _answered_by_line(by: AnsweredBy) -> str:
    if by.kind == "grounded":
        return "answered by: the grounded teacher (extractive)"
    line = f"answered by: policy {by.model}" + (f" + adapter {by.adapter}" if by.adapter else "")
    meta = by.adapter_metadata or {}
    rules = meta.get("constitution")
    if isinstance(rules, dict):  # cai_adapter.json from `cai train`
        line += f" (constitution {rules.get('name')} v{rules.get('version')} sha256 {str(rules.get('sha256'))[:12]}…"
        line += f"; data run {meta['data_run']})" if meta.get("data_run") else ")"
    elif meta:
        line += f" ({json.dumps(meta, ensure_ascii=False, sort_keys=True)})"
    return line


# ------------------------------------------------------------------------------------------- CLI
def answer_command(index_dir: Path, question: str, *, policy: str | None = None, adapter: Path | None = None,
                   checker: str = "offline", k: int = DEFAULT_K, on_unsupported: OnUnsupported = "remove",
                   max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, constitution: str | None = None,
                   as_json: bool = False, warn: Callable[[str], None] = _warn_stderr) -> str:
    """`cai answer`: inputs checked first (cheap), then models loaded; returns what to print."""
    from rag.retrieve import Retriever

    if not question.strip():
        raise UserError("the question is empty; give the question to answer, e.g. cai answer --index DIR \"What was …?\"")
    if not Path(index_dir).is_dir():
        raise UserError(f"--index {index_dir}: no such directory; build one with `cai ingest PATH --index {index_dir}`")
    if adapter is not None:
        read_adapter(adapter)
    rules = None
    if constitution is not None:
        from cai.constitution import load_constitution

        rules = load_constitution(constitution)
    check = open_checker(checker)
    served = load_policy(policy, adapter, max_new_tokens=max_new_tokens, warn=warn) if policy or adapter else None
    retriever = Retriever.open(index_dir)
    try:
        result = answer_question(question, retriever=retriever, checker=check, policy=served, k=k,
                                 on_unsupported=on_unsupported, constitution=rules)
    finally:
        retriever.close()
    return render_json(result) if as_json else render_text(result)
