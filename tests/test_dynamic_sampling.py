"""Dynamic sampling: which rows carry signal, and how rounds merge into one batch of fixed shape."""

import pytest
import torch

from r1lite.training.dynamic_sampling import merge, signal_rows


def _round(advantages, prompt_width, completion_width, tag):
    """A fake TRL generation output whose every id equals ``tag`` (so the source round is visible)."""
    b = len(advantages)
    return {
        "prompt_ids": torch.full((b, prompt_width), tag),  # (B, P)
        "prompt_mask": torch.ones(b, prompt_width, dtype=torch.long),  # (B, P)
        "completion_ids": torch.full((b, completion_width), tag),  # (B, C)
        "completion_mask": torch.ones(b, completion_width, dtype=torch.long),  # (B, C)
        "advantages": torch.tensor(advantages, dtype=torch.float),  # (B,)
        "num_items_in_batch": torch.tensor(float(b * completion_width)),
    }


def test_signal_rows():
    assert signal_rows(torch.tensor([0.0, 0.5, -0.5, 0.0])).tolist() == [False, True, True, False]


def test_merge_takes_signal_rows_then_pads():
    first = _round([0.0, 0.0, 0.7, -0.7], prompt_width=3, completion_width=2, tag=1)  # one dead group, one live
    second = _round([0.3, -0.3, 0.0, 0.0], prompt_width=5, completion_width=4, tag=2)  # fresh prompts: one live group
    keep = [signal_rows(first["advantages"]), signal_rows(second["advantages"])]
    batch = merge([first, second], keep, size=4)
    assert batch["advantages"].tolist() == pytest.approx([0.7, -0.7, 0.3, -0.3])
    assert batch["prompt_ids"].shape == (4, 5) and batch["completion_ids"].shape == (4, 4)
    # prompts pad on the left, completions on the right, masks follow
    assert batch["prompt_ids"][0].tolist() == [0, 0, 1, 1, 1] and batch["prompt_mask"][0].tolist() == [0, 0, 1, 1, 1]
    assert batch["completion_ids"][0].tolist() == [1, 1, 0, 0] and batch["completion_mask"][0].tolist() == [1, 1, 0, 0]
    assert batch["completion_ids"][2].tolist() == [2, 2, 2, 2]


def test_merge_fills_with_dropped_rows_when_short():
    first = _round([0.0, 0.0, 0.7, -0.7], 3, 2, tag=1)
    second = _round([0.0, 0.0, 0.0, 0.0], 3, 2, tag=2)  # the extra round found nothing either
    keep = [signal_rows(first["advantages"]), signal_rows(second["advantages"])]
    batch = merge([first, second], keep, size=4)
    assert batch["advantages"].tolist() == pytest.approx([0.7, -0.7, 0.0, 0.0])  # zero-advantage filler: no gradient
    assert (batch["completion_ids"] == 1).all()  # filler comes from round 0


def test_merge_refuses_multimodal():
    first = _round([0.5, -0.5], 2, 2, tag=1)
    first["pixel_values"] = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="turn it off"):
        merge([first], [signal_rows(first["advantages"])], size=2)
