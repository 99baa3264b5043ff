"""The KL reference model in the compute dtype, not the policy's fp32.

r1lite loads the policy in fp32 (the optimizer steps fp32 master weights; ``r1lite.models.training_dtype``)
and computes in bf16 under ``bf16: true``. With ``beta > 0`` TRL builds the frozen reference model
"like the policy" (``GRPOTrainer.__init__``: ``model_init_kwargs.setdefault("dtype", self.model.dtype)``),
so under DDP or on one GPU it would hold an fp32 copy that no optimizer needs: +6 GB at 3B. TRL reads
``args.model_init_kwargs["dtype"]`` first, so ``reference_in_compute_dtype`` puts the compute dtype there
while the trainer is built (and takes it away again: the recipe saved with the run stays the user's).
TRL also logs that ``model_init_kwargs`` "will be ignored" when the policy is an instance, which is
true of the policy only; that one line is filtered while the trainer is built. Named in
``r1lite.training.trl_contract`` (``REFERENCE_DTYPE``).
"""

from __future__ import annotations

import contextlib
import logging

import torch

TRL_LOGGER = "trl.trainer.grpo_trainer"
IGNORED_MESSAGE = "The `model_init_kwargs` will be ignored"


def compute_dtype(args) -> torch.dtype | None:
    """The dtype the policy computes in under ``args`` (bf16 / fp16 mixed precision), or None (its own)."""
    if getattr(args, "bf16", False):
        return torch.bfloat16
    if getattr(args, "fp16", False):
        return torch.float16
    return None


class _DropIgnoredNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return IGNORED_MESSAGE not in record.getMessage()


@contextlib.contextmanager
def reference_in_compute_dtype(args):
    """While inside, TRL builds a reference model (``beta > 0``, no PEFT) in ``compute_dtype(args)``."""
    dtype = compute_dtype(args)
    given = args.model_init_kwargs
    if dtype is None or not args.beta or "dtype" in (given or {}):
        yield
        return
    args.model_init_kwargs = {**(given or {}), "dtype": dtype}
    notice = _DropIgnoredNotice()
    trl_logger = logging.getLogger(TRL_LOGGER)
    trl_logger.addFilter(notice)
    try:
        yield
    finally:
        trl_logger.removeFilter(notice)
        args.model_init_kwargs = given
