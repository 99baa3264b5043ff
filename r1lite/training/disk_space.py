"""Stop before a checkpoint that the disk cannot hold, with a message that says what to change.

A checkpoint holds the weights and the optimizer's state (Adam keeps two more copies of the weights):
about 1.6 GB for a 135M-parameter model trained in fp32. When the disk fills mid-save, torch's
``torch.save`` ends the run with ``basic_ios::clear: iostream error``, a trace nobody can act on, and
leaves a half-written checkpoint the next resume would trip over. ``DiskSpaceCallback`` measures,
on each process, the bytes this save will write (its parameters and optimizer state, as held) and
raises :class:`DiskFullError` (one line, exit status 2) when the disk holding ``output_dir`` has
less free. Older checkpoints are rotated out (``save_total_limit``) only after the new one is
written, so they count as taken.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from transformers import TrainerCallback

from r1lite.errors import UserError

MARGIN = 1.1  # the tokenizer, the scheduler, the RNG states and the trainer state ride on top: small


class DiskFullError(UserError, OSError):
    """The disk holding the run folder cannot hold the next checkpoint."""


def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if torch.is_tensor(t))


def checkpoint_bytes(model, optimizer) -> int:
    """What this process writes for a checkpoint: its parameters and its optimizer state, as held in memory."""
    weights = tensor_bytes(model.parameters()) if model is not None else 0
    state = getattr(optimizer, "state", None) or {}
    return weights + sum(tensor_bytes(s.values()) for s in state.values() if isinstance(s, dict))


def size(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def check_room(output_dir: str, need: int, step: int) -> None:
    existing = Path(output_dir).absolute()
    while not existing.exists():  # the trainer creates output_dir at its first save
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if free < need * MARGIN:
        raise DiskFullError(
            f"the disk holding {output_dir} has {size(free)} free and the checkpoint of step {step} needs "
            f"about {size(need * MARGIN)} (weights and optimizer state): free space there, lower "
            f"save_total_limit, raise save_steps, or set save_strategy: no"
        )


class DiskSpaceCallback(TrainerCallback):
    """Before each checkpoint the trainer is about to write, check that its disk has room for it."""

    def on_step_end(self, args, state, control, model=None, optimizer=None, **kwargs):
        # DefaultFlowCallback, first in the list, has just set should_save for this step
        if control.should_save:
            check_room(args.output_dir, checkpoint_bytes(model, optimizer), state.global_step)
