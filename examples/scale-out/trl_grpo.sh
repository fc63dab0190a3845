#!/usr/bin/env bash
# TRL GRPO on GPUS GPUs (accelerate) with vLLM generation and the cai hybrid reward
# (`rewards.engines.trl_reward`), configured by trl_grpo.yaml. Keys as in trl 1.16.
#
# Before this script (see README.md in this folder):
#   cai export rl-prompts RUN_DIR --format trl --out data/rl-trl.jsonl --tokenizer "$MODEL" --max-prompt-tokens 3072
#   cai reward serve examples/quickstart/train.yaml --preference TRAIN_RUN
set -euo pipefail

MODEL=${MODEL:-Qwen/Qwen2.5-1.5B-Instruct}
GPUS=${GPUS:-8}
export CAI_REWARD_URL=${CAI_REWARD_URL-http://127.0.0.1:8800/get_reward}   # empty: CAI_REWARD_CONFIG in process
HERE=$(cd "$(dirname "$0")" && pwd)

# The dataset is trl_grpo.yaml's `datasets:` (data/rl-trl.jsonl from the working directory).
accelerate launch --num_processes "$GPUS" -m trl.scripts.grpo --config "$HERE/trl_grpo.yaml" \
  --model_name_or_path "$MODEL"
