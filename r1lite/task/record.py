"""The task record: which task a trained model was trained on, so later stages need not repeat it.

The zero stage writes ``<output_dir>/r1lite_task.json`` (its TaskConfig, the model it started from,
and how completions ended: the completion cap and the stop strings); the R1 stage and
``recipes/eval.py`` read it from the checkpoint they load, or from the folder above a
``checkpoint-N`` folder, and the R1 stage copies it into its own output.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from r1lite.config import TaskConfig
from r1lite.errors import DataError

TASK_RECORD = "r1lite_task.json"


def task_record(task: TaskConfig, base_model: str, max_completion_length: int, stop_strings=()) -> dict:
    """The record of a task: its TaskConfig, the model training started from, where completions ended."""
    return {
        "task": asdict(task),
        "base_model": base_model,
        "max_completion_length": max_completion_length,
        "stop_strings": list(stop_strings),
    }


def write_task_record(
    folder: str | os.PathLike, task: TaskConfig, base_model: str, max_completion_length: int, stop_strings=()
) -> Path:
    path = Path(folder) / TASK_RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(task_record(task, base_model, max_completion_length, stop_strings), indent=1))
    return path


def find_task_record(model_dir: str | os.PathLike) -> dict | None:
    """The record of ``model_dir`` or of its parent run folder (for a ``checkpoint-N`` folder); None if
    neither has one."""
    model_dir = Path(model_dir)
    for folder in (model_dir, model_dir.parent):
        path = folder / TASK_RECORD
        if path.exists():
            return json.loads(path.read_text())
    return None


# Trainer switches that records written before R1ZeroConfig held them kept among the task's fields.
_OLD_TRAINER_FIELDS = (
    "completion_only_logits",
    "rollout_log",
    "stop_strings",
    "dynamic_sampling",
    "dynamic_sampling_max_rounds",
    "reflection_words",
)


def task_from_record(record: dict) -> TaskConfig:
    """A TaskConfig from a record; keys this version does not know are an error that names them."""
    known = set(TaskConfig.__dataclass_fields__)
    task = {k: v for k, v in record["task"].items() if k not in _OLD_TRAINER_FIELDS}
    unknown = sorted(set(task) - known)
    if unknown:
        raise DataError(
            f"the task record has fields this r1lite does not know: {unknown}; was it written by a newer version?"
        )
    return TaskConfig(**task)


def record_stop_strings(record: dict) -> list[str]:
    """The stop strings completions ended at in training (older records kept them among the task's fields)."""
    return list(record.get("stop_strings", record["task"].get("stop_strings", [])))
