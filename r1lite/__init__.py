"""r1lite: reproduce the DeepSeek R1-Zero -> R1 recipe on small open models.

The public API, importable from ``r1lite`` whatever the folder layout (loaded on first use):

    from r1lite import load_model_and_tokenizer, generate_puzzles, heldout, TaskConfig, R1ZeroConfig
    from r1lite import load_rollouts, step_metrics

Folders, by idea:
  r1lite/task/        the countdown task: puzzles and held-out split, prompts, data sets, evaluation, task record
  r1lite/training/    the R1-Zero stage: the trainer, its callbacks and features, saving, the TRL contract
  r1lite/r1/          the R1 stage: rejection sampling, readability filters, SFT, the whole pipeline
  r1lite/inspection/  reading runs: behaviour metrics, the rollout log, reports, summaries
  r1lite/config.py    recipe configs (TaskConfig, R1ZeroConfig) and the recipe parser
  r1lite/models.py    model loading: the offline default model, local paths, hub ids, tiny test models
  r1lite/requirements.py, errors.py, cli.py   optional packages, one-line user errors, the `r1lite` command
The rule-based reward functions live in the sibling package `rewards`.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> (module, attribute)
_PUBLIC = {
    "load_model": ("r1lite.models", "load_model"),
    "load_tokenizer": ("r1lite.models", "load_tokenizer"),
    "load_model_and_tokenizer": ("r1lite.models", "load_model_and_tokenizer"),
    "DEFAULT_MODEL": ("r1lite.models", "DEFAULT_MODEL"),
    "generate_puzzles": ("r1lite.task.countdown", "generate"),
    "heldout": ("r1lite.task.countdown", "heldout"),
    "solve": ("r1lite.task.countdown", "solve"),
    "add_prompts": ("r1lite.task.prompts", "add_prompts"),
    "evaluate": ("r1lite.task.evaluation", "evaluate"),
    "TaskConfig": ("r1lite.config", "TaskConfig"),
    "R1ZeroConfig": ("r1lite.config", "R1ZeroConfig"),
    "R1ZeroTrainer": ("r1lite.training.trainer", "R1ZeroTrainer"),
    "load_rollouts": ("r1lite.inspection.runlog", "load_rollouts"),
    "step_metrics": ("r1lite.inspection.runlog", "step_metrics"),
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'r1lite' has no attribute {name!r}")
    module, attribute = _PUBLIC[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
