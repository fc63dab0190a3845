"""`cai generate` end to end: grounded teacher on the example corpus; the openai backend against a
real local server; bad rows; kill-and-resume equivalence; outputs accepted by TRL."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core.runs import read_jsonl
from tests.openai_server import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "examples" / "quickstart" / "questions.jsonl"


@pytest.fixture
def index_dir(example_index):
    return example_index


def _config(tmp_path: Path, index_dir: Path, **teacher) -> Path:
    cfg = {"questions": str(QUESTIONS), "index": str(index_dir), "constitution": "finance-10k",
           "runs_dir": str(tmp_path / "runs"), "teacher": teacher or {"backend": "grounded"}}
    path = tmp_path / "generate.yaml"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    return path


def _generate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["generate", *args])
    return result.exit_code, result.output


def _records(run_dir: Path) -> dict[str, dict]:
    return {obj["id"]: obj for _, obj in read_jsonl(run_dir / "records.jsonl")}


def test_grounded_run_writes_a_complete_run_directory(grounded_run, index_dir):
    run_dir = grounded_run  # the last line of `cai generate`'s stdout (contract)
    for name in ("config.yaml", "manifest.json", "records.jsonl", "sft.jsonl", "preferences.jsonl", "README.md"):
        assert (run_dir / name).is_file(), name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["counts"]["records"] == 26
    assert manifest["constitution"]["name"] == "finance-10k"
    records = _records(run_dir)
    assert len(records) == 26 and all(r["final_answer"] for r in records.values())
    # the loop improves support, and every supported final claim quotes its page verbatim
    assert manifest["counts"]["final_support_rate"] > manifest["counts"]["draft_support_rate"]
    from rag.retrieve import Retriever

    store = Retriever.open(index_dir).store
    for r in records.values():
        for c in r["claims"]:
            if c["verdict"] == "supported":
                loc = c["evidence"]["locator"]
                page = store.page(loc["doc_id"], loc["page"])
                assert page.text[loc["char_start"]:loc["char_end"]] == c["evidence"]["quote"]
    # a wrong-number draft gets critiqued and revised to the filed figure
    ex02 = records["ex-02"]
    assert ex02["rounds"][0]["critique"]["violations"]
    assert "147.4" in ex02["final_answer"] and "174.4" not in ex02["final_answer"]
    # advice is removed
    advice = [r for r in records.values() if "investment_advice" in r["metadata"].get("tags", [])]
    assert advice and all("is a buy" not in r["final_answer"].lower() for r in advice)
    prefs = [json.loads(line) for line in (run_dir / "preferences.jsonl").read_text().splitlines()]
    assert prefs and all(p["source"] == "revision" and p["chosen"] != p["rejected"] for p in prefs)


def _side(side) -> str:
    return side if isinstance(side, str) else " ".join(m["content"] for m in side)


def test_quickstart_training_data_is_right_not_just_quoted(grounded_run):
    """Issue #17 on the example corpus: no instruction in any SFT target, pairs that differ in
    substance and say why, chosen sides never less supported, injections traced to their page."""
    from rewards.claim_diff import same_substance
    from rewards.injection import INJECTION_RULE_ID, instruction_like

    records = _records(grounded_run)
    sft = [json.loads(line) for line in (grounded_run / "sft.jsonl").read_text().splitlines()]
    assert sft and not [x["id"] for x in sft if instruction_like(x["messages"][-1]["content"])]
    # the injected draft (ex-14): the instruction is dropped, and the audit trail names its source page
    ex14 = records["ex-14"]
    assert instruction_like(ex14["draft"]) and not instruction_like(ex14["final_answer"])
    first = ex14["rounds"][0]["critique"]["violations"]
    assert any(v["rule_id"] == INJECTION_RULE_ID for v in first)
    attempt = ex14["metadata"]["injection_attempts"][0]
    assert attempt["evidence"]["locator"]["doc_id"] == "halvorsen-tidewater-2023-10k"
    assert "Ignore previous instructions" in attempt["evidence"]["quote"]
    assert "2,104.7" in ex14["final_answer"] and "2,401.7" not in ex14["final_answer"]
    # no final answer keeps a draft claim the checker found unsupported; a fully supported draft is kept
    for r in records.values():
        finals = {c["text"].split(" [")[0].rstrip(".") for c in r["claims"]}
        assert not [c for c in r["draft_claims"] if c["verdict"] != "supported"
                    and c["text"].split(" [")[0].rstrip(".") in finals], r["id"]
        asked_for = {v["rule_id"] for v in r["rounds"][0]["critique"]["violations"]}
        if r["draft_claims"] and all(c["verdict"] == "supported" for c in r["draft_claims"]) \
                and asked_for <= {"cite-every-claim"}:
            assert same_substance(r["final_answer"], r["draft"]), r["id"]  # only citations added
    # pairs differ in substance, never prefer fewer supported claims, and each says why it wins
    prefs = [json.loads(line) for line in (grounded_run / "preferences.jsonl").read_text().splitlines()]
    assert prefs and all(not same_substance(_side(p["chosen"]), _side(p["rejected"])) for p in prefs)
    labels = {x["id"]: x for x in map(json.loads, (grounded_run / "pair_reasons.jsonl").read_text().splitlines())}
    for p in prefs:
        label = labels[p["id"]]
        assert label["reasons"] and label["supported_chosen"] >= label["supported_rejected"], label
        r = records[p["id"].split(":")[0]]
        supported = lambda claims: sum(c["verdict"] == "supported" for c in claims)  # noqa: E731
        assert supported(r["claims"]) >= supported(r["draft_claims"]) or _side(p["chosen"]) != r["final_answer"]
    assert labels["ex-14:revision"]["reasons"] == ["claim-corrected", "injection-removed"]
    assert "2,401.7" in labels["ex-14:revision"]["claims_fixed"][0]
    card = (grounded_run / "README.md").read_text()
    assert "| `claim-corrected` |" in card and "| `dropped-supported-claim` | 0 |" in card
    assert not [r for r in records.values() if "The sources state" in r["final_answer"]]


def test_bad_question_rows_are_rejected_with_line_numbers(tmp_path, index_dir):
    good = QUESTIONS.read_text().splitlines()[:2]
    bad = tmp_path / "q.jsonl"
    bad.write_text("\n".join([good[0], "{not json", '{"id": "x"}', good[0], good[1]]) + "\n")
    cfg = _config(tmp_path, index_dir)
    code, out = _generate(str(cfg), f"questions={bad}")
    assert code == 0, out
    run_dir = Path(out.strip().splitlines()[-1])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["counts"]["records"] == 2 and manifest["counts"]["rejected_rows"] == 3
    assert any(":2: invalid JSON" in r for r in manifest["rejected_rows"])
    assert any(":3: question" in r for r in manifest["rejected_rows"])
    assert any(":4: id: duplicate" in r for r in manifest["rejected_rows"])


def test_a_question_row_scopes_its_retrieval_by_metadata_filters(tmp_path, index_dir):
    # "What was total revenue in fiscal 2024?" names no company; the row says which filing it is asked of.
    rows = [{"id": "scoped", "question": "What was total revenue in fiscal 2024?",
             "metadata": {"filters": {"doc_id": "ostrander-quarry-2024-annual-report"}}},
            {"id": "bad-key", "question": "What was total revenue?", "metadata": {"filters": {"ticker": "HTW"}}},
            {"id": "bad-value", "question": "What was total revenue?", "metadata": {"filters": {"fiscal_year": []}}}]
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out = _generate(str(_config(tmp_path, index_dir)), f"questions={questions}")
    assert code == 0, out
    run_dir = Path(out.strip().splitlines()[-1])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["counts"]["records"] == 1 and manifest["counts"]["rejected_rows"] == 2
    assert any(":2: metadata.filters.ticker: unknown filter" in r for r in manifest["rejected_rows"])
    assert any(":3: metadata.filters.fiscal_year: must be" in r for r in manifest["rejected_rows"])
    [record] = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert record["sources"] and {s["doc_id"] for s in record["sources"]} == {"ostrander-quarry-2024-annual-report"}


def test_invalid_constitution_exits_2_before_any_work(tmp_path, index_dir):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: b\nrules:\n  - id: x\n    principle: p\n    critque: c\n")
    code, out = _generate(str(_config(tmp_path, index_dir)), f"constitution={broken}")
    assert code == 2 and "did you mean 'critique'" in out
    assert not (tmp_path / "runs").exists()


# ------------------------------------------------------------------------------- openai backend
def scripted_teacher(messages: list[dict], body: dict) -> str:
    """A deterministic stand-in for an LLM, answering each prompt kind with valid JSON."""
    user = next(m["content"] for m in messages if m["role"] == "user")  # the task, not a repair turn
    src = re.search(r'<source n="1" doc="([^"]+)" page="(\d+)"[^>]*>\n(.*?)\n</source>', user, re.S)
    cite = f"[{src.group(1)} p.{src.group(2)}]" if src else ""
    if "<answer_a>" in user:  # prefer the cited answer, whichever position it is in
        a = re.search(r"<answer_a>\n(.*?)\n</answer_a>", user, re.S).group(1)
        return json.dumps({"reasoning": "cites its source", "preferred": "A" if "[" in a else "B", "confidence": 0.8})
    if "Check the answer against each rule" in user:
        answer = re.search(r"<answer>\n(.*?)\n</answer>", user, re.S).group(1)
        bad = [] if "[" in answer else [{"rule_id": "cite-every-claim", "claim": answer, "fix": "add a citation"}]
        return json.dumps({"violations": bad})
    if "Revise the answer" in user:
        answer = re.search(r"<answer>\n(.*?)\n</answer>", user, re.S).group(1)
        return json.dumps({"answer": f"{answer.rstrip('.')} {cite}."})
    first = " ".join(src.group(3).split()[:25]) if src else "The sources do not state this."
    return json.dumps({"answer": first})


def revising_teacher(messages: list[dict], body: dict) -> str:
    """`scripted_teacher`, but its critique says an uncited answer is unsupported and its revision
    replaces the answer with source 1's first sentence, cited: revisions that change content."""
    user = next(m["content"] for m in messages if m["role"] == "user")
    if "Check the answer against each rule" in user:
        answer = re.search(r"<answer>\n(.*?)\n</answer>", user, re.S).group(1)
        bad = [] if "[" in answer else [{"rule_id": "claims-supported", "claim": answer, "fix": "quote the source"}]
        return json.dumps({"violations": bad})
    src = re.search(r'<source n="1" doc="([^"]+)" page="(\d+)"[^>]*>\n(.*?)\n</source>', user, re.S)
    if "Revise the answer" in user and src:
        first = re.split(r"(?<=[.!?])\s", " ".join(src.group(3).split()))[0].rstrip(".")
        return json.dumps({"answer": f"{first} [{src.group(1)} p.{src.group(2)}]."})
    return scripted_teacher(messages, body)


def _openai_config(tmp_path, index_dir, url, n_questions: int) -> Path:
    q = tmp_path / "q.jsonl"
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines()][:n_questions]
    for row in rows[::2]:
        row.pop("answer")  # half the questions get a teacher draft
    q.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = _config(tmp_path, index_dir, backend="openai", model="scripted", endpoints=[{"base_url": url}],
                  max_concurrency=4, max_retries=8, timeout_s=5)
    data = json.loads(cfg.read_text())
    data["questions"] = str(q)
    data["judge"] = {"enabled": True, "n_principles": 1}
    cfg.write_text(json.dumps(data))
    return cfg


def test_openai_backend_with_faults_and_judge(tmp_path, index_dir):
    with FakeOpenAIServer(reply=revising_teacher, fault_rate=0.2, faults=("429", "500", "garbage"), seed=3) as srv:
        code, out = _generate(str(_openai_config(tmp_path, index_dir, srv.base_url, 6)))
    assert code == 0, out
    run_dir = Path(out.strip().splitlines()[-1])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["counts"]["records"] == 6 and manifest["usage"]["retries"] > 0
    assert manifest["usage"]["prompt_tokens"] > 0
    records = _records(run_dir)
    assert all(r["teacher_call_ids"] for r in records.values())
    assert any(r["draft_source"] == "teacher" for r in records.values())
    from rewards.claim_diff import same_substance

    preferences = [json.loads(line) for line in (run_dir / "preferences.jsonl").read_text().splitlines()]
    judged = [p for p in preferences if p["source"] == "judge"]
    assert judged and all(not same_substance(_side(p["chosen"]), _side(p["rejected"])) for p in judged)
    labels = {x["id"]: x for x in map(json.loads, (run_dir / "pair_reasons.jsonl").read_text().splitlines())}
    assert all(labels[p["id"]]["principle"] == p["rule_ids"][0] for p in judged)


def test_server_down_records_failures_and_resume_retries(tmp_path, index_dir):
    """A server nobody listens on is found before any run starts (exit 2, the cause named); a server
    that answers but fails every call leaves every question in failed.jsonl (exit 2 with the resume
    command), and --resume against a working server finishes them."""
    import socket

    with socket.socket() as sock:  # a port nobody listens on yet
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = _openai_config(tmp_path, index_dir, f"http://127.0.0.1:{port}/v1", 3)
    code, out = _generate(str(cfg), "teacher.max_retries=0")
    assert code == 2 and "connection refused" in out, out
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    with FakeOpenAIServer(reply=scripted_teacher, port=port, fault_rate=1.0, faults=("500",)):
        code, out = _generate(str(cfg), "teacher.max_retries=0")
    assert code == 2 and "resume" in out, out
    run_dir = next((tmp_path / "runs").iterdir())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["counts"]["failed"] == 3 and manifest["counts"]["records"] == 0
    with FakeOpenAIServer(reply=scripted_teacher, port=port):
        code, out = _generate(str(run_dir / "config.yaml"), "--resume", str(run_dir))
    assert code == 0, out
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["counts"]["records"] == 3 and manifest["counts"]["failed"] == 0


def test_cpu_worker_processes_write_the_same_records(tmp_path, index_dir):
    """Retrieval and checking in 2 worker processes give the records of the in-process thread."""
    out = {}
    with FakeOpenAIServer(reply=scripted_teacher) as srv:
        for workers in (0, 2):
            base = tmp_path / f"w{workers}"
            base.mkdir()
            code, text = _generate(str(_openai_config(base, index_dir, srv.base_url, 4)), f"cpu_workers={workers}")
            assert code == 0, text
            out[workers] = _records(Path(text.strip().splitlines()[-1]))
    assert len(out[2]) == 4 and out[2] == out[0]


def test_grounded_questions_in_worker_processes_write_the_same_records(tmp_path, index_dir):
    """With cpu_workers the grounded teacher runs whole questions in workers: same records."""
    out = {}
    for workers in (0, 2):
        base = tmp_path / f"w{workers}"
        base.mkdir()
        code, text = _generate(str(_config(base, index_dir)), f"cpu_workers={workers}", "limit=8")
        assert code == 0, text
        out[workers] = _records(Path(text.strip().splitlines()[-1]))
    assert len(out[2]) == 8 and out[2] == out[0]


def test_dry_run_prints_prompts_and_writes_no_run(tmp_path, index_dir):
    with FakeOpenAIServer(reply=scripted_teacher) as srv:
        cfg = _openai_config(tmp_path, index_dir, srv.base_url, 3)
        code, out = _generate(str(cfg), "--dry-run", "2")
        requests = srv.stats["requests"]
    assert code == 0, out
    assert out.count("=== ") == 2 and out.count("--- final answer") == 2  # both rows ran on one client
    assert "--- critique prompt (≈" in out and "<source n=\"1\"" in out
    assert requests >= 4  # each row: at least a critique and a revision or draft
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_killed_generate_resumes_to_identical_records(tmp_path, index_dir):
    rng = random.Random(7)
    with FakeOpenAIServer(reply=scripted_teacher, latency_s=0.05) as srv:
        ref_dir = tmp_path / "ref"
        ref_dir.mkdir()
        code, out = _generate(str(_openai_config(ref_dir, index_dir, srv.base_url, 10)))
        assert code == 0, out
        reference = _records(Path(out.strip().splitlines()[-1]))

        work = tmp_path / "work"
        work.mkdir()
        cfg = _openai_config(work, index_dir, srv.base_url, 10)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
        cmd = [sys.executable, "-m", "cai.cli", "generate", str(cfg)]
        run_dir = None
        for _ in range(3):  # start, kill at a random point, resume
            args = cmd + (["--resume", str(run_dir)] if run_dir else [])
            proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # The random point is counted from the run directory's creation, not from the start:
            # imports alone take seconds on a quiet machine and several times longer on a loaded one.
            deadline = time.monotonic() + 180
            while (not list((work / "runs").glob("generate-*/records.jsonl")) and proc.poll() is None
                   and time.monotonic() < deadline):
                time.sleep(0.1)
            time.sleep(rng.uniform(0.5, 4.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            runs = sorted((work / "runs").glob("generate-*"))
            assert len(runs) == 1
            run_dir = runs[0]
        final = subprocess.run(cmd + ["--resume", str(run_dir)], env=env, capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr
        assert final.stdout.strip().splitlines()[-1] == str(run_dir)
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    resumed = _records(run_dir)
    assert len(lines) == len(resumed) == 10  # none lost, none duplicated
    assert resumed == reference
