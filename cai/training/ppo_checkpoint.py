"""Checkpoints for `cai.training.ppo.train_ppo(..., resume=True)`: atomic saves, resume bookkeeping.

Layout under out_dir:

  checkpoint/            the last complete checkpoint
    model.safetensors      policy: trainable parameters only (LoRA, modules_to_save); the frozen
                           base is reloaded from the policy path on resume, not copied every save
    model_1.safetensors    critic: every parameter it owns (the default LoRA critic: its adapter
                           factors and value head; the backbone it shares is the policy's frozen base)
    optimizer.bin, optimizer_1.bin, random_states_<rank>.pkl    (accelerate's save_state)
    state.json             steps done, KL controller, reward state of each process, the run's
                           settings (`cai.training.ppo.run_settings`: PPO config, LoRA shape, seed)
  checkpoint.tmp/        a checkpoint being written: ignored on resume, removed by the next save
  checkpoint.old/        the previous checkpoint during the swap

A directory cannot be renamed over a non-empty one, so the swap is two renames
(checkpoint -> checkpoint.old, then checkpoint.tmp -> checkpoint); a kill between them leaves
checkpoint.old, which `find_checkpoint` falls back to. state.json is written last, after every
process has finished `save_state`, so a directory holding it is complete. All processes must see
the same out_dir (one machine, or a shared file system): each writes its own RNG state there.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from cai.core.runs import atomic_write_json, atomic_write_text, read_jsonl

STATE = "state.json"
METRICS = "metrics.jsonl"
# Settings that may change between a run and its resumption: they do not change what the
# steps already done computed (alarms only watch; save_* only decide what is written).
RESUMABLE_FIELDS = frozenset({"steps", "save_steps", "save_adapter"})


def checkpoint(accelerator, out: Path, steps_done: int, kl_ctl, reward_fn, settings: dict[str, Any]) -> None:
    """Save the run's state after `steps_done` steps. Collective. `settings`: the run's settings
    as JSON (state.json's `config`). state.json's `reward_state` is a list with each process's
    `reward_fn.state_dict()` (each process scores its own rows, so running statistics differ
    between them), or None when the reward has no state_dict."""
    from accelerate.utils import gather_object

    reward_state = None
    if callable(getattr(reward_fn, "state_dict", None)):
        reward_state = gather_object([reward_fn.state_dict()])
    state = {"steps_done": steps_done, "world_size": accelerator.num_processes,
             "kl_controller": kl_ctl.state_dict(), "reward_state": reward_state,
             "config": settings}
    save_checkpoint(accelerator, out, state)


def restore(accelerator, out: Path, resume: bool, kl_ctl, reward_fn,
            settings: dict[str, Any]) -> tuple[int, list[dict]]:
    """(steps already done, their metrics rows). Resuming from a checkpoint restores models,
    optimisers, RNG states, the KL controller and the reward's state (when it has
    load_state_dict); otherwise (0, []) after `start_fresh`. Collective."""
    found = find_checkpoint(out) if resume else None
    if found is None:
        start_fresh(accelerator, out)
        return 0, []
    state = load_checkpoint(accelerator, found, settings)
    kl_ctl.load_state_dict(state["kl_controller"])
    if state["reward_state"] is not None and callable(getattr(reward_fn, "load_state_dict", None)):
        reward_fn.load_state_dict(state["reward_state"][accelerator.process_index])
    return state["steps_done"], resume_metrics(accelerator, out, state["steps_done"])


def _dirs(out: Path) -> tuple[Path, Path, Path]:
    """(checkpoint, checkpoint.tmp, checkpoint.old) under out."""
    return out / "checkpoint", out / "checkpoint.tmp", out / "checkpoint.old"


def find_checkpoint(out: Path) -> Path | None:
    """The last complete checkpoint under `out` (one holding state.json), or None."""
    final, _, old = _dirs(Path(out))
    for d in (final, old):
        if (d / STATE).is_file():
            return d
    return None


def start_fresh(accelerator, out: Path) -> None:
    """Empty metrics.jsonl and remove old checkpoints, so a later resume cannot mix this run's
    metrics with another run's weights. Collective."""
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        for d in _dirs(out):
            shutil.rmtree(d, ignore_errors=True)
        (out / METRICS).write_text("")
    accelerator.wait_for_everyone()


def skip_frozen_on_save(accelerator) -> None:
    """Make `accelerator.save_state` leave out frozen parameters (the policy's base model): they
    never change, and they would add a copy of the base model to every checkpoint. Loading then
    needs strict=False, which `load_checkpoint` passes. FSDP and DeepSpeed save through their own
    paths (no state dicts reach the hook), so there the hook does nothing."""

    def hook(models, weights, _output_dir) -> None:
        if len(weights) != len(models):
            return
        for i, model in enumerate(models):
            # remove_duplicate=False: a tied lm_head is a second name of the frozen embedding.
            frozen = {n for n, p in model.named_parameters(remove_duplicate=False) if not p.requires_grad}
            if frozen:
                weights[i] = {k: v for k, v in weights[i].items() if k not in frozen}

    accelerator.register_save_state_pre_hook(hook)


def save_checkpoint(accelerator, out: Path, state: dict[str, Any]) -> Path:
    """Write out/checkpoint atomically: models, optimisers and every process's RNG state
    (`accelerator.save_state`), then `state` as state.json. Collective: every process calls it."""
    final, tmp, old = _dirs(out)
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)  # what a save killed half-way left
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()  # every process's files are written before state.json
    if accelerator.is_main_process:
        _fsync_tree(tmp)
        atomic_write_json(tmp / STATE, state)
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
        tmp.rename(final)
        _fsync(out)
        shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator, path: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """Restore models, optimisers and this process's RNG state from `path`; return state.json.

    Raises ValueError when the checkpoint cannot continue this run exactly: another number of
    processes (each has its own RNG state and prompt slice), or `settings` (the run's settings as
    JSON) that differ from the checkpoint's outside RESUMABLE_FIELDS and the alarm_* fields."""
    state = json.loads((path / STATE).read_text())
    if state["world_size"] != accelerator.num_processes:
        raise ValueError(f"{path} was written by {state['world_size']} processes, this run has "
                         f"{accelerator.num_processes}; resume with the same number, or start fresh")
    changed = sorted(k for k, v in settings.items() if k not in RESUMABLE_FIELDS and not k.startswith("alarm_")
                     and state["config"].get(k) != v)
    if changed:
        raise ValueError(f"cannot resume from {path}: config changed in {', '.join(changed)} "
                         f"(only {', '.join(sorted(RESUMABLE_FIELDS))} and alarm_* may change)")
    accelerator.load_state(str(path), strict=False)  # the policy file holds trainable params only
    return state


def resume_metrics(accelerator, out: Path, steps_done: int) -> list[dict[str, Any]]:
    """The rows of out/metrics.jsonl for the steps the checkpoint holds (step < steps_done); the
    main process rewrites the file to just those (later rows are redone). Collective."""
    path = out / METRICS
    rows = [r for _, r in read_jsonl(path) if r["step"] < steps_done] if path.exists() else []
    accelerator.wait_for_everyone()  # every process has read the file before it is rewritten
    if accelerator.is_main_process:
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
    return rows


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Flush every file under root (and the directories) to disk: the rename that publishes the
    checkpoint must not reach the disk before its contents after a power loss."""
    for dirpath, _, files in os.walk(root):
        for name in files:
            _fsync(Path(dirpath) / name)
        _fsync(Path(dirpath))
