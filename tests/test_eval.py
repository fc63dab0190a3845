"""`cai eval`: the metrics against hand-computed values on a small hand-built fixture (real offline
checker, real claim splitter), correctness against gold and relevance on a second hand-built fixture
(supported but wrong, correct but unsupported), answers-file joining with bad lines, malformed gold,
target configs, and an end-to-end run on the quickstart (grounded teacher + an answers file) writing
table (with its correctness column), metrics and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cai.cli import cli
from cai.core.configs import EvalConfig, EvalTarget
from cai.core.contracts import SourcePage
from cai.core.errors import UserError
from cai.stages.eval import (
    Rate,
    abstains,
    answer_support,
    answer_words,
    citation_precision,
    citation_recall,
    claim_support,
    correct_abstention,
    correct_counts,
    disagreements,
    false_abstention,
    is_answerable,
    load_answers,
    mean_words,
    measure,
    relevance_counts,
    render_table,
    target_metrics,
)
from rewards.checker import get_checker
from rewards.correctness import read_gold

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart" / "questions.jsonl"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
D = "acme-2024-10k"
PAGES = [
    SourcePage(doc_id=D, page=3, text="Acme Corp reported total revenue of $412.3 million in fiscal 2024. "
                "Net income was $35.1 million in fiscal 2024. The company had 1,200 employees at year end."),
    SourcePage(doc_id=D, page=7,
               text="Operating income was $58.4 million in fiscal 2024, up from $51.0 million in fiscal 2023."),
]
TURNOVER = "What was Acme's employee turnover rate in 2024?"
# (question, answerable, answer): one right and one wrong figure, both cited to p.3; a supported
# claim citing the wrong page (p.3, the figure is on p.7); a correct abstention; a hallucinated
# figure on an unanswerable question; a false abstention on an answerable one.
FIXTURE = [
    ("What were Acme's revenue and net income in fiscal 2024?", True,
     f"Acme's total revenue was $412.3 million in fiscal 2024 [{D} p.3]. "
     f"Net income was $53.1 million in fiscal 2024 [{D} p.3]."),
    ("What was Acme's operating income in fiscal 2024?", True,
     f"Operating income was $58.4 million in fiscal 2024 [{D} p.3]."),
    (TURNOVER, False, "The sources do not state Acme's employee turnover rate."),
    (TURNOVER, False, "Acme's employee turnover rate was 11.2% in 2024."),
    ("What was Acme's net income in fiscal 2024?", True, "The sources do not state Acme's net income."),
]


REVENUE = "What was Acme's total revenue in fiscal 2024?"
OPERATING = "What was Acme's operating income in fiscal 2024?"
REVENUE_GOLD = {"gold": [{"doc": D, "page": 3, "quote": "total revenue of $412.3 million in fiscal 2024"}]}
# (question, metadata, answer): right; supported but answering another measure (wrong, off the question);
# right by a gold answer's figure; a correct abstention; the prior year's figure (unsupported and wrong);
# the gold figure beside an unsupported boast (correct but unsupported); a question without gold.
GOLD_FIXTURE = [
    (REVENUE, REVENUE_GOLD, f"Acme's total revenue was $412.3 million in fiscal 2024 [{D} p.3]."),
    (REVENUE, REVENUE_GOLD, f"Net income was $35.1 million in fiscal 2024 [{D} p.3]."),
    (OPERATING, {"gold_answer": "$58.4 million"}, "Operating income was $58.4 million in fiscal 2024."),
    (TURNOVER, {"tags": ["unanswerable"]}, "The sources do not state Acme's employee turnover rate."),
    (OPERATING, {"gold_answer": "$58.4 million"}, "Operating income was $51.0 million in fiscal 2024."),
    (REVENUE, {"gold_answer": "$412.3 million"},
     "Total revenue was $412.3 million in fiscal 2024. Acme is the largest widget maker in Ohio."),
    ("What was Acme's net income in fiscal 2024?", {}, "Net income was $35.1 million in fiscal 2024."),
]


@pytest.fixture(scope="module")
def gold_rows() -> list[dict]:
    checker = get_checker("offline")
    return [{"id": f"g{n}", "answerable": "unanswerable" not in meta.get("tags", []),
             **measure(q, a, PAGES, checker, gold=read_gold(meta))} for n, (q, meta, a) in enumerate(GOLD_FIXTURE, 1)]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    checker = get_checker("offline")
    return [{"answerable": ok, **measure(q, a, PAGES, checker)} for q, ok, a in FIXTURE]


def test_each_answer_is_measured_as_computed_by_hand(rows):
    raw = [r["raw"] for r in rows]
    assert [(m["claims"], m["supported"]) for m in raw] == [(2, 1), (1, 1), (0, 0), (1, 0), (0, 0)]
    assert [(m["citations"], m["precise_citations"], m["recalled_claims"]) for m in raw] == [
        (2, 1, 1), (1, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0)]
    assert [m["abstained"] for m in raw] == [False, False, True, False, True]
    assert [m["words"] for m in raw] == [17, 8, 9, 8, 8]
    # delivered: the wrong figure removed, the evidence page added, the hallucination replaced by an abstention
    assert rows[0]["answer"] == f"Acme's total revenue was $412.3 million in fiscal 2024 [{D} p.3]."
    assert f"[{D} p.7]" in rows[1]["answer"]
    assert [r["delivered"]["abstained"] for r in rows] == [False, False, True, True, True]
    assert [r["delivered"]["words"] for r in rows] == [9, 8, 9, 16, 8]
    assert [c["verdict"] for c in rows[0]["claims"]] == ["supported", "unsupported"]


def test_metrics_match_hand_computed_values(rows):
    assert claim_support(rows) == Rate(2, 4)  # supported claims / all claims, pooled
    assert answer_support(rows) == Rate(1, 3)  # fully supported answers / answers with a claim
    assert citation_precision(rows) == Rate(1, 3)  # only the right figure's citation is precise
    assert citation_recall(rows) == Rate(1, 4)  # the wrong-page citation does not support its claim
    assert correct_abstention(rows) == Rate(1, 2) and false_abstention(rows) == Rate(1, 3)
    assert correct_abstention(rows, "delivered") == Rate(2, 2) and false_abstention(rows, "delivered") == Rate(1, 3)
    assert mean_words(rows) == 50 / 5 and mean_words(rows, "delivered") == 50 / 5
    m = target_metrics(rows)
    assert (m["answers"], m["answerable"], m["unanswerable"]) == (5, 3, 2)
    assert m["raw"]["claim_support_rate"] == {"value": 0.5, "num": 2, "den": 4}
    assert m["raw"]["supported_answer_rate"] == {"value": 0.3333, "num": 1, "den": 3}
    assert m["raw"]["citation_recall"]["value"] == 0.25 and m["raw"]["unverified_claims"] == 0
    assert m["delivered"]["correct_abstention_rate"]["value"] == 1.0 and m["raw"]["mean_words"] == 10.0


def test_correctness_relevance_and_their_disagreement_with_support_as_computed_by_hand(gold_rows):
    raw = [r["raw"] for r in gold_rows]
    assert [m["correct"] for m in raw] == [True, False, True, True, False, True, None]
    assert [(m["claims"], m["supported"], m["relevant"]) for m in raw] == [
        (1, 1, 1), (1, 1, 0), (1, 1, 1), (0, 0, 0), (1, 0, 1), (2, 1, 1), (1, 1, 1)]
    assert [m["correct_method"] for m in raw] == ["gold_quotes", "gold_quotes", "figures", "abstention", "figures",
                                                  "figures", None]
    assert "none of the gold" in raw[1]["correct_why"] and "58.4" in raw[4]["correct_why"]
    # delivered: the off-question claim and the prior-year figure removed (abstentions: wrong), the boast removed
    assert [r["delivered"]["correct"] for r in gold_rows] == [True, False, True, True, False, True, None]
    assert [r["delivered"]["abstained"] for r in gold_rows] == [False, True, False, True, True, False, False]
    assert correct_counts(gold_rows) == (4, 6) and correct_counts(gold_rows, "delivered") == (4, 6)
    assert relevance_counts(gold_rows) == (5, 7)
    assert disagreements(gold_rows) == {"supported_but_wrong": ["g2"], "correct_but_unsupported": ["g6"],
                                        "delivered_but_wrong": []}
    assert [c["relevant"] for c in gold_rows[5]["claims"]] == [True, False]
    m = target_metrics(gold_rows)
    assert m["raw"]["correct_rate"] == {"value": 0.6667, "num": 4, "den": 6}
    assert m["raw"]["claim_relevance_rate"] == {"value": 0.7143, "num": 5, "den": 7}
    assert m["delivered"]["correct_rate"]["num"] == 4 and m["disagreements"]["supported_but_wrong"] == ["g2"]
    table = render_table({"targets": {"t": {"kind": "answers", **m}}})
    head = table.splitlines()[0].split(" | ")
    assert "correct" in head and "delivered: correct" in head and "claim relevance" in head
    assert "0.667 (4/6)" in table.splitlines()[2]
    assert "| t | 1: g2 | 1: g6 | 0 |" in table.split("Support vs correctness")[1]


def test_metrics_without_denominators_or_citations_are_none():
    row = {"answerable": True, "raw": {"claims": 0, "supported": 0, "unverified": 0, "citations": None,
                                       "precise_citations": None, "recalled_claims": None, "abstained": True,
                                       "words": 0},
           "delivered": {"claims": 0, "abstained": True, "words": 0}}
    m = target_metrics([row])
    assert m["raw"]["claim_support_rate"] == {"value": None, "num": 0, "den": 0}
    assert m["raw"]["citation_precision"] is None and m["raw"]["correct_abstention_rate"]["value"] is None
    assert m["raw"]["false_abstention_rate"]["value"] == 1.0
    assert target_metrics([])["raw"]["mean_words"] is None
    table = render_table({"targets": {"x": {"kind": "answers", **m}}})
    assert "| x | answers | 1 | n/a (0/0) |" in table and "1.000 (1/1)" in table


def test_words_abstention_and_answerable_labels():
    assert answer_words(f"Revenue was $5 million in 2024 [{D} p.3]. [{D} p.4]") == 6
    assert answer_words("") == 0
    assert abstains("The provided documents do not mention the fuel expense.")
    assert abstains("Yes.")  # asserts nothing: no answer given
    assert abstains("The sources do not state fuel costs. Cost of services was $1,804.1 million.")
    assert not abstains("Cost of services was $1,804.1 million in 2024.")
    assert not is_answerable({"tags": ["unanswerable", "abstention"]}) and not is_answerable({"answerable": False})
    assert is_answerable({"tags": ["numeric"]}) and is_answerable({})


def test_answers_file_bad_lines_are_counted_not_fatal(tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_text("\n".join([
        json.dumps({"id": "q1", "answer": "A."}), "{not json", json.dumps(["q2"]), json.dumps({"answer": "no id"}),
        json.dumps({"id": "q2", "answer": 3}), json.dumps({"id": "q1", "answer": "again"}),
        json.dumps({"id": "zz", "answer": "?"}),
        json.dumps({"id": "q3", "final_answer": "From a generate run."}), "",
    ]) + "\n")
    got = load_answers(f, {"q1", "q2", "q3"})
    assert got.answers == {"q1": "A.", "q3": "From a generate run."} and got.unknown_ids == ["zz"]
    assert [line.split(": ", 1)[0] for line in got.bad_lines] == [f"{f}:{n}" for n in (2, 3, 4, 5, 6)]
    assert "duplicate id 'q1'" in got.bad_lines[-1]


def test_target_kinds_are_inferred_and_checked():
    assert EvalTarget(name="g", kind="grounded").kind == "grounded"
    assert EvalTarget(name="a", answers=Path("x.jsonl")).kind == "answers"
    assert EvalTarget(name="p", adapter=Path("run/adapter")).kind == "policy"  # the base comes from the adapter
    for bad in [{"name": "x"}, {"name": "x", "policy": "m", "answers": "a.jsonl"},
                {"name": "x", "kind": "grounded", "policy": "m"}]:
        with pytest.raises(ValueError):
            EvalTarget(**bad)
    with pytest.raises(ValueError, match="unique"):
        EvalConfig(questions="q", index="i",
                   targets=[{"name": "a", "kind": "grounded"}, {"name": "a", "kind": "grounded"}])


def _eval_config(tmp_path: Path, index: Path, targets: list[dict], **extra) -> Path:
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(yaml.safe_dump({"questions": str(QUICKSTART), "index": str(index), "targets": targets,
                                   "runs_dir": str(tmp_path / "runs"), **extra}))
    return cfg


def test_eval_on_the_quickstart_writes_table_metrics_and_plots(tmp_path, example_index):
    drafts = {q["id"]: q["answer"] for q in map(json.loads, QUICKSTART.read_text().splitlines())}
    answers = tmp_path / "answers.jsonl"  # the drafts of 8 of the first 10 questions, a bad line, an unknown id
    answers.write_text("".join(json.dumps({"id": i, "answer": drafts[i]}) + "\n"
                               for i in ["ex-01", "ex-02", "ex-03", "ex-04", "ex-05", "ex-06", "ex-09", "ex-10"])
                       + "oops\n" + json.dumps({"id": "nope", "answer": "x"}) + "\n")
    cfg = _eval_config(tmp_path, example_index, [{"name": "grounded", "kind": "grounded"},
                                                 {"name": "drafts", "answers": str(answers)}], limit=10)
    result = CliRunner().invoke(cli, ["eval", str(cfg)])
    assert result.exit_code == 0, result.output
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path / "runs" and run_dir.is_dir()
    assert "1 bad line(s)" in result.stderr and "nope" in result.stderr and "ex-07" in result.stderr
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["counts"]["rows"] == 18 and (run_dir / "config.yaml").is_file()

    metrics = json.loads((run_dir / "metrics.json").read_text())
    g, d = metrics["targets"]["grounded"], metrics["targets"]["drafts"]
    assert metrics["questions"] == 10 and (g["answers"], d["answers"]) == (10, 8)
    assert (g["unanswerable"], d["unanswerable"]) == (2, 2)  # ex-09 and ex-10 are labelled unanswerable
    assert d["missing_ids"] == ["ex-07", "ex-08"] and d["unknown_ids"] == ["nope"] and len(d["bad_lines"]) == 1
    # the ex-10 draft says the sources do not state the fuel expense; the ex-09 draft invents a figure
    assert d["raw"]["correct_abstention_rate"] == {"value": 0.5, "num": 1, "den": 2}
    assert d["delivered"]["correct_abstention_rate"]["value"] == 1.0  # verification removes the invented figure
    # no draft here cites
    assert d["raw"]["claim_support_rate"]["value"] < 1.0 and d["raw"]["citation_recall"]["num"] == 0
    assert g["raw"]["claim_support_rate"]["value"] == 1.0 and g["raw"]["citation_recall"]["value"] == 1.0
    rows = [json.loads(line) for line in (run_dir / "answers.jsonl").read_text().splitlines()]
    assert len(rows) == 18 and {r["target"] for r in rows} == {"grounded", "drafts"}
    assert sum(r["raw"]["supported"] for r in rows if r["target"] == "drafts") == d["raw"]["claim_support_rate"]["num"]

    table = (run_dir / "table.md").read_text()
    lines = table.split("\n\n")[0].splitlines()
    assert (len(lines) == 4 and lines[2].startswith("| grounded | grounded | 10 |")
            and lines[3].startswith("| drafts | answers | 8 |"))
    assert table in result.stdout
    # the correctness column: every one of the first 10 quickstart questions carries gold or is unanswerable
    column = lines[0].split(" | ").index("correct")
    assert lines[2].split(" | ")[column].endswith("/10)") and lines[3].split(" | ")[column].endswith("/8)")
    assert d["raw"]["correct_rate"]["den"] == 8 and metrics["gold_tolerance"] == 0.01
    # the ex-02 draft (a transposed figure) is wrong; the ex-10 draft (an abstention) is right
    by_id = {r["id"]: r for r in rows if r["target"] == "drafts"}
    assert by_id["ex-02"]["raw"]["correct"] is False and by_id["ex-10"]["raw"]["correct"] is True
    assert "Support vs correctness" in table
    for png in ("rates.png", "lengths.png"):
        data = (run_dir / png).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000


def test_eval_user_errors_exit_2_before_a_run(tmp_path, example_index):
    answers = tmp_path / "a.jsonl"
    answers.write_text(json.dumps({"id": "other", "answer": "x"}) + "\n")
    cfg = _eval_config(tmp_path, example_index, [{"name": "a", "answers": str(answers)}])
    result = CliRunner().invoke(cli, ["eval", str(cfg)])
    assert result.exit_code == 2 and "answers none of the 26 selected questions" in result.output
    missing = _eval_config(tmp_path, example_index, [{"name": "a", "answers": str(tmp_path / "none.jsonl")}])
    result = CliRunner().invoke(cli, ["eval", str(missing)])
    assert result.exit_code == 2 and "eval.yaml:" in result.output and "answers file not found" in result.output
    assert not (tmp_path / "runs").exists()
    with pytest.raises(UserError, match="no valid questions"):
        from cai.stages.eval import load_eval_questions

        (tmp_path / "empty.jsonl").write_text("\n")
        load_eval_questions(EvalConfig(questions=tmp_path / "empty.jsonl", index=example_index,
                                       targets=[{"name": "g", "kind": "grounded"}]))


def test_malformed_gold_is_a_located_user_error_before_a_run(tmp_path, example_index):
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "a", "question": "What was revenue?", "metadata": {"gold": []}}) + "\n"
                         + json.dumps({"id": "b", "question": "What was net income?",
                                       "metadata": {"gold": [{"doc": "d", "page": "two", "quote": "q"}]}}) + "\n")
    cfg = _eval_config(tmp_path, example_index, [{"name": "g", "kind": "grounded"}])
    cfg.write_text(cfg.read_text().replace(str(QUICKSTART), str(questions)))
    result = CliRunner().invoke(cli, ["eval", str(cfg)])
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and f"{questions}:2: metadata.gold[0].page:" in line
    assert not (tmp_path / "runs").exists()


def test_tolerance_of_figures_against_a_gold_answer_is_an_option(tmp_path, example_index):
    questions, answers = tmp_path / "q.jsonl", tmp_path / "a.jsonl"
    questions.write_text(json.dumps({"id": "t1", "question": "What was Halvorsen Tidewater's net income in 2024?",
                                     "metadata": {"gold_answer": "$147.4 million"}}) + "\n")
    answers.write_text(json.dumps({"id": "t1", "answer": "Net income was about $150 million in 2024."}) + "\n")
    cfg = _eval_config(tmp_path, example_index, [{"name": "a", "answers": str(answers)}], citations=False)
    cfg.write_text(cfg.read_text().replace(str(QUICKSTART), str(questions)))
    rates = {}
    for tolerance in ("0.01", "0.05"):  # $150 million is 1.8% off $147.4 million
        result = CliRunner().invoke(cli, ["eval", str(cfg), "--tolerance", tolerance])
        assert result.exit_code == 0, result.output
        metrics = json.loads((Path(result.stdout.strip().splitlines()[-1]) / "metrics.json").read_text())
        assert metrics["gold_tolerance"] == float(tolerance)
        rates[tolerance] = metrics["targets"]["a"]["raw"]["correct_rate"]
    assert rates == {"0.01": {"value": 0.0, "num": 0, "den": 1}, "0.05": {"value": 1.0, "num": 1, "den": 1}}


def test_the_unanswerable_example_config_gets_abstentions_delivered(tmp_path, example_index):
    cfg = ROOT / "examples" / "quickstart" / "eval-unanswerable.yaml"
    result = CliRunner().invoke(cli, ["eval", str(cfg), f"index={example_index}", f"runs_dir={tmp_path / 'runs'}"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((Path(result.stdout.strip().splitlines()[-1]) / "metrics.json").read_text())
    for name in ("grounded", "drafts"):
        m = metrics["targets"][name]
        assert m["unanswerable"] == m["answers"] >= 3
        delivered = m["delivered"]
        assert delivered["correct_abstention_rate"]["value"] == 1.0 and delivered["correct_rate"]["value"] == 1.0
    drafts = metrics["targets"]["drafts"]["raw"]  # one draft abstains (un-03), the others invent a figure
    assert drafts["correct_rate"]["num"] == drafts["correct_abstention_rate"]["num"] == 1


def test_several_policy_targets_share_a_base_and_fill_the_table_and_plots(tmp_path, example_index):
    """base vs sft vs ppo as eval-smollm2.yaml compares them (here the smoke policy and a random LoRA
    adapter): one row per target in table.md, both plots, one loaded base model for all three."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from cai.training.smoke import build_smoke_policy

    base = build_smoke_policy(tmp_path / "policy")
    torch.manual_seed(0)
    lora = get_peft_model(AutoModelForCausalLM.from_pretrained(base), LoraConfig(
        r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    lora.save_pretrained(tmp_path / "adapter")
    targets = [{"name": "base", "policy": str(base)},
               {"name": "sft", "policy": str(base), "adapter": str(tmp_path / "adapter")},
               {"name": "ppo", "policy": str(base), "adapter": str(tmp_path / "adapter")}]
    cfg = _eval_config(tmp_path, example_index, targets, limit=3, max_new_tokens=8, citations=False)
    result = CliRunner().invoke(cli, ["eval", str(cfg)])
    assert result.exit_code == 0, result.output
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    table = (run_dir / "table.md").read_text()
    assert all(f"| {name} |" in table for name in ("base", "sft", "ppo"))
    assert (run_dir / "rates.png").stat().st_size > 0 and (run_dir / "lengths.png").stat().st_size > 0
    metrics = json.loads((run_dir / "metrics.json").read_text())["targets"]
    assert [metrics[n]["answers"] for n in ("base", "sft", "ppo")] == [3, 3, 3]
    assert metrics["base"]["answered_by"]["adapter"] is None
    assert metrics["sft"]["answered_by"]["adapter"] == str(tmp_path / "adapter")
    rows = [json.loads(line) for line in (run_dir / "answers.jsonl").read_text().splitlines()]
    answers = {name: [r["raw_answer"] for r in rows if r["target"] == name] for name in ("base", "sft", "ppo")}
    assert answers["sft"] == answers["ppo"]  # the same adapter: the same greedy answers


def test_a_question_row_s_filters_scope_eval_retrieval(tmp_path, example_index):
    questions = tmp_path / "q.jsonl"  # names no company: the row says which filing it is asked of
    scope = {"filters": {"doc_id": "ostrander-quarry-2024-annual-report"}}
    questions.write_text(json.dumps({"id": "s1", "question": "What was total revenue in fiscal 2024?",
                                     "metadata": scope}) + "\n")
    cfg = _eval_config(tmp_path, example_index, [{"name": "grounded", "kind": "grounded"}])
    cfg.write_text(cfg.read_text().replace(str(QUICKSTART), str(questions)))
    result = CliRunner().invoke(cli, ["eval", str(cfg)])
    assert result.exit_code == 0, result.output
    [row] = [json.loads(line) for line in (Path(result.stdout.strip().splitlines()[-1]) / "answers.jsonl").open()]
    assert row["sources"] and all(s.startswith("ostrander-quarry-2024-annual-report p.") for s in row["sources"])
