"""`cai train`'s progress for TRL stages: one bar with step/total, ETA and the latest numbers, in place
of transformers' tqdm bar and the raw log dicts it prints (issue #21 point 10)."""

from __future__ import annotations

from transformers import PrinterCallback, ProgressCallback, TrainerState

from cai.training.metrics import TrainerProgress


def test_the_bar_shows_steps_and_the_numbers_each_stage_logs():
    bar, state = TrainerProgress("grpo"), TrainerState(max_steps=4, global_step=0, is_world_process_zero=True)
    bar.on_train_begin(None, state, None)
    assert bar.progress is not None and bar.progress.tasks[0].total == 4
    bar.on_log(None, state, None, logs={"loss": 0.25, "reward": 0.5, "objective/kl": 0.0125, "epoch": 1.0})
    state.global_step = 3
    bar.on_step_end(None, state, None)
    assert bar.progress.tasks[0].completed == 3
    assert bar.shown == "loss 0.25  reward 0.5  KL 0.0125"
    bar.on_log(None, state, None, logs={"accuracy": 0.75})  # reward modelling logs its accuracy
    assert bar.shown == "acc 0.75"
    bar.on_train_end(None, state, None)
    assert bar.progress is None


def test_only_the_main_process_draws_a_bar():
    bar = TrainerProgress("sft")
    bar.on_train_begin(None, TrainerState(max_steps=2, is_world_process_zero=False), None)
    assert bar.progress is None


def test_transformers_printing_callbacks_are_replaced(tmp_path):
    import torch
    from transformers import Trainer, TrainingArguments

    from cai.stages.train import _run_trainer

    class Stop(Exception):
        pass

    args = TrainingArguments(str(tmp_path / "t"), use_cpu=True, report_to=[], bf16=False)
    trainer = Trainer(model=torch.nn.Linear(2, 2), args=args)
    trainer.train = lambda **kwargs: (_ for _ in ()).throw(Stop())  # only the callbacks are inspected

    class S:  # the parts of train's Setup that _run_trainer reads
        is_main, show_progress, echo = True, True, print

    try:
        _run_trainer(trainer, tmp_path, S())
    except Stop:
        pass
    kinds = {type(c) for c in trainer.callback_handler.callbacks}
    assert TrainerProgress in kinds and ProgressCallback not in kinds and PrinterCallback not in kinds
