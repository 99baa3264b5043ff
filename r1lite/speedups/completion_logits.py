"""Logits of the completion positions only, on devices without TRL's Triton kernel (the CPU).

TRL 1.16 scores log-probabilities through a fused, chunked LM head. On CUDA (Triton) it projects only
the completion positions; elsewhere it projects EVERY position, prompt included, through the
vocabulary (49,152 words for SmolLM2), forward and backward. With a 300-token prompt and 96
completion tokens that is 4x the needed work, and it dominated a step on a CPU. ``completion_logps``
asks the model for the logits of the completion positions only (``logits_to_keep``), ``batch_size``
rows at a time, and scores them as TRL does (``score``: its temperature, ``selective_log_softmax``,
``entropy_from_logits``).
"""

from __future__ import annotations

import functools
import warnings

import torch
import trl
from trl.trainer.utils import entropy_from_logits, selective_log_softmax


def score(logits, targets, temperature: float, compute_entropy: bool, entropy_in_graph: bool):
    """(log-probs of ``targets``, entropies or None), each (b, C), from completion logits (b, C, V), as TRL scores
    them. ``entropy_in_graph``: keep the entropy differentiable (an entropy term of the loss trains on it)."""
    logits = logits.float()  # (b, C, V)
    if temperature != 1.0:  # x / 1.0 == x: skip a pass over (b, C, V) and its backward
        logits = logits / temperature
    logps = selective_log_softmax(logits, targets)  # (b, C)
    if not compute_entropy:
        return logps, None
    if entropy_in_graph:
        return logps, entropy_from_logits(logits)  # (b, C)
    with torch.no_grad():
        return logps, entropy_from_logits(logits)  # (b, C)


def completion_logps(
    model,
    input_ids,
    attention_mask,
    logits_to_keep: int,
    batch_size: int | None,
    autocast,
    temperature: float,
    compute_entropy: bool,
    entropy_in_graph: bool,
):
    """Per-token log-probs (B, C) and entropies (B, C) or None of the last ``logits_to_keep`` tokens of each row,
    the model projecting only the positions that predict them."""
    batch_size = batch_size or input_ids.size(0)
    all_logps, all_entropies = [], []
    for start in range(0, input_ids.size(0), batch_size):
        ids = input_ids[start : start + batch_size]  # (b, P+C)
        mask = attention_mask[start : start + batch_size]  # (b, P+C)
        with autocast():
            # position t predicts token t+1, so C+1 positions cover the C completion tokens
            logits = model(
                input_ids=ids, attention_mask=mask, logits_to_keep=logits_to_keep + 1, use_cache=False
            ).logits
        logps, entropy = score(
            logits[:, :-1, :], ids[:, -logits_to_keep:], temperature, compute_entropy, entropy_in_graph
        )  # (b, C) each
        all_logps.append(logps)
        all_entropies.append(entropy)
    logps = torch.cat(all_logps, dim=0)  # (B, C)
    entropies = torch.cat(all_entropies, dim=0) if compute_entropy else None  # (B, C)
    return logps, entropies


@functools.cache
def _triton_choice():
    """TRL's private ``_use_triton``, or None (with one warning) where it has moved."""
    try:
        # named in r1lite.training.trl_contract (IMPORTS)
        from trl.kernels.chunked_logprob import _use_triton  # noqa: PLC0415 - private: may move, ImportError caught
    except ImportError as err:
        warnings.warn(
            f"trl.kernels.chunked_logprob._use_triton is not in TRL {trl.__version__} ({err}); completion_only_logits "
            "is off, so a CPU run scores every prompt position (slower, same numbers)",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return _use_triton


def use_triton(device: torch.device) -> bool:
    """TRL's own choice between its Triton log-prob kernel (completion positions only) and the all-positions
    fallback. Where the private function has moved: warn once and answer True, which keeps TRL's path."""
    choice = _triton_choice()
    return True if choice is None else choice(device)
