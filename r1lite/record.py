"""The task record: which task a trained model was trained on, so later stages need not repeat it.

The zero stage writes ``<output_dir>/r1lite_task.json`` (its TaskConfig, the model it started from
and its completion cap); the R1 stage reads it from the checkpoint it samples, or from the folder
above a ``checkpoint-N`` folder, and copies it into its own output.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from r1lite.config import TaskConfig

TASK_RECORD = "r1lite_task.json"


def task_record(task: TaskConfig, base_model: str, max_completion_length: int) -> dict:
    """The record of a task: its TaskConfig, the model training started from, the completion cap."""
    return {"task": asdict(task), "base_model": base_model, "max_completion_length": max_completion_length}


def write_task_record(folder: str | os.PathLike, task: TaskConfig, base_model: str, max_completion_length: int) -> Path:
    path = Path(folder) / TASK_RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(task_record(task, base_model, max_completion_length), indent=1))
    return path


def find_task_record(model_dir: str | os.PathLike) -> dict | None:
    """The record of ``model_dir`` or of its parent run folder (for a ``checkpoint-N`` folder); None if neither has one."""
    model_dir = Path(model_dir)
    for folder in (model_dir, model_dir.parent):
        path = folder / TASK_RECORD
        if path.exists():
            return json.loads(path.read_text())
    return None


def task_from_record(record: dict) -> TaskConfig:
    """A TaskConfig from a record; keys this version does not know are an error that names them."""
    known = set(TaskConfig.__dataclass_fields__)
    unknown = sorted(set(record["task"]) - known)
    if unknown:
        raise ValueError(f"the task record has fields this r1lite does not know: {unknown}; was it written by a newer version?")
    return TaskConfig(**record["task"])
