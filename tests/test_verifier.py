"""The learned verifier (`rewards.verifier`) and `cai checker train`: a tiny cross-encoder trained on
pairs synthesized from the example corpus ranks held-out supported claims above their perturbed
copies, survives a save/load round trip bit for bit, and refuses a damaged directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cai.core.contracts import SourcePage
from cai.core.errors import UserError
from rewards.synth import Pair, limit, synthesize
from rewards.verifier import METADATA_FILE, Verifier, evaluate, model_files_sha256, split_by_document, train_verifier

# Small enough for 2 CPU cores: a few hundred short pairs, one epoch.
TINY = {"epochs": 1, "batch_size": 16, "max_length": 64, "seed": 0, "eval_fraction": 0.25}


@pytest.fixture(scope="module")
def tiny_pairs(example_index) -> list[Pair]:
    from rag.store import DocStore

    store = DocStore.open(example_index)
    try:
        pages = [SourcePage(doc_id=d.doc_id, page=n, text=store.page(d.doc_id, n).text)
                 for d in store.documents() for n in range(1, d.n_pages + 1)]
    finally:
        store.close()
    return limit(synthesize(pages, seed=0, max_per_page=10), 240, seed=0)


@pytest.fixture(scope="module")
def tiny_verifier(tiny_pairs, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("verifier") / "verifier"
    return out, train_verifier(tiny_pairs, out, **TINY)


def test_split_holds_out_whole_documents(tiny_pairs):
    train, held = split_by_document(tiny_pairs, 0.25, seed=0)
    assert train and held and len(train) + len(held) == len(tiny_pairs)
    assert not {p.doc_id for p in train} & {p.doc_id for p in held}
    assert split_by_document(tiny_pairs, 0.25, seed=0) == (train, held)
    assert split_by_document(tiny_pairs, 0.0, seed=0) == (list(tiny_pairs), [])


@pytest.mark.slow
def test_tiny_verifier_ranks_supported_above_perturbed(tiny_verifier, tiny_pairs):
    out, meta = tiny_verifier
    _, held = split_by_document(tiny_pairs, TINY["eval_fraction"], TINY["seed"])
    verifier = Verifier.load(out, batch_size=TINY["batch_size"])
    scores = verifier.score([p.claim for p in held], [p.premise for p in held])
    assert all(0.0 <= s <= 1.0 for s in scores)
    gaps, supported = [], None
    for pair, score in zip(held, scores, strict=True):
        if pair.label:
            supported = score
        else:
            gaps.append(supported - score)  # the supported claim's score minus its perturbed copy's
    assert gaps and sum(gaps) / len(gaps) > 0, gaps
    # verifier.json: what was trained, on what, and how it did on the held-out documents
    assert meta["counts"]["eval"] == len(held) and meta["counts"]["pairs"] == len(tiny_pairs)
    assert sum(meta["counts"]["by_kind"].values()) == len(tiny_pairs)
    assert meta["eval"] == evaluate(scores, held)  # the loaded model is the trained one
    assert meta["model_sha256"] == model_files_sha256(out) and len(meta["data_sha256"]) == 64
    assert json.loads((out / METADATA_FILE).read_text()) == meta
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind


@pytest.mark.slow
def test_round_trip_scores_are_identical(tiny_verifier, tiny_pairs):
    out, _ = tiny_verifier
    claims, premises = [p.claim for p in tiny_pairs[:20]], [p.premise for p in tiny_pairs[:20]]
    first = Verifier.load(out).score(claims, premises)
    assert Verifier.load(out).score(claims, premises) == first
    assert Verifier.load(out).score([], []) == []


@pytest.mark.slow
def test_scores_are_memoised_and_the_memo_is_bounded(tiny_verifier, tiny_pairs, monkeypatch):
    out, _ = tiny_verifier
    claims, premises = [p.claim for p in tiny_pairs[:12]], [p.premise for p in tiny_pairs[:12]]
    verifier = Verifier.load(out)
    fresh = verifier.score(claims, premises)
    calls = []
    predict = verifier.model.predict
    monkeypatch.setattr(verifier.model, "predict", lambda pairs, **kw: calls.append(len(pairs)) or predict(pairs, **kw))
    assert verifier.score(claims[::-1], premises[::-1]) == fresh[::-1] and calls == []  # all from the memo
    verifier.CACHE_SIZE = 4
    assert verifier.score(claims[:1] + claims, premises[:1] + premises) == fresh[:1] + fresh  # order, duplicates
    assert len(verifier._memo) == 4 and calls == []
    again = verifier.score(claims, premises)
    assert calls == [8]  # the 8 evicted pairs, scored once each
    assert again == pytest.approx(fresh, abs=1e-5)  # float32: another batch, the same scores


def test_a_missing_or_damaged_verifier_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no verifier here"):
        Verifier.load(tmp_path / "missing")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "model.safetensors").write_bytes(b"not a model")
    (damaged / METADATA_FILE).write_text(json.dumps({"model_sha256": model_files_sha256(damaged)}))
    with pytest.raises(UserError, match="could not be loaded"):
        Verifier.load(damaged)
    (damaged / "model.safetensors").write_bytes(b"not a model either")
    with pytest.raises(UserError, match="sha256 mismatch"):
        Verifier.load(damaged)
    (damaged / METADATA_FILE).write_text("{not json")
    with pytest.raises(UserError, match="unreadable verifier metadata"):
        Verifier.load(damaged)


def test_output_directory_is_replaced_only_when_it_holds_a_verifier(tmp_path):
    from rag.cross_encoder import replace_dir as _replace_dir

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not a verifier directory"):
        train_verifier([Pair("Revenue was $5.", "Revenue | $5", 1, "row", "acme")], foreign)
    assert (foreign / "notes.txt").read_text() == "mine"
    old, new = tmp_path / "verifier", tmp_path / ".verifier.tmp-1"
    for directory, text in ((old, "old"), (new, "new")):
        directory.mkdir()
        (directory / METADATA_FILE).write_text(text)
    _replace_dir(new, old)
    assert (old / METADATA_FILE).read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == [
        "foreign", "verifier"]


def test_cli_trains_and_records_the_verifier(example_index, tmp_path):
    from cai.cli import cli

    index = tmp_path / "index"
    shutil.copytree(example_index, index)  # the session index stays as ingested
    result = CliRunner().invoke(cli, ["checker", "train", "--index", str(index), "--max-pairs", "24",
                                      "--max-length", "48"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == str(index / "verifier")
    assert lines[-2].startswith("verifier trained on 24 pairs (sentence ")  # default --claims prose: no rows
    assert "row " not in lines[-2] and "number " not in lines[-2]
    entry = json.loads((index / "manifest.json").read_text())["verifier"]
    assert entry["path"] == "verifier" and entry["sha256"] == model_files_sha256(index / "verifier")
    assert json.loads((index / "verifier" / METADATA_FILE).read_text())["created_at"] == entry["created_at"]
    assert json.loads((index / "manifest.json").read_text())["documents"]  # the rest of the manifest is kept
    assert Verifier.load(index / "verifier").score(["Revenue was $2,387.5 million in 2024."],
                                                   ["Revenue $ 2,387.5 $ 2,104.7"])


@pytest.mark.parametrize("case", ["missing", "empty"])
def test_cli_refuses_a_missing_or_empty_index(case, tmp_path):
    from cai.cli import cli
    from rag.store import DocStore

    index = tmp_path / "index"
    if case == "empty":
        DocStore.open(index, create=True).close()
    result = CliRunner().invoke(cli, ["checker", "train", "--index", str(index)])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(index) in errors[0], result.output
    assert not (index / "verifier").exists()



def test_reingesting_keeps_the_verifier_entry_of_the_manifest(tmp_path):
    """`cai ingest` rewrites manifest.json; what other commands recorded there (the verifier) stays."""
    from rag.ingest import ingest

    corpus = Path(__file__).resolve().parents[1] / "examples" / "corpus"
    index = tmp_path / "index"
    ingest([corpus / "halvorsen-tidewater-2025-investor-day.md"], index, progress=False)
    manifest = json.loads((index / "manifest.json").read_text())
    manifest["verifier"] = {"path": str(index / "verifier"), "sha256": "0" * 64}
    (index / "manifest.json").write_text(json.dumps(manifest))
    ingest([corpus / "ostrander-quarry-2024-annual-report.txt"], index, progress=False)
    after = json.loads((index / "manifest.json").read_text())
    assert after["verifier"] == manifest["verifier"] and len(after["documents"]) == 2
