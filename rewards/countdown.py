"""Rule-based rewards for the countdown task, with TRL's reward signature.

Every reward is `f(prompts, completions, **kwargs) -> list[float]`, one score per
completion; its `__name__` is the metric name TRL logs (`rewards/<name>/mean`). The rules,
top to bottom:

Completions
  1. A completion is a string, or TRL's conversational form (a list of message dicts), in
     which case the last message's "content" string is scored. Anything else (None, a
     number, an empty list, non-string content) scores 0.0.
  2. The prompt already opened `<think>`, so a completion is "reasoning</think><answer>
     ...</answer>". Tags are matched literally and case-sensitively.

Answer extraction (`extract_answer`)
  3. The answer is the content of the LAST complete `<answer>...</answer>` block: the last
     `</answer>` and the nearest `<answer>` before it. An unclosed `<answer>` does not
     count; no complete block means no answer.

equation_reward: 1.0 or 0.0
  4. 1.0 exactly when the answer is an expression of `rewards.safe_math`'s grammar
     (integer literals, binary + - * /, parentheses, ASCII whitespace including newlines
     and tabs; no signs, no "**", "//", "%", decimals, names, calls, "=" or anything else),
  5. whose literals are the row's `nums` as a multiset: each given number used exactly
     once (checked before any arithmetic),
  6. and whose exact rational value equals the row's `target`. Division by zero is 0.0.

format_reward (strict): 1.0 or 0.0
  7. 1.0 exactly when the completion has no `<think>`, exactly one `</think>`, exactly one
     `<answer>` and one `</answer>`, in that order, with only whitespace between
     `</think>` and `<answer>` and only whitespace after `</answer>`. The reasoning may be
     empty, and the answer's content is not judged.

shaped_format_reward: 0.25 per well-placed tag, so 0.0 to 1.0
  8. +0.25 exactly one `</think>`;
     +0.25 exactly one `<answer>`, and it comes after the last `</think>`;
     +0.25 exactly one `</answer>`, and it comes after the last `<answer>`;
     +0.25 a `</answer>` with nothing but whitespace after the last one.
     A completion that passes format_reward scores 1.0.

tinyzero_reward: TinyZero's countdown score, with the safe evaluator instead of eval
  9. 1.0 when equation_reward would give 1.0; else 0.1 when a complete answer block was
     found (wrong value, unparseable, wrong numbers); else 0.0.

Data (the data set's columns, not model output)
 10. equation_reward and tinyzero_reward need the columns `nums` (each row a non-empty
     list of ints) and `target` (each row an int), one row per completion; bools, floats,
     strings and numpy scalars are not ints. A missing column, a length mismatch or a bad
     row raises ValueError naming the reward, the row and the column. Other keyword
     arguments (completion_ids, trainer_state, solution, ...) are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewards import safe_math

__all__ = [
    "completion_text",
    "equation_reward",
    "extract_answer",
    "format_reward",
    "shaped_format_reward",
    "tinyzero_reward",
]

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
TINYZERO_FORMAT_SCORE = 0.1


def completion_text(completion: object) -> str | None:
    """The text of one completion (rule 1); None when it has none."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, (list, tuple)) and completion and isinstance(completion[-1], dict):
        content = completion[-1].get("content")
        if isinstance(content, str):
            return content
    return None


def extract_answer(text: str) -> str | None:
    """The content of the last complete `<answer>...</answer>` block (rule 3), or None."""
    end = text.rfind(ANSWER_CLOSE)
    if end < 0:
        return None
    start = text.rfind(ANSWER_OPEN, 0, end)
    if start < 0:
        return None
    return text[start + len(ANSWER_OPEN) : end]


def uses_given_numbers(literals: Sequence[int], nums: Sequence[int]) -> bool:
    """Rule 5: the literals are the given numbers as a multiset, each used exactly once."""
    return len(literals) == len(nums) and sorted(literals) == sorted(nums)


def _is_solution(answer: str, nums: list[int], target: int) -> bool:
    """Rules 4-6."""
    parsed = safe_math.parse(answer)
    if parsed is None or not uses_given_numbers(parsed.literals, nums):
        return False
    return parsed.value() == target


def _blank(text: str) -> bool:
    return not text or text.isspace()


def _is_strict_format(text: str) -> bool:
    """Rule 7."""
    if THINK_OPEN in text or text.count(THINK_CLOSE) != 1:
        return False
    if text.count(ANSWER_OPEN) != 1 or text.count(ANSWER_CLOSE) != 1:
        return False
    think_end = text.find(THINK_CLOSE) + len(THINK_CLOSE)
    answer_start = text.find(ANSWER_OPEN)
    answer_end = text.find(ANSWER_CLOSE)
    return (
        think_end <= answer_start < answer_end
        and _blank(text[think_end:answer_start])
        and _blank(text[answer_end + len(ANSWER_CLOSE) :])
    )


def _shaped_format_score(text: str) -> float:
    """Rule 8."""
    score = 0.0
    think_close = text.rfind(THINK_CLOSE)
    answer_open = text.rfind(ANSWER_OPEN)
    answer_close = text.rfind(ANSWER_CLOSE)
    if think_close >= 0 and text.count(THINK_CLOSE) == 1:
        score += 0.25
    if answer_open > think_close >= 0 and text.count(ANSWER_OPEN) == 1:
        score += 0.25
    if answer_close > answer_open >= 0 and text.count(ANSWER_CLOSE) == 1:
        score += 0.25
    if answer_close >= 0 and _blank(text[answer_close + len(ANSWER_CLOSE) :]):
        score += 0.25
    return score


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _countdown_columns(
    reward: str, completions: Sequence[object], kwargs: dict[str, Any]
) -> tuple[Sequence[list[int]], Sequence[int]]:
    """The validated `nums` and `target` columns (rule 10)."""
    for column in ("nums", "target"):
        if column not in kwargs:
            raise ValueError(f"{reward}: missing column {column!r}; the data set must provide 'nums' and 'target'")
        values = kwargs[column]
        if not isinstance(values, (list, tuple)):
            raise ValueError(
                f"{reward}: column {column!r} must be a list with one row per completion, got {type(values).__name__}"
            )
        if len(values) != len(completions):
            raise ValueError(f"{reward}: {len(completions)} completions but column {column!r} has {len(values)} rows")
    nums, targets = kwargs["nums"], kwargs["target"]
    for row, (row_nums, row_target) in enumerate(zip(nums, targets, strict=True)):
        if not (isinstance(row_nums, (list, tuple)) and row_nums and all(type(n) is int for n in row_nums)):
            raise ValueError(
                f"{reward}: row {row}: column 'nums' must be a non-empty list of integers, got {_short(row_nums)}"
            )
        if type(row_target) is not int:
            raise ValueError(f"{reward}: row {row}: column 'target' must be an integer, got {_short(row_target)}")
    return nums, targets


def equation_reward(prompts: Sequence[object], completions: Sequence[object], **kwargs: Any) -> list[float]:
    """1.0 when the last answer block uses `nums` exactly once each to make `target`, else 0.0."""
    nums, targets = _countdown_columns("equation_reward", completions, kwargs)
    scores = []
    for completion, row_nums, target in zip(completions, nums, targets, strict=True):
        text = completion_text(completion)
        answer = None if text is None else extract_answer(text)
        scores.append(1.0 if answer is not None and _is_solution(answer, row_nums, target) else 0.0)
    return scores


def format_reward(prompts: Sequence[object], completions: Sequence[object], **kwargs: Any) -> list[float]:
    """1.0 for exactly `reasoning</think><answer>...</answer>` (rule 7), else 0.0."""
    scores = []
    for completion in completions:
        text = completion_text(completion)
        scores.append(1.0 if text is not None and _is_strict_format(text) else 0.0)
    return scores


def shaped_format_reward(prompts: Sequence[object], completions: Sequence[object], **kwargs: Any) -> list[float]:
    """0.25 per well-placed tag (rule 8): partial credit on the way to the strict format."""
    scores = []
    for completion in completions:
        text = completion_text(completion)
        scores.append(0.0 if text is None else _shaped_format_score(text))
    return scores


def tinyzero_reward(prompts: Sequence[object], completions: Sequence[object], **kwargs: Any) -> list[float]:
    """TinyZero's score (rule 9): 1.0 correct, 0.1 an answer block that is wrong, 0.0 none."""
    nums, targets = _countdown_columns("tinyzero_reward", completions, kwargs)
    scores = []
    for completion, row_nums, target in zip(completions, nums, targets, strict=True):
        text = completion_text(completion)
        answer = None if text is None else extract_answer(text)
        if answer is None:
            scores.append(0.0)
        else:
            scores.append(1.0 if _is_solution(answer, row_nums, target) else TINYZERO_FORMAT_SCORE)
    return scores
