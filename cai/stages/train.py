"""`cai train`: a `cai generate` run → one servable LoRA adapter. Read top to bottom: setup
(config, the data run, the run directory, the policy), the stages in the order the config lists
them — sft → reward → one of ppo | dpo | grpo | rloo — then save (the adapter and its metadata).

The run directory:
  config.yaml, manifest.json   the resolved config; per-stage results, the adapter, the status
  smoke-policy/                only when policy.model is `cai-smoke-policy` (a tiny random model)
  <stage>/                     config.json (the trainer's resolved arguments), metrics.jsonl, its
                               checkpoints, its output (adapter/ or model/), done.json when finished
  adapter/                     the servable adapter (all stages' LoRA deltas in one, see
                               cai.training.adapters) and cai_adapter.json (constitution, data run, base model)

Stages: SFT on sft.jsonl (loss on the answer only), the Bradley-Terry preference model on
preferences.jsonl (rewards.preference), then PPO with a critic (cai.training.ppo) or, from TRL, DPO
(Rafailov et al. 2023), GRPO (Shao et al. 2024) or RLOO (Ahmadian et al. 2024). PPO, GRPO and
RLOO optimise the same hybrid reward (rewards.hybrid). The RL reference policy is the SFT policy:
the SFT adapter is merged into the base in memory and a new adapter is trained on top, so
"adapter disabled" is the SFT model.

Resume: stages with done.json are skipped; the unfinished one continues from its last checkpoint
(TRL's checkpoint-N directories, PPO's checkpoint/); the preference model is short and restarts.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cai.core.assets import SMOKE_POLICY
from cai.core.configs import TrainConfig
from cai.core.constitution import Constitution, load_constitution
from cai.core.errors import UserError
from cai.core.runs import (
    atomic_write_json,
    atomic_write_text,
    generate_run_config,
    read_jsonl,
    resume_or_start,
    run_guard,
    update_manifest,
)
from cai.training.adapters import check_model_source, export_adapter, load_model, load_tokenizer
from cai.training.metrics import JsonlMetrics, MetricSinks, TrainerProgress, check_sinks
from rewards.rl_prompts import fit_counted as _fit  # sources cut to fit a token budget, counted

DONE = "done.json"
RL_STAGES = ("ppo", "dpo", "grpo", "rloo")


@dataclass(frozen=True)
class Setup:
    """What every stage of the run reads, resolved once by `setup` before any stage starts."""

    config: TrainConfig
    run_dir: Path
    constitution: Constitution
    index: Path | None  # the source pages the reward checks against
    base_model: str  # the policy as loaded (the smoke policy's path when built)
    is_main: bool
    show_progress: bool
    echo: Callable[[str], None]
    policy: dict | None = None  # a built-in policy's manifest entry (name, converted folder, sha256)


# -------------------------------------------------------------------------------------------- setup
def _world() -> tuple[bool, int]:
    """(is this the main process, number of processes) under `accelerate launch` or plain."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return True, 1
    import torch
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    cpu = parse_flag_from_env("ACCELERATE_USE_CPU")
    if not cpu and not torch.cuda.is_available():
        # Each process would see itself alone and start its own run (8 run directories for ddp.yaml).
        raise UserError(f"accelerate launched {world} GPU processes but this machine has no CUDA device; on a CPU "
                        "use examples/accelerate/cpu-2proc.yaml (or `accelerate launch --cpu`), or plain `cai train`")
    # cpu= must match what cai.training.ppo's Accelerator will ask for: the first PartialState fixes the
    # process group, and a CPU run started without it sees itself as alone.
    state = PartialState(cpu=cpu)
    if state.num_processes != world:
        raise UserError(f"accelerate launched {world} processes but they did not form one process group "
                        f"({state.num_processes} seen); check the accelerate config's distributed_type")
    return state.is_main_process, state.num_processes


def _shared_run_dir(config: TrainConfig, resume: Path | None, constitution: Constitution, is_main: bool,
                    world: int) -> Path:
    """The main process creates (or opens) the run directory; the others receive its path."""
    run_dir = None
    if is_main:
        run_dir = resume_or_start("train", config, resume, constitution=constitution)
    if world > 1:
        from accelerate.utils import broadcast_object_list

        run_dir = broadcast_object_list([run_dir])[0]
    return Path(run_dir)


def _check_qlora() -> None:
    """QLoRA (Dettmers et al. 2023): a 4-bit NF4 base under trained LoRA adapters. bitsandbytes
    runs it on CUDA and (0.50 tested) on CPU, slowly: for tests and smoke runs."""
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is None:
        raise UserError("policy.load_in_4bit: QLoRA needs bitsandbytes; pip install 'cai[qlora]' or set "
                        "policy.load_in_4bit=false")


def resolve_policy(config: TrainConfig, is_main: bool, world: int) -> dict | None:
    """The policy's manifest entry when `policy.model` is a built-in name (`smollm2-135m`): converted
    once by the main process, before the other ranks read the cache; None for any other model."""
    from cai.core.builtin_models import is_builtin, resolve_model

    if not is_builtin(config.policy.model):
        return None
    if is_main:
        resolve_model(config.policy.model)
    _barrier(world)
    return resolve_model(config.policy.model).manifest()


def check_models(config: TrainConfig, policy_path: str | None = None) -> None:
    """Every model the stages will load can be loaded, checked before the run directory exists: a
    missing local path or an uncached Hub id while offline is a user error now, not a stage's crash.
    `policy_path`: where a built-in policy was converted to."""
    policy = policy_path or (config.policy.model if config.policy.model != SMOKE_POLICY else None)
    models = [("policy.model", policy),
              ("reward.model", config.reward.model if "reward" in config.stages else None),
              ("ppo.critic_model", config.ppo.critic_model if "ppo" in config.stages else None)]
    for setting, model in models:
        if model is not None:
            check_model_source(model, setting)


def setup(config: TrainConfig, resume: Path | None, show_progress: bool, echo) -> Setup:
    data_cfg = generate_run_config(config.data)
    constitution = load_constitution(data_cfg.get("constitution", "faithfulness"))
    index = config.index or (Path(data_cfg["index"]) if data_cfg.get("index") else None)
    if any(s in ("ppo", "grpo", "rloo") for s in config.stages) and (index is None or not Path(index).is_dir()):
        raise UserError(f"index: {index} not found; the reward checks answers against the data run's source pages: "
                        "set index=PATH to the `cai ingest` index the run used")
    if config.policy.load_in_4bit:
        _check_qlora()
    is_main, world = _world()
    policy = resolve_policy(config, is_main, world)
    check_models(config, policy["loaded_from"] if policy else None)
    check_sinks(config.report_to)
    run_dir = _shared_run_dir(config, resume, constitution, is_main, world)
    base_model = (str(run_dir / "smoke-policy") if config.policy.model == SMOKE_POLICY
                  else policy["loaded_from"] if policy else config.policy.model)
    return Setup(config, run_dir, constitution, Path(index) if index else None, base_model, is_main, show_progress,
                 echo, policy)


def prepare(s: Setup, world: int) -> None:
    """What the run directory needs before the first stage: the smoke policy (when asked for) and
    the manifest's policy and data entries."""
    config = s.config
    if config.policy.model == SMOKE_POLICY:
        from cai.training.smoke import build_smoke_policy

        if s.is_main:
            build_smoke_policy(Path(s.base_model))
        _barrier(world)
    if s.is_main:
        data_hash = json.loads((config.data / "manifest.json").read_text()).get("config_hash")
        update_manifest(s.run_dir, status="running",
                        policy=s.policy or {"model": config.policy.model, "loaded_from": s.base_model},
                        data={"run": str(config.data), "config_hash": data_hash})


def _barrier(world: int) -> None:
    if world > 1:
        from accelerate import PartialState

        PartialState().wait_for_everyone()


# ------------------------------------------------------------------------------------------- stages
def _trainer_args(s: Setup, sdir: Path, *, learning_rate: float, batch_size: int, grad_accum: int,
                  save_steps: int) -> dict:
    """TrainingArguments shared by every TRL stage: checkpoints for --resume, CPU/GPU precision,
    metric sinks (jsonl is ours, see JsonlMetrics)."""
    import torch

    cuda = torch.cuda.is_available()
    return {"output_dir": str(sdir / "trainer"), "learning_rate": learning_rate,
            "per_device_train_batch_size": batch_size,
            "gradient_accumulation_steps": grad_accum, "save_strategy": "steps", "save_steps": save_steps,
            "save_total_limit": 1, "logging_steps": 1, "seed": s.config.seed, "use_cpu": not cuda,
            "bf16": cuda and torch.cuda.is_bf16_supported(), "disable_tqdm": not s.show_progress,
            "report_to": [r for r in s.config.report_to if r != "jsonl"]}


def _last_checkpoint(trainer_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(trainer_dir)) if trainer_dir.is_dir() else None


def _lora(s: Setup, task_type: str = "CAUSAL_LM"):
    from peft import LoraConfig

    lora = s.config.policy.lora
    if lora is None:
        return None
    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=lora.target_modules,
                      task_type=task_type)


def _run_trainer(trainer, sdir: Path, s: Setup) -> Any:
    """Train (from the last checkpoint when there is one); the resolved arguments go to config.json.
    Progress shows as one bar (`TrainerProgress`), not transformers' tqdm bar and its raw log dicts."""
    from transformers import PrinterCallback, ProgressCallback

    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    if s.show_progress and s.is_main:
        trainer.add_callback(TrainerProgress(sdir.name))
    if s.is_main:
        atomic_write_text(sdir / "config.json", trainer.args.to_json_string())
    checkpoint = _last_checkpoint(sdir / "trainer")
    if checkpoint:
        s.echo(f"{sdir.name}: resuming from {checkpoint}")
    return trainer.train(resume_from_checkpoint=checkpoint)


def stage_sft(s: Setup, sdir: Path) -> dict:
    """Supervised fine-tuning on sft.jsonl as prompt/completion pairs, so the loss is on the
    answer only (TRL's completion_only_loss), with LoRA unless policy.lora is null."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    opt = s.config.sft
    tok = load_tokenizer(s.base_model)
    rows, counts = [], {"dropped": 0, "truncated": 0}
    for _, row in read_jsonl(s.config.data / "sft.jsonl"):
        prompt, completion = row["messages"][:-1], row["messages"][-1:]
        if (fitted := _fit(tok, prompt, [completion], opt.max_length, counts)) is not None:
            rows.append({"prompt": fitted, "completion": completion})
    if not rows:
        raise UserError(f"{s.config.data}/sft.jsonl: no example fits sft.max_length={opt.max_length} "
                        f"({counts['dropped']} dropped); raise sft.max_length")
    common = _trainer_args(s, sdir, learning_rate=opt.learning_rate, batch_size=opt.batch_size,
                           grad_accum=opt.grad_accum, save_steps=opt.save_steps)
    args = SFTConfig(**common, num_train_epochs=opt.epochs, max_length=opt.max_length, completion_only_loss=True)
    trainer = SFTTrainer(model=load_model(s.base_model, load_in_4bit=s.config.policy.load_in_4bit), args=args,
                         train_dataset=Dataset.from_list(rows), processing_class=tok, peft_config=_lora(s),
                         callbacks=[JsonlMetrics(sdir / "metrics.jsonl", s.is_main)])
    result = _run_trainer(trainer, sdir, s)
    out = sdir / ("adapter" if s.config.policy.lora else "model")
    trainer.save_model(str(out))
    if s.is_main:
        tok.save_pretrained(out)
    return {"examples": len(rows), **counts, "train_loss": round(result.training_loss, 4), "steps": result.global_step}


def stage_reward(s: Setup, sdir: Path) -> dict:
    """The preference model (Bradley-Terry, TRL RewardTrainer) on preferences.jsonl."""
    from rewards.preference import train_preference_model

    opt = s.config.reward
    try:
        meta = train_preference_model(s.config.data, sdir / "model", base=opt.model, epochs=opt.epochs,
                                      lr=opt.learning_rate, batch_size=opt.batch_size, max_length=opt.max_length,
                                      eval_fraction=opt.eval_fraction, seed=s.config.seed,
                                      callbacks=[JsonlMetrics(sdir / "metrics.jsonl", s.is_main)])
    except ValueError as e:  # no pair fits, no pairs: the data or reward.max_length, not a bug
        raise UserError(f"{e}; raise reward.max_length or check the data run") from None
    if s.is_main:
        atomic_write_json(sdir / "config.json", {"base": meta["base"], **meta["params"],
                                                 "max_length": meta["max_length"]})
    return {"eval_accuracy": meta["eval_accuracy"], "eval_accuracy_before": meta["eval_accuracy_before"],
            "train_loss": meta["train_loss"], **meta["counts"]}


def rl_prompts(s: Setup, tok, max_prompt_tokens: int, key: str = "rl.max_length") -> tuple[list[dict], dict]:
    """One row per answered question of the data run (rewards.rl_prompts, which `cai export
    rl-prompts` writes too): `prompt` (the shared policy prompt, sources cut to fit), `sources` (the
    full pages of its hits: what the reward checks claims against) and `question`. Returns (rows,
    counts). `key`: the setting to raise when nothing fits."""
    from rewards.rl_prompts import rl_prompt_rows

    prompts, counts = rl_prompt_rows(s.config.data, s.index, tok, max_prompt_tokens)
    if not prompts:
        raise UserError(f"{s.config.data}/records.jsonl: no answered question with sources fits; raise {key}")
    return [{"prompt": p.prompt, "sources": p.sources, "question": p.question} for p in prompts], counts


def hybrid_reward(s: Setup):
    """The hybrid reward (rewards.hybrid) with the reward stage's preference model when it ran."""
    from rewards.hybrid import HybridReward

    pm_dir = s.run_dir / "reward" / "model"
    return HybridReward.from_config(s.config.hybrid, s.constitution, pm_dir if pm_dir.is_dir() else None)


def stage_ppo(s: Setup, sdir: Path) -> dict:
    """PPO with a critic (cai.training.ppo) against the hybrid reward, on the SFT policy."""
    from cai.training.ppo import run_settings, train_ppo

    cfg, lora, seed = s.config.ppo, s.config.policy.lora, s.config.seed  # lora: TrainConfig requires it
    tok = load_tokenizer(s.base_model)
    rows, counts = rl_prompts(s, tok, cfg.max_length - cfg.max_new_tokens, key="ppo.max_length")
    model = load_model(s.base_model, sft_dir=s.run_dir / "sft", load_in_4bit=s.config.policy.load_in_4bit)
    if s.is_main:
        atomic_write_json(sdir / "config.json", run_settings(cfg, lora, seed))
    sinks = MetricSinks(sdir, s.config.report_to, total=cfg.steps, show=s.show_progress and s.is_main,
                        is_main=s.is_main)
    try:
        columns = {"sources": [r["sources"] for r in rows], "question": [r["question"] for r in rows]}
        final = train_ppo(model, tok, [r["prompt"] for r in rows], hybrid_reward(s), cfg, lora=lora, seed=seed,
                          out_dir=sdir, columns=columns, logger=sinks, resume=True)
    finally:
        sinks.close()
    if final.get("stop_reason"):
        s.echo(f"ppo stopped early: {final['stop_reason']}")
    keep = ("steps_done", "stop_reason", "reward/raw", "kl/k1", "response/length", "response/eos_rate")
    return {"prompts": len(rows), **counts, **{k: final.get(k) for k in keep}}


def stage_dpo(s: Setup, sdir: Path) -> dict:
    """DPO (TRL) on preferences.jsonl; the reference is the SFT policy (the adapter disabled)."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    rl = s.config.rl
    tok = load_tokenizer(s.base_model)
    rows, counts = [], {"dropped": 0, "truncated": 0}
    for _, row in read_jsonl(s.config.data / "preferences.jsonl"):
        if (fitted := _fit(tok, row["prompt"], [row["chosen"], row["rejected"]], rl.max_length, counts)) is not None:
            rows.append({"prompt": fitted, "chosen": row["chosen"], "rejected": row["rejected"]})
    if not rows:
        raise UserError(f"{s.config.data}/preferences.jsonl: no pair fits rl.max_length={rl.max_length}; raise it")
    common = _trainer_args(s, sdir, learning_rate=rl.learning_rate, batch_size=rl.batch_size,
                           grad_accum=rl.grad_accum, save_steps=rl.save_steps)
    args = DPOConfig(**common, max_steps=rl.steps, beta=rl.beta, max_length=rl.max_length)
    model = load_model(s.base_model, sft_dir=s.run_dir / "sft", load_in_4bit=s.config.policy.load_in_4bit)
    trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok,
                         peft_config=_lora(s), callbacks=[JsonlMetrics(sdir / "metrics.jsonl", s.is_main)])
    result = _run_trainer(trainer, sdir, s)
    trainer.save_model(str(sdir / "adapter"))
    return {"pairs": len(rows), **counts, "train_loss": round(result.training_loss, 4), "steps": result.global_step}


def stage_group_rl(s: Setup, sdir: Path, kind: str) -> dict:
    """GRPO or RLOO (TRL) with the hybrid reward as `reward_funcs`, on the SFT policy."""
    from datasets import Dataset

    if kind == "grpo":
        from trl import GRPOConfig as Config
        from trl import GRPOTrainer as Trainer
    else:
        from trl import RLOOConfig as Config
        from trl import RLOOTrainer as Trainer
    rl = s.config.rl
    if rl.batch_size % rl.num_generations:
        raise UserError(f"rl.batch_size {rl.batch_size} must be a multiple of rl.num_generations {rl.num_generations}")
    tok = load_tokenizer(s.base_model)
    rows, counts = rl_prompts(s, tok, rl.max_length - rl.max_new_tokens)
    common = _trainer_args(s, sdir, learning_rate=rl.learning_rate, batch_size=rl.batch_size,
                           grad_accum=rl.grad_accum, save_steps=rl.save_steps)
    args = Config(**common, max_steps=rl.steps, num_generations=rl.num_generations,
                  max_completion_length=rl.max_new_tokens, temperature=rl.temperature, beta=rl.beta)
    model = load_model(s.base_model, sft_dir=s.run_dir / "sft", load_in_4bit=s.config.policy.load_in_4bit)
    trainer = Trainer(model=model, reward_funcs=[hybrid_reward(s)], args=args, train_dataset=Dataset.from_list(rows),
                      processing_class=tok, peft_config=_lora(s),
                      callbacks=[JsonlMetrics(sdir / "metrics.jsonl", s.is_main)])
    result = _run_trainer(trainer, sdir, s)
    trainer.save_model(str(sdir / "adapter"))
    return {"prompts": len(rows), **counts, "train_loss": round(result.training_loss, 4), "steps": result.global_step}


STAGES: dict[str, Callable[[Setup, Path], dict]] = {
    "sft": stage_sft, "reward": stage_reward, "ppo": stage_ppo, "dpo": stage_dpo,
    "grpo": lambda s, d: stage_group_rl(s, d, "grpo"), "rloo": lambda s, d: stage_group_rl(s, d, "rloo"),
}


# --------------------------------------------------------------------------------------------- save
def save_adapter(s: Setup) -> Path | None:
    """Export the run's servable adapter (SFT and RL deltas in one) with its metadata."""
    parts = [s.run_dir / stage / "adapter" for stage in ("sft", *RL_STAGES) if stage in s.config.stages]
    parts = [p for p in parts if p.is_dir()]
    if not parts:
        return None
    c = s.constitution
    meta = {"constitution": {"name": c.name, "version": c.version, "sha256": c.content_hash()},
            "data_run": str(s.config.data), "train_run": str(s.run_dir), "stages": s.config.stages,
            "policy_model": s.config.policy.model, "smoke_policy": s.config.policy.model == SMOKE_POLICY,
            "policy_sha256": (s.policy or {}).get("sha256")}
    return export_adapter(s.run_dir, s.base_model, parts, meta)


def run(config: TrainConfig, *, resume: Path | None = None, show_progress: bool = True, echo=print) -> Path:
    """Run (or resume) the configured stages; returns the run directory. The main process holds the
    run directory's lock (a second `--resume` of it exits 2) and marks the run failed with the
    reason when a stage fails."""
    s = setup(config, resume, show_progress, echo)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    with run_guard(s.run_dir, writes_manifest=s.is_main):
        prepare(s, world)
        for stage in config.stages:
            run_stage(s, stage, world)
        if s.is_main:
            adapter = save_adapter(s)
            update_manifest(s.run_dir, status="finished", adapter=str(adapter) if adapter else None)
        _barrier(world)
    return s.run_dir


def run_stage(s: Setup, stage: str, world: int) -> None:
    """One stage in RUN_DIR/<stage>: skipped when its done.json exists, else run and recorded."""
    sdir = s.run_dir / stage
    if (sdir / DONE).is_file():
        s.echo(f"{stage}: done (skipped)")
        return
    sdir.mkdir(exist_ok=True)
    s.echo(f"{stage}: running")
    started = time.perf_counter()
    result = {**STAGES[stage](s, sdir), "seconds": round(time.perf_counter() - started, 1)}
    if s.is_main:
        atomic_write_json(sdir / DONE, result)
        update_manifest(s.run_dir, stages={stage: result})
    _barrier(world)
    s.echo(f"{stage}: " + ", ".join(f"{k} {v}" for k, v in result.items()))
