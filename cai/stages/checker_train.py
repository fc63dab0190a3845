"""`cai checker train`: a learned claim verifier for an index, trained on pairs synthesized from
the index's own pages (MiniCheck, Tang et al. 2024: a small grounding classifier trained on
synthetic supported/unsupported pairs; see `rewards.synth` and `rewards.verifier`).

Read top to bottom:

1. **setup** — open the index's document store (a missing index is a `UserError` naming it) and
   read every page of every document; an index without pages is refused.
2. **synthesize** — `rewards.synth.synthesize`: prose sentences without figures (the claims the
   offline checker asks the verifier about; `--claims all` adds table rows and figures) as
   supported claims, each with perturbed copies; `--max-pairs` keeps a seeded subset of whole groups.
   With `--labelled FILE`, human-labelled answers add pairs of their own (`rewards.labelled_pairs`:
   the prose claims the rules cannot decide, labelled by their answer), all kept.
3. **train** — `rewards.verifier.train_verifier`: a MiniLM cross-encoder, held out by document,
   written atomically to the output directory (`INDEX/verifier` by default).
4. **save** — the index's `manifest.json` gets a `verifier` entry (path, sha256 of the model files,
   created_at), replaced atomically.

The offline checker uses a verifier when asked to (`rewards.learned_support`: `verifier=PATH` or
`$CAI_VERIFIER`), for the figure-free claims its rules can only align by words.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cai.core.contracts import SourcePage
from cai.core.errors import UserError
from rag import cross_encoder
from rag.store import DocStore
from rewards.labelled_pairs import LabelledAnswer, labelled_pairs, read_labelled
from rewards.synth import Pair, kind_counts, limit, synthesize
from rewards.verifier import train_verifier

VERIFIER_DIR = "verifier"


@dataclass(frozen=True)
class Setup:
    """What the stage reads once: the index, where the verifier goes, the pages and the settings."""

    index_dir: Path
    out_dir: Path
    pages: list[SourcePage]
    n_documents: int
    epochs: int
    max_pairs: int | None
    max_length: int
    figures: bool
    seed: int
    labelled: list[LabelledAnswer]


@dataclass(frozen=True)
class Result:
    """The trained verifier's directory, its `verifier.json` and the one-line summary."""

    out_dir: Path
    metadata: dict
    line: str


def setup(index_dir: Path, out_dir: Path | None = None, *, epochs: int = 1, max_pairs: int | None = None,
          max_length: int = 256, figures: bool = False, seed: int = 0, labelled: Path | None = None) -> Setup:
    """Every page of the index and the labelled answers, if any (a `UserError` for a missing or
    empty index, or a bad labelled row)."""
    index_dir = Path(index_dir)
    answers = read_labelled(labelled) if labelled is not None else []
    if not index_dir.is_dir():
        raise UserError(f"{index_dir}: no index directory; build one with `cai ingest PATH --index {index_dir}`")
    store = DocStore.open(index_dir)  # IndexMissingError (a UserError) when store.sqlite is missing
    try:
        documents = store.documents()
        pages = []
        for doc in documents:
            for number in range(1, doc.n_pages + 1):
                page = store.page(doc.doc_id, number)
                if page is not None and page.text.strip():
                    pages.append(SourcePage(doc_id=doc.doc_id, page=number, text=page.text))
    finally:
        store.close()
    if not pages:
        raise UserError(f"{index_dir}: the index holds no page text ({len(documents)} documents); "
                        f"add documents with `cai ingest PATH --index {index_dir}`")
    return Setup(index_dir, Path(out_dir) if out_dir else index_dir / VERIFIER_DIR, pages, len(documents),
                 epochs, max_pairs, max_length, figures, seed, answers)


def synthesize_pairs(s: Setup) -> list[Pair]:
    """Supported and perturbed pairs from the pages (at most `max_pairs` when given), then the
    labelled answers' pairs."""
    pairs = synthesize(s.pages, seed=s.seed, figures=s.figures)
    if s.max_pairs is not None:
        pairs = limit(pairs, s.max_pairs, s.seed)
    pairs += labelled_pairs(s.labelled)
    if not pairs:
        raise UserError(f"{s.index_dir}: no training pairs could be made from its {len(s.pages)} pages "
                        "(no table rows with period headers and no claim sentences"
                        + (f" within --max-pairs {s.max_pairs})" if s.max_pairs is not None else ")"))
    return pairs


def train(s: Setup, pairs: list[Pair]) -> dict:
    """Train and save the verifier in `s.out_dir`; its `verifier.json`."""
    return train_verifier(pairs, s.out_dir, epochs=s.epochs, max_length=s.max_length, seed=s.seed)


def save(s: Setup, metadata: dict) -> dict:
    """Record the verifier in the index's manifest.json (atomically); the entry written."""
    return cross_encoder.record_in_manifest(s.index_dir, "verifier", s.out_dir, metadata)


def summary(s: Setup, pairs: list[Pair], metadata: dict) -> str:
    """One line: pairs by kind, pages and documents read, held-out accuracy and AUC."""
    kinds = ", ".join(f"{k} {n}" for k, n in kind_counts(pairs).items())
    ev, n_eval = metadata["eval"], metadata["counts"]["eval"]
    auc = "n/a" if ev["auc"] is None else f"{ev['auc']:.3f}"
    held = (f"held-out accuracy {ev['accuracy']:.3f}, AUC {auc} on {n_eval} pairs of "
            f"{len(metadata['counts']['eval_documents'])} held-out document(s)" if n_eval else "no held-out document")
    return (f"verifier trained on {len(pairs)} pairs ({kinds}) from {len(s.pages)} pages of {s.n_documents} "
            f"documents; {held}")


def run(index_dir: Path, out_dir: Path | None = None, *, epochs: int = 1, max_pairs: int | None = None,
        max_length: int = 256, figures: bool = False, seed: int = 0, labelled: Path | None = None) -> Result:
    """setup → synthesize → train → save."""
    s = setup(index_dir, out_dir, epochs=epochs, max_pairs=max_pairs, max_length=max_length, figures=figures,
              seed=seed, labelled=labelled)
    pairs = synthesize_pairs(s)
    metadata = train(s, pairs)
    save(s, metadata)
    return Result(s.out_dir, metadata, summary(s, pairs, metadata))
