"""Throughput of our PPO (`cai.training.ppo.train_ppo`) against TRL's `GRPOTrainer` on the same model.

    HF_HUB_OFFLINE=1 python bench/ppo.py --device cpu --model tiny --steps 5 --repeats 3 \
        --out bench/results/ppo-cpu.json
    HF_HUB_OFFLINE=1 python bench/ppo.py --device cuda --models 0.5b,1.5b,7b --rows 64 --prompt-len 128 \
        --response-len 128 --mini-batch 32 --steps 3 --repeats 1 --time-budget 360 --out $OUT/ppo-cuda.json

Both trainers get the same model (`tiny`: the smoke policy; `0.5b`, `1.5b`, `7b`: Qwen2-shaped
configs with random weights made in each worker from one seed, no download, no disk: in the compute
dtype on the device, with a word-level tokenizer built here over the first 30,000 ids), the same rows
per step (PPO: `rows` prompts × 1 response; GRPO: rows / G prompts × G generations), the same prompt
length (every prompt is exactly `--prompt-len` tokens), the same response length (EOS is suppressed
until `--response-len` tokens: `min_new_tokens = max_new_tokens`, checked on the logged lengths), the
same LoRA adapter, the same number of passes over each rollout batch (PPO `ppo_epochs` = GRPO
`num_iterations` = `--epochs`) in the same mini-batches (`--mini-batch` rows per optimiser step, no
gradient accumulation), a KL penalty in both (so both run a reference forward), gradient
checkpointing in both or neither (`--gradient-checkpointing`). A "step" is one rollout batch and all
its updates, for both. `--models` runs several shapes in one call; `--time-budget` skips the runs that
would start after it (recorded in the JSON's `problems`).

Per step, phases: rollout (generation), score (reward, forward-only passes, advantages), update (the
trained passes and optimiser steps); "other" is the rest. PPO's phases are its own `time/*_s` keys;
GRPO's come from a subclass timing `_generate_single_turn` (rollout) and
`_generate_and_score_completions` (rollout + score); its update runs from the end of scoring to the
batch's last optimiser step (the Trainer's logging and callbacks included). Times follow a CUDA sync.

Model FLOPs (counted, not measured): a forward pass over B rows of P + R tokens costs
2·N·B·(P + R) + 2·V·H·B·R, N = the non-embedding parameters the pass runs through (LoRA included;
the critic's pass has no LM head), the LM head (V × H) on the R response positions only (both
trainers); attention scores are not counted. A trained pass counts 3× its forward (6·N; frozen base
weights need no weight gradients, so a LoRA pass really costs ≈ 4·N and MFU is overstated by up to
1.5×, equally for both trainers and for PPO's LoRA critic; checkpointing's recompute not counted).
Update-phase MFU = trained-pass FLOPs / update time / peak; forward-only passes (PPO: policy,
reference, values; GRPO: reference, and old log-probs with more than one iteration) are reported
apart. Peak: on CPU the best fp32 FLOP/s of a 2048³ `torch.matmul` on the trainers' threads, measured
before and after them; on CUDA the device's dense bf16 peak (H200: 790 TFLOP/s, an 8192³ bf16 matmul
measured on the lent H200s; others: datasheet). On CUDA both get bf16 weights: PPO `precision` auto
(bf16 frozen weights and autocast, fp32 LoRA / critic / optimiser) and `rollout_engine` auto (static
KV cache + torch.compile) unless `--rollout-engine` says otherwise; GRPO `bf16=True` and its default
`model.generate`. Memory: on CPU the trainer process's peak RSS during training (VmHWM reset when
training starts; the resident model included; `process_peak_rss_mib`: since the process started),
on CUDA `torch.cuda.max_memory_allocated` from the start of training (weights included).

Each trainer runs in a fresh subprocess per repeat (clean peak memory, no shared accelerate state):
one warm-up step, then `--steps` timed steps; a repeat's value is the mean over its timed steps and
the reported value is the median over repeats.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Dense (no sparsity) bf16 tensor-core peaks, FLOP/s: datasheet, except the H200's, measured on the
# lent H200s (an 8192³ bf16 torch.matmul ran at 769-798 TFLOP/s; the datasheet says 989).
GPU_PEAKS = {
    "H100 SXM": 989e12, "H100 PCIe": 756e12, "H100 NVL": 835e12, "H100": 989e12, "H200": 790e12,
    "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10G": 70e12,
}
GPU_PEAK_SOURCE = {"H200": "measured dense bf16 matmul"}
# Qwen2 shapes (the published configs of Qwen2-0.5B, -1.5B and -7B), random weights.
QWEN2 = {
    "0.5b": {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
             "num_key_value_heads": 2, "vocab_size": 151936, "tie_word_embeddings": True},
    "1.5b": {"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28, "num_attention_heads": 12,
             "num_key_value_heads": 2, "vocab_size": 151936, "tie_word_embeddings": True},
    "7b": {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
           "num_key_value_heads": 4, "vocab_size": 152064, "tie_word_embeddings": False},
}
WORDS = 30000  # the bench tokenizer's words: ids 3 .. 30002 ([PAD] 0, [EOS] 1, [UNK] 2)


# ------------------------------------------------------------------------------------------ models
def build_model(kind: str, out_dir: Path) -> Path | None:
    """The smoke policy's directory for `tiny` (config, weights, tokenizer); None for the Qwen2 shapes,
    which each worker makes in memory (`load_model`)."""
    from cai.training.smoke import build_smoke_policy

    return build_smoke_policy(out_dir) if kind == "tiny" else None


def _word(i: int) -> str:
    """Word i of the bench vocabulary: i + 26 in base 26 with letters as digits (unique, alphabetic)."""
    i, letters = i + 26, ""
    while i:
        i, r = divmod(i, 26)
        letters = chr(97 + r) + letters
    return letters


def bench_tokenizer():
    """A word-level tokenizer over WORDS alphabetic words: a prompt of n words is n tokens; ids past
    WORDS + 3 (the rest of a 151,936-id vocabulary) decode to nothing."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[EOS]": 1, "[UNK]": 2} | {_word(i): i + 3 for i in range(WORDS)}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="[PAD]", eos_token="[EOS]", unk_token="[UNK]")


def model_config(kind: str, model_dir: Path | None):
    from transformers import AutoConfig, Qwen2Config

    if kind == "tiny":
        return AutoConfig.from_pretrained(model_dir)
    tok = bench_tokenizer()
    return Qwen2Config(**QWEN2[kind], max_position_embeddings=32768, rope_theta=1e6, rms_norm_eps=1e-6,
                       bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)


def load_model(kind: str, model_dir: Path | None, device: str):
    """(causal LM, tokenizer): the smoke policy from disk (fp32, CPU), or a Qwen2 shape with seeded
    random weights made on `device` in its compute dtype (bf16 on CUDA, fp32 on CPU)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if kind == "tiny":
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(model_dir)
    else:
        tok = bench_tokenizer()
        torch.manual_seed(0)  # the same weights in every worker
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(
                model_config(kind, None), dtype=torch.bfloat16 if device == "cuda" else torch.float32)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    return model, tok


def fixed_length_prompts(tok, n: int, length: int) -> list[str]:
    """`n` distinct prompts of exactly `length` tokens each (whole-word vocabulary entries)."""
    words = [w for w in tok.convert_ids_to_tokens(range(2000, 6000)) if w.isalpha() and w.isascii()]
    prompts = [" ".join(words[(i * 7 + j * 13) % len(words)] for j in range(length)) for i in range(n)]
    lengths = {len(tok(p, add_special_tokens=False).input_ids) for p in prompts}
    assert lengths == {length} and len(set(prompts)) == n, (lengths, length)
    return prompts


def param_counts(kind: str, model_dir: Path | None, lora_r: int) -> dict[str, int]:
    """Non-embedding parameters of the base model, LM-head size (V, H), and the LoRA parameters."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    cfg = model_config(kind, model_dir)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg)
    body = sum(p.numel() for n, p in model.model.named_parameters() if "embed_tokens" not in n)
    lora = get_peft_model(model, lora_config(lora_r))
    n_lora = sum(p.numel() for p in lora.parameters() if p.requires_grad)
    return {"body": body, "vocab": cfg.vocab_size, "hidden": cfg.hidden_size, "lora": n_lora}


def lora_config(r: int):
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")


def reward(prompts, completions, completion_ids, **_):
    """Cheap and varying (so GRPO's group advantages are not all zero); its value is irrelevant."""
    return [sum(t % 2 == 0 for t in ids) / max(len(ids), 1) for ids in completion_ids]


# ------------------------------------------------------------------------------------------- flops
def step_flops(trainer: str, a: argparse.Namespace, n: dict[str, int]) -> dict[str, float]:
    """Model FLOPs of one step's trained passes and forward-only passes (see the module docstring)."""
    rows, ctx, resp = a.rows, a.prompt_len, a.response_len
    head = 2 * n["vocab"] * n["hidden"] * rows * resp
    fwd_policy = 2 * (n["body"] + n["lora"]) * rows * (ctx + resp) + head
    fwd_ref = 2 * n["body"] * rows * (ctx + resp) + head
    fwd_critic = 2 * (n["body"] + n["lora"]) * rows * (ctx + resp)  # base + its own LoRA + scalar head (negligible)
    if trainer == "ppo":
        trained = a.epochs * 3 * (fwd_policy + fwd_critic)
        forward_only = fwd_policy + fwd_ref + fwd_critic
    else:
        trained = a.epochs * 3 * fwd_policy
        forward_only = fwd_ref + (fwd_policy if a.epochs > 1 else 0)
    return {"update": float(trained), "forward_only": float(forward_only)}


def cpu_peak_flops(size: int = 2048, reps: int = 40) -> float:
    """Best achieved fp32 FLOP/s of a size³ matmul on this process's torch threads (the best of
    many short tries, so that a machine shared with other jobs still shows its peak)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(2):
        torch.matmul(a, b)
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        torch.matmul(a, b)
        best = max(best, 2 * size**3 / (time.perf_counter() - t))
    return best


def gpu_peak(name: str) -> tuple[float | None, str]:
    for key in sorted(GPU_PEAKS, key=len, reverse=True):
        if key.replace(" ", "").lower() in name.replace(" ", "").lower():
            return GPU_PEAKS[key], f"{key} {GPU_PEAK_SOURCE.get(key, 'datasheet dense bf16')}"
    return None, f"unknown device {name!r}: no datasheet peak, MFU not computed"


# ----------------------------------------------------------------------------------------- workers
def _status_kib(field: str) -> float | None:
    """A field of /proc/self/status in KiB (VmRSS, VmHWM), or None where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def _memory_start(device: str) -> float:
    """Memory in use now (MiB), and the peak reset: CUDA's allocator peak, or on Linux the process's
    peak RSS (VmHWM, reset by writing 5 to /proc/self/clear_refs)."""
    import torch

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated() / 2**20
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    rss = _status_kib("VmRSS")
    return (rss if rss is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def _memory_peak(device: str) -> dict[str, float]:
    """{"memory_peak_mib": the peak since `_memory_start`, "process_peak_rss_mib": since the process
    started (CPU: ru_maxrss, model creation included; CUDA: the same as the first)}."""
    import torch

    if device == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
        return {"memory_peak_mib": peak, "process_peak_rss_mib": peak}
    since_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    hwm = _status_kib("VmHWM")
    return {"memory_peak_mib": hwm / 1024 if hwm is not None else since_start, "process_peak_rss_mib": since_start}


def _cpu_since(before) -> dict[str, float]:
    """User and system CPU seconds of this process since `before` (all steps, warm-up included)."""
    now = resource.getrusage(resource.RUSAGE_SELF)
    return {"train_user_cpu_s": now.ru_utime - before.ru_utime, "train_sys_cpu_s": now.ru_stime - before.ru_stime}


def _clock(device: str):
    """perf_counter after the device's queued work (CUDA kernels run asynchronously)."""
    import torch

    def now() -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()
    return now


def run_ppo(a: argparse.Namespace, model_dir: Path | None, work: Path) -> dict:
    import cai.training.ppo as ppo

    model, tok = load_model(a.model, model_dir, a.device)
    prompts = fixed_length_prompts(tok, a.rows, a.prompt_len)
    # Merged into the GenerationConfig cai.training.rollout builds (it leaves min_new_tokens unset): EOS
    # is masked until response_len tokens, so every response has exactly response_len tokens.
    model.generation_config.min_new_tokens = a.response_len
    cfg = ppo.PPOConfig(
        save_steps=0, steps=a.steps + 1, batch_size=a.rows, rollout_micro_batch_size=a.rows,  # no mid-run saves
        mini_batch_size=a.mini_batch, micro_batch_size=a.mini_batch, ppo_epochs=a.epochs,
        max_new_tokens=a.response_len, kl_coef=0.05, alarm_max_kl=None, alarm_preference_part=None,
        alarm_support_part=None, cpu=a.device == "cpu", save_adapter=False, precision="auto",
        rollout_engine=a.rollout_engine, gradient_checkpointing=a.gradient_checkpointing,
    )
    lora = ppo.LoraConfig(r=a.lora_r, alpha=2 * a.lora_r)  # as lora_config(): the same adapter as GRPO's
    rows: list[dict] = []
    mem0, cpu0 = _memory_start(a.device), resource.getrusage(resource.RUSAGE_SELF)
    ppo.train_ppo(model, tok, prompts, reward, cfg, lora=lora, seed=0, out_dir=work / "ppo-run", logger=rows.append)
    mem, cpu = _memory_peak(a.device), _cpu_since(cpu0)
    steps = []
    for r in rows:
        step, rollout, score, update = (r[f"time/{k}_s"] for k in ("step", "rollout", "score", "update"))
        steps.append({"step_s": step, "rollout_s": rollout, "score_s": score, "update_s": update,
                      "other_s": step - rollout - score - update, "generated_tokens": r["tokens/generated"],
                      "mean_length": r["response/length"]})
    return {"steps": steps, "memory_start_mib": mem0, **mem, **cpu, "timing_source": "cai.training.ppo time/* keys"}


def run_grpo(a: argparse.Namespace, model_dir: Path | None, work: Path) -> dict:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    model, tok = load_model(a.model, model_dir, a.device)
    prompts = fixed_length_prompts(tok, a.rows, a.prompt_len)
    per_gen = (a.rows // a.mini_batch) * a.epochs  # optimiser steps per rollout batch
    now = _clock(a.device)
    marks: dict[str, list[float]] = {"gen_start": [], "gen_end": [], "rollout": [], "opt_end": []}
    lengths: list[float] = []

    class Timed(GRPOTrainer):
        def _generate_single_turn(self, *args, **kwargs):
            t = now()
            out = super()._generate_single_turn(*args, **kwargs)
            marks["rollout"].append(now() - t)
            lengths.append(sum(len(c) for c in out[0]) / len(out[0]))
            return out

        def _generate_and_score_completions(self, inputs):
            marks["gen_start"].append(now())
            out = super()._generate_and_score_completions(inputs)
            marks["gen_end"].append(now())
            return out

    class Clock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            marks["train_start"] = [now()]

        def on_step_end(self, args, state, control, **kwargs):
            marks["opt_end"].append(now())

    args = GRPOConfig(
        output_dir=str(work / "grpo-run"), seed=0, max_steps=(a.steps + 1) * per_gen,
        per_device_train_batch_size=a.mini_batch, steps_per_generation=a.rows // a.mini_batch,
        num_generations=a.generations, num_iterations=a.epochs, max_completion_length=a.response_len,
        generation_kwargs={"min_new_tokens": a.response_len}, beta=0.05, learning_rate=1e-5,
        lr_scheduler_type="constant", gradient_checkpointing=a.gradient_checkpointing, use_cpu=a.device == "cpu",
        bf16=a.device == "cuda", logging_steps=1, report_to="none", save_strategy="no", disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = Timed(model=model, reward_funcs=reward, args=args, processing_class=tok,
                    train_dataset=Dataset.from_dict({"prompt": prompts}), peft_config=lora_config(a.lora_r),
                    callbacks=[Clock()])
    mem0, cpu0 = _memory_start(a.device), resource.getrusage(resource.RUSAGE_SELF)
    trainer.train()
    mem, cpu = _memory_peak(a.device), _cpu_since(cpu0)
    ends = marks["train_start"] + marks["opt_end"][per_gen - 1::per_gen]
    steps = []
    for i in range(len(marks["gen_start"])):
        step = ends[i + 1] - ends[i]
        rollout = marks["rollout"][i]
        score = marks["gen_end"][i] - marks["gen_start"][i] - rollout
        update = ends[i + 1] - marks["gen_end"][i]  # its passes, optimiser steps, Trainer logging
        steps.append({"step_s": step, "rollout_s": rollout, "score_s": score, "update_s": update,
                      "other_s": step - rollout - score - update, "generated_tokens": lengths[i] * a.rows,
                      "mean_length": lengths[i]})
    return {"steps": steps, "memory_start_mib": mem0, **mem, **cpu,
            "timing_source": "bench subclass of GRPOTrainer + callback"}


def worker(a: argparse.Namespace) -> None:
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    work = Path(a.work)
    fn = run_ppo if a.worker == "ppo" else run_grpo
    out = fn(a, Path(a.model_dir) if a.model_dir else None, work)
    out["torch_threads"] = torch.get_num_threads()
    print("RESULT " + json.dumps(out), flush=True)


# ------------------------------------------------------------------------------------------ driver
def summarise(trainer: str, runs: list[dict], a: argparse.Namespace, n: dict[str, int], peak: float | None) -> dict:
    flops = step_flops(trainer, a, n)
    per_repeat = []
    for run in runs:
        timed = run["steps"][1:]  # the first step is the warm-up
        lengths = sorted({s["mean_length"] for s in run["steps"]})
        if lengths != [a.response_len]:  # not the same work as the other trainer: flagged, not fatal
            print(f"WARNING {trainer}: mean response lengths {lengths} != {a.response_len}", file=sys.stderr)
        mean = {k: statistics.fmean(s[k] for s in timed) for k in timed[0]}
        per_repeat.append({
            "steps_per_s": 1 / mean["step_s"],
            "generated_tokens_per_s": mean["generated_tokens"] / mean["step_s"],
            "rollout_tokens_per_s": mean["generated_tokens"] / mean["rollout_s"],
            "step_s": mean["step_s"], "rollout_s": mean["rollout_s"], "score_s": mean["score_s"],
            "update_s": mean["update_s"], "other_s": mean["other_s"],
            "update_flops_per_s": flops["update"] / mean["update_s"],
            "update_mfu": flops["update"] / mean["update_s"] / peak if peak else None,
            "peak_memory_mib": run["memory_peak_mib"], "memory_at_train_start_mib": run["memory_start_mib"],
            "process_peak_rss_mib": run["process_peak_rss_mib"],
            "train_user_cpu_s": run["train_user_cpu_s"], "train_sys_cpu_s": run["train_sys_cpu_s"],
            "process_wall_s": run["process_wall_s"], "response_length_ok": lengths == [a.response_len],
        })
    median = {k: statistics.median(r[k] for r in per_repeat) if per_repeat[0][k] is not None else None
              for k in per_repeat[0] if k != "response_length_ok"}
    median["response_length_ok"] = all(r["response_length_ok"] for r in per_repeat)
    return {"median": median, "repeats": per_repeat, "model_flops_per_step": flops,
            "timing_source": runs[0]["timing_source"], "torch_threads": runs[0]["torch_threads"]}


def machine_facts(device: str) -> dict:
    import torch

    facts = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
             "nproc": os.cpu_count(), "load_average_start": os.getloadavg()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        facts["cpu_model"] = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                                  if line.startswith("model name"))
        facts["cpu_flags_avx512f"] = " avx512f " in cpuinfo
    except (OSError, StopIteration):
        pass
    facts["env"] = {k: v for k, v in os.environ.items() if k.startswith(("MALLOC_", "OMP_", "MKL_", "CUDA_VISIBLE"))}
    facts["mem_total_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    if device == "cuda":
        facts["gpu"] = torch.cuda.get_device_name(0)
    from importlib.metadata import PackageNotFoundError, version

    for name in ("transformers", "trl", "peft", "accelerate"):
        try:
            facts[name] = version(name)
        except PackageNotFoundError:
            facts[name] = None
    return facts


def parse_args() -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--model", choices=["tiny", *QWEN2], default="tiny")
    p.add_argument("--models", default=None, help="several of --model's choices, comma-separated, run in turn")
    p.add_argument("--steps", type=int, default=5, help="timed steps per repeat (after one warm-up step)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rows", type=int, default=16, help="responses per step (PPO prompts; GRPO prompts × generations)")
    p.add_argument("--generations", type=int, default=4, help="GRPO num_generations (divides --rows)")
    p.add_argument("--prompt-len", type=int, default=32)
    p.add_argument("--response-len", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2, help="PPO ppo_epochs = GRPO num_iterations")
    p.add_argument("--mini-batch", type=int, default=8, help="rows per optimiser step (divides --rows)")
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--rollout-engine", choices=["auto", "generate", "static", "paged"], default="auto",
                   help="PPO's rollout_engine (auto: static on CUDA, generate on CPU)")
    p.add_argument("--gradient-checkpointing", action="store_true", help="in both trainers")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads; default 1 with --device cpu (more threads on a small shared "
                        "machine ran slower and erratic: see BENCHMARKS.md), torch's default with cuda")
    p.add_argument("--time-budget", type=float, default=None,
                   help="seconds: a worker run is skipped (and recorded) when less is left than that trainer's "
                        "longest run so far, a running one is stopped at the budget + 60 s; the JSON is rewritten "
                        "after every model")
    p.add_argument("--trainers", default="ppo,grpo")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--worker", choices=["ppo", "grpo"], help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.threads is None:
        a.threads = 1 if a.device == "cpu" else 0
    return p, a


def _worker_cmd(a: argparse.Namespace, trainer: str, kind: str, model_dir: Path | None, work: Path) -> list[str]:
    cmd = [sys.executable, __file__, "--worker", trainer, "--model", kind, "--work", str(work), "--device", a.device,
           "--steps", str(a.steps), "--rows", str(a.rows), "--generations", str(a.generations),
           "--prompt-len", str(a.prompt_len), "--response-len", str(a.response_len), "--epochs", str(a.epochs),
           "--mini-batch", str(a.mini_batch), "--lora-r", str(a.lora_r), "--threads", str(a.threads),
           "--rollout-engine", a.rollout_engine]
    cmd += ["--model-dir", str(model_dir)] if model_dir else []
    return cmd + (["--gradient-checkpointing"] if a.gradient_checkpointing else [])


def run_repeats(a: argparse.Namespace, kind: str, trainers: list[str], model_dir: Path | None, tmp: str,
                deadline: float, longest: dict[str, float]) -> tuple[dict[str, list[dict]], list[str]]:
    """Each trainer `--repeats` times on model `kind`, each in a fresh worker subprocess: (its parsed
    RESULT rows, what failed or was skipped). A run is skipped when less time is left before
    `deadline` (perf_counter) than the longest run of that trainer so far (`longest`, updated: models
    come smallest first, so a later run takes at least as long)."""
    runs: dict[str, list[dict]] = {t: [] for t in trainers}
    problems: list[str] = []
    for rep in range(a.repeats):
        for t in trainers if rep % 2 == 0 else trainers[::-1]:  # alternate the order against drift
            if deadline - time.perf_counter() < longest.get(t, 0.0):
                problems.append(f"{kind} {t} repeat {rep}: skipped, {deadline - time.perf_counter():.0f} s left of "
                                f"the time budget, the last {t} run took {longest[t]:.0f} s")
                continue
            t0 = time.perf_counter()
            try:
                proc = subprocess.run(_worker_cmd(a, t, kind, model_dir, Path(tmp) / f"{kind}-{t}-{rep}"),
                                      capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"},
                                      timeout=max(60.0, deadline - t0 + 60) if math.isfinite(deadline) else None)
            except subprocess.TimeoutExpired:
                problems.append(f"{kind} {t} repeat {rep}: stopped after {time.perf_counter() - t0:.0f} s")
                continue
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if proc.returncode or line is None:
                sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
                problems.append(f"{kind} {t} repeat {rep}: exit {proc.returncode}: {proc.stderr[-1500:]}")
                continue
            runs[t].append({**json.loads(line[len("RESULT "):]), "process_wall_s": time.perf_counter() - t0})
            longest[t] = max(longest.get(t, 0.0), time.perf_counter() - t0)
            print(f"{kind} repeat {rep} {t}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return runs, problems


def settings(a: argparse.Namespace) -> dict:
    cuda = a.device == "cuda"
    return {
        "rows_per_step": a.rows, "ppo": f"{a.rows} prompts x 1 response",
        "grpo": f"{a.rows // a.generations} prompts x {a.generations} generations",
        "prompt_tokens": a.prompt_len, "response_tokens": a.response_len,
        "epochs (ppo_epochs = num_iterations)": a.epochs, "mini_batch_rows": a.mini_batch,
        "optimizer_steps_per_step": (a.rows // a.mini_batch) * a.epochs, "lora_r": a.lora_r,
        "kl": "PPO kl_coef 0.05 (k1 in reward), GRPO beta 0.05",
        "precision": ("bf16 weights: PPO precision auto (bf16 frozen, fp32 LoRA/critic/optimiser, bf16 autocast), "
                      "GRPO bf16=True") if cuda else "fp32",
        "ppo_critic": "LoRA adapter + value head on the policy's frozen base",
        "ppo_rollout_engine": a.rollout_engine, "grpo_generation": "model.generate (TRL default)",
        "timed_steps_per_repeat": a.steps, "warmup_steps": 1, "repeats": a.repeats,
        "torch_threads": a.threads or "torch default", "gradient_checkpointing": a.gradient_checkpointing,
    }


def model_report(kind: str, n: dict[str, int], results: dict[str, dict], problems: list[str]) -> dict:
    out = {"model": {"name": kind, "params_non_embedding": n["body"], "vocab": n["vocab"], "hidden": n["hidden"],
                     "lora_params": n["lora"]}, "results": results, "problems": problems}
    if {"ppo", "grpo"} <= set(results):
        mp, mg = results["ppo"]["median"], results["grpo"]["median"]
        out["ratio_ppo_over_grpo"] = {k: mp[k] / mg[k] for k in mp if mp[k] and mg[k]}
    return out


def main() -> None:
    p, a = parse_args()
    if a.worker:
        return worker(a)
    if a.rows % a.generations or a.rows % a.mini_batch:
        p.error("--generations and --mini-batch must divide --rows")
    kinds = a.models.split(",") if a.models else [a.model]
    if unknown := set(kinds) - {"tiny", *QWEN2}:
        p.error(f"unknown models: {sorted(unknown)}")
    out = a.out or ROOT / "bench" / "results" / f"ppo-{a.device}.json"
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)  # the matmul peak runs on the trainers' thread count
    facts = machine_facts(a.device)
    trainers = a.trainers.split(",")
    started = time.perf_counter()
    deadline = started + a.time_budget if a.time_budget else math.inf
    peaks = [cpu_peak_flops()] if a.device == "cpu" else []
    peak, peak_source = (peaks[0], "achieved fp32 torch.matmul 2048³, best of 40") if peaks else gpu_peak(facts["gpu"])
    report = {"command": "HF_HUB_OFFLINE=1 python bench/ppo.py " + " ".join(sys.argv[1:]), "machine": facts,
              "peak_flops": peak, "peak_source": peak_source, "settings": settings(a), "models": {}}
    longest: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ppo-") as tmp:
        for kind in kinds:
            model_dir = build_model(kind, Path(tmp) / kind)
            n = param_counts(kind, model_dir, a.lora_r)
            runs, problems = run_repeats(a, kind, trainers, model_dir, tmp, deadline, longest)
            results = {t: summarise(t, runs[t], a, n, peak) for t in trainers if runs[t]}
            report["models"][kind] = model_report(kind, n, results, problems)
            report["machine"]["bench_wall_s"] = time.perf_counter() - started
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=2) + "\n")  # after every model: a timeout keeps the rest
            print(json.dumps({kind: {t: r["median"] for t, r in results.items()}, "problems": problems}, indent=2))
    if a.device == "cpu":
        peaks.append(cpu_peak_flops())
        report.update(peak_flops=max(peaks), cpu_matmul_flops_measured=peaks,
                      peak_source="achieved fp32 torch.matmul 2048³, best of 40, max of before/after")
        for entry in report["models"].values():  # the MFU against the final peak
            for r in entry["results"].values():
                for row in [r["median"], *r["repeats"]]:
                    row["update_mfu"] = row["update_flops_per_s"] / report["peak_flops"]
    facts["load_average_end"] = os.getloadavg()
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(out)


if __name__ == "__main__":
    main()
