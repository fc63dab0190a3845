"""examples/scale-out stays runnable against what it names: the TRL config parses with TRL's own
`trl grpo` parser, the shell scripts parse, and the columns, functions and keys they use are the
ones `cai export rl-prompts` writes and `rewards.engines` defines. (OpenRLHF and verl are not test
dependencies; their flags were checked against openrlhf 0.11.2 and verl 0.9.1's sources.)"""

from __future__ import annotations

import importlib
import re
import subprocess
from pathlib import Path

import pytest

from rewards import engines

HERE = Path(__file__).resolve().parents[1] / "examples" / "scale-out"


@pytest.mark.parametrize("script", ["openrlhf_ppo.sh", "verl_ppo.sh", "trl_grpo.sh"])
def test_scripts_parse(script):
    subprocess.run(["bash", "-n", str(HERE / script)], check=True)


def test_trl_config_parses_with_trls_own_parser():
    from trl.scripts.grpo import make_parser

    script, training, model, data = make_parser().parse_args_and_config(
        args=["--config", str(HERE / "trl_grpo.yaml"), "--bf16", "false", "--use_cpu", "true"],
        fail_with_unknown_args=True)
    module, name = script.reward_funcs[0].rsplit(".", 1)
    assert getattr(importlib.import_module(module), name) is engines.trl_reward
    assert training.use_vllm and model.use_peft and data.datasets[0].path == "json"


def test_scripts_use_the_exported_columns_and_the_reward_functions():
    openrlhf = (HERE / "openrlhf_ppo.sh").read_text()
    for flag in ("--reward.remote_url", "--data.input_key input", "--data.label_key label",
                 "--data.apply_chat_template", "python -m openrlhf.cli.train_ppo_ray"):
        assert flag in openrlhf
    verl = (HERE / "verl_ppo.sh").read_text()
    name = re.search(r"custom_reward_function\.name=(\w+)", verl).group(1)
    assert callable(getattr(engines, name)) and "python -m verl.trainer.main_ppo" in verl
    assert "import rewards.engines" in verl and "data.prompt_key=prompt" in verl
    readme = (HERE / "README.md").read_text()
    assert "cai reward serve" in readme and "cai export rl-prompts" in readme
