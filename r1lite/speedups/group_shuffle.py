"""Whole prompt groups per micro-batch when TRL splits a generation batch (gradient accumulation).

With ``steps_per_generation > 1`` (by default, whenever ``gradient_accumulation_steps > 1``, as in
the GPU recipes), TRL generates completions for several micro-batches at once, shuffles the rows
(``trl.trainer.utils.shuffle_sequence_dict``) and splits them into micro-batches. The rows of one
prompt then scatter over the micro-batches, and the shared-prefix training pass
(``r1lite.speedups.packed_pass``) finds almost nothing to share: with 16-row micro-batches drawn
from 64 groups of 8, most rows are alone with their prompt.

``shuffle_groups`` is TRL's shuffle with the rows of one prompt kept together: it draws the same
random permutation as TRL (``torch.randperm`` over the rows, so the random stream that later
sampling uses is unchanged), orders the groups by their first row in it, and keeps each group's
rows in that permutation's order. A micro-batch whose size is a multiple of ``num_generations``
then holds whole groups. Which rows share a micro-batch leaves the update unchanged for the loss
types that normalise over the whole update or by a constant ('dapo', TRL's default, 'grpo',
'dr_grpo'); with 'bnpo' (per micro-batch token count) it changes the weighting as TRL's own random
split does. ``SpeedHooks._prepare_inputs`` (``hooks.py``) applies it while TRL prepares a training batch
with ``shared_prefix`` on; it is named in ``r1lite.training.trl_contract``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from r1lite.speedups.packed_pass import prompt_groups

TRL_MODULE = "trl.trainer.grpo_trainer"  # where GRPOTrainer._prepare_inputs looks up shuffle_sequence_dict
NAME = "shuffle_sequence_dict"


def group_permutation(prompt_ids: torch.Tensor, prompt_mask: torch.Tensor) -> torch.Tensor:
    """A random row order (B,) with the rows of each prompt contiguous, from one ``torch.randperm(B)`` as TRL draws."""
    rows = torch.randperm(prompt_ids.size(0))  # (B,) TRL's draw
    position = torch.empty_like(rows)
    position[rows] = torch.arange(rows.numel())  # (B,) where each row landed
    landed = position.tolist()
    groups = [sorted(g, key=landed.__getitem__) for g in prompt_groups(prompt_ids, prompt_mask)]  # rows in TRL's order
    groups.sort(key=lambda g: landed[g[0]])  # groups in order of their first row
    return torch.tensor([r for g in groups for r in g], dtype=torch.long)


def shuffle_groups(batch: dict[str, Any]) -> dict[str, Any]:
    """TRL's ``shuffle_sequence_dict`` over a generation batch, whole prompt groups kept together."""
    order = group_permutation(batch["prompt_ids"], batch["prompt_mask"])  # (B,)

    def permute(value):  # as TRL's: None and 0-d tensors as they are, tensors by index, sequences item by item
        if value is None or (isinstance(value, torch.Tensor) and value.ndim == 0):
            return value
        if isinstance(value, torch.Tensor):
            return value[order.to(value.device)]
        return [value[i] for i in order.tolist()]

    return {key: permute(value) for key, value in batch.items()}


@contextmanager
def whole_groups() -> Iterator[None]:
    """While inside, TRL's trainer shuffles generation batches with ``shuffle_groups``."""
    module = importlib.import_module(TRL_MODULE)
    original = getattr(module, NAME)
    setattr(module, NAME, shuffle_groups)
    try:
        yield
    finally:
        setattr(module, NAME, original)
