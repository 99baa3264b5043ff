"""The curriculum during training: promotes by the recipe's rule, applies a rung, logs it, keeps it in checkpoints.

The ladder and its rule are ``r1lite.task.curriculum``. Each step this callback adds
``curriculum/level`` and ``curriculum/stage`` to the step's metrics; at each log it records the
promotion metric and, when the rule says so, moves to the next rung: the training set switches
level (``r1lite.task.data.LevelSwitch``) and the trainer's reward weights switch stage. Its rung is
part of every checkpoint's ``trainer_state.json`` (``ExportableState``), so a resumed run continues
on the rung it had reached.
"""

from __future__ import annotations

import logging

import torch
from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from r1lite.task.curriculum import METRICS, Curriculum

logger = logging.getLogger(__name__)


class CurriculumCallback(TrainerCallback, ExportableState):
    def __init__(self, curriculum: Curriculum, switch, reward_names: list[str]):
        self.curriculum = curriculum
        self.switch = switch
        self.reward_names = list(reward_names)
        self.rung = 0
        self.history: list[float] = []  # the promotion metric at the current rung, one value per log
        self.trainer = None  # set by build_trainer: the reward weights live on the trainer

    def state(self) -> dict:
        return {"args": {}, "attributes": {"rung": self.rung, "history": list(self.history)}}

    def on_train_begin(self, args, state, control, **kwargs):
        saved = (state.stateful_callbacks or {}).get(type(self).__name__)
        if isinstance(saved, dict) and saved.get("attributes"):  # a resumed run: continue on its rung
            self.rung = int(saved["attributes"]["rung"])
            self.history = list(saved["attributes"]["history"])
        self.apply()

    def apply(self) -> None:
        self.switch.level = self.curriculum.level_of(self.rung)
        weights = self.curriculum.weights(self.rung, self.reward_names)
        if weights is not None and self.trainer is not None:
            self.trainer.reward_weights = torch.tensor(weights, dtype=torch.float32)

    def on_step_end(self, args, state, control, **kwargs):
        if self.trainer is not None:  # into TRL's metric store (r1lite.training.trl_contract), logged with the step
            metrics = self.trainer._metrics["train"]
            metrics["curriculum/level"].append(float(self.curriculum.level_of(self.rung)))
            metrics["curriculum/stage"].append(float(self.curriculum.stage_of(self.rung)))

    def on_log(self, args, state, control, logs=None, **kwargs):
        key = METRICS[self.curriculum.metric]
        if key is None:
            rung = self.curriculum.next_rung(self.rung, state.global_step, self.history)
        elif logs and key in logs:
            self.history.append(float(logs[key]))
            rung = self.curriculum.next_rung(self.rung, state.global_step, self.history)
        else:
            return
        if rung != self.rung:
            logger.info(
                "curriculum: step %d, rung %d -> %d (level %d, stage %d)",
                state.global_step,
                self.rung,
                rung,
                self.curriculum.level_of(rung),
                self.curriculum.stage_of(rung),
            )
            self.rung, self.history = rung, []
            self.apply()
