"""Did the reasoning decide from the target? The comparison that chooses between sum and difference.

On a puzzle of two numbers whose target is their sum or their difference, one comparison decides:
the sum is more than the larger number and the difference is less, so "16 is less than 25, so
subtract" is the whole decision (the ``chat_compare`` prompt's worked examples make it). The answer
rewards pay a model that skips it whenever its fixed choice happens to be right, half the puzzles;
this reward pays only a decision made from the target, so no choice that ignores the target earns
it on more than the puzzles that choice fits. The rules, top to bottom:

Which puzzles
  1. Rows with two numbers ``a``, ``b`` and a target equal to ``a + b`` or ``|a - b|``; the right
     decision is "more, so add" for the sum and "less, so subtract" for the difference. Any other row
     (three numbers, a product, an unreachable target) scores None: not applicable, which TRL leaves
     out of the reward's mean and of the sum of rewards.

The decision read from the reasoning (``rewards.reasoning.reasoning_part``)
  2. The first comparison (``rewards.consistency``'s reading: ``A is more than B``, ``less``,
     ``greater``, ... between two whole numbers) between the target and the larger number, either way
     round: "25 is more than 16" says the target 16 is less than 25.
  3. Its choice is the first operation word (``add``, ``subtract``, ``multiply``, ``divide``, with
     their endings) in the rest of its clause, as ``rewards.consistency`` bounds a clause: before the
     next newline, ``;``, ``<`` or sentence-ending ``.``, within 80 characters.

target_decision_reward: 1.0 or 0.0 (None where rule 1 does not apply)
  4. 1.0 when that comparison is true and its choice is the right one: "16 is less than 25, so
     subtract" on 25 and 9 with target 16. A false comparison, a right comparison with the wrong word
     or none ("16 is less than 25, so add"), or no comparison of the target with the larger number
     scores 0.0. Whether the answer then does what the word says is ``stated_operation_reward``'s
     check, and whether it is right the answer rewards'.

acted_decision_reward: 1.0 or 0.0 (None where rule 1 does not apply)
  5. 1.0 when rule 4 pays and the answer carries the decision out: an expression of exactly the two
     given numbers whose operation is the word's (``+`` for add, ``-`` for subtract, either order).
     Rule 4 alone pays a right decision whatever follows it, so a policy can keep the reasoning and
     let the answer drift: one run wrote the result as a bare number ("so subtract: 17 - 14 = 3,
     yes. </think> <answer> 3 </answer>") in 25 of its 32 rollouts by step 14, and rule 4 paid 1.0
     for each whose decision was right.

named_numbers_reward: 1.0 or 0.0 (None on rows of other than two numbers)
  6. The chain's first link, which rules 4 and 5 take for granted: the reasoning's first naming of
     the two numbers, "The larger number is X and the smaller is Y" (any case; "the smaller number
     is Y" too), scores 1.0 when X is the larger of the puzzle's two numbers and Y the smaller, 0.0
     when it names them wrongly or not at all. It does not read the target, so any fixed policy that
     names truly earns it on every puzzle; it is a shaping term beside the answer rewards. Untrained,
     SmolLM2-135M named them rightly on 37 of 64 held-out puzzles (mostly copying the given order),
     and a difference is solved almost only behind a right naming (16 of 20, against 2 of 12 behind
     a wrong one) while a sum is solved either way: an unpaid first link makes adding the better bet
     (docs/results.md, "Two baselines for the lean").

Data: the columns ``nums`` and ``target``, validated as for ``equation_reward``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rewards.consistency import clause_after, operation_word, read_comparisons
from rewards.countdown import _countdown_columns, completion_text, uses_given_numbers
from rewards.graded import parsed_answer
from rewards.reasoning import reasoning_part

__all__ = [
    "acted_decision_reward",
    "named_numbers",
    "named_numbers_reward",
    "names_truly",
    "puzzle_kind",
    "right_decision",
    "stated_decision",
    "target_decision_reward",
]

OPERATOR = {"add": "+", "subtract": "-"}  # the answer's operation for each decision word
_NAMING = re.compile(r"larger number is (\d+)\b,? and the smaller(?: number)? is (\d+)\b", re.IGNORECASE)


def right_decision(nums: Sequence[int], target: int) -> tuple[str, str] | None:
    """("more", "add") for a sum, ("less", "subtract") for a difference of two numbers; None otherwise (rule 1)."""
    if len(nums) != 2:
        return None
    a, b = nums
    if target == a + b:
        return "more", "add"
    if target == abs(a - b) and target != max(a, b):  # a difference equal to the larger needs a 0
        return "less", "subtract"
    return None


def puzzle_kind(nums: Sequence[int], target: int) -> str | None:
    """ "sum" or "difference" for a two-number sum-or-difference puzzle (rule 1), else None."""
    decision = right_decision(nums, target)
    return None if decision is None else "sum" if decision[0] == "more" else "difference"


def stated_decision(text: str, larger: int, target: int) -> tuple[str, str | None] | None:
    """(the target is "more" or "less" than `larger`, the operation word chosen or None), from the reasoning.

    None when the reasoning compares the target with the larger number nowhere (rules 2-3). The
    comparison is reported as written, true or not.
    """
    reasoning = reasoning_part(text)
    for left, greater, right, end in read_comparisons(reasoning):
        if (left, right) == (target, larger):
            relation = "more" if greater else "less"
        elif (left, right) == (larger, target):  # "25 is more than 16": the target is less
            relation = "less" if greater else "more"
        else:
            continue
        return relation, operation_word(clause_after(reasoning, end))
    return None


def target_decision_reward(
    prompts: Sequence[object], completions: Sequence[object], **kwargs: Any
) -> list[float | None]:
    """1.0 when the reasoning compares the target with the larger number truly and chooses by it (rule 4)."""
    nums, targets = _countdown_columns("target_decision_reward", completions, kwargs)
    scores: list[float | None] = []
    for completion, row_nums, target in zip(completions, nums, targets, strict=True):
        right = right_decision(row_nums, target)
        if right is None:
            scores.append(None)
            continue
        text = completion_text(completion)
        stated = None if text is None else stated_decision(text, max(row_nums), target)
        scores.append(1.0 if stated == right else 0.0)
    return scores


def acted_decision_reward(
    prompts: Sequence[object], completions: Sequence[object], **kwargs: Any
) -> list[float | None]:
    """1.0 when rule 4 pays and the answer is the two given numbers joined by the chosen operation (rule 5)."""
    nums, targets = _countdown_columns("acted_decision_reward", completions, kwargs)
    decided = target_decision_reward(prompts, completions, nums=nums, target=targets)
    scores: list[float | None] = []
    for completion, row_nums, target, score in zip(completions, nums, targets, decided, strict=True):
        if not score:  # None (not applicable) or 0.0 (no right decision) stands
            scores.append(score)
            continue
        answer = parsed_answer(completion)
        acted = (
            answer is not None
            and uses_given_numbers(answer.literals, row_nums)
            and answer.postfix[-1] == OPERATOR[right_decision(row_nums, target)[1]]
        )
        scores.append(1.0 if acted else 0.0)
    return scores


def named_numbers(text: str) -> tuple[int, int] | None:
    """(larger, smaller) as the reasoning's first "The larger number is X and the smaller is Y" names them (rule 6)."""
    said = _NAMING.search(reasoning_part(text))
    return None if said is None else (int(said[1]), int(said[2]))


def names_truly(text: str, nums: Sequence[int]) -> bool:
    """Whether the reasoning's first naming is the larger and the smaller of ``nums``, in that order (rule 6)."""
    return named_numbers(text) == (max(nums), min(nums))


def named_numbers_reward(
    prompts: Sequence[object], completions: Sequence[object], **kwargs: Any
) -> list[float | None]:
    """1.0 when the reasoning first names the larger and the smaller of the two numbers truly (rule 6)."""
    nums, _ = _countdown_columns("named_numbers_reward", completions, kwargs)
    scores: list[float | None] = []
    for completion, row_nums in zip(completions, nums, strict=True):
        if len(row_nums) != 2:
            scores.append(None)
            continue
        text = completion_text(completion)
        scores.append(1.0 if text is not None and names_truly(text, row_nums) else 0.0)
    return scores
