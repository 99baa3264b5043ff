"""Graded countdown rewards: partial credit on the way to a correct answer, with TRL's reward signature.

A small model that never samples a correct answer gets no signal from `equation_reward`; these
rewards grade the steps toward one, so completions of one prompt differ and GRPO has a gradient.
Each is usable alone. The rules, top to bottom (completion text and answer block as in
`rewards.countdown`, rules 1-3):

The answer
  G1. Every graded reward reads the answer block only when the completion has exactly one
      `<answer>` and one `</answer>` tag, in that order. More tags score 0: padding a completion
      with answer blocks or tags never collects credit. No complete block scores 0.
  G2. The answer must be an expression of `rewards.safe_math`'s grammar (integer literals, + - * /,
      parentheses); anything else scores 0. Model output is never evaluated with `eval`.

answer_expression_reward: 1.0 or 0.0
  G3. 1.0 when G1 and G2 hold: an answer block holding a well-formed expression.

numbers_used_reward: 0.0 to 1.0
  G4. (matched - extra) / len(nums), at least 0, where `matched` counts the expression's literals
      that pair with a given number (as multisets) and `extra` counts the other literals: numbers
      not in the puzzle and repeats beyond a number's count. Using every number once is 1.0;
      dropping one of three is 2/3; a repeat or a foreign number costs as much as a drop gains.

exact_numbers_reward: 1.0 or 0.0
  G5. 1.0 when the literals are exactly the given numbers as a multiset.

closeness_reward: 0.0 to 1.0
  G6. Only an answer that uses exactly the given numbers (G5) scores: 1.0 when its exact value is
      the target, else 0.5 * max(0, 1 - |value - target| / max(|target|, 1)). A wrong answer
      scores below 0.5, so it never outscores a right one; division by zero scores 0.

Data: the columns `nums` and `target`, checked as `rewards.countdown` rule 10.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from rewards import safe_math
from rewards.countdown import (
    ANSWER_CLOSE,
    ANSWER_OPEN,
    _countdown_columns,
    completion_text,
    extract_answer,
    uses_given_numbers,
)

__all__ = ["answer_expression_reward", "closeness_reward", "exact_numbers_reward", "numbers_used_reward"]

CLOSENESS_CAP = 0.5  # the most a wrong answer earns from closeness_reward


def parsed_answer(completion: object) -> safe_math.Expression | None:
    """The answer expression under rules G1-G2, or None."""
    text = completion_text(completion)
    if text is None or text.count(ANSWER_OPEN) != 1 or text.count(ANSWER_CLOSE) != 1:
        return None
    answer = extract_answer(text)  # None when the one `</answer>` comes before the one `<answer>`
    return None if answer is None else safe_math.parse(answer.strip())


def numbers_share(literals: Sequence[int], nums: Sequence[int]) -> float:
    """Rule G4."""
    matched = sum((Counter(literals) & Counter(nums)).values())
    extra = len(literals) - matched
    return max(0.0, (matched - extra) / len(nums))


def closeness(expression: safe_math.Expression, nums: Sequence[int], target: int) -> float:
    """Rule G6 for a parsed answer."""
    if not uses_given_numbers(expression.literals, nums):
        return 0.0
    value = expression.value()
    if value is None:
        return 0.0
    if value == target:
        return 1.0
    distance = abs(value - target) / max(abs(target), 1)
    return CLOSENESS_CAP * float(max(Fraction(0), 1 - distance))


def answer_expression_reward(prompts: Sequence[object], completions: Sequence[object], **kwargs: Any) -> list[float]:
    """1.0 when the only answer block holds a well-formed expression (G1-G3), else 0.0."""
    return [0.0 if parsed_answer(c) is None else 1.0 for c in completions]


def numbers_used_reward(prompts: Sequence[object], completions: Sequence[object], **kwargs: Any) -> list[float]:
    """The share of the given numbers the answer uses, less its numbers not in the puzzle or repeated (G4)."""
    nums, _ = _countdown_columns("numbers_used_reward", completions, kwargs)
    scores = []
    for completion, row_nums in zip(completions, nums, strict=True):
        expression = parsed_answer(completion)
        scores.append(0.0 if expression is None else numbers_share(expression.literals, row_nums))
    return scores


def exact_numbers_reward(prompts: Sequence[object], completions: Sequence[object], **kwargs: Any) -> list[float]:
    """1.0 when the answer uses exactly the given numbers, each once (G5), else 0.0."""
    nums, _ = _countdown_columns("exact_numbers_reward", completions, kwargs)
    scores = []
    for completion, row_nums in zip(completions, nums, strict=True):
        expression = parsed_answer(completion)
        scores.append(1.0 if expression is not None and uses_given_numbers(expression.literals, row_nums) else 0.0)
    return scores


def closeness_reward(prompts: Sequence[object], completions: Sequence[object], **kwargs: Any) -> list[float]:
    """1.0 correct; a wrong answer with exactly the given numbers, up to 0.5 by how close it gets (G6)."""
    nums, targets = _countdown_columns("closeness_reward", completions, kwargs)
    scores = []
    for completion, row_nums, target in zip(completions, nums, targets, strict=True):
        expression = parsed_answer(completion)
        scores.append(0.0 if expression is None else closeness(expression, row_nums, target))
    return scores
