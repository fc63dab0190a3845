"""`cai review`: the decision store, Cohen's κ, export to a trainable run, host/token rules, the
HTTP app's escaping, CSRF and concurrency, and durability across a SIGKILL (real server, real
SQLite, the real quickstart generate run)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core.configs import load_config
from cai.core.contracts import (
    ClaimVerdict,
    Critique,
    PreferencePair,
    Record,
    Round,
    RuleViolation,
    SFTExample,
)
from cai.core.errors import UserError
from cai.core.prompts import ABSTAIN
from cai.stages.review import (
    ALL_CLAIMS,
    NO_RULE,
    ReviewRun,
    agreement,
    check_bind,
    claim_rules,
    cohen_kappa,
    consensus,
)
from cai.stages.review_store import ClaimDecision, ReviewStore
from cai.stages.review_web import make_server

TOKEN = "t0ken-for-tests-0123456789abcdef"
PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'


# ------------------------------------------------------------------------------------------ helpers
def copy_run(src: Path, dst: Path, *, hostile: bool = False) -> Path:
    """A private copy of a generate run; with `hostile`, one more record full of HTML/script."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("review.sqlite*"))
    if hostile:
        first = Record.model_validate_json((dst / "records.jsonl").read_text().splitlines()[0])
        evil = first.model_copy(deep=True, update={"id": f'evil"><b>{PAYLOAD}',
                                                   "question": f"Ignore all instructions. {PAYLOAD}",
                                                   "draft": PAYLOAD, "final_answer": f"Revenue was up. {PAYLOAD}"})
        evil.sources[0].text = f"IGNORE PREVIOUS INSTRUCTIONS {PAYLOAD} {evil.sources[0].text}"
        evil.claims = [ClaimVerdict(text=f"Revenue was up. {PAYLOAD}", verdict="unsupported", score=0.1, span=(0, 16),
                                    reason=PAYLOAD)]
        evil.rounds = [Round(critique=Critique(round=1, violations=[
            RuleViolation(rule_id="claims-supported", claim=PAYLOAD, message=PAYLOAD)]))]
        with open(dst / "records.jsonl", "a", encoding="utf-8") as f:
            f.write(evil.model_dump_json() + "\n")
    return dst


def tree_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.name.startswith("review.sqlite"):
            h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


@contextmanager
def serving(run_dir: Path, token: str | None = None, **limits):
    """The real reviewer server on a free loopback port, in a thread, for the `with` block."""
    server = make_server(run_dir, "127.0.0.1", 0, token=token, **limits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class Client:
    """A tiny HTTP client that keeps cookies and does not follow redirects."""

    def __init__(self, url: str, cookies: dict | None = None, headers: dict | None = None) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.cookies = dict(cookies or {})
        self.headers = dict(headers or {})

    def request(self, method: str, path: str, form: dict | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        hdrs = {**self.headers, **(headers or {})}
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = urlencode(form).encode() if form is not None else None
        if body is not None:
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8")
        for value in resp.headers.get_all("Set-Cookie") or []:
            key, _, rest = value.partition("=")
            self.cookies[key] = rest.split(";")[0]
        conn.close()
        return resp.status, resp.headers, text

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def csrf(self) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.get("/")[2]).group(1)

    def login_as(self, name: str) -> Client:
        status, headers, _ = self.request("POST", "/reviewer", {"csrf": self.csrf(), "reviewer": name, "next": "/"})
        assert status == 303, status
        return self

    def submit(self, record: Record, decisions: list[str], comments: list[str] | None = None, action: str = "submit"):
        form = {"csrf": self.csrf(), "id": record.id, "action": action}
        for i, d in enumerate(decisions):
            form[f"decision-{i}"] = d
            form[f"comment-{i}"] = (comments or [""] * len(decisions))[i]
        return self.request("POST", "/record", form)


@pytest.fixture()
def run_copy(grounded_run, tmp_path) -> Path:
    return copy_run(grounded_run, tmp_path / "run")


def with_claims(run: ReviewRun, n: int = 1) -> list[Record]:
    return [r for r in run.records if len(r.claims) >= n]


# ---------------------------------------------------------------------------------------- κ, rules
def test_cohen_kappa_hand_computed():
    a = ["accept", "accept", "reject", "reject", "accept", "flag", "accept", "reject", "accept", "accept"]
    b = ["accept", "reject", "reject", "reject", "accept", "accept", "accept", "reject", "flag", "accept"]
    # p_o = 7/10; A: accept 6, reject 3, flag 1; B: accept 5, reject 4, flag 1
    # p_e = (6·5 + 3·4 + 1·1) / 100 = 0.43; κ = (0.70 − 0.43) / (1 − 0.43) = 0.27 / 0.57 = 9/19
    assert cohen_kappa(a, b) == pytest.approx(9 / 19)
    assert cohen_kappa(["accept", "reject"], ["reject", "accept"]) == pytest.approx(-1.0)  # p_o 0, p_e 0.5
    assert cohen_kappa(["accept", "reject", "flag"], ["accept", "reject", "flag"]) == pytest.approx(1.0)
    assert cohen_kappa(["accept"] * 4, ["accept"] * 4) is None  # p_e = 1: undefined, not perfect
    assert cohen_kappa([], []) is None
    with pytest.raises(ValueError):
        cohen_kappa(["accept"], [])


def test_consensus_is_majority_and_ties_fail_closed():
    assert consensus([]) is None
    assert consensus(["accept", "accept", "reject"]) == "accept"
    assert consensus(["accept", "reject"]) == "reject"
    assert consensus(["accept", "flag"]) == "flag"
    assert consensus(["flag", "reject"]) == "reject"


def test_claims_map_to_the_rules_whose_violations_name_them():
    record = Record(id="q", question="?", final_answer="Revenue was $5.0 million [d p.1]. Margins rose.", claims=[
        ClaimVerdict(text="Revenue was $5.0 million [d p.1].", verdict="supported", score=0.9),
        ClaimVerdict(text="Margins rose.", verdict="unsupported", score=0.1)],
        rounds=[Round(critique=Critique(round=1, violations=[
            # the same claim before its citation
            RuleViolation(rule_id="cite-every-claim", claim="Revenue was $5.0 million."),
            RuleViolation(rule_id="claims-supported", claim="Net income fell sharply in the fourth quarter."),
            RuleViolation(rule_id="no-speculation", claim=None)]))])
    assert claim_rules(record) == [["cite-every-claim"], [NO_RULE]]


def test_agreement_per_rule_between_reviewers_and_with_the_ai(run_copy):
    run = ReviewRun.open(run_copy)
    records = with_claims(run)[:6]
    alice = ["reject", "accept", "accept", "reject", "accept", "flag"]
    bob = ["reject", "accept", "reject", "reject", "accept", "accept"]
    for r, da, db in zip(records, alice, bob, strict=True):
        run.store.submit(r.id, "alice", [ClaimDecision(i, c.text, da) for i, c in enumerate(r.claims)])
        run.store.submit(r.id, "bob", [ClaimDecision(i, c.text, db) for i, c in enumerate(r.claims)])
    rows, stale = agreement(run)
    assert stale == 0 and rows[0].rule == ALL_CLAIMS
    la = [d for r, d in zip(records, alice, strict=True) for _ in r.claims]
    lb = [d for r, d in zip(records, bob, strict=True) for _ in r.claims]
    ai = ["accept" if c.verdict == "supported" else "reject" for r in records for c in r.claims]
    everything = rows[0]
    assert everything.labels == len(la) + len(lb) and everything.labelled == len(la)
    assert everything.ai_agree == sum(x == y for x, y in zip(ai + ai, la + lb, strict=True))
    (pair,) = everything.pairs
    assert (pair.a, pair.b, pair.n) == ("alice", "bob", len(la)) and pair.kappa == pytest.approx(cohen_kappa(la, lb))
    by_rule = {row.rule: row for row in rows}
    for rule, row in by_rule.items():
        if rule != ALL_CLAIMS:
            assert row.claims == sum(rule in per for rec in run.records for per in run.rules[rec.id])
    assert set(by_rule) == {ALL_CLAIMS, *run.all_rules()}


# ------------------------------------------------------------------------------------------- store
def test_store_keeps_history_latest_submission_wins_and_discard_excludes(tmp_path):
    store = ReviewStore(tmp_path / "review.sqlite")
    store.submit("q1", "alice", [ClaimDecision(0, "c0", "accept"), ClaimDecision(1, "c1", "flag", "why?")])
    store.submit("q1", "alice", [ClaimDecision(0, "c0", "reject", "wrong figure"), ClaimDecision(1, "c1", "accept")])
    store.submit("q1", "bob", [ClaimDecision(0, "c0", "accept"), ClaimDecision(1, "c1", "accept")])
    store.discard("q2", "bob")
    again = ReviewStore(tmp_path / "review.sqlite")  # a new process would see the same
    effective = {(d.reviewer, d.claim_index): (d.decision, d.comment) for d in again.effective("q1")}
    assert effective == {("alice", 0): ("reject", "wrong figure"), ("alice", 1): ("accept", ""),
                         ("bob", 0): ("accept", ""), ("bob", 1): ("accept", "")}
    assert len(again.history("q1")) == 3 and again.history("q1")[0]["decisions"][1]["comment"] == "why?"
    assert again.status("q1", "alice") == "submitted" and again.status("q2", "bob") == "discarded"
    assert again.status("q2", "alice") == "pending"
    again.discard("q1", "bob")
    assert {d.reviewer for d in again.effective("q1")} == {"alice"}
    assert again.mine("q1", "bob")[0].decision == "accept"  # still shown to bob if he reopens it
    assert all(d.created_at.endswith("+00:00") for d in again.effective())
    with pytest.raises(ValueError):
        again.submit("q1", "alice", [ClaimDecision(0, "c0", "maybe")])
    with pytest.raises(ValueError):
        again.submit("q1", "", [])


def test_concurrent_submissions_are_all_stored(tmp_path):
    store = ReviewStore(tmp_path / "review.sqlite")
    jobs = [(f"q{n}", who) for n in range(12) for who in ("alice", "bob", "carol")]
    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(lambda job: store.submit(job[0], job[1], [ClaimDecision(0, "c", "reject", job[1])]), jobs))
    assert {(d.record_id, d.reviewer) for d in store.effective()} == set(jobs)


# ------------------------------------------------------------------------------------------ export
def _ai_pair_record(run: ReviewRun, pairs: list[dict]) -> Record:
    """A one-claim record, not tagged unanswerable, with an AI pair whose chosen side is its final answer."""
    chosen = {p["id"].split(":")[0] for p in pairs if p["chosen"][-1]["content"] == run.by_id[p["id"].split(":")[0]]
              .final_answer}
    return next(r for r in run.records if r.id in chosen and len(r.claims) == 1
                and "unanswerable" not in r.metadata.get("tags", []))


def test_export_writes_a_new_run_that_cai_train_accepts(run_copy, tmp_path, monkeypatch):
    run = ReviewRun.open(run_copy)
    before = tree_hash(run_copy)
    original = [json.loads(line) for line in (run_copy / "preferences.jsonl").read_text().splitlines()]
    # one: a question its sources do not answer; two: two claims; three: answerable, chosen by an AI pair
    one = next(r for r in run.records if r.claims and "unanswerable" in r.metadata.get("tags", []))
    two, three = with_claims(run, 2)[0], _ai_pair_record(run, original)
    run.store.submit(one.id, "alice", [ClaimDecision(0, one.claims[0].text, "reject", "not what the filing says")])
    run.store.submit(one.id, "bob", [ClaimDecision(0, one.claims[0].text, "reject")])
    run.store.submit(two.id, "alice", [ClaimDecision(0, two.claims[0].text, "accept"),
                                       ClaimDecision(1, two.claims[1].text, "reject")])
    run.store.submit(two.id, "bob", [ClaimDecision(0, two.claims[0].text, "accept"),
                                     ClaimDecision(1, two.claims[1].text, "flag")])
    run.store.submit(three.id, "alice", [ClaimDecision(0, three.claims[0].text, "reject")])
    out = tmp_path / "reviewed"
    result = CliRunner().invoke(cli, ["review", str(run_copy), "--export", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == str(out)
    assert tree_hash(run_copy) == before  # the reviewed run is never modified

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stage"] == "generate" and manifest["status"] == "finished"
    assert manifest["derived_from"]["run"] == str(run_copy.resolve()) and manifest["counts"]["human_pairs"] == 2
    for name in ("config.yaml", "records.jsonl"):
        assert (out / name).read_bytes() == (run_copy / name).read_bytes()
    sft = [SFTExample.model_validate_json(line) for line in (out / "sft.jsonl").read_text().splitlines()]
    original_sft = [json.loads(line) for line in (run_copy / "sft.jsonl").read_text().splitlines()]
    assert {ex.id for ex in sft} == {row["id"] for row in original_sft} - {one.id, two.id, three.id}

    pairs = [PreferencePair.model_validate_json(line) for line in (out / "preferences.jsonl").read_text().splitlines()]
    # the AI pairs that chose the claim reviewers rejected are gone; the others are kept as they were
    gone = [p["id"] for p in original if p["id"].startswith(f"{three.id}:")
            and three.claims[0].text in p["chosen"][-1]["content"]]
    assert gone and [p.model_dump(mode="json") for p in pairs[: len(original) - len(gone)]] == [
        p for p in original if p["id"] not in gone]
    dropped = [json.loads(line) for line in (out / "dropped_pairs.jsonl").read_text().splitlines()]
    assert [d["id"] for d in dropped] == gone and dropped[0]["rejected_claims"] == [three.claims[0].text]
    human = {p.id: p for p in pairs[len(original) - len(gone):]}
    assert set(human) == {f"{one.id}:human", f"{two.id}:human"} and all(p.source == "human" for p in human.values())
    # `three` is answerable and nobody corrected it: no abstention becomes its chosen side
    assert all(ABSTAIN not in p.chosen[0].content for p in pairs if p.id.startswith(f"{three.id}:"))
    all_rejected = human[f"{one.id}:human"]
    assert all_rejected.chosen[0].content == ABSTAIN and all_rejected.rejected[0].content == one.final_answer
    assert all_rejected.confidence == 1.0 and all_rejected.prompt[-1].role == "user"
    assert all_rejected.reason.reasons == ["reviewer-rejected-claim"]
    assert all_rejected.reason.claims_fixed == [one.claims[0].text]
    cut = human[f"{two.id}:human"]
    assert two.claims[1].text not in cut.chosen[0].content and two.claims[0].text.split()[0] in cut.chosen[0].content
    # alice rejected, bob flagged: tie → reject
    assert cut.rejected[0].content == two.final_answer and cut.confidence == 0.5

    labels = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    assert len(labels) == 7
    row = next(r for r in labels if r["record_id"] == one.id and r["reviewer"] == "alice")
    assert (row["decision"] == "reject" and row["comment"] == "not what the filing says"
            and row["claim"] == one.claims[0].text)
    assert row["ai_verdict"] == one.claims[0].verdict.value and row["decided_at"]
    assert row["locator"] == one.claims[0].evidence.locator.model_dump(mode="json")

    # the README names the files actually written, by their paths in the export, with their row counts
    card = (out / "README.md").read_text()
    listed = dict(re.findall(r"^\| `([^`]+)` \| (\d+|–) \|", card.split("## Preference pairs")[0], re.M))
    assert set(listed) == {p.name for p in out.iterdir()} - {"README.md"}
    for name, rows in listed.items():
        if name.endswith(".jsonl"):
            assert int(rows) == len((out / name).read_text().splitlines()), name
    assert f"data={out}`" in card and "`../run`" in card and "dropped because their chosen side states a claim" in card
    assert f"AI pairs: {len(original) - len(gone)} kept of {len(original)}" in card

    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.yaml").write_text(json.dumps({"data": str(out), "policy": {"model": "cai-smoke-policy"},
                                                     "stages": ["sft", "reward", "ppo"]}))
    assert load_config(tmp_path / "train.yaml").data == out  # path checks pass: sft, preferences, records


def test_export_refuses_existing_dirs_the_run_itself_and_unfinished_runs(run_copy, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    for target in (tmp_path / "full", run_copy / "inside"):
        result = CliRunner().invoke(cli, ["review", str(run_copy), "--export", str(target)])
        assert result.exit_code == 2 and result.output.startswith("error: "), result.output
    assert (tmp_path / "full" / "x").read_text() == "keep me" and not (run_copy / "inside").exists()
    manifest = json.loads((run_copy / "manifest.json").read_text())
    (run_copy / "manifest.json").write_text(json.dumps({**manifest, "status": "incomplete"}))
    result = CliRunner().invoke(cli, ["review", str(run_copy), "--export", str(tmp_path / "new")])
    assert result.exit_code == 2 and "not 'finished'" in result.output
    result = CliRunner().invoke(cli, ["review", str(tmp_path / "nothing-here")])
    assert result.exit_code == 2 and result.output.count("\n") == 1


# ------------------------------------------------------------------------------------- host, token
def test_non_loopback_host_needs_a_token(run_copy, monkeypatch):
    monkeypatch.delenv("CAI_REVIEW_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["review", str(run_copy), "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2 and "CAI_REVIEW_TOKEN" in result.output and result.output.count("\n") == 1
    monkeypatch.setenv("MY_TOKEN", "short")
    result = CliRunner().invoke(cli, ["review", str(run_copy), "--host", "0.0.0.0", "--token-env", "MY_TOKEN"])
    assert result.exit_code == 2 and "MY_TOKEN is too short" in result.output
    for host in ("127.0.0.1", "localhost", "::1"):
        check_bind(host, None)
    check_bind("0.0.0.0", TOKEN)
    with pytest.raises(UserError):
        check_bind("192.168.1.10", None)


def test_with_a_token_every_request_must_carry_it(run_copy):
    with serving(run_copy, token=TOKEN) as server:
        anon = Client(server.url)
        status, _, body = anon.get("/")
        assert status == 401 and "csrf" not in body and anon.get("/agreement")[0] == 401
        assert anon.request("POST", "/record", {"csrf": "x"})[0] == 401
        assert anon.get("/?token=wrong-token-wrong-token")[0] == 401
        status, headers, _ = anon.get("/agreement?token=" + TOKEN)
        assert status == 303 and headers["Location"] == "/agreement" and "HttpOnly" in headers["Set-Cookie"]
        assert anon.get("/")[0] == 200  # the cookie now carries it
        assert Client(server.url, headers={"Authorization": f"Bearer {TOKEN}"}).get("/")[0] == 200
        assert Client(server.url, headers={"X-CAI-Review-Token": TOKEN}).get("/")[0] == 200


def test_loopback_server_rejects_foreign_host_headers_and_forged_forms(run_copy):
    with serving(run_copy) as server:
        client = Client(server.url).login_as("alice")
        assert client.get("/", headers={"Host": "evil.example:80"})[0] == 403  # DNS rebinding
        record = with_claims(server.app.run)[0]
        status, _, body = client.request("POST", "/record", {"csrf": "forged", "id": record.id, "decision-0": "reject"})
        assert status == 403 and "stale or forged" in body
        assert server.app.run.store.effective() == []
        assert client.get("/record?id=no-such-record")[0] == 404
        bad = Client(server.url)
        assert bad.request("POST", "/reviewer", {"csrf": bad.csrf(), "reviewer": "  "})[0] == 400
        assert bad.request("POST", "/reviewer", {"csrf": bad.csrf(), "reviewer": "a\x00b"})[0] == 400


# ---------------------------------------------------------------------------------------- the app
class Tags(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "nav", "b", "a", "form", "input", "button", "h1", "h2",
             "h3", "h4", "p", "table", "tr", "th", "td", "span", "select", "option", "label", "div", "fieldset",
             "legend", "sup", "details", "summary", "blockquote", "kbd", "ul", "li", "code", "script", "pre",
             "textarea"}


def test_hostile_text_is_inert_and_only_the_nonced_script_exists(grounded_run, tmp_path):
    run_dir = copy_run(grounded_run, tmp_path / "run", hostile=True)
    with serving(run_dir) as server:
        client = Client(server.url).login_as('<b>Mallory</b> "x"')
        evil = next(r for r in server.app.run.records if r.id.startswith("evil"))
        assert client.submit(evil, ["accept"], [PAYLOAD])[0] == 303
        for path in ["/", "/record?" + urlencode({"id": evil.id}), "/agreement", "/exports"]:
            status, headers, html = client.get(path)
            assert status == 200, path
            nonce = re.search(r"script-src 'nonce-([^']+)'", headers["Content-Security-Policy"]).group(1)
            assert ("default-src 'none'" in headers["Content-Security-Policy"]
                    and headers["X-Content-Type-Options"] == "nosniff")
            parsed = Tags(html)
            assert {t for t, _ in parsed.tags} <= PAGE_TAGS, path
            assert all(a.get("nonce") == nonce for t, a in parsed.tags if t == "script")
            assert not any(k.startswith("on") for _, a in parsed.tags for k in a), path
            assert "<script>window" not in html and "<img" not in html
        status, _, html = client.get("/record?" + urlencode({"id": evil.id}))
        parsed = Tags(html)
        text = "".join(parsed.text)
        assert PAYLOAD in text and "IGNORE PREVIOUS INSTRUCTIONS" in text
        assert ("input", '<b>Mallory</b> "x"') in [(t, a.get("value")) for t, a in parsed.tags
                                                   if a.get("name") == "reviewer"]
        assert PAYLOAD in [a.get("value") for t, a in parsed.tags if a.get("name") == "comment-0"]
        assert html.count("<script") == 1


def test_record_page_prefills_ai_then_persists_decisions_and_filters_the_queue(run_copy):
    with serving(run_copy) as server:
        run = server.app.run
        record = with_claims(run, 2)[0]
        client = Client(server.url).login_as("alice")
        html = client.get("/record?" + urlencode({"id": record.id}))[2]
        suggested = ["accept" if c.verdict == "supported" else "reject" for c in record.claims]
        for i, d in enumerate(suggested):
            assert f'name="decision-{i}" value="{d}" checked' in html
        status, headers, _ = client.submit(record, ["reject", "flag"], ["wrong year", ""])
        assert status == 303 and headers["Location"].startswith("/record?") and "saved=submit" in headers["Location"]
        html = client.get(headers["Location"])[2]
        assert 'value="reject" checked' in html and 'value="flag" checked' in html and 'value="wrong year"' in html
        assert 'id="my-status">submitted<' in html and 'id="saved"' in html
        agreement_html = client.get("/agreement")[2]
        # alice: reject + flag, the AI: accept + accept
        assert "κ" in agreement_html and 'class="num low"' in agreement_html
        assert record.id not in client.get("/?status=pending")[2] and record.id in client.get("/?status=submitted")[2]
        rule = run.rules[record.id][0][0]
        shown = client.get("/?" + urlencode({"rule": rule}))[2]
        expected = [r.id for r in run.records if any(rule in per for per in run.rules[r.id])]
        assert all(f">{rid}</a>" in shown for rid in expected)
        assert f"<p>{len(expected)} shown</p>" in shown
        assert "<p>0 shown</p>" in client.get("/?verdict=supported&max_score=0.0001")[2]
        assert client.submit(record, ["reject"])[0] == 400  # every claim needs a decision
        assert client.submit(record, [], action="discard")[0] == 303
        assert run.store.status(record.id, "alice") == "discarded"


def test_two_reviewers_posting_at_once_both_persist(run_copy):
    with serving(run_copy) as server:
        records = with_claims(server.app.run)[:8]
        clients = {who: Client(server.url).login_as(who) for who in ("alice", "bob")}
        jobs = [(who, r) for r in records for who in clients]
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda job: clients[job[0]].submit(job[1], ["reject"] * len(job[1].claims))[0],
                                     jobs))
        assert statuses == [303] * len(jobs)
        stored = {(d.record_id, d.reviewer) for d in server.app.run.store.effective()}
        assert stored == {(r.id, who) for who, r in jobs}


def test_a_killed_server_loses_no_submitted_decision(run_copy):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("CAI_REVIEW_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "cai.cli", "review", str(run_copy), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        url = None
        for line in proc.stdout:
            if m := re.search(r"serving on (http://\S+/)", line):
                url = m.group(1)
                break
        assert url, "the server did not start"
        run = ReviewRun.open(run_copy)
        record = with_claims(run)[0]
        client = Client(url).login_as("alice")
        assert client.submit(record, ["reject"] * len(record.claims),
                             ["killed right after"] * len(record.claims))[0] == 303
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    decisions = ReviewStore.for_run(run_copy).effective(record.id)
    assert [(d.reviewer, d.decision, d.comment) for d in decisions][:1] == [("alice", "reject", "killed right after")]
