"""`cai answer` on the example index with the real offline checker: grounded answers are cited and
quoted verbatim, unsupported claims are removed or marked, supported claims that miss the question are
removed (relevance), every example question tagged unanswerable gets the explicit abstention, `--json`
says why each claim was kept or removed, a random smoke policy (with and without a LoRA adapter) is
verified down to an abstention, bad input exits 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core.contracts import ScoreInput, Verdict
from cai.core.prompts import REFUSAL, refusal
from cai.stages.answer import answer_question, render_text
from cai.training.policy import open_policy
from rag.quotes import QuoteResolver, source_pages
from rewards.verify import verify_answer

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart"
QUESTIONS = [json.loads(line) for line in (QUICKSTART / "questions.jsonl").read_text().splitlines() if line.strip()]
UNANSWERABLE_FILE = [json.loads(line) for line in (QUICKSTART / "unanswerable.jsonl").read_text().splitlines()
                     if line.strip()]
UNANSWERABLE = [q for q in QUESTIONS + UNANSWERABLE_FILE if "unanswerable" in q["metadata"]["tags"]]
FISCAL_YEAR_END_Q = "When does Ostrander's fiscal year end?"
REVENUE_Q = next(q["question"] for q in QUESTIONS if q["id"] == "ex-01")
NET_INCOME_Q = next(q["question"] for q in QUESTIONS if q["id"] == "ex-02")
DOC = "halvorsen-tidewater-2024-10k"


@pytest.fixture(scope="module")
def retriever(example_index):
    from rag.retrieve import Retriever

    r = Retriever.open(example_index)
    yield r
    r.close()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[Path, Path]:
    """The smoke policy and a LoRA adapter on it (non-zero init, so its output differs), saved with
    a cai_adapter.json that names another base model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from cai.training.smoke import build_smoke_policy

    base = build_smoke_policy(tmp_path_factory.mktemp("smoke") / "policy")
    torch.manual_seed(0)
    lora = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                          LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"],
                                     init_lora_weights=False))
    adapter = tmp_path_factory.mktemp("smoke") / "adapter"
    lora.save_pretrained(adapter)
    (adapter / "cai_adapter.json").write_text(json.dumps(
        {"constitution": {"name": "finance-10k", "sha256": "0" * 64}, "data_run": "runs/x",
         "base_model": "some-org/other-model"}))
    return base, adapter


def _pages(retriever, question):
    return source_pages(retriever.search(question, k=5), retriever.store.page)


def test_grounded_answer_is_supported_cited_and_quoted_verbatim(retriever, checker):
    result = answer_question(REVENUE_Q, retriever=retriever, checker=checker)
    assert result.answered_by.kind == "grounded" and not result.abstained
    assert result.claims and all(c.verdict == Verdict.supported for c in result.claims)
    resolver = QuoteResolver(retriever.store)
    for c in result.claims:
        loc = c.evidence.locator
        assert resolver.text_at(loc) == c.evidence.quote  # verbatim at its locator
        assert loc.citation() in c.citations and c.text in result.answer  # its evidence page cited inline
        assert result.answer[c.span[0]:c.span[1]] == c.text
    assert "2,387.5" in result.answer
    # what is delivered passes the checker as it stands
    again = checker.check(REVENUE_Q, result.answer, _pages(retriever, REVENUE_Q))
    assert again and all(v.verdict == Verdict.supported for v in again)


def test_unsupported_claims_removed_by_default_and_marked_on_request(retriever, checker):
    pages = _pages(retriever, NET_INCOME_Q)
    raw = ("Yes. Net income in 2024 was $147.4 million, or $2.42 per diluted share. "
           f"Net income in 2024 was $174.4 million [{DOC} p.7]. Hope this helps!")
    removed = verify_answer(NET_INCOME_Q, raw, pages, checker=checker)
    assert removed.answer.startswith("Net income in 2024 was $147.4 million") and "174.4" not in removed.answer
    assert "Yes." not in removed.answer and "Hope" not in removed.answer  # filler is not delivered
    [kept] = removed.claims
    assert kept.action == "cited" and kept.evidence.locator.citation() in kept.citations  # missing citation added
    [gone] = removed.removed
    assert gone.action == "removed" and gone.verdict != Verdict.supported and "174.4" in gone.text
    assert removed.n_raw_claims == 2 and removed.raw_support_rate == 0.5

    marked = verify_answer(NET_INCOME_Q, raw, pages, checker=checker, on_unsupported="mark")
    assert "[UNSUPPORTED] Net income in 2024 was $174.4 million." in marked.answer
    assert [c.action for c in marked.claims] == ["cited", "marked"] and not marked.removed
    assert marked.claims[1].citations == []  # a marked claim keeps no citation: nothing it cites supports it


def test_citation_of_a_page_outside_the_sources_is_replaced(retriever, checker):
    pages = _pages(retriever, NET_INCOME_Q)
    verified = verify_answer(NET_INCOME_Q, f"Net income in 2024 was $147.4 million [{DOC} p.99].", pages,
                             checker=checker)
    [claim] = verified.claims
    assert f"[{DOC} p.99]" not in verified.answer and claim.citations == [claim.evidence.locator.citation()]


def test_nothing_supported_gives_an_explicit_abstention(retriever, checker):
    pages = _pages(retriever, REVENUE_Q)
    verified = verify_answer(REVENUE_Q, "Bananas are purple.", pages, checker=checker)
    assert verified.abstained and verified.answer == refusal(REVENUE_Q) and not verified.claims
    marked = verify_answer(REVENUE_Q, "Bananas are purple.", pages, checker=checker, on_unsupported="mark")
    assert marked.answer == f"{refusal(REVENUE_Q)} [UNSUPPORTED] Bananas are purple."


def test_a_sentence_that_only_repeats_a_source_word_is_not_delivered(retriever, checker):
    verified = verify_answer(REVENUE_Q, "Revenue revenue revenue.", _pages(retriever, REVENUE_Q), checker=checker)
    assert verified.abstained and not verified.claims


def test_unanswerable_example_questions_are_valid_rows_of_the_questions_format():
    ids = {q["id"] for q in QUESTIONS}
    assert len(UNANSWERABLE_FILE) >= 3 and len({q["id"] for q in UNANSWERABLE_FILE}) == len(UNANSWERABLE_FILE)
    for row in UNANSWERABLE_FILE:
        assert set(row) == {"id", "question", "answer", "metadata"} and row["id"] not in ids
        ScoreInput.model_validate(row)  # also usable as `cai score` / `cai generate` input
        assert "unanswerable" in row["metadata"]["tags"] and row["metadata"]["gold"] == []
    assert len(UNANSWERABLE) >= len(UNANSWERABLE_FILE) + 2  # ex-09, ex-10 of the quickstart too


@pytest.mark.parametrize("row", UNANSWERABLE, ids=lambda r: r["id"])
def test_every_example_question_tagged_unanswerable_gets_the_explicit_abstention(row, retriever, checker):
    result = answer_question(row["question"], retriever=retriever, checker=checker)
    assert result.abstained and result.answer.startswith(REFUSAL) and result.claims == []
    for c in result.removed:  # whatever the draft said is removed, with the reason
        assert c.action == "removed" and c.why.startswith("removed: ")
        assert c.verdict != Verdict.supported or (c.relevance is not None and not c.relevance.relevant)


def test_a_supported_sentence_that_misses_the_question_is_not_delivered(retriever, checker):
    result = answer_question(FISCAL_YEAR_END_Q, retriever=retriever, checker=checker)
    assert "crushed stone" not in result.answer  # the business description on the same page
    assert all(c.relevance is not None and c.relevance.relevant for c in result.claims)
    assert result.abstained or "September 30" in result.answer
    # the raw answer checked directly: a supported but off-question claim is removed, with why
    from rewards.relevance import deliver

    pages = _pages(retriever, NET_INCOME_Q)
    raw = f"Other income (expense), net 3.3 (2.4) 1.9 [{DOC} p.10]. Net income in 2024 was $147.4 million [{DOC} p.7]."
    out = deliver(NET_INCOME_Q, raw, pages, checker=checker)
    assert out.verification.answer.startswith("Net income in 2024 was $147.4 million")
    [(off, why)] = out.off_topic
    assert off.verdict == Verdict.supported and "Other income" in off.text and "another line item" in why.reason


def test_cli_json_says_why_each_claim_was_kept_or_removed(example_index):
    result = CliRunner().invoke(cli, ["answer", "--index", str(example_index), "--json", NET_INCOME_Q])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["claims"] and not out["abstained"]
    for c in out["claims"]:
        assert c["why"].startswith("kept: supported") and c["reason"] and 0 <= c["score"] <= 1
        assert c["relevance"]["relevant"] and c["relevance"]["period"] == "2024" and c["relevance"]["matched"]
    for c in out["removed"]:
        assert c["why"].startswith("removed: ") and c["action"] == "removed"
    unanswerable = next(q["question"] for q in UNANSWERABLE_FILE)
    result = CliRunner().invoke(cli, ["answer", "--index", str(example_index), unanswerable])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(REFUSAL) and "why: removed: " in result.stdout


def test_cli_json_has_claims_with_locators_quotes_and_verdicts(example_index):
    result = CliRunner().invoke(cli, ["answer", "--index", str(example_index), "--json", REVENUE_Q])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["question"] == REVENUE_Q and out["answered_by"]["kind"] == "grounded" and out["sources"]
    for c in out["claims"]:
        assert c["verdict"] == "supported" and 0 <= c["score"] <= 1 and c["citations"]
        assert ({"doc_id", "page", "char_start", "char_end", "sentence"} <= set(c["evidence"]["locator"])
                and c["evidence"]["quote"])


def test_cli_text_lists_claims_with_locator_and_quote(example_index):
    result = CliRunner().invoke(cli, ["answer", "--index", str(example_index), REVENUE_Q])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"[{DOC} p." in lines[0]
    assert lines[3].startswith("1. [supported") and f"{DOC} p." in lines[4] and '"' in lines[4]
    assert lines[-1].startswith("answered by: the grounded teacher")


def test_smoke_policy_output_is_all_removed_and_the_answer_abstains(smoke, retriever, checker):
    base, adapter = smoke
    warnings: list[str] = []
    policy = open_policy(None, adapter, max_new_tokens=24, warn=warnings.append)  # base read from adapter_config.json
    raw = {}
    for use in (adapter, None):  # the adapter's random text, then the plain base model's
        policy.use_adapter(use)
        result = answer_question(REVENUE_Q, retriever=retriever, checker=checker, policy=policy)
        assert result.answer == refusal(REVENUE_Q) and result.abstained and result.claims == []
        assert len(result.removed) == result.n_raw_claims and all(c.verdict != Verdict.supported
                                                                  for c in result.removed)
        assert result.answered_by.kind == "policy" and result.answered_by.model == str(base)
        raw[use] = result
    assert raw[adapter].raw_answer and raw[adapter].removed  # random words were checked and all removed
    assert raw[None].answered_by.adapter is None  # the base model (its greedy output may be empty: special tokens)


def test_lora_adapter_loads_with_its_metadata_and_one_base_serves_several(smoke, retriever, tmp_path):
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    base, adapter = smoke
    warnings: list[str] = []
    policy = open_policy(str(base), adapter, max_new_tokens=8, warn=warnings.append)
    assert isinstance(policy.lm, PeftModel)
    assert policy.adapter_metadata["constitution"]["name"] == "finance-10k"
    assert warnings == [f"adapter {adapter} was trained on 'some-org/other-model', but the policy is {str(base)!r}"]
    by = policy.described()
    assert by.adapter == str(adapter) and by.adapter_metadata == policy.adapter_metadata and by.warnings == warnings

    hits = retriever.search(REVENUE_Q, k=2)
    with_first = policy.generate(REVENUE_Q, hits)
    torch.manual_seed(1)
    other = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj"], init_lora_weights=False))
    other.save_pretrained(tmp_path / "second")
    policy.use_adapter(tmp_path / "second")  # loaded beside the first, on the same base weights
    assert policy.adapter_metadata is None and set(policy.lm.peft_config) == {"adapter0", "adapter1"}
    with_second = policy.generate(REVENUE_Q, hits)
    policy.use_adapter(adapter)
    assert policy.generate(REVENUE_Q, hits) == with_first != with_second
    policy.use_adapter(None)
    assert policy.generate(REVENUE_Q, hits) == open_policy(str(base), max_new_tokens=8).generate(REVENUE_Q, hits)


def test_smoke_policy_name_resolves_to_the_model_its_train_run_built(smoke, tmp_path):
    import shutil

    base, adapter = smoke
    run_adapter = tmp_path / "adapter"
    shutil.copytree(adapter, run_adapter)
    (run_adapter / "cai_adapter.json").write_text(json.dumps({"base_model": str(base),
                                                               "policy_model": "cai-smoke-policy"}))
    warnings: list[str] = []
    policy = open_policy("cai-smoke-policy", run_adapter, warn=warnings.append)
    assert policy.model_id == str(base) and warnings == []


def test_cli_adapter_alone_reads_its_base_and_warns_on_metadata_mismatch(smoke, example_index):
    base, adapter = smoke
    result = CliRunner().invoke(cli, ["answer", "--index", str(example_index), "--adapter", str(adapter),
                                      "--max-new-tokens", "16", "--json", REVENUE_Q])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["answered_by"]["model"] == str(base) and out["answered_by"]["adapter"] == str(adapter)
    assert out["answered_by"]["adapter_metadata"]["data_run"] == "runs/x" and out["abstained"] is True
    assert "warning: adapter" in result.stderr and "some-org/other-model" in result.stderr


@pytest.mark.parametrize("case", ["missing-index", "empty-question", "not-an-adapter", "adapter-without-base",
                                  "unknown-checker", "unloadable-policy", "bare-smoke-policy-name"])
def test_bad_input_exits_2_with_one_line(case, example_index, tmp_path):
    (tmp_path / "nobase").mkdir()
    (tmp_path / "nobase" / "adapter_config.json").write_text('{"peft_type": "LORA", "base_model_name_or_path": null}')
    args = {
        "missing-index": ["--index", str(tmp_path / "nope"), "q?"],
        "empty-question": ["--index", str(example_index), "  "],
        "not-an-adapter": ["--index", str(example_index), "--adapter", str(tmp_path), "q?"],
        "unknown-checker": ["--index", str(example_index), "--checker", "magic", "q?"],
        "unloadable-policy": ["--index", str(example_index), "--policy", str(tmp_path / "no-model"), "q?"],
        "adapter-without-base": ["--index", str(example_index), "--adapter", str(tmp_path / "nobase"), "q?"],
        "bare-smoke-policy-name": ["--index", str(example_index), "--policy", "cai-smoke-policy", "q?"],
    }[case]
    result = CliRunner().invoke(cli, ["answer", *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
    assert not result.stdout


def test_render_text_names_the_policy_and_adapter_metadata(smoke, retriever, checker):
    base, adapter = smoke
    policy = open_policy(str(base), adapter, max_new_tokens=4, warn=lambda m: None)
    text = render_text(answer_question(REVENUE_Q, retriever=retriever, checker=checker, policy=policy))
    assert (text.startswith(refusal(REVENUE_Q)) and f"adapter {adapter}" in text.splitlines()[-1]
            and "finance-10k" in text)


def test_constitution_machine_checks_are_reported_on_the_delivered_answer(example_index):
    from cai.core.constitution import load_constitution

    result = CliRunner().invoke(cli, ["answer", "--index", str(example_index), "--constitution", "finance-10k",
                                      "--json", REVENUE_Q])
    assert result.exit_code == 0, result.output
    rule_ids = {r.id for r in load_constitution("finance-10k").rules}
    assert all(v["rule_id"] in rule_ids for v in json.loads(result.stdout)["violations"])
