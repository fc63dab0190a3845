"""`cai teacher check CONFIG.yaml` against real local servers behaving like server families."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cai.cli import cli
from tests.openai_server import FakeOpenAIServer


def critic(messages, body) -> str:
    """A teacher that finds the mangled figure of the probe's critique."""
    user = messages[-1]["content"]
    bad = [{"rule_id": "r", "claim": "Total revenue for fiscal 2024 was $91.3 million.", "fix": "$912.3 million"}]
    return json.dumps({"violations": bad if "$91.3 million" in user else []})


def _config(tmp_path: Path, *endpoints: dict, **teacher) -> Path:
    path = tmp_path / "generate.yaml"
    path.write_text(json.dumps({"questions": "missing.jsonl", "index": "missing-index", "teacher": {
        "backend": "openai", "model": "smollm2", "timeout_s": 5, "endpoints": list(endpoints), **teacher}}))
    return path


def _check(config: Path, *extra: str):
    result = CliRunner().invoke(cli, ["teacher", "check", str(config), *extra])
    return result.exit_code, result.output


def test_two_families_work_and_say_which_mode(tmp_path):
    with FakeOpenAIServer(family="llama_cpp", reply=critic, models=("smollm2",)) as llama, \
            FakeOpenAIServer(family="tgi", reply=critic) as tgi:
        config = _config(tmp_path, {"base_url": llama.base_url, "extra_body": {"repeat_penalty": 1.0}},
                         {"base_url": tgi.base_url})
        code, out = _check(config)
        requests = (llama.stats["requests"], tgi.stats["requests"])
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == f"endpoint 1: {llama.base_url} (model smollm2)"
    assert "  reachable; /models lists 'smollm2'" in lines
    assert "  structured output: json_object_schema (auto; json_schema refused: HTTP 500)" in lines
    assert '  extra_body: {"repeat_penalty": 1.0}' in lines
    assert "  reachable; no /models route (model not checked)" in lines
    assert ("  structured output: tgi_grammar (auto; json_schema refused: HTTP 422; json_object_schema refused: "
            "HTTP 422)") in lines
    assert sum(line.startswith("  critique round-trip: ok in ") and "1 violation(s) found" in line
               for line in lines) == 2
    assert lines[-1] == "ok: 2 of 2 endpoint(s) work"
    assert requests == (2, 3)  # each mode tried once, then one critique; nothing retried


def test_endpoints_that_do_not_work_get_one_line_each_and_exit_2(tmp_path):
    with FakeOpenAIServer(family="tgi", reply=critic) as tgi, \
            FakeOpenAIServer(family="openai", reply=critic, models=("gpt-x",)) as other:
        config = _config(tmp_path, {"base_url": tgi.base_url, "structured_output": "json_schema"},
                         {"base_url": "http://127.0.0.1:9/v1"}, {"base_url": other.base_url})
        code, out = _check(config)
        tgi_requests = tgi.stats["requests"]
    assert code == 2
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2
    assert errors[0].startswith(f"error: endpoint 1 {tgi.base_url} (model smollm2): critique round-trip failed: ")
    assert "refused structured_output 'json_schema' (HTTP 422" in errors[0]
    assert errors[1].startswith("error: endpoint 2 http://127.0.0.1:9/v1 (model smollm2): unreachable: ")
    assert tgi_requests == 1  # an explicit mode is not retried nor replaced
    # the third endpoint works; its /models does not list the model, which is reported, not failed
    assert "  reachable; /models does not list 'smollm2' (it lists: gpt-x)" in out
    assert "  structured output: json_schema (auto)" in out


def test_keys_echoed_by_a_server_never_reach_the_output(tmp_path, monkeypatch):
    monkeypatch.setenv("CHECK_TEACHER_KEY", "sk-check-0123456789abcdef")
    with FakeOpenAIServer(echo_auth_status=401) as srv:
        code, out = _check(_config(tmp_path, {"base_url": srv.base_url}, api_key_env="CHECK_TEACHER_KEY"))
    assert code == 2 and "sk-check" not in out
    assert "error: endpoint 1" in out and "CHECK_TEACHER_KEY" in out


def test_a_teacher_without_endpoints_is_a_one_line_error(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(json.dumps({"questions": "q.jsonl", "index": "idx", "teacher": {"backend": "grounded"}}))
    code, out = _check(path)
    assert code == 2 and out.strip() == ("error: teacher.backend is 'grounded': `cai teacher check` probes the "
                                         "endpoints of an openai teacher (teacher.backend: openai, teacher.endpoints)")
