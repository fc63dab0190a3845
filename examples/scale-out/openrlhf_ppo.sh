#!/usr/bin/env bash
# OpenRLHF PPO (actor + critic, vLLM rollouts on Ray) whose reward is the cai hybrid reward, served
# over HTTP by `cai reward serve`. Flags as in openrlhf 0.11.2 (openrlhf/cli/train_ppo_ray.py: the
# dotted groups --actor.*, --reward.*, --data.*; before 0.10 they were --pretrain, --remote_rm_url,
# --prompt_data, --input_key, --label_key, --apply_chat_template).
#
# Before this script (see README.md in this folder):
#   cai export rl-prompts RUN_DIR --format openrlhf --out data/rl-openrlhf.jsonl \
#       --tokenizer "$MODEL" --max-prompt-tokens 3072
#   cai reward serve examples/quickstart/train.yaml --preference TRAIN_RUN     # on a CPU host
#   ray start --head --num-gpus "$GPUS"                                        # on the GPU node(s)
set -euo pipefail

MODEL=${MODEL:-Qwen/Qwen2.5-1.5B-Instruct}   # the policy (and the critic's initial weights)
NODES=${NODES:-1}                            # GPU nodes
GPUS=${GPUS:-8}                              # GPUs per node; actor, critic, reference and vLLM share them
VLLM_ENGINES=${VLLM_ENGINES:-$((NODES * GPUS))}
DATA=${DATA:-data/rl-openrlhf.jsonl}
# The reward server; with a token (CAI_REWARD_TOKEN on the server) add ?token=... : OpenRLHF sends no headers.
REWARD_URL=${REWARD_URL:-http://127.0.0.1:8800/get_reward}
PROMPT_TOKENS=${PROMPT_TOKENS:-3072}         # what the export cut the sources to
NEW_TOKENS=${NEW_TOKENS:-512}
OUT=${OUT:-checkpoints/cai-openrlhf-ppo}

python -m openrlhf.cli.train_ppo_ray \
  --actor.num_nodes "$NODES" --actor.num_gpus_per_node "$GPUS" \
  --ref.num_nodes "$NODES" --ref.num_gpus_per_node "$GPUS" \
  --critic.num_nodes "$NODES" --critic.num_gpus_per_node "$GPUS" \
  --vllm.num_engines "$VLLM_ENGINES" --vllm.tensor_parallel_size 1 --vllm.gpu_memory_utilization 0.6 \
  --train.colocate_all --vllm.enable_sleep --ds.enable_sleep \
  --actor.model_name_or_path "$MODEL" --critic.model_name_or_path "$MODEL" \
  --reward.remote_url "$REWARD_URL" \
  --data.prompt_dataset "$DATA" --data.input_key input --data.label_key label --data.apply_chat_template \
  --data.max_len $((PROMPT_TOKENS + NEW_TOKENS)) --rollout.max_new_tokens "$NEW_TOKENS" \
  --rollout.batch_size 128 --rollout.n_samples_per_prompt 1 --rollout.micro_batch_size 8 \
  --train.batch_size 128 --train.micro_batch_size 4 --train.max_epochs 1 --train.num_episodes 1 \
  --actor.adam.lr 5e-7 --critic.adam.lr 9e-6 --algo.kl.init_coef 0.01 \
  --ds.zero_stage 3 --ds.param_dtype bf16 --actor.gradient_checkpointing_enable \
  --ckpt.output_dir "$OUT" --ckpt.save_steps -1 --logger.logging_steps 1
