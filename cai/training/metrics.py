"""Metric sinks for `cai train`: JSONL always, TensorBoard and W&B when `report_to` asks, and one
progress bar per stage (step/total, ETA, loss, reward, KL). Nothing is sent anywhere unless the user lists a sink:
no telemetry. W&B reads its key from the environment (WANDB_API_KEY); none is stored.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from cai.core.errors import UserError
from cai.core.progress import progress_bar

_SINK_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb"}


def check_sinks(report_to: list[str]) -> None:
    """Fail before any work when a requested sink's package is missing."""
    missing = [name for name in report_to
               if name in _SINK_PACKAGES and importlib.util.find_spec(_SINK_PACKAGES[name]) is None]
    if missing:
        raise UserError(f"report_to: {missing[0]} is not installed; `pip install {_SINK_PACKAGES[missing[0]]}` or "
                        "remove it from report_to")


def _truncate_after(path: Path, step: int) -> None:
    """Keep rows with step <= `step`: after a resume the trainer redoes the later ones."""
    if not path.is_file():
        return
    rows = [line for line in path.read_text().splitlines() if line.strip()]
    kept = []
    for line in rows:
        try:
            if json.loads(line).get("step", 0) <= step:
                kept.append(line)
        except json.JSONDecodeError:
            continue  # a torn last line from a kill
    path.write_text("".join(line + "\n" for line in kept))


class JsonlMetrics(TrainerCallback):
    """Every TRL/transformers log row, with its step, appended to `path` (main process only)."""

    def __init__(self, path: Path, is_main: bool = True):
        self.path, self.is_main = Path(path), is_main

    def on_train_begin(self, args, state, control, **kwargs):
        if self.is_main:
            _truncate_after(self.path, state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.is_main and logs:
            with self.path.open("a") as f:
                f.write(json.dumps({"step": state.global_step, **logs}) + "\n")


def _started_bar(name: str, total: int):
    """A started progress bar for one stage (`cai.core.progress`) and its task."""
    progress = progress_bar(label=name, extra="{task.description}")
    task = progress.add_task("", total=total)
    progress.start()
    return progress, task


# What the bar shows of a TRL trainer's log row: the first key present of each (SFT and DPO log
# loss; reward modelling its accuracy; GRPO/RLOO the mean reward and KL).
_SHOWN = (("loss", ("loss",)), ("reward", ("reward", "rewards/chosen")), ("KL", ("kl", "objective/kl")),
          ("acc", ("accuracy", "rewards/accuracies")))


class TrainerProgress(TrainerCallback):
    """The progress of a TRL stage as one bar with step/total, ETA, loss, reward and KL, in place of
    transformers' tqdm bar, which prints every raw log dict on its own line."""

    def __init__(self, name: str):
        self.name, self.progress, self.task, self.shown = name, None, None, ""

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.progress, self.task = _started_bar(self.name, state.max_steps)
            self.progress.update(self.task, completed=state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step, description=self.shown)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.progress is None or not logs:
            return
        parts = []
        for label, keys in _SHOWN:
            value = next((logs[k] for k in keys if isinstance(logs.get(k), int | float)), None)
            if value is not None:
                parts.append(f"{label} {value:.4g}")
        self.shown = "  ".join(parts) or self.shown

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step, description=self.shown)
            self.progress.stop()
            self.progress = None


class MetricSinks:
    """The PPO logger: `sinks(row)` per step. cai.training.ppo writes metrics.jsonl itself; this adds
    TensorBoard/W&B when asked and a progress bar showing reward and KL."""

    def __init__(self, out_dir: Path, report_to: list[str], *, total: int, show: bool, is_main: bool):
        self.tb = self.wandb = self.progress = None
        if not is_main:
            return
        if "tensorboard" in report_to:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(log_dir=str(Path(out_dir) / "tensorboard"))
        if "wandb" in report_to:
            import wandb

            self.wandb = wandb.init(project="cai", dir=str(out_dir), name=Path(out_dir).parent.name)
        if show:
            self.progress, self.task = _started_bar("ppo", total)

    def __call__(self, row: dict[str, Any]) -> None:
        step = int(row.get("step", 0))
        numbers = {k: v for k, v in row.items() if isinstance(v, int | float) and k != "step"}
        if self.tb is not None:
            for key, value in numbers.items():
                self.tb.add_scalar(key, value, step)
        if self.wandb is not None:
            self.wandb.log(numbers, step=step)
        if self.progress is not None:
            desc = f"reward {row.get('reward/raw', float('nan')):+.3f}  KL {row.get('kl/k1', float('nan')):.3f}"
            self.progress.update(self.task, completed=step + 1, description=desc)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()
