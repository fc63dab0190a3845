"""bench/lift.py's pure parts: the company folds (the retrieval LCO bench's), the question files'
rows, the aggregation over seeds, and the per-stage resume rule (no model, no index)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lift():
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("bench_lift", ROOT / "bench" / "lift.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(companies: dict[str, int], doc: str = "{c}_2020_10K") -> list[dict]:
    return [{"id": f"{c}-{i}", "company": c, "doc_name": doc.format(c=c), "question": f"q {c} {i}",
             "gold_answer": "$1", "question_type": "metrics-generated"}
            for c, n in companies.items() for i in range(n)]


def test_fold_split_deals_whole_companies_as_the_retrieval_bench_does(lift):
    from retrieval_lco import company_folds

    data = rows({"A": 3, "B": 1, "C": 2, "D": 4, "E": 1, "F": 2})
    for fold in range(3):
        folds, train, held = lift.fold_split(data, 3, 0, fold)
        assert folds == company_folds([r["company"] for r in data], 3, 0)
        assert {r["company"] for r in held} == set(folds[fold])
        assert not {r["company"] for r in train} & {r["company"] for r in held}
        assert len(train) + len(held) == len(data)
    with pytest.raises(ValueError):
        lift.fold_split(data, 3, 0, 3)


def test_split_by_index_keeps_other_years_apart_from_absent_companies(lift):
    data = rows({"A": 2, "B": 1}) + [{**rows({"A": 1})[0], "id": "A-old", "doc_name": "A_2015_10K"},
                                     {**rows({"Z": 1})[0], "doc_name": "Z_2022_10K"}]
    indexed, absent, skipped = lift.split_by_index(data, {"A_2020_10K", "B_2020_10K"})
    assert [r["id"] for r in indexed] == ["A-0", "A-1", "B-0"]
    assert [r["company"] for r in absent] == ["Z"]  # no filing of Z at all: unanswerable from this index
    assert [r["id"] for r in skipped] == ["A-old"]  # another year of A is indexed: neither


def test_question_rows_carry_gold_and_unanswerable_tags(lift):
    from rewards.correctness import is_answerable, read_gold

    r = lift.question_row(rows({"A": 1})[0])
    assert read_gold(r["metadata"]).answer == "$1" and is_answerable(r["metadata"])
    assert "gold_answer" not in lift.question_row(rows({"A": 1})[0], gold=False)["metadata"]
    un = lift.unanswerable_rows(rows({"Z": 1}), [{"id": "un-01", "question": "Fees of Halvorsen?"}])
    assert [u["id"] for u in un] == ["absent-Z-0", "fictional-un-01"]
    assert not any(is_answerable(u["metadata"]) for u in un)
    assert all(read_gold(u["metadata"]).judgeable for u in un)


def test_aggregate_is_mean_and_half_range_over_seeds(lift):
    assert lift.aggregate([0.5, 0.7]) == {"mean": 0.6, "spread": 0.1, "values": [0.5, 0.7]}
    assert lift.aggregate([None, 0.4])["mean"] == 0.4
    assert lift.aggregate([None, None])["mean"] is None
    agg = lift.aggregate_targets([{"base": {"claim support": 0.4}, "ppo": {"claim support": 0.6}},
                                  {"base": {"claim support": 0.4}, "ppo": {"claim support": 0.8}}])
    assert agg["base"]["claim support"]["spread"] == 0.0
    assert agg["ppo"]["claim support"]["mean"] == 0.7
    md = lift.table(agg, ["claim support"])
    assert "| claim support | 0.400 ± 0.000 | 0.700 ± 0.100 |" in md


def test_flat_reads_rates_and_means_from_eval_metrics(lift):
    from cai.stages.eval import target_metrics

    row = {"target": "base", "id": "q", "answerable": True,
           "raw": {"claims": 2, "supported": 1, "unverified": 0, "citations": 1, "precise_citations": 1,
                   "recalled_claims": 1, "citation_claims": 2, "abstained": False, "words": 10, "relevant": 1,
                   "correct": True},
           "delivered": {"claims": 1, "abstained": False, "words": 6, "correct": False}}
    got = lift.flat(target_metrics([row]), lift.METRICS)
    assert got["claim support"] == 0.5 and got["citation recall"] == 0.5 and got["citation precision"] == 1.0
    assert got["correct"] == 1.0 and got["delivered: correct"] == 0.0 and got["mean words"] == 10


def test_acceptance_compares_ppo_with_base(lift):
    agg = {"base": {"claim support": {"mean": 0.4}, "correct": {"mean": 0.1}, "citation recall": {"mean": 0.0}},
           "ppo": {"claim support": {"mean": 0.85}, "correct": {"mean": 0.1}, "citation recall": {"mean": 0.2}}}
    a = lift.acceptance(agg)
    assert a["ppo_support_at_least_2x_base"] and a["ppo_support_at_least_0.8"]
    assert a["ppo_correct_not_below_base"] and a["ppo_citation_recall_at_least_0.7"] is False


def test_a_finished_stage_is_reused_only_with_the_same_config_and_questions(lift, tmp_path):
    from cai.core.configs import load_config
    from cai.core.runs import config_hash

    runs, questions = tmp_path / "runs", tmp_path / "train.jsonl"
    questions.write_text('{"id": "q1", "question": "What was revenue?"}\n')
    config, overrides = lift.CONFIGS / "generate.yaml", [f"questions={questions}", f"index={tmp_path / 'index'}"]
    full = [*overrides, f"runs_dir={runs}", "run_name=lift-generate"]
    cfg = load_config(config, full, stage="generate", check_paths=False)
    sha = hashlib.sha256(questions.read_bytes()).hexdigest()
    same = {"stage": "generate", "config_hash": config_hash(cfg), "inputs": {"questions": {"sha256": sha}}}
    made = {"lift-generate-20260101-000000": {**same, "status": "finished"},
            "lift-generate-20260102-000000": {**same, "status": "failed"},
            "lift-generate-20260103-000000": {**same, "status": "finished", "config_hash": "another"},
            "lift-generate-s10-20260104-000000": {**same, "status": "finished"}}  # another stage's name
    for name, manifest in made.items():
        (runs / name).mkdir(parents=True)
        (runs / name / "manifest.json").write_text(json.dumps(manifest))
    runner = lift.Runner(runs, threads=1)
    assert runner.stage("lift-generate", "generate", config, overrides) == runs / "lift-generate-20260101-000000"
    assert runner.log[0]["reused"]
    questions.write_text('{"id": "q2", "question": "What was net income?"}\n')  # new questions: not reused
    with pytest.raises(SystemExit):  # report-only never starts a stage
        lift.Runner(runs, threads=1, report_only=True).stage("lift-generate", "generate", config, overrides)


def test_work_dir_differs_by_sizes(lift):
    a = lift.work_dir(lift.parse_args(["--fold", "0", "--synth", "16"]))
    b = lift.work_dir(lift.parse_args(["--fold", "0", "--synth", "8"]))
    assert a != b and a.parent == b.parent
    assert lift.parse_args(["--seeds", "0,1"]).seeds == [0, 1]
    with pytest.raises(SystemExit):
        lift.parse_args(["--rl", "ppo"])


def test_same_answers_counts_word_for_word_repeats(lift):
    a = [{"id": "1", "raw_answer": "x"}, {"id": "2", "raw_answer": "y"}]
    b = [{"id": "1", "raw_answer": "x"}, {"id": "2", "raw_answer": "z"}, {"id": "3", "raw_answer": "x"}]
    assert lift.same_answers(a, b) == 1
