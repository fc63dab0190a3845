"""The RL prompts of a `cai generate` run, and the label that lets a reward outside this process
find their sources.

`rl_prompt_rows` is the one construction of RL prompts: `cai train` rolls them out (PPO, GRPO,
RLOO) and `cai export rl-prompts` writes them for OpenRLHF, verl and TRL. One row per answered
question of the run (status ok, with sources): the shared policy prompt
(`cai.core.prompts.policy_messages`: system text, the retrieved chunks as `<source>` elements, the
question), with its sources cut to a token budget when a tokenizer is given
(`rewards.preference.fit_sources`), the full pages of its hits (what the checker aligns claims
to) and the label.

The label (`RLLabel`, a JSON string in the exported datasets, format "cai-rl/1"):

    {"format": "cai-rl/1", "id": "ex-07", "question": "…",
     "hits": [{"doc_id", "page", "char_start", "char_end", "sentence"}, …],   the retrieved chunks, ranked
     "documents": [{"doc_id", "sha256"}, …]}                                  each document's content hash

Why locators and not text: ingestion stores each page's text once, so a chunk is exactly the span
of its page between its offsets (a locator always resolves to the same characters). From a label
and the index, `resolve_label` rebuilds the very prompt the run trained on (what the preference
model scores) and the pages the checker aligns to, without parsing the engine's prompt text back;
a label stays a few hundred bytes however long the sources are; and a document whose sha256
changed since the export is refused rather than scored against other text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from cai.core.contracts import Contract, Locator, Record, SearchHit, SourcePage
from cai.core.errors import UserError

LABEL_FORMAT = "cai-rl/1"
MAX_LABEL_HITS = 64  # the retrieval k of a generate run is far below this; a label above it is not ours
EMPTY_ANSWER = [{"role": "assistant", "content": ""}]  # what a prompt is fitted with: room for the answer is the
# caller's budget (max_length - max_new_tokens), so the prompt alone must fit it


class LabelDocument(Contract):
    doc_id: str = Field(min_length=1, max_length=512)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class RLLabel(Contract):
    """What a reward needs to find an RL prompt's sources in the index (see the module docstring)."""

    format: Literal["cai-rl/1"] = LABEL_FORMAT
    id: str = Field(max_length=512, description="The generate run's record (question) id.")
    question: str = Field(min_length=1, max_length=100_000)
    hits: list[Locator] = Field(min_length=1, max_length=MAX_LABEL_HITS, description="The retrieved chunks, ranked.")
    documents: list[LabelDocument] = Field(min_length=1, max_length=MAX_LABEL_HITS)

    def to_json(self) -> str:
        """The label as the compact JSON string the exported datasets carry."""
        return self.model_dump_json()


class LabelError(ValueError):
    """A label that cannot be used: its one-line message names the field and what to do."""


@dataclass(frozen=True)
class RLPrompt:
    """One RL prompt: `prompt` (messages), `sources` (page dicts: what the reward checks against)."""

    id: str
    question: str
    prompt: list[dict]
    sources: list[dict]
    label: RLLabel


@dataclass(frozen=True)
class Resolved:
    """A label resolved against the index: the prompt it stands for, its pages, its question."""

    prompt: list[dict]
    sources: list[dict]
    question: str


# ------------------------------------------------------------------------------------------- build
def fit_counted(tok, prompt, completions, max_length: int, counts: dict) -> list | None:
    """The prompt with its sources cut to fit `max_length` with every completion (None: drop);
    `counts["dropped"]` and `counts["truncated"]` are kept up to date."""
    from rewards.preference import fit_sources

    fitted = fit_sources(tok, prompt, completions, max_length)
    if fitted is None:
        counts["dropped"] += 1
        return None
    counts["truncated"] += fitted[2]
    return fitted[0]


def check_record_corpus(index: Path, data: Path, current: dict[str, str], recorded: dict[str, str],
                        record: Record) -> None:
    """The reward checks a record's answers against its pages in `index`: they must be the pages the
    data run retrieved, i.e. the same document (sha256) as when the run was made."""
    for doc_id in dict.fromkeys(h.doc_id for h in record.sources):
        have, want = current.get(doc_id), recorded.get(doc_id)
        if have is None:
            raise UserError(f"index: {index} has no document {doc_id!r}, which record {record.id!r} of "
                            f"{data} retrieved; set index=PATH to the `cai ingest` index the run used")
        if want is not None and have != want:
            raise UserError(f"index: {index}: document {doc_id!r} changed since {data} was made "
                            f"(sha256 {have[:12]}…, the run used {want[:12]}…); re-run `cai generate` on "
                            "this index or set index=PATH to the index the run used")


def label_of(record: Record, shas: dict[str, str]) -> RLLabel:
    """The label of a record whose documents are all in `shas` (doc_id → sha256)."""
    docs = dict.fromkeys(h.doc_id for h in record.sources)
    return RLLabel(id=record.id, question=record.question, hits=[h.locator for h in record.sources],
                   documents=[LabelDocument(doc_id=d, sha256=shas[d]) for d in docs])


def rl_prompt_rows(data: Path, index: Path, tok=None, max_prompt_tokens: int | None = None
                   ) -> tuple[list[RLPrompt], dict[str, int]]:
    """The RL prompts of the generate run `data` against `index` (see the module docstring), and
    counts {"dropped", "truncated"}. With `tok` and `max_prompt_tokens` the sources are cut until
    the prompt fits; a prompt that cannot fit is dropped. A document the run retrieved that the
    index lacks or holds with another sha256 is a UserError (`check_record_corpus`)."""
    from cai.core.prompts import policy_messages
    from cai.core.runs import read_jsonl, read_manifest
    from rag.quotes import gather_sources
    from rag.store import DocStore

    store = DocStore.open(index)
    recorded = read_manifest(data).get("corpus") or {}  # doc_id → sha256 when the data was made
    current = {d.doc_id: d.sha256 for d in store.documents()}
    rows, counts = [], {"dropped": 0, "truncated": 0}
    try:
        for _, obj in read_jsonl(Path(data) / "records.jsonl"):
            record = Record.model_validate(obj)
            if record.status != "ok" or not record.sources:
                continue
            check_record_corpus(index, data, current, recorded, record)
            prompt = policy_messages(record.question, record.sources)
            if tok is not None and max_prompt_tokens is not None:
                prompt = fit_counted(tok, prompt, [EMPTY_ANSWER], max_prompt_tokens, counts)
            if prompt is not None:
                pages = [p.model_dump() for p in gather_sources(record.sources, store.page).pages]
                rows.append(RLPrompt(record.id, record.question, prompt, pages, label_of(record, current)))
    finally:
        store.close()
    return rows, counts


# ----------------------------------------------------------------------------------------- resolve
def parse_label(value) -> RLLabel:
    """A label from a dataset or a request: its JSON string (or the object itself). LabelError
    with one line naming the field when it is not a "cai-rl/1" label."""
    if isinstance(value, str):
        if not value.strip():
            raise LabelError("label: empty; export the dataset with `cai export rl-prompts` and pass its label "
                             "column to the trainer (OpenRLHF: --data.label_key label)")
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise LabelError(f"label: not JSON ({e.msg} at column {e.colno}); give the label column that "
                             "`cai export rl-prompts` wrote") from None
        except RecursionError:
            raise LabelError("label: nested too deep to read") from None
    if not isinstance(value, dict):
        raise LabelError(f"label: expected a JSON object, got {type(value).__name__}")
    if "format" not in value:
        raise LabelError("label.format: missing; this is not a label of `cai export rl-prompts`")
    if value.get("format") != LABEL_FORMAT:
        raise LabelError(f"label.format: expected {LABEL_FORMAT!r}, got {str(value.get('format'))[:40]!r}; "
                         "re-export the dataset with this version's `cai export rl-prompts`")
    try:
        return RLLabel.model_validate(value)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "label"
        raise LabelError(f"label.{where}: {first['msg']}") from None


def resolve_label(label: RLLabel, page: Callable[[str, int], object], shas: dict[str, str]) -> Resolved:
    """The prompt, pages and question a label stands for: each hit's text is its span of the page
    (`page(doc_id, n)`: a `DocStore.page`-like lookup); `shas` are the index's documents (doc_id →
    sha256). LabelError when a document is missing or changed, or a span is not on its page."""
    from cai.core.prompts import policy_messages

    expected = {d.doc_id: d.sha256 for d in label.documents}
    hits, pages, seen = [], [], set()
    for n, loc in enumerate(label.hits):
        if loc.doc_id not in expected:
            raise LabelError(f"label.hits.{n}: document {loc.doc_id!r} is not in label.documents")
        have = shas.get(loc.doc_id)
        if have is None:
            raise LabelError(f"label.hits.{n}: the index has no document {loc.doc_id!r}; serve the reward on the "
                             "index the dataset was exported from")
        if have != expected[loc.doc_id]:
            raise LabelError(f"label.documents: {loc.doc_id!r} changed since the export (sha256 {have[:12]}… in the "
                             f"index, {expected[loc.doc_id][:12]}… in the label); re-export the dataset")
        text = page(loc.doc_id, loc.page)
        if text is None or loc.char_end > len(text.text):
            raise LabelError(f"label.hits.{n}: {loc} is not a span of a page of the index")
        hits.append(SearchHit(doc_id=loc.doc_id, page=loc.page, score=0.0, locator=loc,
                              text=text.text[loc.char_start:loc.char_end]))
        if (loc.doc_id, loc.page) not in seen:
            seen.add((loc.doc_id, loc.page))
            pages.append(SourcePage(doc_id=loc.doc_id, page=loc.page, text=text.text).model_dump())
    return Resolved(policy_messages(label.question, hits), pages, label.question)
