"""`cai reward serve` on a real HTTP server (a free loopback port) over the quickstart generate run:
OpenRLHF's remote-reward request as its own client sends it, verl's and TRL's reward functions
through the server and in process, hostile requests, back-pressure, the token. Nothing of ours is
mocked; the preference model is a tiny random classifier (plumbing, not judgement)."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core.configs import load_config
from cai.core.errors import UserError
from cai.stages.reward_serve import Limits, make_server
from rewards import engines
from rewards.hybrid import HybridReward
from rewards.rl_prompts import rl_prompt_rows

BAD_ANSWER = "Halvorsen Tidewater's revenue was $912.4 billion in fiscal 1850 [halvorsen-tidewater-2024-10k p.10]."
TOKEN = "a-test-token-of-more-than-16-chars"


def chat(messages: list[dict]) -> str:
    """A prompt as OpenRLHF sends it: the messages through a ChatML template (Qwen's), generation prompt open."""
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def train_config(tmp_path_factory, grounded_run, example_index):
    path = tmp_path_factory.mktemp("reward-config") / "train.yaml"
    path.write_text(f"stage: train\ndata: {grounded_run}\nindex: {example_index}\npolicy:\n  model: cai-smoke-policy\n"
                    "stages: [sft, reward, grpo]\n")
    return path


@pytest.fixture(scope="module")
def preference(tmp_path_factory) -> Path:
    from tests.test_preference import tiny_base

    return tiny_base(tmp_path_factory.mktemp("pm"))


@contextmanager
def serving(config_path: Path, **kwargs):
    """The real reward server on a free loopback port, in a thread, for the `with` block."""
    server = make_server(load_config(config_path, stage="train"), "127.0.0.1", 0, **kwargs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def server(train_config, preference):
    """Raw parts combined as they are (no running normalisation), so a reward is a function of its row alone."""
    with serving(train_config, preference=preference, normalise=False, limits=Limits(max_rows=256)) as s:
        yield s


@pytest.fixture(scope="module")
def rows(grounded_run, example_index, tmp_path_factory):
    """The OpenRLHF dataset `cai export rl-prompts` writes, with each record's final answer."""
    out = tmp_path_factory.mktemp("export") / "rl.jsonl"
    result = CliRunner().invoke(cli, ["export", "rl-prompts", str(grounded_run), "--format", "openrlhf", "--out",
                                      str(out)])
    assert result.exit_code == 0, result.output
    answers = {json.loads(line)["id"]: json.loads(line)["final_answer"]
               for line in (grounded_run / "records.jsonl").read_text().splitlines()}
    return [{**json.loads(line), "answer": answers[json.loads(line)["id"]]} for line in out.read_text().splitlines()]


async def openrlhf_0_11_2_fetch(url: str, queries: list[str], prompts: list[str], labels: list) -> dict:
    """What openrlhf 0.11.2 sends and reads: `SingleTurnAgentExecutor._fetch_rewards_via_http`
    (openrlhf/utils/agent.py) for one server, as it is there: one aiohttp session per request,
    `json=` payload {"query", "prompts", "labels"}, raise_for_status, `.json()`. OpenRLHF itself is
    not a test dependency (ray, deepspeed, vLLM); this was also run against its own executor."""
    timeout = aiohttp.ClientTimeout(total=180)
    payload = {"query": queries, "prompts": prompts, "labels": labels}
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.post(url, json=payload) as response:
            response.raise_for_status()
            return await response.json()


def post(server, body: bytes, content_type: str = "application/json", path: str = "/get_reward",
         headers: dict | None = None) -> tuple[int, dict, dict]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": content_type, **(headers or {})})
        answer = conn.getresponse()
        raw = answer.read()
        assert b"Traceback" not in raw and b'File "' not in raw  # no traceback ever reaches a client
        return answer.status, json.loads(raw), dict(answer.getheaders())
    finally:
        conn.close()


def get(server, path: str, headers: dict | None = None) -> tuple[int, dict]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------ OpenRLHF
def test_openrlhf_client_gets_rewards_in_order_with_per_part_logs(server, rows, train_config, preference,
                                                                  grounded_run, example_index):
    batch = rows[:6]
    answers = [r["answer"] if i % 2 == 0 else BAD_ANSWER for i, r in enumerate(batch)]
    prompts = [chat(r["input"]) for r in batch]
    queries = [p + a + "<|im_end|>" for p, a in zip(prompts, answers, strict=True)]  # decoded with special tokens
    url = server.url + "get_reward"
    answer = asyncio.run(openrlhf_0_11_2_fetch(url, queries, prompts, [r["label"] for r in batch]))
    assert set(answer) >= {"rewards", "scores", "extra_logs"} and answer["errors"] == [None] * 6
    assert answer["scores"] == answer["rewards"] and set(answer["extra_logs"]) == {"pm", "support", "citation",
                                                                                   "rule_penalty"}
    assert all(len(v) == 6 for v in answer["extra_logs"].values())

    # The same HybridReward `cai train` builds, in this process, on the prompts train rolls out: equal, row by row.
    cfg = load_config(train_config, stage="train")
    prompts_by_id = {p.id: p for p in rl_prompt_rows(grounded_run, example_index)[0]}
    same = [prompts_by_id[r["id"]] for r in batch]
    reward = HybridReward.from_config(cfg.hybrid, "finance-10k", preference, normalise=False)
    expected = reward([p.prompt for p in same], answers, sources=[p.sources for p in same],
                      question=[p.question for p in same])
    assert answer["rewards"] == pytest.approx(expected, abs=1e-5)
    for part in ("support", "citation", "rule_penalty", "pm"):
        assert answer["extra_logs"][part] == pytest.approx(reward.last_parts[part], abs=1e-5)
    assert answer["extra_logs"]["support"][1::2] == [0.0, 0.0, 0.0]  # the invented figure is never supported

    # openrlhf 0.11 sends one sample per request, many at once: each answer is that sample's.
    singles = asyncio.run(_gather_singles(url, queries, prompts, [r["label"] for r in batch]))
    assert [s["rewards"][0] for s in singles] == pytest.approx(answer["rewards"], abs=1e-5)


async def _gather_singles(url, queries, prompts, labels):
    return await asyncio.gather(*(openrlhf_0_11_2_fetch(url, [q], [p], [lab])
                                  for q, p, lab in zip(queries, prompts, labels, strict=True)))


def test_a_query_whose_prompt_was_retokenised_still_finds_its_response(rows):
    prompt = chat(rows[0]["input"])
    retokenised = prompt.replace("<|im_start|>system\n", "<|im_start|>system \n", 1)  # the front changed, the end not
    assert engines.response_of(retokenised + "Answer.<|im_end|><|endoftext|>", prompt) == "Answer."
    assert engines.response_of(prompt + "Answer.\n</s>", prompt) == "Answer."
    with pytest.raises(ValueError, match="does not hold its prompt"):
        engines.response_of("something else entirely", prompt)


# -------------------------------------------------------------------------------------- verl, TRL
def test_verl_and_trl_reward_functions_through_the_server(server, rows, monkeypatch):
    monkeypatch.setenv(engines.URL_ENV, server.url + "get_reward")
    monkeypatch.setattr(engines, "_scorer", None)  # the process's scorer is made once: make it for this server
    row = rows[0]
    one = engines.compute_score(data_source="cai", solution_str=row["answer"], ground_truth=row["label"],
                                extra_info={"index": 0, "num_turns": None, "rollout_reward_scores": {}})
    assert set(one) == {"score", "pm", "support", "citation", "rule_penalty"} and isinstance(one["score"], float)
    batch = engines.compute_score_batch(data_sources=["cai"] * 2, solution_strs=[row["answer"], BAD_ANSWER],
                                        ground_truths=[row["label"]] * 2, extra_infos=[{}, {}])
    assert batch[0] == pytest.approx(one) and batch[1]["support"] == 0.0
    with pytest.raises(ValueError, match="label.format: missing"):
        engines.compute_score("cai", "An answer.", json.dumps({"id": "x"}))

    logged = {}
    out = engines.trl_reward(prompts=[row["input"]] * 2, completions=[[{"role": "assistant", "content": row["answer"]}],
                                                                       [{"role": "assistant", "content": BAD_ANSWER}]],
                             label=[row["label"], "not json"], log_metric=lambda k, v: logged.setdefault(k, v))
    assert out[0] == pytest.approx(one["score"]) and out[1] is None  # TRL's "no reward" for the bad label
    assert logged["cai/support"] == one["support"]


def test_verl_reward_function_in_process(train_config, rows, monkeypatch):
    monkeypatch.delenv(engines.URL_ENV, raising=False)
    monkeypatch.setenv(engines.CONFIG_ENV, str(train_config))
    monkeypatch.setenv(engines.OVERRIDES_ENV, "hybrid.citation=0")
    monkeypatch.setattr(engines, "_scorer", None)
    out = engines.compute_score("cai", rows[0]["answer"], rows[0]["label"], None)
    assert set(out) == {"score", "support", "citation", "rule_penalty"}  # no preference model given: no pm part
    assert engines.scorer().service.reward.weights.citation == 0.0


# ---------------------------------------------------------------------------------- bad requests
def test_bad_requests_get_4xx_with_a_clear_message_and_the_server_keeps_serving(server, rows):
    good = {"query": [chat(rows[0]["input"]) + rows[0]["answer"]], "prompts": [chat(rows[0]["input"])],
            "labels": [rows[0]["label"]]}
    cases = [
        (b'{"query": ["a"', 400, "the body is not JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (json.dumps({"query": ["a"], "prompts": ["a"]}).encode(), 400, "labels: missing"),
        (json.dumps({"query": ["a"], "labels": ["x"]}).encode(), 400, "prompts: missing"),
        (json.dumps({"query": ["a", "b"], "prompts": ["a"], "labels": ["x"]}).encode(), 400, "different lengths"),
        (json.dumps({"query": [], "prompts": [], "labels": []}).encode(), 400, "no rows"),
        (json.dumps({"responses": ["a"] * 1000, "labels": ["x"] * 1000}).encode(), 413, "1000 rows, over the limit"),
        (b'{"query": "\xff\xfe"}', 400, "not UTF-8"),
        (b"[" * 100 + b"]" * 100, 400, "nested more than"),
        (json.dumps({"query": "a", "prompts": ["a"], "labels": ["x"]}).encode(), 400, "query: expected a JSON list"),
    ]
    for body, status, message in cases:
        got, answer, _ = post(server, body)
        assert got == status and message in answer["error"], (body[:60], got, answer)
    big = b'{"query": ["' + b"a" * (10 * 1024 * 1024) + b'"]}'  # 10 MB: refused by its Content-Length, unread
    got, answer, _ = post(server, big)
    assert got == 413 and "request too large" in answer["error"]
    got, answer, _ = post(server, json.dumps(good).encode(), content_type="text/plain")
    assert got == 415 and "application/json" in answer["error"]
    assert get(server, "/get_reward")[0] == 405 and get(server, "/nowhere")[0] == 404

    mixed = {**good, "query": good["query"] + [123, "no prompt here"], "prompts": good["prompts"] * 3,
             "labels": good["labels"] + [good["labels"][0], "{}"]}
    got, answer, _ = post(server, json.dumps(mixed).encode())
    assert got == 200 and answer["errors"][0] is None and isinstance(answer["rewards"][0], float)
    assert answer["rewards"][1:] == [None, None] and "expected strings" in answer["errors"][1]
    assert "does not hold its prompt" in answer["errors"][2] and answer["extra_logs"]["support"][1:] == [None, None]
    got, answer, _ = post(server, json.dumps({"responses": ["a"], "labels": ['{"format": "cai-rl/1"}']}).encode())
    assert got == 422 and "no row could be scored" in answer["error"] and "label.id" in answer["errors"][0]

    status, health = get(server, "/health")  # still serving, and still scoring
    assert status == 200 and health["status"] == "ok" and health["row_errors"] >= 3
    got, answer, _ = post(server, json.dumps(good).encode())
    assert got == 200 and answer["errors"] == [None]


# ------------------------------------------------------------------------- back-pressure, token
def test_a_full_queue_answers_503_at_once_and_the_token_is_required(train_config, rows, monkeypatch):
    body = json.dumps({"responses": [rows[0]["answer"]], "labels": [rows[0]["label"]]}).encode()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with serving(train_config, token=TOKEN, limits=Limits(queue_size=1)) as server:
        assert post(server, body)[0] == 401 and get(server, "/health")[0] == 401
        assert post(server, body, headers={"Authorization": "Bearer wrong-token-of-enough-length"})[0] == 401
        assert post(server, body, path=f"/get_reward?token={TOKEN}")[0] == 200  # OpenRLHF posts to a bare URL

        app, results = server.app, {}

        def send(name):
            results[name] = post(server, body, headers=auth)

        with app.service.lock:  # the scoring thread blocks on its first batch; the queue behind it fills
            first = threading.Thread(target=send, args=("first",))
            first.start()
            _until(lambda: app.scoring and app.jobs.qsize() == 0)
            second = threading.Thread(target=send, args=("second",))
            second.start()
            _until(lambda: app.jobs.qsize() == 1)
            started = time.monotonic()
            status, answer, headers = post(server, body, headers=auth)
            assert status == 503 and "queue is full" in answer["error"] and headers["Retry-After"] == "1"
            assert time.monotonic() - started < 5  # refused at once, not after waiting
        first.join(60)
        second.join(60)
        assert results["first"][0] == 200 and results["second"][0] == 200
        assert get(server, "/health", headers=auth)[1]["busy"] == 1


def _until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_binding_beyond_loopback_needs_a_token(train_config, monkeypatch):
    cfg = load_config(train_config, stage="train")
    with pytest.raises(UserError, match="refusing to serve the reward beyond this machine"):
        make_server(cfg, "0.0.0.0", 0)
    with pytest.raises(UserError, match="too short"):
        make_server(cfg, "0.0.0.0", 0, token="short")
    monkeypatch.delenv("CAI_REWARD_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["reward", "serve", str(train_config), "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2 and "CAI_REWARD_TOKEN" in result.output and result.output.count("\n") == 1
    result = CliRunner().invoke(cli, ["reward", "serve", str(train_config), "hybrid.bogus=1"])
    assert result.exit_code == 2 and "hybrid.bogus: unknown key" in result.output


# ------------------------------------------------------------------------------------------- TRL
def test_trl_grpo_trainer_rewards_through_the_server(server, grounded_run, tmp_path, monkeypatch):
    """TRL's own GRPOTrainer (the smoke policy, one step on the CPU) with `trl_reward` and the exported
    `label` column: TRL passes the column, the server scores every completion, the parts reach TRL's logs."""
    from datasets import load_dataset
    from trl import GRPOConfig, GRPOTrainer

    from cai.training.adapters import load_model, load_tokenizer
    from cai.training.smoke import build_smoke_policy

    policy = build_smoke_policy(tmp_path / "policy")
    data = tmp_path / "trl.jsonl"
    result = CliRunner().invoke(cli, ["export", "rl-prompts", str(grounded_run), "--format", "trl", "--out", str(data),
                                      "--tokenizer", str(policy), "--max-prompt-tokens", "200"])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv(engines.URL_ENV, server.url + "get_reward")
    monkeypatch.setattr(engines, "_scorer", None)
    args = GRPOConfig(output_dir=str(tmp_path / "grpo"), max_steps=1, per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=8, use_cpu=True, report_to=[], logging_steps=1, save_strategy="no")
    trainer = GRPOTrainer(model=load_model(policy), reward_funcs=[engines.trl_reward], args=args,
                          train_dataset=load_dataset("json", data_files=str(data), split="train"),
                          processing_class=load_tokenizer(policy))
    before = server.app.service.rows_scored
    trainer.train()
    assert server.app.service.rows_scored >= before + 4
    assert any(key.startswith("cai/support") for row in trainer.state.log_history for key in row)
