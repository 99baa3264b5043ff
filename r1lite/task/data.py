"""Training and held-out data sets for a recipe, with their prompt column.

Training data comes from the local generator (``dataset_name: countdown``), a local data set
(a ``save_to_disk`` folder or a JSON/JSONL file) or the hub. Evaluation always uses the fixed
held-out split of ``r1lite.task.countdown`` at the recipe's difficulty, which no training split contains.
"""

from __future__ import annotations

import os

import datasets

from r1lite.config import TaskConfig
from r1lite.errors import ConfigError, PathNotFoundError
from r1lite.task import countdown
from r1lite.task.balanced import generate_train, twin_pairs
from r1lite.task.balanced import heldout as balanced_heldout
from r1lite.task.baselines import twin_puzzles
from r1lite.task.prompts import add_prompts


def load_train_rows(task: TaskConfig):
    """The training puzzles (columns nums, target, maybe more), validated."""
    name = task.dataset_name
    if name == "countdown":
        rows = generate_train(_puzzles(task), task.difficulty, task.puzzle_seed, task.template_share())
        return _paired(rows, task, (task.target_min, task.target_max))
    if os.path.isdir(name):
        ds = datasets.load_from_disk(name)
        if isinstance(ds, datasets.DatasetDict):
            ds = ds["train"]
    elif name.endswith((".json", ".jsonl")):
        if not os.path.exists(name):
            raise PathNotFoundError(f"dataset_name {name!r}: no such file")
        ds = datasets.load_dataset("json", data_files=name, split="train")
    else:
        return countdown.load_hub_countdown(name, split="train")  # validated, held-out puzzles dropped
    countdown.validate_rows(ds)
    return countdown.prepare_rows(ds)  # keeps nums/target, drops held-out puzzles so evaluation stays unseen


def with_prompts(ds, task: TaskConfig, tokenizer):
    """``ds`` with a ``prompt`` column in the recipe's template (and, for chat_few_shot, its number of shots)."""
    return add_prompts(ds, task.prompt_template, tokenizer, shots=task.few_shot_examples)


def build_datasets(task: TaskConfig, tokenizer):
    """(train, held-out) data sets with a ``prompt`` column in the recipe's template."""
    train = load_train_rows(task)
    return with_prompts(train, task, tokenizer), heldout_dataset(task, tokenizer)


def sampling_rows(task: TaskConfig, tokenizer, n: int) -> list[dict]:
    """``n`` training puzzles with prompts for rejection sampling: the first ``n`` of the training set or, for a
    curriculum, the same number from each level in turn (level 0, level 1, ..., level 0, ...)."""
    levels = task.curriculum.levels if task.curriculum is not None and task.curriculum.levels else []
    if not levels:
        train = load_train_rows(task)
        return with_prompts(train.select(range(min(n, len(train)))), task, tokenizer).to_list()
    per_level = -(-n // len(levels))
    sets = [level_train_rows(task, k) for k in range(len(levels))]
    rows = [sets[k][i] for i in range(per_level) for k in range(len(levels)) if i < len(sets[k])][:n]
    return with_prompts(datasets.Dataset.from_list(rows), task, tokenizer).to_list()


def heldout_dataset(task: TaskConfig, tokenizer):
    """The held-out split at the recipe's difficulty (min_numbers ... target_max), with prompts."""
    return with_prompts(balanced_heldout(task.eval_puzzles, task.difficulty, task.heldout_share()), task, tokenizer)


def twin_dataset(heldout, task: TaskConfig, tokenizer, target_range: tuple[int, int] | None = None, seed: int = 0):
    """The target twins of a held-out split (``r1lite.task.baselines.twin_puzzles``), with prompts: each puzzle
    with the same numbers and another reachable target in ``target_range`` (default: the task's), and its
    original target as ``twin_of``. Puzzles without another reachable target have no twin."""
    target_range = target_range or (task.target_min, task.target_max)
    rows = [{"nums": list(r["nums"]), "target": int(r["target"])} for r in heldout]
    twins = [
        {"nums": t["nums"], "target": t["target"], "twin_of": t["twin_of"]}
        for t in twin_puzzles(rows, target_range, seed=seed, operators=task.operators)
        if t is not None
    ]
    return with_prompts(datasets.Dataset.from_list(twins), task, tokenizer)


def row_level(row: int, level: int, mix: float) -> int:
    """The level whose puzzles training row ``row`` reads at curriculum level ``level``: with ``mix`` > 0, a fixed
    ``mix`` share of the rows (chosen by a hash of the row number) reads one of the earlier levels instead,
    spread evenly over them."""
    if not mix or level == 0:
        return level
    u = (row * 2654435761 % 2**32) / 2**32  # Knuth's multiplicative hash: a fixed, even spread over [0, 1)
    return int(u / mix * level) if u < mix else level


def level_train_rows(task: TaskConfig, index: int):
    """The training puzzles of curriculum level ``index``: generated at its difficulty, under its template cap."""
    level = task.curriculum.levels[index]
    rows = generate_train(_puzzles(task), level.difficulty, task.puzzle_seed, task.template_share(index))
    return _paired(rows, task, (level.target_min, level.target_max))


def _puzzles(task: TaskConfig) -> int:
    """Puzzles to generate: ``num_train_puzzles`` rows, half of them twins with ``train_twins``."""
    return max(1, task.num_train_puzzles // 2) if task.train_twins else task.num_train_puzzles


def _paired(rows, task: TaskConfig, target_range: tuple[int, int]):
    return twin_pairs(rows, target_range, task.puzzle_seed, task.operators) if task.train_twins else rows


class LevelSwitch:
    """Which curriculum level the training set serves now (set by ``r1lite.training.curriculum``)."""

    def __init__(self, level: int = 0):
        self.level = level


def build_curriculum_datasets(task: TaskConfig, tokenizer):
    """(train, switch, held-out per level: None for a level at the recipe's own difficulty) for a curriculum.

    The training set is one ``datasets.Dataset`` of ``num_train_puzzles`` rows whose items are read, when
    the trainer fetches them, from the level ``switch.level`` names (with ``curriculum_mix``, a share of the
    rows reads the earlier levels: ``row_level``): a promotion takes effect from the next batch fetched. Each level's
    puzzles come from the generator at that level's difficulty; a level
    that allows too few puzzles fails here, before the model loads, naming the level.
    """
    levels = []
    for index, (text, level) in enumerate(zip(task.curriculum_levels, task.curriculum.levels, strict=True)):
        try:
            rows = level_train_rows(task, index)
            heldout = balanced_heldout(task.eval_puzzles, level.difficulty, task.heldout_share(index))
        except ValueError as err:
            raise ConfigError(f"curriculum_levels[{index}] = {text!r}: {err}") from err
        levels.append((with_prompts(rows, task, tokenizer), with_prompts(heldout, task, tokenizer)))
    switch = LevelSwitch()
    trains = [train for train, _ in levels]

    def current_level(batch):
        # with train_twins, rows 2k and 2k+1 are a pair: both read the same level
        pair = 2 if task.train_twins else 1
        chosen = [row_level(row // pair, switch.level, task.curriculum_mix) for row in batch["row"]]
        items = [trains[level][row % len(trains[level])] for level, row in zip(chosen, batch["row"], strict=True)]
        return {key: [item[key] for item in items] for key in items[0]}

    train = datasets.Dataset.from_dict({"row": list(range(task.num_train_puzzles))}).with_transform(current_level)
    # a level at the recipe's own difficulty is evaluated once, on the main held-out split
    heldouts = [
        None if level == task.level else heldout
        for level, (_, heldout) in zip(task.curriculum.levels, levels, strict=True)
    ]
    return train, switch, heldouts
