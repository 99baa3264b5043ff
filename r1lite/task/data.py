"""Training and held-out data sets for a recipe, with their prompt column.

Training data comes from the local generator (``dataset_name: countdown``), a local data set
(a ``save_to_disk`` folder or a JSON/JSONL file) or the hub. Evaluation always uses the fixed
held-out split of ``r1lite.task.countdown`` at the recipe's difficulty, which no training split contains.
"""

from __future__ import annotations

import os

from r1lite.task import countdown
from r1lite.config import TaskConfig
from r1lite.task.prompts import add_prompts


def load_train_rows(task: TaskConfig):
    """The training puzzles (columns nums, target, maybe more), validated."""
    name = task.dataset_name
    if name == "countdown":
        return countdown.generate(task.num_train_puzzles, seed=task.puzzle_seed, split="train", **task.difficulty)
    import datasets

    if os.path.isdir(name):
        ds = datasets.load_from_disk(name)
        if isinstance(ds, datasets.DatasetDict):
            ds = ds["train"]
    elif name.endswith((".json", ".jsonl")):
        if not os.path.exists(name):
            raise FileNotFoundError(f"dataset_name {name!r}: no such file")
        ds = datasets.load_dataset("json", data_files=name, split="train")
    else:
        return countdown.load_hub_countdown(name, split="train")  # validated, held-out puzzles dropped
    countdown.validate_rows(ds)
    return countdown.prepare_rows(ds)  # keeps nums/target, drops held-out puzzles so evaluation stays unseen


def build_datasets(task: TaskConfig, tokenizer):
    """(train, held-out) data sets with a ``prompt`` column in the recipe's template."""
    train = load_train_rows(task)
    heldout = countdown.heldout(task.eval_puzzles, **task.difficulty)
    return add_prompts(train, task.prompt_template, tokenizer), add_prompts(heldout, task.prompt_template, tokenizer)
