"""Said and done: do the reasoning's comparisons hold, and does its arithmetic do what its words name?

A model trained only on answer rewards can learn to write one thing and do another: "16 is less
than 25, so subtract: 25 + 9 = 34" pays whenever the sum is the answer, and it is cheaper to learn
than reading the target; so is "5 is more than 20, so add" on every puzzle. These rewards read the
reasoning (``rewards.reasoning.reasoning_part``) for two kinds of claim that can be checked exactly.

Named operations
  - an operation word is ``add``, ``subtract``, ``multiply`` or ``divide``, whole word, any case,
    with an ending ``s``, ``ed`` or ``ing`` (``adding``, ``subtracts``);
  - the expression it introduces is the first arithmetic expression (numbers joined by
    ``+ - * / x × ÷``, parentheses allowed) after the word, in the same clause: before the next
    newline, ``;``, ``<``, or ``.`` that ends a sentence, and within 80 characters;
  - a named operation **holds** when its operator appears in that expression (``subtract: 25 - 9``,
    ``add: (25 - 9) + 3``); a word with no expression in its clause is not counted.

Comparisons
  - ``A is more than B`` between two whole numbers, with ``more``, ``greater``, ``larger`` or
    ``bigger`` for >, ``less``, ``smaller`` or ``fewer`` for <, any case; ``A is not more than B``
    and comparisons of words (``the target is more than 25``) are not read;
  - a comparison is **true** when the numbers stand in that relation (``16 is less than 25``).

Rewards (TRL's signature, names in ``rewards.registry``); neither needs a data column, and neither
reads the target, so neither can tell a right answer from a wrong one (the answer rewards decide that):

    stated_operation_reward   operations that hold / named operations (0 without one): stating nothing
                              earns nothing, and "subtract: 9 + 10" earns nothing
    true_comparison_reward    true comparisons / comparisons read (0 without one): "5 is more than 20"
                              earns nothing, so saying "more" before every answer stops paying
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from rewards.countdown import completion_text
from rewards.reasoning import reasoning_part

__all__ = [
    "clause_after",
    "comparisons",
    "named_operations",
    "operation_word",
    "read_comparisons",
    "stated_operation_reward",
    "true_comparison_reward",
]

CLAUSE_CHARS = 80
_WORD = re.compile(r"\b(add|subtract|multiply|divide)(?:s|ed|ing)?\b", re.IGNORECASE)
_CLAUSE_END = re.compile(r"\n|;|<|\.(?:\s|$)")
_EXPRESSION = re.compile(r"\(*\d+\)*(?:\s*[+\-*/x×÷]\s*\(*\d+\)*)+")
_COMPARISON = re.compile(
    r"(?<![\d.\-])(\d+) is (more|greater|larger|bigger|less|smaller|fewer) than (\d+)(?![\d.]\d)", re.IGNORECASE
)
_GREATER = {"more", "greater", "larger", "bigger"}
_OPERATOR = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}
_SYMBOL = {"+": "+", "-": "-", "*": "*", "x": "*", "×": "*", "/": "/", "÷": "/"}


def clause_after(text: str, start: int) -> str:
    """The clause from ``start``: up to a newline, ``;``, ``<`` or sentence-ending ``.``, at most 80 characters."""
    clause = text[start : start + CLAUSE_CHARS]
    end = _CLAUSE_END.search(clause)
    return clause if end is None else clause[: end.start()]


def operation_word(text: str) -> str | None:
    """The first operation word in ``text`` (``add``, ``subtract``, ``multiply``, ``divide``), without its ending."""
    word = _WORD.search(text)
    return None if word is None else word[1].lower()


def named_operations(text: str) -> tuple[int, int]:
    """(named operations that hold, named operations) in the reasoning of ``text``."""
    reasoning = reasoning_part(text)
    holds = named = 0
    for word in _WORD.finditer(reasoning):
        clause = clause_after(reasoning, word.end())
        expression = _EXPRESSION.search(clause)
        if expression is None:  # the word introduces no arithmetic: nothing to check
            continue
        named += 1
        operators = {_SYMBOL[c] for c in expression[0] if c in _SYMBOL}
        holds += _OPERATOR[word[1].lower()] in operators
    return holds, named


def stated_operation_reward(prompts: Sequence[object], completions: Sequence[object], **kwargs: Any) -> list[float]:
    """The share of named operations ("so subtract: ...") whose expression uses that operation; 0 without one."""
    scores = []
    for completion in completions:
        text = completion_text(completion)
        holds, named = (0, 0) if text is None else named_operations(text)
        scores.append(holds / named if named else 0.0)
    return scores


def read_comparisons(reasoning: str) -> Iterator[tuple[int, bool, int, int]]:
    """(left, True for "more" or False for "less", right, where the comparison ends) for each comparison, in order."""
    for match in _COMPARISON.finditer(reasoning):
        yield int(match[1]), match[2].lower() in _GREATER, int(match[3]), match.end()


def comparisons(text: str) -> tuple[int, int]:
    """(true comparisons, comparisons read) in the reasoning of ``text``."""
    true = read = 0
    for left, greater, right, _ in read_comparisons(reasoning_part(text)):
        read += 1
        true += left > right if greater else left < right
    return true, read


def true_comparison_reward(prompts: Sequence[object], completions: Sequence[object], **kwargs: Any) -> list[float]:
    """The share of comparisons ("16 is less than 25") that are true; 0 without one."""
    scores = []
    for completion in completions:
        text = completion_text(completion)
        true, read = (0, 0) if text is None else comparisons(text)
        scores.append(true / read if read else 0.0)
    return scores
