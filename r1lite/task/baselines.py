"""Target-blind baselines and the target probe: does a model read the puzzle, or answer one shape?

A countdown model can score without reading the target: one fixed answer shape, such as "the first
number minus the second plus the third", solves a share of any puzzle set. So every accuracy here
comes beside three numbers:

- **the best target-blind template** (``best_template``): a template is one fixed answer shape over
  the puzzle's numbers, named by letters in the order the prompt gives them (``a - b + c``,
  ``b - a``, ``(a + b) * c``): an order, an operator between each two, any parentheses. The best
  one is chosen with hindsight on the set itself, per count of numbers: the most any single shape
  scores there. A model that does not beat it has not shown that it reads the target;
- **answer diversity** (``answer_shape``, ``diversity``): the shape of each answer in the same
  letters; how many distinct shapes a model uses, and the share of the most common one;
- **target twins** (``twin_puzzles``, ``probe``): each puzzle again with the same numbers and
  another reachable target (a held-out one where there is one). A model that reads the target
  changes its answer on the twin; a template model does not.

Exact arithmetic (``fractions.Fraction``) throughout; nothing is ``eval``-ed. Templates are
enumerated for puzzles of up to ``MAX_TEMPLATE_NUMBERS`` numbers (4 numbers: 7,680 shapes).
"""

from __future__ import annotations

import functools
import itertools
import math
import random
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from r1lite.task.countdown import Expr, is_heldout, render
from rewards.countdown import completion_text, extract_answer

LETTERS = "abcdef"
MAX_TEMPLATE_NUMBERS = 4
_OPS = "+-*/"
_TOKEN = re.compile(r"\s*(\d+|[-+*/()])")


# --------------------------------------------------------------------------- templates


def _trees(leaves: tuple[int, ...]) -> Iterator[Expr]:
    """Every binary expression tree over ``leaves`` in this order, with every operator at each node."""
    if len(leaves) == 1:
        yield leaves[0]
        return
    for k in range(len(leaves) - 1, 0, -1):  # left-nested first: "a - b + c" names its class, not "a - (b - c)"
        for left in _trees(leaves[:k]):
            for right in _trees(leaves[k:]):
                for op in _OPS:
                    yield (op, left, right)


def _letters(tree: Expr) -> Expr:
    if not isinstance(tree, tuple):
        return LETTERS[tree]
    op, left, right = tree
    return (op, _letters(left), _letters(right))


@functools.cache
def templates(n: int) -> tuple[tuple[str, Expr], ...]:
    """Every answer shape over n numbers as (name, tree whose leaves are positions 0..n-1), one per name."""
    if not 1 <= n <= MAX_TEMPLATE_NUMBERS:
        raise ValueError(f"templates are enumerated for 1 to {MAX_TEMPLATE_NUMBERS} numbers, not {n}")
    shapes: dict[str, Expr] = {}
    for order in itertools.permutations(range(n)):
        for tree in _trees(order):
            shapes.setdefault(render(_letters(tree)), tree)
    return tuple(shapes.items())


def value(tree: Expr, nums: Sequence[int]) -> Fraction | None:
    """The exact value of a template tree on ``nums``; None on a division by zero."""
    if not isinstance(tree, tuple):
        return Fraction(nums[tree])
    op, left, right = tree
    x, y = value(left, nums), value(right, nums)
    if x is None or y is None:
        return None
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    return None if y == 0 else x / y


@dataclass
class TemplateBaseline:
    """The best target-blind template of a puzzle set: per count of numbers, the shape that solves most."""

    solved: int  # puzzles the best template of their count solves
    puzzles: int
    names: dict = field(default_factory=dict)  # count of numbers (or order pattern) -> the best shape's name
    hits: list[bool] = field(default_factory=list)  # per puzzle, in order: the template solves it

    @property
    def accuracy(self) -> float:
        return self.solved / self.puzzles if self.puzzles else 0.0

    @property
    def name(self) -> str:
        """The best shape, or one per count of numbers ("a + b (2 numbers), a - b + c (3 numbers)")."""
        if not self.names:
            return "none solves any"
        if len(self.names) == 1:
            return next(iter(self.names.values()))
        return ", ".join(f"{name} ({n} numbers)" for n, name in sorted(self.names.items()))


def best_template(puzzles: Sequence[dict]) -> TemplateBaseline:
    """The best target-blind template of ``puzzles`` (each with ``nums`` and ``target``), chosen with hindsight.

    Ties go to the first shape enumerated (the given order before others). Puzzles of more than
    ``MAX_TEMPLATE_NUMBERS`` numbers count as unsolved by any template."""
    hits = [False] * len(puzzles)
    names: dict[int, str] = {}
    by_count: dict[int, list[int]] = {}
    for i, puzzle in enumerate(puzzles):
        by_count.setdefault(len(puzzle["nums"]), []).append(i)
    for n, rows in sorted(by_count.items()):
        if n > MAX_TEMPLATE_NUMBERS:
            continue
        best_name, best_rows = None, []
        for name, tree in templates(n):
            solved = [i for i in rows if value(tree, puzzles[i]["nums"]) == puzzles[i]["target"]]
            if len(solved) > len(best_rows):
                best_name, best_rows = name, solved
        if best_name is not None:
            names[n] = best_name
            for i in best_rows:
                hits[i] = True
    return TemplateBaseline(solved=sum(hits), puzzles=len(puzzles), names=names, hits=hits)


def order_pattern(nums: Sequence[int]) -> str:
    """The order of a puzzle's numbers in its letters, ties included: [22, 12] -> ``b < a``, [5, 5, 6] ->
    ``a = b < c``."""
    ranks = sorted(set(nums))
    letters = sorted(range(len(nums)), key=lambda i: (ranks.index(nums[i]), i))
    text = LETTERS[letters[0]]
    for prev, i in itertools.pairwise(letters):
        text += (" = " if nums[i] == nums[prev] else " < ") + LETTERS[i]
    return text


def best_order_rule(puzzles: Sequence[dict]) -> TemplateBaseline:
    """The best target-blind rule that looks at the numbers' order: one template per order pattern of the
    numbers (``order_pattern``), each chosen with hindsight, such as "a - b where b < a, a + b where a < b".
    It reads the numbers, never the target, so a model at or below it has not shown that it reads the target
    either; ``names`` maps each pattern to its template."""
    groups: dict[tuple[int, str], list[int]] = {}
    for i, puzzle in enumerate(puzzles):
        groups.setdefault((len(puzzle["nums"]), order_pattern(puzzle["nums"])), []).append(i)
    hits = [False] * len(puzzles)
    names: dict[str, str] = {}
    for (_, pattern), rows in sorted(groups.items()):
        best = best_template([puzzles[i] for i in rows])
        if best.solved:
            names[pattern] = best.name
            for i, hit in zip(rows, best.hits, strict=True):
                hits[i] = hits[i] or hit
    return TemplateBaseline(solved=sum(hits), puzzles=len(puzzles), names=names, hits=hits)


def rule_name(baseline: TemplateBaseline) -> str:
    """``best_order_rule``'s rule as text: "a - b where b < a; a + b where a < b"."""
    if not baseline.names:
        return "none solves any"
    return "; ".join(f"{name} where {pattern}" for pattern, name in baseline.names.items())


# --------------------------------------------------------------------------- answer shapes


def answer_shape(completion: object, nums: Sequence[int]) -> str | None:
    """The shape of a completion's answer in the puzzle's letters (``19 - 4 + 1`` on [19, 4, 1] -> ``a - b + c``).

    Each number takes the letter of the first unused puzzle number of that value; a number not in the
    puzzle becomes ``n``. None when there is no answer block or it holds anything but numbers,
    operators and parentheses."""
    text = completion_text(completion)
    answer = extract_answer(text) if text is not None else None
    if answer is None or not answer.strip():
        return None
    free = list(enumerate(nums))
    parts, pos = [], 0
    answer = answer.strip()
    while pos < len(answer):
        match = _TOKEN.match(answer, pos)
        if match is None:
            return None
        token, pos = match.group(1), match.end()
        if token.isdigit():
            index = next((k for k, (_, v) in enumerate(free) if v == int(token)), None)
            parts.append("n" if index is None else LETTERS[free.pop(index)[0]])
        else:
            parts.append(token)
    return re.sub(r"\( | \)", lambda m: m.group(0).strip(), " ".join(parts))


@dataclass
class Diversity:
    """How many answer shapes a set of completions uses, and how much the most common one takes."""

    shapes: int  # distinct shapes among the answers
    top: str | None  # the most common shape
    top_share: float  # its share of the answers (0 when none answered)
    answered: int  # completions with a readable answer


def diversity(shapes: Sequence[str | None]) -> Diversity:
    counts = Counter(s for s in shapes if s is not None)
    answered = sum(counts.values())
    if not answered:
        return Diversity(0, None, 0.0, 0)
    top, count = counts.most_common(1)[0]
    return Diversity(len(counts), top, count / answered, answered)


# --------------------------------------------------------------------------- target twins


def reachable_targets(nums: Sequence[int], operators: str = _OPS) -> dict[int, str]:
    """Every positive integer an answer can reach with each of ``nums`` once, using only ``operators`` -> one
    answer that reaches it."""
    out: dict[int, str] = {}
    for _, tree in templates(len(nums)):
        if not _uses_only(tree, operators):
            continue
        v = value(tree, nums)
        if v is not None and v.denominator == 1 and v > 0 and int(v) not in out:
            out[int(v)] = render(_numbers(tree, nums))
    return out


def _uses_only(tree: Expr, operators: str) -> bool:
    if not isinstance(tree, tuple):
        return True
    op, left, right = tree
    return op in operators and _uses_only(left, operators) and _uses_only(right, operators)


def _numbers(tree: Expr, nums: Sequence[int]) -> Expr:
    if not isinstance(tree, tuple):
        return nums[tree]
    op, left, right = tree
    return (op, _numbers(left, nums), _numbers(right, nums))


def twin_puzzles(
    puzzles: Sequence[dict], target_range: tuple[int, int], seed: int = 0, operators: str = _OPS
) -> list[dict | None]:
    """Per puzzle, a twin: the same numbers (same order) and another target in ``target_range`` reachable with
    ``operators``, a held-out puzzle where one exists; None where no other target is reachable. Same seed, same
    twins."""
    rng = random.Random(seed)
    low, high = target_range
    twins: list[dict | None] = []
    for puzzle in puzzles:
        nums, target = list(puzzle["nums"]), int(puzzle["target"])
        if len(nums) > MAX_TEMPLATE_NUMBERS:
            twins.append(None)
            continue
        reach = reachable_targets(nums, operators)
        others = sorted(t for t in reach if low <= t <= high and t != target)
        held = [t for t in others if is_heldout(nums, t)]
        pool = held or others
        if not pool:
            twins.append(None)
            continue
        chosen = rng.choice(pool)
        rest = {
            k: v for k, v in puzzle.items() if k not in ("solution", "prompt")
        }  # the prompt is rebuilt by the caller
        twins.append({**rest, "nums": nums, "target": chosen, "twin_of": target, "solution": reach[chosen]})
    return twins


@dataclass
class Probe:
    """The target probe: does the answer change when only the target does?"""

    pairs: int  # puzzles with a twin
    changed: int  # pairs whose answers differ (a missing answer is an answer: "none")
    twin_correct: int  # twins answered correctly

    @property
    def changed_share(self) -> float:
        return self.changed / self.pairs if self.pairs else 0.0

    @property
    def twin_accuracy(self) -> float:
        return self.twin_correct / self.pairs if self.pairs else 0.0


def probe(original: Sequence[object], twins: Sequence[object], twin_correct: Sequence[float]) -> Probe:
    """Compare each puzzle's completion with its twin's (aligned lists; answers compared without spaces)."""

    def answer(completion):
        text = completion_text(completion)
        found = extract_answer(text) if text is not None else None
        return None if found is None else re.sub(r"\s+", "", found)

    changed = sum(answer(a) != answer(b) for a, b in zip(original, twins, strict=True))
    return Probe(pairs=len(twins), changed=changed, twin_correct=int(sum(c == 1.0 for c in twin_correct)))


# --------------------------------------------------------------------------- set size


def needed_puzzles(baseline: float, margin: float = 0.15, limit: int = 100_000) -> int:
    """The fewest puzzles at which an accuracy ``margin`` above ``baseline`` has a 95% interval apart from the
    baseline's (Wilson intervals, both measured on that many puzzles)."""
    from r1lite.task.evaluation import wilson_interval  # noqa: PLC0415 - evaluation imports this module

    better = baseline + margin
    if better > 1.0:
        return limit  # no set can show it
    n = 8
    while n < limit:
        if wilson_interval(round(better * n), n)[0] > wilson_interval(round(baseline * n), n)[1]:
            return n
        n = math.ceil(n * 1.1)
    return limit
