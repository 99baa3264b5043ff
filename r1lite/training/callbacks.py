"""Trainer callbacks: held-out evaluation during training, reward, accuracy and reflection rate on the progress bar."""

from __future__ import annotations

import json
import logging
import os

from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback

from r1lite.inspection.guards import GuardSettings, check
from r1lite.task.evaluation import evaluate

logger = logging.getLogger(__name__)


class HeldoutEvalCallback(TrainerCallback):
    """Greedy pass@1, format rate and length on the fixed held-out split every ``every`` steps and at the end.

    Each evaluation is logged to the trainer's reporters as ``eval/*`` and appended to
    ``<output_dir>/eval/history.jsonl``; the final one also goes to ``<output_dir>/eval/final.json``.
    """

    def __init__(
        self,
        dataset,
        tokenizer,
        *,
        max_new_tokens: int,
        every: int = 0,
        at_end: bool = True,
        at_start: bool | None = None,
        batch_size: int = 32,
        stop_strings=(),
        levels=(),
        twins=None,
        level_twins=(),
    ):
        self.dataset = dataset
        self.levels = list(
            levels
        )  # a curriculum's held-out split per level (None: same as dataset), as eval/level<k>/*
        self.stop_strings = list(stop_strings)
        self.twins = twins  # the target twins of dataset (r1lite.task.data.twin_dataset), probed in the final eval
        self.level_twins = list(level_twins)  # the same per curriculum level (None where the level has none)
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.every = every
        self.at_end = at_end
        self.at_start = bool(every) if at_start is None else at_start  # None: with the curve, if any
        self.batch_size = batch_size
        self.trainer = None  # set by build_trainer: evaluation needs the accelerator and the wrapped model

    def _evaluate(self, dataset, twins=None):
        trainer = self.trainer
        return evaluate(
            trainer.accelerator.unwrap_model(trainer.model),
            self.tokenizer,
            dataset,
            max_new_tokens=self.max_new_tokens,
            batch_size=self.batch_size,
            accelerator=trainer.accelerator,
            progress=trainer.accelerator.is_main_process,
            stop_strings=self.stop_strings,
            twins=twins,
        )

    def _run(self, state, name: str | None = None, probe: bool = False):
        trainer = self.trainer
        result = self._evaluate(self.dataset, self.twins if probe else None)
        metrics = result.metrics()
        level_twins = self.level_twins if probe and self.level_twins else [None] * len(self.levels)
        levels = [
            result if dataset is None else self._evaluate(dataset, twins)
            for dataset, twins in zip(self.levels, level_twins, strict=True)
        ]  # None: the main split
        for k, level in enumerate(levels):
            metrics.update(level.metrics(prefix=f"eval/level{k}/"))
        trainer.log(dict(metrics))
        if trainer.accelerator.is_main_process:
            folder = os.path.join(trainer.args.output_dir, "eval")
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "history.jsonl"), "a") as f:
                f.write(json.dumps({"step": state.global_step, **metrics}) + "\n")
            if name:
                with open(os.path.join(folder, name), "w") as f:
                    levels_out = {"levels": [level.to_dict() for level in levels]} if levels else {}
                    json.dump({"step": state.global_step, **result.to_dict(), **levels_out}, f, indent=1)
            logger.info("held-out eval at step %d: %s", state.global_step, metrics)
            if name == "final.json":
                for k, level in enumerate(levels or [result]):
                    title = f"level {k}" if levels else "held-out"
                    logger.info("final %s evaluation:\n  %s", title, "\n  ".join(level.baseline_lines()))

    def on_train_begin(self, args, state, control, **kwargs):
        if self.at_start and state.global_step == 0:
            self._run(state, "step-000000.json")

    def on_step_end(self, args, state, control, **kwargs):
        if self.every and state.global_step % self.every == 0 and state.global_step < state.max_steps:
            self._run(state)

    def on_train_end(self, args, state, control, **kwargs):
        if self.at_end:
            self._run(state, "final.json", probe=True)


class RewardProgressCallback(TrainerCallback):
    """Puts the latest reward, accuracy and reflection rate on the trainer's progress bar."""

    SHOWN = {
        "reward": "reward",
        "rewards/equation_reward/mean": "acc",
        "behaviour/reflection_rate": "reflect",
        "eval/accuracy": "eval_acc",
    }

    def __init__(self):
        self.postfix: dict[str, str] = {}
        self.trainer = None  # set by build_trainer: the bar lives in the trainer's ProgressCallback

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        for key, short in self.SHOWN.items():
            if key in logs:
                self.postfix[short] = f"{logs[key]:.3f}"
        callbacks = self.trainer.callback_handler.callbacks if self.trainer is not None else []
        bar = next((cb.training_bar for cb in callbacks if isinstance(cb, ProgressCallback)), None)
        if bar is not None:
            bar.set_postfix(self.postfix, refresh=False)


class CollapseGuardCallback(TrainerCallback):
    """Warns once per collapse guard (``r1lite.inspection.guards``) as the step metrics are logged."""

    def __init__(self, settings: GuardSettings):
        self.settings = settings
        self.records: list[dict] = []
        self.said: set[str] = set()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "behaviour/format_rate" not in logs:
            return
        self.records.append({"step": state.global_step, **logs})
        for alarm in check(self.records, self.settings):
            if alarm.guard not in self.said:
                self.said.add(alarm.guard)
                logger.warning(
                    "collapse guard at step %d: %s (r1lite/inspection/guards.py)", alarm.step, alarm.message
                )
