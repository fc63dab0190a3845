"""Generation speed of a policy on CPU (issue #18, deliverable 5): prefill and decode tokens/s of
`cai.training.policy.Policy` (the code `cai answer` and `cai eval` run), default SmolLM2-135M-Instruct.

Prompts are the policy's own RAG prompts (`policy_messages` under the chat template) for the
quickstart questions: each question's gold quotes as sources plus `--extra-sources` paragraphs of
another company's report (retrieval noise), so prompts run to a few hundred tokens. Every run
generates exactly `--new-tokens` tokens (`min_new_tokens`), greedy, with the KV cache.

One `generate` call is split by a streamer that timestamps each step: transformers hands it the
prompt before the prefill, then every new token. Prefill = prompt handed → first new token (the
forward over the whole left-padded batch, plus one greedy pick); decode = first → last new token
(`new_tokens - 1` steps, one token per row each). Prefill tokens/s counts real prompt tokens (not
padding); decode tokens/s counts rows × steps.

Configurations, interleaved within each repeat so a load spike on this shared machine hits all:
* `batch B, kv cache` for each `--batch-sizes` (same prompts: batch 1 runs them one by one);
* baseline `batch 1, no cache` (`use_cache=False`: every step re-reads prompt + tokens so far) on
  the first `--baseline-prompts` prompts, at the last thread count only (it is slow);
each at every `--threads` count (`torch.set_num_threads`, which the policy honours: nothing in it
sets threads). One short warm-up call per configuration, then the median of `--repeats` runs.

    HF_HUB_OFFLINE=1 python bench/generation_speed.py [--model smollm2-135m] [--threads 2,1]
        [--batch-sizes 1,8] [--new-tokens 32] [--repeats 3] [--baseline-prompts 1]
        [--out bench/results/generation_speed.json]

Writes the JSON (every run, the settings, the machine, the command) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "examples" / "quickstart" / "questions.jsonl"
DISTRACTOR = ROOT / "examples" / "corpus" / "ostrander-quarry-2024-annual-report.txt"


class StepClock:
    """A transformers streamer that only records when each `put` arrives."""

    def __init__(self):
        self.times: list[float] = []

    def put(self, value) -> None:
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


def prompts(n: int, extra: int):
    """(question, sources) for the first `n` quickstart questions."""
    from cai.core.contracts import Locator, SearchHit

    paragraphs = [p.strip() for p in DISTRACTOR.read_text().split("\n\n") if len(p.strip()) > 200]

    def hit(doc: str, page: int, text: str) -> SearchHit:
        return SearchHit(doc_id=doc, page=page, score=1.0, text=text,
                         locator=Locator(doc_id=doc, page=page, char_start=0, char_end=len(text), sentence=0))

    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()][:n]
    out = []
    for i, row in enumerate(rows):
        gold = [hit(g["doc"], g["page"], g["quote"]) for g in row["metadata"].get("gold", [])]
        noise = [hit(DISTRACTOR.stem, 1, paragraphs[(i + j) % len(paragraphs)]) for j in range(extra)]
        out.append((row["question"], gold + noise))
    return out


def timed_batch(policy, items, new_tokens: int, cache: bool) -> dict:
    """One generate call over `items`: prefill and decode seconds and their token counts."""
    import torch

    enc = policy.encode(items)
    clock = StepClock()
    if cache:
        out = policy.generate_ids(enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens, streamer=clock)
    else:  # the baseline: the same call as Policy.generate_ids with the cache off
        with torch.no_grad():
            out = policy.lm.generate(**enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                                     temperature=None, top_p=None, top_k=None, use_cache=False,
                                     pad_token_id=policy.tokenizer.pad_token_id, streamer=clock)
        out = out[:, enc["input_ids"].shape[1]:]
    rows, steps = out.shape
    assert steps == new_tokens and len(clock.times) == new_tokens + 1, (steps, len(clock.times))
    return {"prefill_s": clock.times[1] - clock.times[0], "decode_s": clock.times[-1] - clock.times[1],
            "prompt_tokens": int(enc["attention_mask"].sum()), "padded_tokens": int(enc["input_ids"].numel()),
            "decode_tokens": rows * (new_tokens - 1)}


def run_config(policy, items, batch: int, new_tokens: int, cache: bool) -> dict:
    """All of `items` in batches of `batch`, summed."""
    parts = [timed_batch(policy, items[i:i + batch], new_tokens, cache) for i in range(0, len(items), batch)]
    total = {k: sum(p[k] for p in parts) for k in parts[0]}
    total["prefill_tok_s"] = total["prompt_tokens"] / total["prefill_s"]
    total["decode_tok_s"] = total["decode_tokens"] / total["decode_s"]
    return total


def machine() -> dict:
    import torch
    import transformers

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "loadavg": os.getloadavg()}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m", help="policy model: built-in name, HF id or path")
    ap.add_argument("--threads", default="2,1", help="torch.set_num_threads values, comma-separated (the "
                    "baseline runs at the last)")
    ap.add_argument("--batch-sizes", default="1,8")
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--extra-sources", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline-prompts", type=int, default=1,
                    help="prompts for the batch 1 no-cache baseline (0: skip it)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "generation_speed.json")
    a = ap.parse_args(argv)
    import torch

    from cai.training.policy import open_policy

    threads = [int(t) for t in a.threads.split(",")]
    batches = [int(b) for b in a.batch_sizes.split(",")]
    started, load_start = time.perf_counter(), os.getloadavg()
    policy = open_policy(a.model, max_new_tokens=a.new_tokens)
    items = prompts(max(batches), a.extra_sources)
    configs = [(t, b, True, items) for t in threads for b in batches]
    if a.baseline_prompts:
        configs.append((threads[-1], 1, False, items[:a.baseline_prompts]))
    runs: dict[str, list[dict]] = {}
    for t, b, cache, its in configs:  # warm-up: one short call per configuration (allocator, kernels)
        torch.set_num_threads(t)
        run_config(policy, its[:b], b, 2, cache)
    for _ in range(a.repeats):
        for t, b, cache, its in configs:
            torch.set_num_threads(t)
            assert torch.get_num_threads() == t
            result = run_config(policy, its, b, a.new_tokens, cache)
            runs.setdefault(f"threads {t}, batch {b}, {'kv cache' if cache else 'no cache'}", []).append(result)
    summary = {name: {k: statistics.median(r[k] for r in rs) for k in ("prefill_tok_s", "decode_tok_s",
                                                                         "prefill_s", "decode_s")}
               | {k: rs[0][k] for k in ("prompt_tokens", "padded_tokens", "decode_tokens")}
               for name, rs in runs.items()}
    lengths = [policy.encode([it])["input_ids"].shape[1] for it in items]
    report = {"command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
              "settings": vars(a) | {"out": str(a.out)}, "model": policy.base.manifest() if policy.base else a.model,
              "prompt_tokens_each": lengths, "machine": machine() | {"loadavg_start": load_start},
              "wall_s": time.perf_counter() - started, "summary": summary, "runs": runs}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2))
    print(f"prompts: {len(items)}, {min(lengths)}–{max(lengths)} tokens; {a.new_tokens} new tokens each; "
          f"median of {a.repeats}; load {load_start[0]:.1f} → {os.getloadavg()[0]:.1f}")
    print("| configuration | prefill tokens/s | decode tokens/s | prefill s | decode s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, s in summary.items():
        print(f"| {name} | {s['prefill_tok_s']:.0f} | {s['decode_tok_s']:.1f} | {s['prefill_s']:.2f} | "
              f"{s['decode_s']:.2f} |")
    return report


if __name__ == "__main__":
    main()
