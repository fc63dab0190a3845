"""The `ppo:` section of the train config: every knob of our PPO (`cai.training.ppo`), kept apart
from `configs.py` (which stays under 600 lines and re-exports it) because it is the largest section
and only the PPO loop reads it ([PPO] Schulman et al. 2017, with the implementation choices of
Huang et al. 2024, "The N+ Implementation Details of RLHF with PPO")."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cai.core.checks import Section


class PPOConfig(Section):
    """Every knob of `train_ppo` but the adapter's shape and the seed, which `train_ppo` takes as
    arguments (in `cai train`: policy.lora and seed). Batch sizes are per process; the global
    batch is times the number of processes."""

    steps: int = Field(100, ge=1, description="PPO iterations (one rollout batch + its updates each).")
    batch_size: int = Field(64, ge=1, description="Prompts rolled out per step (per process).")
    rollout_micro_batch_size: int = Field(16, ge=1, description="Rows per no-grad generation/forward during rollout.")
    mini_batch_size: int = Field(16, ge=1, description="Rows per optimiser step; must divide batch_size.")
    micro_batch_size: int = Field(8, ge=1, description="Rows per forward/backward; gradient accumulation = mini/micro.")
    ppo_epochs: int = Field(4, ge=1, description="Passes over the rollout batch per step.")
    learning_rate: float = Field(1e-5, gt=0, description="Actor (LoRA) learning rate, AdamW.")
    critic_learning_rate: float = Field(1e-5, gt=0, description="Critic learning rate, AdamW.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient-norm clip, applied to actor and critic separately.")
    max_length: int = Field(1024, ge=16, description="Max prompt + answer tokens; sources are cut from the end "
                            "to fit.")
    max_new_tokens: int = Field(64, ge=1, description="Response length cap; responses without EOS by then are "
                                "truncated.")
    temperature: float = Field(1.0, gt=0,
                               description="Sampling temperature; the loss divides logits by the same value.")
    gamma: float = Field(1.0, ge=0, le=1, description="GAE discount γ.")
    lam: float = Field(0.95, ge=0, le=1, description="GAE λ.")
    cliprange: float = Field(0.2, gt=0, description="PPO ratio clip ε.")
    cliprange_value: float = Field(0.2, gt=0, description="Value clip: V may move at most this far from the rollout "
                                   "value.")
    vf_coef: float = Field(0.1, ge=0, description="Weight of the value loss.")
    whiten_advantages: bool = Field(True, description="Whiten advantages over real tokens (per process batch).")
    kl_mode: Literal["reward_k1", "loss_k3"] = Field("reward_k1", description="reward_k1: -β·k1 per token in the "
                                                     "reward | loss_k3: β·k3 added to the loss.")
    kl_coef: float = Field(0.05, ge=0, description="β, or its initial value when target_kl is set.")
    target_kl: float | None = Field(None, gt=0, description="Adaptive β (Ziegler et al. 2019) aiming at this sequence "
                                    "KL (nats); None = fixed β.")
    kl_horizon: int = Field(10000, ge=1, description="Adaptive-β horizon (sequences).")
    missing_eos_penalty: float = Field(0.0, ge=0, description="Subtracted from the score of responses that hit "
                                       "max_new_tokens without EOS.")
    reward_clip: float | None = Field(None, gt=0, description="Clip scores to [-c, c] (after the EOS penalty).")
    whiten_rewards: bool = Field(False, description="Whiten scores over the global batch (mean 0, std 1).")
    critic_warmup_steps: int = Field(0, ge=0, description="First steps train only the critic (actor frozen).")
    critic_model: str | None = Field(None, description="A separate (smaller) critic backbone (HF id/path), trained in "
                                     "full; None = a second LoRA adapter + value head on the policy's frozen base.")
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="bf16: frozen weights and matmuls in bf16, "
                                                       "trainables, softmax, GAE, losses fp32 | auto: bf16 on CUDA.")
    rollout_engine: Literal["auto", "generate", "static", "paged"] = Field(
        "auto", description="generate | static (KV cache, torch.compile) | paged | auto: static on CUDA.")
    gradient_checkpointing: bool = Field(False, description="Recompute decoder layers in the backward: less memory.")
    alarm_max_kl: float | None = Field(20.0, gt=0, description="Stop when the mean sequence KL (k1, nats) exceeds "
                                       "this, or is not finite.")
    alarm_preference_part: str | None = Field("pm", description="Reward part (rewards.hybrid: the preference-model "
                                              "score `pm`) whose rise, with alarm_support_part falling, means reward "
                                              "hacking.")
    alarm_support_part: str | None = Field("support", description="Reward part measuring how much of the response its "
                                           "sources support (rewards.hybrid: `support`).")
    alarm_window: int = Field(5, ge=1, description="Steps per window when comparing reward parts (last window vs the "
                              "one before).")
    alarm_min_delta: float = Field(0.05, gt=0, description="Minimum rise (preference) and fall (support) between "
                                   "windows that trips the alarm.")
    cpu: bool = Field(False, description="Force CPU even when an accelerator is present.")
    save_adapter: bool = Field(True, description="Save the LoRA adapter and tokenizer to out_dir/adapter at the end.")
    save_steps: int = Field(10, ge=0, description="Steps between checkpoints for --resume (0: no intermediate "
                            "checkpoints).")

    @model_validator(mode="after")
    def _sizes_divide(self) -> PPOConfig:
        if self.batch_size % self.mini_batch_size:
            raise ValueError("mini_batch_size must divide batch_size")
        if self.mini_batch_size % self.micro_batch_size:
            raise ValueError("micro_batch_size must divide mini_batch_size")
        return self
