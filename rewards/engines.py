"""The hybrid reward in the shapes OpenRLHF, verl and TRL call a reward: the HTTP wire format of
`cai reward serve`, and reward functions that score in this process or through that server.

OpenRLHF's remote reward model (`--reward.remote_url URL`; `--remote_rm_url` before 0.10). Matched
against openrlhf 0.11.2, `openrlhf/utils/agent.py`, `SingleTurnAgentExecutor._fetch_rewards_via_http`
(the fields are those of `remote_rm_utils.remote_rm_fn` since 0.6):

    POST URL  {"query": [prompt + response, …], "prompts": [prompt, …], "labels": [label, …]}
    200       {"rewards": [float, …], "scores": [float, …], "extra_logs": {"support": [float, …], …}}

The query is the prompt and the response decoded together with `skip_special_tokens=False`, so
`response_of` cuts the prompt off its front and the end-of-turn tokens off its end. Each label is
the "cai-rl/1" label `cai export rl-prompts` wrote (`rewards.rl_prompts`): the server finds the
question and its sources from it, never from the prompt text. `scores` repeats `rewards` (as
OpenRLHF's own `serve_rm` does); `extra_logs` holds each raw part, which OpenRLHF logs per sample.
Beyond OpenRLHF's fields, a request may give `responses` (the response texts themselves) instead
of `query`/`prompts` — what this module's HTTP client sends — and every answer has `errors`: null
for a scored row, else why that row has no reward (its reward and parts are then null).

verl (matched against verl 0.9.1): `custom_reward_function.path` = this file,
`custom_reward_function.name` = `compute_score` (called per sample by the naive reward manager and
the reward loop as `compute_score(data_source=, solution_str=, ground_truth=, extra_info=)`; a dict
with "score" and extra keys is logged per key) or `compute_score_batch` (`reward_manager=batch`).
The ground truth is the label.

TRL (matched against trl 1.16 `GRPOTrainer`): `trl_reward` in `reward_funcs`; the dataset's
`label` column reaches it as a keyword list; a row that cannot be scored is None (TRL's "no reward").

Where the scoring happens: with `$CAI_REWARD_URL` (e.g. http://127.0.0.1:8800/get_reward) every
function posts to that server (`$CAI_REWARD_TOKEN` as its bearer token); else with
`$CAI_REWARD_CONFIG` (a train config, `$CAI_REWARD_OVERRIDES` key=value pairs,
`$CAI_REWARD_PREFERENCE` a preference model or `cai train` run) the reward is loaded in this
process once and scores here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from rewards.service import RewardService, Row, Scored

URL_ENV, TOKEN_ENV = "CAI_REWARD_URL", "CAI_REWARD_TOKEN"
CONFIG_ENV, OVERRIDES_ENV, PREFERENCE_ENV = "CAI_REWARD_CONFIG", "CAI_REWARD_OVERRIDES", "CAI_REWARD_PREFERENCE"
CLIENT_TIMEOUT = 600.0  # seconds for one request: a large batch on a busy server takes minutes
CLIENT_RETRIES = 8  # tries while the server is busy (503/429) or unreachable, backing off to 10 s
PROMPT_TAIL = 64  # characters of the prompt's end that locate the response when the query's front differs

# End-of-turn and end-of-text tokens as chat templates spell them (<|im_end|>, <|eot_id|>, </s>, <eos>,
# <end_of_turn>, <｜end▁of▁sentence｜>): OpenRLHF decodes the query with special tokens kept.
_TRAILING_SPECIAL = re.compile(r"(?:\s*(?:<\|[^|<>\n]{1,40}\|>|</s>|<eos>|<end_of_turn>|<｜[^｜<>\n]{1,40}｜>))+\s*$")


class BadRequest(ValueError):
    """A request the server refuses as a whole: an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# ------------------------------------------------------------------------------------- wire format
def response_of(query: str, prompt: str) -> str:
    """The response inside OpenRLHF's query (prompt + response, special tokens kept): the text after
    the prompt, without trailing end-of-turn tokens. Where re-tokenisation changed the prompt's front,
    the response starts after the first occurrence of the prompt's last characters."""
    if query.startswith(prompt):
        response = query[len(prompt):]
    else:
        tail = prompt[-PROMPT_TAIL:]
        at = query.find(tail) if tail else -1
        if at < 0:
            raise ValueError("query: does not hold its prompt (expected the prompt followed by the response)")
        response = query[at + len(tail):]
    return _TRAILING_SPECIAL.sub("", response)


def _texts(obj: dict, key: str) -> list | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, list):
        raise BadRequest(400, f"{key}: expected a JSON list (one entry per row), got {type(value).__name__}")
    return value


def parse_request(obj, max_rows: int) -> list[Row]:
    """The rows of a request body (already parsed JSON); BadRequest for a body that is not one (see the
    module docstring). An entry of the wrong type is that row's problem, not the request's."""
    if not isinstance(obj, dict):
        raise BadRequest(400, "the body must be a JSON object with the lists query, prompts and labels "
                              "(OpenRLHF's remote reward request)")
    labels, responses = _texts(obj, "labels"), _texts(obj, "responses")
    queries, prompts = _texts(obj, "query"), _texts(obj, "prompts")
    if labels is None:
        raise BadRequest(400, "labels: missing; export the prompts with `cai export rl-prompts` and give the trainer "
                              "their label column (OpenRLHF: --data.label_key label)")
    if responses is None and queries is None:
        raise BadRequest(400, "query: missing; give query and prompts (OpenRLHF) or responses")
    if responses is None and prompts is None:
        raise BadRequest(400, "prompts: missing; each query's prompt is needed to find its response")
    given = {k: len(v) for k, v in (("labels", labels), ("responses", responses), ("query", queries),
                                    ("prompts", prompts)) if v is not None}
    if len(set(given.values())) > 1:
        raise BadRequest(400, "lists of different lengths (" + ", ".join(f"{k} {n}" for k, n in given.items())
                         + "): give one entry per row in each")
    if not labels:
        raise BadRequest(400, "no rows: the lists are empty")
    if len(labels) > max_rows:
        raise BadRequest(413, f"{len(labels)} rows, over the limit of {max_rows} per request; send smaller batches")
    if responses is not None:
        return [Row(r, lab) for r, lab in zip(responses, labels, strict=True)]
    return [openrlhf_row(q, p, lab) for q, p, lab in zip(queries, prompts, labels, strict=True)]


def openrlhf_row(query, prompt, label) -> Row:
    """One OpenRLHF row: its response cut out of its query, or the reason it cannot be (the row's error)."""
    if not isinstance(query, str) or not isinstance(prompt, str):
        return Row("", label, error="query and prompts: expected strings")
    try:
        return Row(response_of(query, prompt), label)
    except ValueError as e:
        return Row("", label, error=str(e))


def response_body(results: Sequence[Scored], parts: Sequence[str]) -> dict:
    """OpenRLHF's answer (see the module docstring) for `results`, one per row in order."""
    rewards = [r.reward for r in results]
    return {"rewards": rewards, "scores": rewards,
            "extra_logs": {p: [r.parts.get(p) if r.error is None else None for r in results] for p in parts},
            "errors": [r.error for r in results]}


# ---------------------------------------------------------------------------------------- scoring
class _Local:
    """The reward in this process, loaded once from `$CAI_REWARD_CONFIG`."""

    def __init__(self) -> None:
        from pathlib import Path

        from cai.core.configs import load_config
        from rewards.service import open_service

        config = load_config(os.environ[CONFIG_ENV], shlex.split(os.environ.get(OVERRIDES_ENV, "")), stage="train")
        pref = os.environ.get(PREFERENCE_ENV) or None
        self.service: RewardService = open_service(config, Path(pref) if pref else None)

    def score(self, rows: Sequence[Row]) -> tuple[list[Scored], list[str]]:
        return self.service.score(rows), self.service.parts


class _Remote:
    """A `cai reward serve` server at `$CAI_REWARD_URL` (the standard library's HTTP client)."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url, self.token = url, token

    def score(self, rows: Sequence[Row]) -> tuple[list[Scored], list[str]]:
        body = json.dumps({"responses": [r.response for r in rows], "labels": [r.label for r in rows]}).encode()
        answer = self._post(body)
        parts = list(answer.get("extra_logs") or {})
        out = []
        for k, error in enumerate(answer["errors"]):
            reward = answer["rewards"][k]
            out.append(Scored(reward, {} if error else {p: answer["extra_logs"][p][k] for p in parts}, error))
        return out, parts

    def _post(self, body: bytes) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        wait = 0.5
        for attempt in range(CLIENT_RETRIES):
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT) as answer:
                    return json.loads(answer.read())
            except urllib.error.HTTPError as e:
                detail = e.read()
                if e.code == 422:  # no row could be scored: the rows' errors are the answer
                    return json.loads(detail)
                if e.code not in (429, 503) or attempt == CLIENT_RETRIES - 1:
                    raise ValueError(f"{self.url}: HTTP {e.code}: {_message(detail)}") from None
                wait = max(wait, float(e.headers.get("Retry-After") or 0))
            except (urllib.error.URLError, ConnectionError) as e:
                if attempt == CLIENT_RETRIES - 1:
                    reason = getattr(e, "reason", e)
                    raise ValueError(f"{self.url}: cannot reach the reward server ({reason})") from None
            time.sleep(min(wait, 10.0))
            wait *= 2
        raise AssertionError("unreachable: the last attempt returns or raises")


def _message(detail: bytes) -> str:
    try:
        return str(json.loads(detail).get("error"))[:500]
    except (ValueError, AttributeError):
        return detail[:200].decode("utf-8", "replace")


_scorer = None
_scorer_lock = threading.Lock()


def scorer():
    """The process's scorer (see the module docstring for the environment it reads), made once."""
    global _scorer
    with _scorer_lock:
        if _scorer is None:
            if os.environ.get(URL_ENV):
                _scorer = _Remote(os.environ[URL_ENV], os.environ.get(TOKEN_ENV) or None)
            elif os.environ.get(CONFIG_ENV):
                _scorer = _Local()
            else:
                raise RuntimeError(f"the cai reward needs ${URL_ENV} (a `cai reward serve` URL) or ${CONFIG_ENV} "
                                   "(a train config to load the reward in this process)")
        return _scorer


# ------------------------------------------------------------------------------ engine functions
def _verl_dict(result: Scored) -> dict:
    if result.error is not None:
        raise ValueError(f"cai reward: {result.error}")
    return {"score": result.reward, **result.parts}


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict:
    """verl's reward function: {"score": total, "pm"?, "support", "citation", "rule_penalty"}.
    `ground_truth` is the label; a row that cannot be scored raises ValueError with the reason."""
    results, _ = scorer().score([Row(solution_str, ground_truth)])
    return _verl_dict(results[0])


def compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos=None, **kwargs) -> list[dict]:
    """verl's batch reward function (`reward_manager=batch`): one dict per row, as `compute_score`."""
    results, _ = scorer().score([Row(s, g) for s, g in zip(solution_strs, ground_truths, strict=True)])
    return [_verl_dict(r) for r in results]


def reward_func(queries, prompts, labels) -> dict:
    """OpenRLHF's in-process reward (`--reward.remote_url` = the path of this file): its HTTP answer's
    fields. A row that cannot be scored raises ValueError, which OpenRLHF logs."""
    rows = [openrlhf_row(q, p, lab) for q, p, lab in zip(queries, prompts, labels, strict=True)]
    results, parts = scorer().score(rows)
    if bad := next((r.error for r in results if r.error is not None), None):
        raise ValueError(f"cai reward: {bad}")
    return response_body(results, parts)


def trl_reward(prompts, completions, label=None, **kwargs) -> list[float | None]:
    """TRL's reward function (`reward_funcs`): the dataset's `label` column names each prompt's
    sources; a completion is a string or a message list (its last message is the response). The
    parts' batch means go to TRL's `log_metric` as `cai/<part>`."""
    if label is None:
        raise ValueError("cai reward: the dataset has no `label` column; export it with "
                         "`cai export rl-prompts RUN --format trl`")
    texts = [c if isinstance(c, str) else (c[-1]["content"] if c else "") for c in completions]
    results, parts = scorer().score([Row(t, lab) for t, lab in zip(texts, label, strict=True)])
    log_metric = kwargs.get("log_metric")
    scored = [r for r in results if r.error is None]
    if callable(log_metric) and scored:
        for p in parts:
            log_metric(f"cai/{p}", sum(r.parts[p] for r in scored) / len(scored))
    return [r.reward for r in results]
