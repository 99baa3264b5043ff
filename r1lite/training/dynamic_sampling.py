"""Dynamic sampling (DAPO, Yu et al. 2025): train only on completions that carry a learning signal.

A GRPO group whose completions all get the same reward has zero advantage everywhere: it costs a
full forward and backward pass and moves nothing. Dynamic sampling drops those rows and fills the
batch with completions of fresh prompts, for at most ``max_rounds`` extra generation rounds. If
the batch is still short after that, the dropped rows fill it again (they add nothing to the
gradient), so every process keeps its batch shape.

This module holds the tensor work, kept apart from the trainer so it can be tested alone:
``signal_rows`` says which rows carry signal, ``merge`` builds the batch from several generation
rounds. ``R1ZeroTrainer`` drives the rounds.
"""

from __future__ import annotations

import torch

from r1lite.errors import ConfigError

LEFT_PADDED = ("prompt_ids", "prompt_mask")
"""Keys of TRL's generation output padded on the left (prompts); the other row tensors are padded on the right."""

UNSUPPORTED = ("pixel_values", "image_grid_thw", "pixel_attention_mask", "num_images", "tool_mask")


def signal_rows(advantages: torch.Tensor) -> torch.Tensor:
    """(B,) bool: rows whose advantage is not zero. A zero-variance group has zero advantage in every row."""
    return advantages != 0  # (B,)


def _pad_to(t: torch.Tensor, width: int, left: bool) -> torch.Tensor:
    """Pad dim 1 of a (B, L, ...) tensor with zeros to ``width``."""
    missing = width - t.size(1)
    if missing <= 0:
        return t
    pad = t.new_zeros((t.size(0), missing, *t.shape[2:]))  # (B, missing, ...)
    return torch.cat([pad, t] if left else [t, pad], dim=1)  # (B, width, ...)


def merge(outputs: list[dict], keep: list[torch.Tensor], size: int) -> dict:
    """One batch of ``size`` rows: the kept rows of each round in order, then, if short, dropped rows of round 0.

    ``outputs`` are TRL generation outputs (dicts of (B, ...) tensors plus the scalar
    ``num_items_in_batch``, which the caller recomputes); ``keep[i]`` is a (B_i,) bool mask of round i.
    """
    bad = [key for key in UNSUPPORTED if key in outputs[0]]
    if bad:
        raise ConfigError(f"dynamic sampling does not handle {bad} (multimodal or tool-calling batches); turn it off")
    chosen: list[tuple[int, int]] = [(r, i) for r, mask in enumerate(keep) for i in mask.nonzero().flatten().tolist()]
    filler = [(0, i) for i in (~keep[0]).nonzero().flatten().tolist()]
    chosen = (chosen + filler)[:size]
    if len(chosen) < size:
        raise ValueError(f"cannot build a batch of {size} rows from {len(chosen)}")
    merged = {}
    for key, value in outputs[0].items():
        if not isinstance(value, torch.Tensor) or value.dim() == 0:
            merged[key] = value  # num_items_in_batch: recomputed by the caller
            continue
        parts = [out[key] for out in outputs]
        if value.dim() >= 2:
            width = max(p.size(1) for p in parts)
            parts = [_pad_to(p, width, key in LEFT_PADDED) for p in parts]
        merged[key] = torch.stack([parts[r][i] for r, i in chosen])  # (size, ...)
    return merged
