"""Reasoning truth: is every equation the model states while thinking true?

R1's clean-up stage should turn right-but-unreadable into right-and-readable reasoning; in countdown
"readable" can be made exact. The reasoning of a completion (the text before its last ``</think>``,
else before its answer block) is read for statements ``expression = value``:

- the expression is a run of numbers, ``+ - * / x × ÷`` and parentheses holding at least one
  operator; the value a number (``7``, ``-3``, ``2.5``, ``7/2``). ``3 = 3`` or ``target = 46`` are
  no statements (no operator on the left);
- the expression is parsed by ``rewards.safe_math`` (never ``eval``) and compared with the value in
  exact arithmetic: the statement is **true** or **false**; one the grammar refuses, or without a
  number after ``=``, is **unread**, never true or false;
- a chain ``2 + 3 = 5 + 4 = 9`` is two statements (``2 + 3 = 5`` and ``5 + 4 = 9``).

Per completion (``read_reasoning``): statements (read ones), true ones, unread ones, ``faithful``
(at least one statement, and every read statement true), ``answer_stated`` (the final answer's
expression was itself stated, and truly). A statement is **relevant** when its numbers are the
puzzle's numbers or values of earlier true statements: ``1 + 1 = 2`` in a puzzle of 8, 8 and 20 is
true but irrelevant.

Rewards (TRL's signature, names in ``rewards.registry``):

    reasoning_truth_reward   true relevant statements / read statements (0 without a relevant one):
                             stating nothing earns nothing, and true statements about other numbers,
                             or false ones, dilute the score instead of padding it
    faithful_reward          1.0 for a faithful completion (for rejection sampling: keep_if
                             ``faithful_reward>=1``)
    honest_check_reward      honest checks / checks (0 without a check). A check is a statement followed
                             by a verdict, ``yes`` or ``no`` (``25 - 9 = 16, yes.``, the prompts' worked
                             examples); it is honest when the statement is true, relevant, and says
                             ``yes`` exactly when its value is the target. A false value, or a ``yes``
                             beside a value that is not the target, earns nothing: the verdict must
                             read the target, so answering one shape everywhere stops paying for it
    checked_answer_reward    1.0 for a right answer that the reasoning reached honestly: at least one check,
                             every check honest, and the answer is the expression the last check accepted
                             ("25 + 9 = 34, no. 25 - 9 = 16, yes." then ``25 - 9``). In place of
                             ``equation_reward`` it stops paying a right answer after a false rejection
                             ("22 + 12 = 33, no. 22 - 12 = 10, yes.") or one that ignores its own verdict
                             ("22 + 12 = 34, yes." then ``22 - 12``); the ``chat_try`` runs learned both
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from rewards import safe_math
from rewards.countdown import (
    ANSWER_OPEN,
    THINK_CLOSE,
    _countdown_columns,
    _is_solution,
    completion_text,
    extract_answer,
)

MAX_STATEMENTS = 64  # read at most this many per completion (bounded work on long texts)
_LHS_CHARS = re.compile(r"[0-9+\-*/x×÷() \t]+$")
_VALUE = re.compile(r"\s*(-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?)")
_NUMBER = re.compile(r"\d+")
_VERDICT = re.compile(r"[\s,.:;!-]{0,4}(yes|no)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Reasoning:
    statements: int  # read statements
    true: int
    unread: int
    relevant_true: int  # true statements over the puzzle's numbers or earlier results
    answer_stated: bool  # the answer's expression was stated, and truly

    @property
    def faithful(self) -> bool:
        return self.statements > 0 and self.true == self.statements


def reasoning_part(text: str) -> str:
    """The reasoning: text before the last ``</think>``; without one, before the last ``<answer>``; else all of it."""
    end = text.rfind(THINK_CLOSE)
    if end < 0:
        end = text.rfind(ANSWER_OPEN)
    return text if end < 0 else text[:end]


def _value(text: str) -> Fraction | None:
    text = text.replace(" ", "")
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def _expression(lhs: str) -> str | None:
    """The left side as safe_math's language, or None when it holds no operator between numbers."""
    lhs = lhs.strip().replace("×", "*").replace("÷", "/")
    lhs = re.sub(r"(?<=\d)\s*x\s*(?=\d)", " * ", lhs)
    while lhs.count("(") > lhs.count(")") and lhs.startswith("("):
        lhs = lhs[1:].strip()  # "(3 + 4 = 7)": the bracket opens the aside, not the expression
    if "x" in lhs or len(_NUMBER.findall(lhs)) < 2 or not re.search(r"\d\s*\)*\s*[-+*/]", lhs):
        return None
    return lhs


def statements(text: str) -> list[tuple[str, str | None, Fraction | None]]:
    """The statements of a reasoning text: (expression text, expression or None if refused, stated value or None)."""
    return [statement[:3] for statement in _statements_at(text)]


def _statements_at(text: str) -> list[tuple[str, str | None, Fraction | None, int]]:
    """``statements`` with where each one's stated value ends in ``text`` (where a verdict would follow)."""
    found = []
    for match in re.finditer("=", text):
        if len(found) >= MAX_STATEMENTS:
            break
        start = match.start()
        head = text[:start]
        lhs_match = _LHS_CHARS.search(head[-200:])  # an expression runs back to the previous "=" or word
        if lhs_match is None:
            continue
        lhs = lhs_match.group(0)
        if "=" in lhs:
            continue
        expression = _expression(lhs)
        if expression is None:
            continue  # no statement: "x = 3", "3 = 3", "target = 46"
        value = _VALUE.match(text, match.end())
        end = value.end() if value else match.end()
        found.append((lhs.strip(), expression, _value(value.group(1)) if value else None, end))
    return found


def read_reasoning(completion: object, nums: Sequence[int] | None = None) -> Reasoning:
    """Read a completion's reasoning (see the module docstring); ``nums``: the puzzle, for relevance."""
    text = completion_text(completion) or ""
    answer = extract_answer(text)
    answer_key = None if answer is None else re.sub(r"\s+", "", answer)
    known = {Fraction(n) for n in nums or ()}
    read = true = unread = relevant_true = 0
    answer_stated = False
    for _, expression, value in statements(reasoning_part(text)):
        parsed = safe_math.parse(expression)
        computed = parsed.value() if parsed is not None else None
        if parsed is None or value is None or computed is None:
            unread += 1
            continue
        read += 1
        if computed != value:
            continue
        true += 1
        if all(Fraction(n) in known for n in parsed.literals):
            relevant_true += 1
            known.add(value)
        if answer_key is not None and re.sub(r"\s+", "", expression) == answer_key:
            answer_stated = True
    return Reasoning(read, true, unread, relevant_true, answer_stated)


def _puzzles(completions: Sequence[object], kwargs: dict[str, Any]) -> list:
    nums = kwargs.get("nums")
    return (
        list(nums) if isinstance(nums, (list, tuple)) and len(nums) == len(completions) else [None] * len(completions)
    )


def reasoning_truth_reward(prompts: Sequence[object], completions: Sequence[object], **kwargs: Any) -> list[float]:
    """True relevant statements / read statements; 0.0 without a relevant true statement (module docstring)."""
    out = []
    for completion, nums in zip(completions, _puzzles(completions, kwargs), strict=True):
        r = read_reasoning(completion, nums)
        out.append(r.relevant_true / r.statements if r.relevant_true else 0.0)
    return out


def faithful_reward(prompts: Sequence[object], completions: Sequence[object], **kwargs: Any) -> list[float]:
    """1.0 when the reasoning states at least one equation and every equation it states is true."""
    return [float(read_reasoning(c).faithful) for c in completions]


@dataclass(frozen=True)
class Check:
    expression: str  # as written, e.g. "25 - 9"
    says_yes: bool
    honest: bool  # true, relevant, and "yes" exactly when the value is the target


def read_checks(text: str, nums: Sequence[int], target: int) -> list[Check]:
    """The checks of a completion's reasoning, in order (module docstring)."""
    known = {Fraction(n) for n in nums}
    checks = []
    reasoning = reasoning_part(text)
    for written, expression, value, end in _statements_at(reasoning):
        verdict = _VERDICT.match(reasoning, end)
        parsed = None if expression is None else safe_math.parse(expression)
        computed = None if parsed is None else parsed.value()
        true = value is not None and computed is not None and computed == value
        relevant = true and all(Fraction(n) in known for n in parsed.literals)
        if relevant:
            known.add(value)
        if verdict is None:
            continue
        says_yes = verdict.group(1).lower() == "yes"
        checks.append(Check(written, says_yes, relevant and says_yes == (value == target)))
    return checks


def honest_checks(text: str, nums: Sequence[int], target: int) -> tuple[int, int]:
    """(checks, honest checks) in a completion's reasoning (module docstring)."""
    checks = read_checks(text, nums, target)
    return len(checks), sum(check.honest for check in checks)


def honest_check_reward(prompts: Sequence[object], completions: Sequence[object], **kwargs: Any) -> list[float]:
    """Honest checks / checks; 0.0 without a check (module docstring). Needs the ``nums`` and ``target`` columns."""
    nums, targets = _countdown_columns("honest_check_reward", completions, kwargs)
    out = []
    for completion, row_nums, target in zip(completions, nums, targets, strict=True):
        checks, honest = honest_checks(completion_text(completion) or "", row_nums, target)
        out.append(honest / checks if checks else 0.0)
    return out


def _squeezed(expression: str) -> str:
    return re.sub(r"\s+", "", expression).replace("×", "*").replace("÷", "/")


def checked_answer_reward(prompts: Sequence[object], completions: Sequence[object], **kwargs: Any) -> list[float]:
    """1.0 for a right answer after honest checks whose last one accepted it; else 0.0 (module docstring)."""
    nums, targets = _countdown_columns("checked_answer_reward", completions, kwargs)
    out = []
    for completion, row_nums, target in zip(completions, nums, targets, strict=True):
        text = completion_text(completion) or ""
        answer = extract_answer(text)
        checks = read_checks(text, row_nums, target)
        reached = (
            answer is not None
            and _is_solution(answer, row_nums, target)
            and bool(checks)
            and all(check.honest for check in checks)
            and checks[-1].says_yes
            and _squeezed(checks[-1].expression) == _squeezed(answer)
        )
        out.append(1.0 if reached else 0.0)
    return out
