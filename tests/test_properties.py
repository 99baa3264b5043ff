"""Property tests (hypothesis) of the verifier and the puzzle generator, each against an independent oracle.

- Random expression trees over random numbers, rendered with random spacing and redundant
  parentheses, score exactly as an exact evaluation of the tree says (Fractions, no parser).
- Random text and random bytes never make a reward raise, and each scores in under 10 ms.
- Every puzzle the generator produces, at every difficulty, is solvable by a brute-force search
  written here, independently of ``countdown.solve``.

Runs are derandomized (the same examples every run), so CI cannot flake on a rare draw.
"""

import time
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from r1lite.errors import ConfigError
from r1lite.task import countdown
from rewards import equation_reward
from rewards.registry import BUILTIN_REWARDS

settings.register_profile(
    "r1lite", derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("r1lite")

PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
SPACES = st.sampled_from(["", " ", "  ", "\t", "\n"])

# An expression tree: an int leaf, or (op, left, right).
trees = st.recursive(
    st.integers(min_value=0, max_value=999),
    lambda children: st.tuples(st.sampled_from("+-*/"), children, children),
    max_leaves=6,
)


def exact(tree) -> Fraction | None:
    """The tree's exact value; None on division by zero."""
    if isinstance(tree, int):
        return Fraction(tree)
    op, left, right = tree
    a, b = exact(left), exact(right)
    if a is None or b is None:
        return None
    if op == "/":
        return None if b == 0 else a / b
    return {"+": a + b, "-": a - b, "*": a * b}[op]


def leaves(tree) -> list[int]:
    return [tree] if isinstance(tree, int) else leaves(tree[1]) + leaves(tree[2])


def render(tree, draw) -> str:
    """Infix text with the parentheses precedence needs, random extra ones, and random spacing."""
    if isinstance(tree, int):
        text = str(tree)
    else:
        op, left, right = tree
        l_text, r_text = render(left, draw), render(right, draw)
        if not isinstance(left, int) and PRECEDENCE[left[0]] < PRECEDENCE[op]:
            l_text = f"({l_text})"
        if not isinstance(right, int) and (
            PRECEDENCE[right[0]] < PRECEDENCE[op] or (PRECEDENCE[right[0]] == PRECEDENCE[op] and op in "-/")
        ):
            r_text = f"({r_text})"
        text = f"{l_text}{draw(SPACES)}{op}{draw(SPACES)}{r_text}"
    if draw(st.integers(0, 4)) == 0:  # a redundant pair now and then
        text = f"({draw(SPACES)}{text}{draw(SPACES)})"
    return text


@given(tree=trees, data=st.data())
@settings(max_examples=300)
def test_rendered_trees_score_as_their_exact_value(tree, data):
    text = render(tree, data.draw)
    nums = data.draw(st.permutations(leaves(tree)))  # the puzzle lists its numbers in any order
    value = exact(tree)
    completion = f"<think> ... </think> <answer>{data.draw(SPACES)}{text}{data.draw(SPACES)}</answer>"
    if value is not None and value.denominator == 1:
        assert equation_reward(None, [completion], nums=[nums], target=[int(value)]) == [1.0], text
        assert equation_reward(None, [completion], nums=[nums], target=[int(value) + 1]) == [0.0], text
        if len(nums) > 1:  # a number dropped, or one too many: never correct
            assert equation_reward(None, [completion], nums=[nums[1:]], target=[int(value)]) == [0.0], text
            assert equation_reward(None, [completion], nums=[nums + [nums[0]]], target=[int(value)]) == [0.0], text
    else:  # division by zero or a fraction: no integer target is reached
        target = 0 if value is None else int(value)
        assert equation_reward(None, [completion], nums=[nums], target=[target]) == [0.0], text


def _timed(reward, text, nums, target) -> tuple[list, float]:
    best = float("inf")
    for _ in range(3):  # best of three: the reward's cost, not the scheduler's
        start = time.perf_counter()
        out = reward(None, [text], nums=[nums], target=[target])
        best = min(best, time.perf_counter() - start)
    return out, best


@pytest.mark.parametrize("name", sorted(BUILTIN_REWARDS))
@given(
    text=st.one_of(
        st.text(max_size=4000),
        st.binary(max_size=4000).map(lambda b: b.decode("utf-8", errors="replace")),
        st.binary(max_size=4000).map(lambda b: b.decode("latin-1")),
        # text around the tags, so the parser sees odd answers rather than none
        st.tuples(st.text(max_size=200), st.text(max_size=600)).map(
            lambda t: f"{t[0]}</think><answer>{t[1]}</answer>"
        ),
        st.text(alphabet="0123456789+-*/() \n", max_size=3000).map(lambda t: f"</think> <answer>{t}</answer>"),
    ),
    nums=st.lists(st.integers(1, 100), min_size=2, max_size=6),
    target=st.integers(-10, 1000),
)
@settings(max_examples=60)
def test_any_text_scores_without_raising_in_under_10ms(name, text, nums, target):
    out, seconds = _timed(BUILTIN_REWARDS[name], text, nums, target)
    assert len(out) == 1 and (out[0] is None or 0.0 <= out[0] <= 1.0 or name == "tinyzero_reward")
    assert seconds < 0.010, f"{name} took {seconds * 1000:.1f} ms on {len(text)} characters"


def reachable(values: tuple[Fraction, ...], target: Fraction, seen: set) -> bool:
    """True if some + - * / expression using every value exactly once equals target (depth-first search)."""
    if len(values) == 1:
        return values[0] == target
    key = tuple(sorted(values))
    if key in seen:
        return False
    seen.add(key)
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            a, b = values[i], values[j]
            rest = values[:i] + values[i + 1 : j] + values[j + 1 :]
            results = {a + b, a - b, b - a, a * b}
            if b:
                results.add(a / b)
            if a:
                results.add(b / a)
            if any(reachable(rest + (r,), target, seen) for r in results):
                return True
    return False


difficulties = st.tuples(
    st.integers(2, 5), st.integers(0, 2), st.integers(5, 60), st.integers(1, 30), st.integers(0, 120)
)


@given(difficulty=difficulties, seed=st.integers(0, 10_000), split=st.sampled_from(["train", "test"]))
@settings(max_examples=40)
def test_generated_puzzles_are_solvable_by_brute_force(difficulty, seed, split):
    low_count, extra, max_number, low, span = difficulty
    high_count = min(low_count + extra, 5)
    try:
        puzzles = countdown.generate(
            8,
            min_numbers=low_count,
            max_numbers=high_count,
            max_number=max_number,
            target_range=(low, low + span),
            seed=seed,
            split=split,
            progress=False,
        )
    except ConfigError:
        assume(False)  # settings that allow too few puzzles: refused, with a message (tested elsewhere)
    for row in puzzles:
        assert low_count <= len(row["nums"]) <= high_count and all(1 <= n <= max_number for n in row["nums"])
        assert low <= row["target"] <= low + span
        assert reachable(tuple(map(Fraction, row["nums"])), Fraction(row["target"]), set()), row


def test_six_number_puzzles_are_solvable_by_brute_force():
    puzzles = countdown.generate(
        3, min_numbers=6, max_numbers=6, max_number=25, target_range=(1, 200), seed=1, progress=False
    )
    for row in puzzles:
        assert reachable(tuple(map(Fraction, row["nums"])), Fraction(row["target"]), set()), row
