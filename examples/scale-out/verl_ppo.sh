#!/usr/bin/env bash
# verl PPO (GAE, actor + critic, vLLM rollouts on Ray) whose reward is the cai hybrid reward,
# through verl's custom reward function `rewards.engines.compute_score`. Keys as in verl 0.9.1
# (verl/trainer/config/ppo_trainer.yaml); the top-level custom_reward_function.path/name are the
# keys older versions read too (0.9 moves them under reward.custom_reward_function itself).
#
# Before this script (see README.md in this folder):
#   cai export rl-prompts RUN_DIR --format verl --out data/rl-verl.parquet \
#       --tokenizer "$MODEL" --max-prompt-tokens 3072
# The reward runs either on a `cai reward serve` server (REWARD_URL, the default) or inside
# verl's reward workers (REWARD_URL empty and CAI_REWARD_CONFIG=a train config: every worker then
# loads its own checker, preference model and index).
set -euo pipefail

MODEL=${MODEL:-Qwen/Qwen2.5-1.5B-Instruct}
NODES=${NODES:-1}
GPUS=${GPUS:-8}                   # GPUs per node
TP=${TP:-1}                       # vLLM tensor parallel size
DATA=${DATA:-data/rl-verl.parquet}
VAL=${VAL:-$DATA}
REWARD_URL=${REWARD_URL-http://127.0.0.1:8800/get_reward}
PROMPT_TOKENS=${PROMPT_TOKENS:-3072}
NEW_TOKENS=${NEW_TOKENS:-512}
REWARD_FILE=$(python -c 'import rewards.engines as m; print(m.__file__)')   # verl loads it by path

# Ray workers inherit this environment on a local cluster; the +ray_kwargs line passes it to the
# workers of a cluster started elsewhere (`ray start`) too.
if [ -n "$REWARD_URL" ]; then
  export CAI_REWARD_URL=$REWARD_URL
  REWARD_ENV=("+ray_kwargs.ray_init.runtime_env.env_vars.CAI_REWARD_URL=$REWARD_URL")
else
  : "${CAI_REWARD_CONFIG:?set REWARD_URL (a cai reward server) or CAI_REWARD_CONFIG (a train config)}"
  REWARD_ENV=("+ray_kwargs.ray_init.runtime_env.env_vars.CAI_REWARD_CONFIG=$CAI_REWARD_CONFIG")
fi

python -m verl.trainer.main_ppo \
  algorithm.adv_estimator=gae \
  data.train_files="$DATA" data.val_files="$VAL" data.prompt_key=prompt \
  data.train_batch_size=128 data.max_prompt_length="$PROMPT_TOKENS" data.max_response_length="$NEW_TOKENS" \
  data.filter_overlong_prompts=True data.truncation=error \
  actor_rollout_ref.model.path="$MODEL" actor_rollout_ref.model.enable_gradient_checkpointing=True \
  actor_rollout_ref.actor.optim.lr=1e-6 actor_rollout_ref.actor.ppo_mini_batch_size=64 \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4 \
  actor_rollout_ref.rollout.name=vllm actor_rollout_ref.rollout.tensor_model_parallel_size="$TP" \
  actor_rollout_ref.rollout.gpu_memory_utilization=0.5 actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=8 \
  actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=8 \
  critic.model.path="$MODEL" critic.optim.lr=1e-5 critic.ppo_micro_batch_size_per_gpu=4 \
  algorithm.kl_ctrl.kl_coef=0.001 \
  custom_reward_function.path="$REWARD_FILE" custom_reward_function.name=compute_score \
  "${REWARD_ENV[@]}" \
  trainer.n_gpus_per_node="$GPUS" trainer.nnodes="$NODES" trainer.total_epochs=1 \
  trainer.logger='[console]' trainer.project_name=cai trainer.experiment_name=verl-ppo \
  trainer.save_freq=-1 trainer.test_freq=-1 trainer.val_before_train=False
