"""bench/ppo.py's model shapes, tokenizer and peak table (the parts a GPU run depends on and a CPU
can check; the run itself: `python bench/ppo.py --device cpu --models tiny,0.5b ...`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_ppo", ROOT / "bench" / "ppo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("kind", "non_embedding"), [("0.5b", 0.36e9), ("1.5b", 1.31e9), ("7b", 6.53e9)])
def test_qwen2_shapes_have_the_published_sizes(bench, kind, non_embedding):
    """Non-embedding parameters as in the Qwen2 report (Yang et al. 2024, Table 1: 0.35B, 1.3B, 6.5B)."""
    n = bench.param_counts(kind, None, lora_r=16)
    assert n["body"] == pytest.approx(non_embedding, rel=0.03)
    assert n["vocab"] >= 151936 and n["lora"] > 0


def test_bench_tokenizer_gives_exact_prompt_lengths(bench):
    tok = bench.bench_tokenizer()
    words = [bench._word(i) for i in range(bench.WORDS)]
    assert len(set(words)) == bench.WORDS and all(w.isalpha() and w.isascii() for w in words)
    prompts = bench.fixed_length_prompts(tok, 8, 37)
    assert {len(tok(p).input_ids) for p in prompts} == {37}
    assert tok.pad_token_id == 0 and tok.eos_token_id == 1
    ids = tok(prompts[0]).input_ids
    assert tok.decode(ids) == prompts[0]


def test_gpu_peak_and_flops(bench):
    peak, source = bench.gpu_peak("NVIDIA H200")
    assert peak == 790e12 and "measured" in source
    assert bench.gpu_peak("NVIDIA H100 80GB HBM3")[0] == 989e12
    assert bench.gpu_peak("Some GPU")[0] is None

    class Args:
        rows, prompt_len, response_len, epochs = 4, 8, 8, 2

    n = {"body": 1000, "lora": 10, "vocab": 50, "hidden": 4}
    ppo, grpo = bench.step_flops("ppo", Args, n), bench.step_flops("grpo", Args, n)
    policy = 2 * 1010 * 4 * 16 + 2 * 50 * 4 * 4 * 8
    critic = 2 * 1010 * 4 * 16  # the critic's own LoRA adapter, of the policy's shape
    assert ppo["update"] == 2 * 3 * (policy + critic) and grpo["update"] == 2 * 3 * policy
