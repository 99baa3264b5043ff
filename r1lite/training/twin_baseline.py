"""The twin baseline: a completion's advantage measured against its puzzle and its target twin together.

With ``train_twins`` every training puzzle comes beside its twin: the same numbers, another reachable
target (``r1lite.task.balanced``), so one generation batch holds, for each pair, two groups of
``num_generations`` completions, one per target. GRPO's advantage centres each completion's reward on
its own group's mean. Whatever a completion does that pays on both targets alike (a lean toward one
answer shape, the format) then pays nothing only once the model does it everywhere, and a group whose
completions all earn one reward (all "less, so subtract" on a puzzle whose target is the sum) gives no
signal at all.

``twin_baseline: true`` centres each completion on the mean of both groups of its pair instead (and
divides by their standard deviation, as ``scale_rewards`` says). What the two puzzles share, the
numbers and any target-blind habit, earns the same reward on both sides and cancels; what earns a
reward on one target and not on the other is what the advantage pays: the group of the target a habit
fits is pushed up, its twin's group down. The baseline depends on the twin's completions, never on the
completion it scores (beyond its own 1/2G share, as in GRPO), so the policy gradient keeps its
direction in expectation; only its noise changes.

``R1ZeroTrainer`` replaces TRL's advantages with these after TRL scored a round (the rewards it reads
are TRL's gathered ``_logs["rewards"]``, named in ``r1lite.training.trl_contract``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from trl.trainer.utils import nanstd

SCALES = ("group", "batch", "none")


def twin_advantages(rewards: torch.Tensor, num_generations: int, scale_rewards: str) -> torch.Tensor:
    """Advantages of a gathered round whose groups come in twin pairs (groups 2k and 2k+1).

    ``rewards`` (B,): the weighted sum of each completion's rewards, NaN where every reward function
    returned None (unscorable: advantage 0, left out of the means, as TRL does). ``scale_rewards``:
    ``group`` divides by each pair's standard deviation, ``batch`` by the round's, ``none`` not at all.
    """
    if scale_rewards not in SCALES:
        raise ValueError(f"scale_rewards must be one of {SCALES}, got {scale_rewards!r}")
    pair = 2 * num_generations
    if rewards.numel() % pair:
        raise ValueError(f"{rewards.numel()} completions do not form pairs of groups of {num_generations}")
    pairs = rewards.view(-1, pair)  # (P, 2G): a puzzle's group, then its twin's
    mean = torch.nanmean(pairs, dim=1, keepdim=True)  # (P, 1)
    advantages = pairs - mean  # (P, 2G)
    if scale_rewards == "group":
        advantages = advantages / (nanstd(pairs, dim=1, keepdim=True) + 1e-4)  # (P, 2G)
    elif scale_rewards == "batch":
        advantages = advantages / (nanstd(rewards) + 1e-4)  # (P, 2G)
    return torch.nan_to_num(advantages, nan=0.0).view(-1)  # (B,)


def weighted_rewards(per_func: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(B, F) rewards per function, NaN for None -> (B,) weighted sums, NaN where all F are None (TRL's rule)."""
    total = (per_func * weights.unsqueeze(0)).nansum(dim=1)  # (B,)
    total[torch.isnan(per_func).all(dim=1)] = torch.nan  # (B,)
    return total


def check_pairs(nums: Sequence[Sequence[int]], targets: Sequence[int], num_generations: int) -> None:
    """Raise if groups 2k and 2k+1 of a gathered round are not a puzzle and its twin (the same numbers)."""
    pair = 2 * num_generations
    for start in range(0, len(nums), pair):
        first, second = start, start + num_generations
        if sorted(nums[first]) != sorted(nums[second]) or targets[first] == targets[second]:
            raise RuntimeError(
                f"twin_baseline: groups at rows {first} and {second} of the round are not a twin pair "
                f"({nums[first]} -> {targets[first]}, {nums[second]} -> {targets[second]}); the sampler "
                "no longer serves train_twins' adjacent rows in order"
            )
