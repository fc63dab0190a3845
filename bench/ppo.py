"""Throughput of our PPO (`cai.training.ppo.train_ppo`) against TRL's `GRPOTrainer` on the same model.

    HF_HUB_OFFLINE=1 python bench/ppo.py --device cpu --model tiny --steps 5 --repeats 3 \
        --out bench/results/ppo-cpu.json
    HF_HUB_OFFLINE=1 python bench/ppo.py --device cuda --model 0.5b --steps 5 --repeats 3 \
        --out bench/results/ppo-cuda.json

Both trainers get the same model (`tiny`: the smoke policy; `0.5b`: a Qwen2-0.5B-shaped config with
random weights built here, no download), the same rows per step (PPO: `rows` prompts × 1
response; GRPO: rows / G prompts × G generations), the same prompt length (every prompt is exactly
`--prompt-len` tokens), the same response length (EOS is suppressed until `--response-len` tokens:
`min_new_tokens = max_new_tokens`, checked on the logged lengths), the same LoRA adapter, the same
number of passes over each rollout batch (PPO `ppo_epochs` = GRPO `num_iterations` = `--epochs`) in
the same mini-batches (`--mini-batch` rows per optimiser step, no gradient accumulation), a KL
penalty in both (so both run a reference forward), no gradient checkpointing. A "step" is one
rollout batch and all its updates, for both.

Per step, phases: rollout (generation only), score (reward, forward-only passes, advantages) and
update (the trained passes and optimiser steps); "other" is the rest of the step. PPO's phases are
cai.training.ppo's own `time/rollout_s`, `time/score_s`, `time/update_s` (other = its metrics row), or,
with a cai.training.ppo that does not log them, times of its `_generate` and `_ppo_epochs` functions. GRPO's
come from a subclass timing `_generate_single_turn` (rollout) and `_generate_and_score_completions`
(rollout + score); its update runs from the end of scoring to the end of the rollout batch's last
optimiser step, so it includes the Trainer's per-optimiser-step logging and callbacks; other = the
data-loader fetch before generation. Times are taken after a CUDA synchronize on GPU.

Model FLOPs (counted, not measured): a forward pass over B rows of P + R tokens costs
2·N·B·(P + R) + 2·V·H·B·R, where N = the non-embedding parameters the pass runs through (LoRA
included; the critic's backbone has no LM head) and the LM head (V × H) runs on the R response
positions only (both trainers compute logits there only); attention-score FLOPs are not counted.
A trained pass counts 3× its forward (the 6·N convention; the critic is trained in full, but the
policy's frozen base weights need no weight gradients, so its passes really cost ≈ 4·N: the
policy's MFU is overstated by up to 1.5×, equally for both trainers). Update-phase MFU = FLOPs of
the trained passes / update time / peak. Forward-only passes (PPO: policy, reference and critic
values; GRPO: reference and, with more than one iteration, old log-probs) are counted separately
and are not in the MFU. Peak: on CPU the best achieved fp32 FLOP/s of a 2048³ `torch.matmul` on
the trainers' thread count, measured in the same run (before and after the trainers); on CUDA the
datasheet dense bf16 peak of the named device (both trainers then run bf16 autocast over fp32
weights). Memory: on CPU the peak RSS of the trainer's process (so it includes torch/TRL and the
model load), on CUDA `torch.cuda.max_memory_allocated` from the start of training.

Each trainer runs in a fresh subprocess per repeat (clean peak memory, no shared accelerate state):
one warm-up step, then `--steps` timed steps; a repeat's value is the mean over its timed steps and
the reported value is the median over repeats.
"""

from __future__ import annotations

import argparse
import json
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

# Datasheet dense (no sparsity) bf16 tensor-core peaks, FLOP/s.
GPU_PEAKS = {
    "H100 SXM": 989e12, "H100 PCIe": 756e12, "H100 NVL": 835e12, "H100": 989e12, "H200": 989e12,
    "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10G": 70e12,
}


# ------------------------------------------------------------------------------------------ models
def build_model(kind: str, out_dir: Path) -> Path:
    """The policy directory (config, weights, smoke tokenizer) for `tiny` or `0.5b`."""
    from cai.training.smoke import build_smoke_policy, smoke_tokenizer

    if kind == "tiny":
        return build_smoke_policy(out_dir)
    if (out_dir / "config.json").is_file():
        return out_dir
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = smoke_tokenizer()
    # Qwen2-0.5B's shape (494M parameters, tied embeddings), random weights; the MiniLM tokenizer
    # uses the first 30,522 of its 151,936 ids (ids beyond decode to nothing).
    config = Qwen2Config(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768, rope_theta=1e6,
        rms_norm_eps=1e-6, tie_word_embeddings=True, bos_token_id=tok.cls_token_id,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    # Beside a Qwen2 config.json, AutoTokenizer would load a Qwen2Tokenizer from these files.
    tok.save_pretrained(out_dir / "tokenizer")
    return out_dir


def load_tokenizer(model_dir: Path):
    from transformers import AutoTokenizer

    sub = model_dir / "tokenizer"
    return AutoTokenizer.from_pretrained(sub if sub.is_dir() else model_dir)


def fixed_length_prompts(tok, n: int, length: int) -> list[str]:
    """`n` distinct prompts of exactly `length` tokens each (whole-word vocabulary entries)."""
    words = [w for w in tok.convert_ids_to_tokens(range(2000, 6000)) if w.isalpha() and w.isascii()]
    prompts = [" ".join(words[(i * 7 + j * 13) % len(words)] for j in range(length)) for i in range(n)]
    lengths = {len(tok(p, add_special_tokens=False).input_ids) for p in prompts}
    assert lengths == {length} and len(set(prompts)) == n, (lengths, length)
    return prompts


def param_counts(model_dir: Path, lora_r: int) -> dict[str, int]:
    """Non-embedding parameters of the base model, LM-head size (V, H), and the LoRA parameters."""
    import torch
    from peft import get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.from_pretrained(model_dir)
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
    fwd_critic = 2 * n["body"] * rows * (ctx + resp)  # backbone + scalar head (negligible)
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
            return GPU_PEAKS[key], f"{key} datasheet dense bf16"
    return None, f"unknown device {name!r}: no datasheet peak, MFU not computed"


# ----------------------------------------------------------------------------------------- workers
def _memory_start(device: str) -> float:
    import torch

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _memory_peak(device: str) -> float:
    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


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


def run_ppo(a: argparse.Namespace, model_dir: Path, work: Path) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    import cai.training.ppo as ppo

    if a.device == "cuda":
        os.environ["ACCELERATE_MIXED_PRECISION"] = "bf16"  # autocast, as TRL's bf16=True does
    tok = load_tokenizer(model_dir)
    prompts = fixed_length_prompts(tok, a.rows, a.prompt_len)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    # Merged into the GenerationConfig cai.training.ppo builds (it leaves min_new_tokens unset): EOS is
    # masked until response_len tokens, so every response has exactly response_len tokens.
    model.generation_config.min_new_tokens = a.response_len
    timers = {"rollout": [], "update": []}

    now = _clock(a.device)

    def timed(fn, key):
        def wrapper(*args, **kwargs):
            t = now()
            out = fn(*args, **kwargs)
            timers[key].append(now() - t)
            return out
        return wrapper

    ppo._generate = timed(ppo._generate, "rollout")
    ppo._ppo_epochs = timed(ppo._ppo_epochs, "update")
    cfg = ppo.PPOConfig(
        save_steps=0, steps=a.steps + 1, batch_size=a.rows, rollout_micro_batch_size=a.rows,  # no mid-run saves
        mini_batch_size=a.mini_batch, micro_batch_size=a.mini_batch, ppo_epochs=a.epochs,
        max_new_tokens=a.response_len, kl_coef=0.05, alarm_max_kl=None, alarm_preference_part=None,
        alarm_support_part=None, cpu=a.device == "cpu", save_adapter=False,
    )
    lora = ppo.LoraConfig(r=a.lora_r, alpha=2 * a.lora_r)  # as lora_config(): the same adapter as GRPO's
    rows: list[dict] = []
    mem0, cpu0 = _memory_start(a.device), resource.getrusage(resource.RUSAGE_SELF)
    ppo.train_ppo(model, tok, prompts, reward, cfg, lora=lora, seed=0, out_dir=work / "ppo-run", logger=rows.append)
    mem, cpu = _memory_peak(a.device), _cpu_since(cpu0)
    own = all(k in rows[0] for k in ("time/rollout_s", "time/score_s", "time/update_s"))
    steps = []
    for i, r in enumerate(rows):
        step = r["time/step_s"]
        rollout = r["time/rollout_s"] if own else timers["rollout"][i]
        update = r["time/update_s"] if own else timers["update"][i]
        score = r["time/score_s"] if own else step - rollout - update
        tokens = r.get("tokens/generated", r["response/length"] * a.rows)
        steps.append({"step_s": step, "rollout_s": rollout, "score_s": score, "update_s": update,
                      "other_s": step - rollout - score - update, "generated_tokens": tokens,
                      "mean_length": r["response/length"]})
    source = ("cai.training.ppo time/* keys" if own
              else "bench wrappers around cai.training.ppo._generate/_ppo_epochs")
    return {"steps": steps, "memory_start_mib": mem0, "memory_peak_mib": mem, **cpu, "timing_source": source}


def run_grpo(a: argparse.Namespace, model_dir: Path, work: Path) -> dict:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    tok = load_tokenizer(model_dir)
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
        lr_scheduler_type="constant", gradient_checkpointing=False, use_cpu=a.device == "cpu",
        bf16=a.device == "cuda", logging_steps=1, report_to="none", save_strategy="no", disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = Timed(model=str(model_dir), reward_funcs=reward, args=args, processing_class=tok,
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
    return {"steps": steps, "memory_start_mib": mem0, "memory_peak_mib": mem, **cpu,
            "timing_source": "bench subclass of GRPOTrainer + callback"}


def worker(a: argparse.Namespace) -> None:
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    work = Path(a.work)
    fn = run_ppo if a.worker == "ppo" else run_grpo
    out = fn(a, Path(a.model_dir), work)
    out["torch_threads"] = torch.get_num_threads()
    print("RESULT " + json.dumps(out), flush=True)


# ------------------------------------------------------------------------------------------ driver
def summarise(trainer: str, runs: list[dict], a: argparse.Namespace, n: dict[str, int], peak: float | None) -> dict:
    flops = step_flops(trainer, a, n)
    per_repeat = []
    for run in runs:
        timed = run["steps"][1:]  # the first step is the warm-up
        for s in run["steps"]:
            length = s["mean_length"]
            assert length == a.response_len, f"{trainer}: response length {length} != {a.response_len}"
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
            "train_user_cpu_s": run["train_user_cpu_s"], "train_sys_cpu_s": run["train_sys_cpu_s"],
            "process_wall_s": run["process_wall_s"],
        })
    median = {k: statistics.median(r[k] for r in per_repeat) if per_repeat[0][k] is not None else None
              for k in per_repeat[0]}
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
    return facts


def parse_args() -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--model", choices=["tiny", "0.5b"], default="tiny")
    p.add_argument("--steps", type=int, default=5, help="timed steps per repeat (after one warm-up step)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rows", type=int, default=16, help="responses per step (PPO prompts; GRPO prompts × generations)")
    p.add_argument("--generations", type=int, default=4, help="GRPO num_generations (divides --rows)")
    p.add_argument("--prompt-len", type=int, default=32)
    p.add_argument("--response-len", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2, help="PPO ppo_epochs = GRPO num_iterations")
    p.add_argument("--mini-batch", type=int, default=8, help="rows per optimiser step (divides --rows)")
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads; default 1 with --device cpu (more threads on a small shared "
                        "machine ran slower and erratic: see BENCHMARKS.md), torch's default with cuda")
    p.add_argument("--trainers", default="ppo,grpo")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--worker", choices=["ppo", "grpo"], help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.threads is None:
        a.threads = 1 if a.device == "cpu" else 0
    return p, a


def run_repeats(a: argparse.Namespace, trainers: list[str], model_dir: Path, tmp: str) -> dict[str, list[dict]]:
    """Each trainer `--repeats` times, each run in a fresh worker subprocess; its parsed RESULT rows."""
    runs: dict[str, list[dict]] = {t: [] for t in trainers}
    for rep in range(a.repeats):
        for t in trainers if rep % 2 == 0 else trainers[::-1]:  # alternate the order against drift
            cmd = [sys.executable, __file__, "--worker", t, "--model-dir", str(model_dir),
                   "--work", str(Path(tmp) / f"{t}-{rep}"), "--device", a.device, "--steps", str(a.steps),
                   "--rows", str(a.rows), "--generations", str(a.generations), "--prompt-len", str(a.prompt_len),
                   "--response-len", str(a.response_len), "--epochs", str(a.epochs),
                   "--mini-batch", str(a.mini_batch), "--lora-r", str(a.lora_r), "--threads", str(a.threads)]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if proc.returncode or line is None:
                sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
                raise SystemExit(f"{t} worker failed (exit {proc.returncode})")
            runs[t].append({**json.loads(line[len("RESULT "):]), "process_wall_s": time.perf_counter() - t0})
            print(f"repeat {rep} {t}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return runs


def build_report(a: argparse.Namespace, facts: dict, peaks: list[float], peak: float | None, peak_source: str,
                 n: dict[str, int], results: dict[str, dict]) -> dict:
    report = {
        "command": "HF_HUB_OFFLINE=1 python bench/ppo.py " + " ".join(sys.argv[1:]),
        "machine": facts, "peak_flops": peak, "peak_source": peak_source,
        "cpu_matmul_flops_measured": peaks if a.device == "cpu" else None,
        "model": {"name": a.model, "params_non_embedding": n["body"], "vocab": n["vocab"], "hidden": n["hidden"],
                  "lora_params": n["lora"]},
        "settings": {
            "rows_per_step": a.rows, "ppo": f"{a.rows} prompts x 1 response",
            "grpo": f"{a.rows // a.generations} prompts x {a.generations} generations",
            "prompt_tokens": a.prompt_len, "response_tokens": a.response_len,
            "epochs (ppo_epochs = num_iterations)": a.epochs, "mini_batch_rows": a.mini_batch,
            "optimizer_steps_per_step": (a.rows // a.mini_batch) * a.epochs, "lora_r": a.lora_r,
            "kl": "PPO kl_coef 0.05 (k1 in reward), GRPO beta 0.05", "precision": "fp32" if a.device == "cpu" else
            "bf16 autocast, fp32 weights (PPO via ACCELERATE_MIXED_PRECISION, GRPO via bf16=True)",
            "timed_steps_per_repeat": a.steps, "warmup_steps": 1, "repeats": a.repeats,
            "torch_threads": a.threads or "torch default", "gradient_checkpointing": False,
        },
        "results": results,
    }
    if {"ppo", "grpo"} <= set(results):
        mp, mg = results["ppo"]["median"], results["grpo"]["median"]
        report["ratio_ppo_over_grpo"] = {k: mp[k] / mg[k] for k in mp if mp[k] and mg[k]}
    return report


def main() -> None:
    p, a = parse_args()
    if a.worker:
        return worker(a)
    if a.rows % a.generations or a.rows % a.mini_batch:
        p.error("--generations and --mini-batch must divide --rows")
    out = a.out or ROOT / "bench" / "results" / f"ppo-{a.device}.json"
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)  # the matmul peak runs on the trainers' thread count
    facts = machine_facts(a.device)
    trainers = a.trainers.split(",")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-ppo-") as tmp:
        model_dir = build_model(a.model, Path(tmp) / "model")
        n = param_counts(model_dir, a.lora_r)
        peaks = []
        if a.device == "cpu":
            peaks.append(cpu_peak_flops())
        runs = run_repeats(a, trainers, model_dir, tmp)
        if a.device == "cpu":
            peaks.append(cpu_peak_flops())
            peak, peak_source = max(peaks), "achieved fp32 torch.matmul 2048³, best of 40, max of before/after"
        else:
            peak, peak_source = gpu_peak(facts["gpu"])
    facts["load_average_end"] = os.getloadavg()
    facts["bench_wall_s"] = time.perf_counter() - started
    results = {t: summarise(t, runs[t], a, n, peak) for t in trainers}
    report = build_report(a, facts, peaks, peak, peak_source, n, results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({t: r["median"] for t, r in results.items()}, indent=2))
    print(out)


if __name__ == "__main__":
    main()
