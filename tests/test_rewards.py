"""Tables for the countdown rewards and the safe evaluator (rules in rewards/countdown.py)."""

from __future__ import annotations

import pickle
import random
import time
from fractions import Fraction

import pytest

from rewards import equation_reward, format_reward, shaped_format_reward, tinyzero_reward
from rewards.countdown import extract_answer
from rewards.safe_math import evaluate, parse_numbers

REASONING = "Let me try 44 + 19 = 63, then 63 + 35 = 98. That works."
LONG_REASONING = ("I try 12 * 7 = 84 and 84 - 5 = 79, not it. " * 2500)[:100_000]  # 100 kB


def answered(answer: str, reasoning: str = REASONING) -> str:
    return f"{reasoning}</think>\n<answer>{answer}</answer>"


def timed(reward, completion, nums=None, target=None) -> float:
    """Score one completion; assert the best of three calls takes under 50 ms."""
    kwargs = {} if nums is None else {"nums": [nums], "target": [target]}
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        (score,) = reward(["prompt"], [completion], **kwargs)
        best = min(best, time.perf_counter() - start)
    assert best < 0.05, f"{reward.__name__} took {best * 1e3:.1f} ms"
    return score


# ---------------------------------------------------------------- safe_math
@pytest.mark.parametrize(
    "expr, value, literals",
    [
        ("1 + 2 * 3", Fraction(7), [1, 2, 3]),  # * binds tighter than +
        ("(1 + 2) * 3", Fraction(9), [1, 2, 3]),  # parentheses
        ("10 - 3 - 2", Fraction(5), [10, 3, 2]),  # - is left-associative
        ("8 / 2 / 2", Fraction(2), [8, 2, 2]),  # / is left-associative
        ("7 / 2", Fraction(7, 2), [7, 2]),  # exact, not 3.5 and not 3
        ("1 / 3 * 3", Fraction(1), [1, 3, 3]),  # exact rationals, no rounding
        ("\n( 1 +\t2 )\r\n", Fraction(3), [1, 2]),  # ASCII whitespace anywhere between tokens
        ("0", Fraction(0), [0]),  # zero itself is a literal
        ("(" * 64 + "3" + ")" * 64, Fraction(3), [3]),  # at the depth cap
        ("1 / (2 - 2)", None, [1, 2, 2]),  # parses, but divides by zero
        ("-3 + 5", None, None),  # unary minus
        ("+3", None, None),  # unary plus
        ("3 - -5", None, None),  # sign after an operator
        ("--3", None, None),  # double sign
        ("2 ** 3", None, None),  # power
        ("2 * * 3", None, None),  # power, spaced
        ("7 // 2", None, None),  # floor division
        ("7 % 4", None, None),  # modulo
        ("2.5 * 2", None, None),  # decimal
        ("05 + 1", None, None),  # leading zero (a SyntaxError in Python too)
        ("2(3)", None, None),  # implicit multiplication
        ("(1)(2)", None, None),  # implicit multiplication
        ("1 2", None, None),  # two literals without an operator
        ("()", None, None),  # empty parentheses
        ("(1 + 2", None, None),  # unclosed parenthesis
        ("1 + 2)", None, None),  # unopened parenthesis
        ("1 +", None, None),  # trailing operator
        ("", None, None),  # empty
        ("   ", None, None),  # blank
        ("12345678901", None, None),  # 11 digits: over the literal cap
        ("(" * 65 + "3" + ")" * 65, None, None),  # over the depth cap
        ("1 + " * 200 + "1", None, None),  # 801 characters: over the length cap
        ("1\u00a0+ 2", None, None),  # non-ASCII whitespace
        ("\u0663 + \u0665", None, None),  # Arabic-Indic digits (int() would accept them)
        ("\uff13 + \uff15", None, None),  # fullwidth digits
        ("1 = 1", None, None),  # an equation, not an expression
    ],
)
def test_safe_math(expr: str, value: Fraction | None, literals: list[int] | None) -> None:
    assert evaluate(expr) == value
    assert parse_numbers(expr) == literals


def test_safe_math_fuzz_never_raises() -> None:
    rng = random.Random(0)
    alphabet = "0123456789+-*/() .x\n"
    for _ in range(3000):
        expr = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        result = evaluate(expr)
        assert result is None or isinstance(result, Fraction)


# ---------------------------------------------------------------- extract_answer
@pytest.mark.parametrize(
    "text, answer",
    [
        ("x</think><answer>1+2</answer>", "1+2"),  # the plain case
        ("<answer>1</answer> then <answer>2</answer>", "2"),  # last block counts
        ("<answer>1</answer><answer>2", "1"),  # an unclosed tag does not count
        ("<answer>a<answer>b</answer>", "b"),  # nearest opening tag before the last closing one
        ("<answer></answer>", ""),  # empty block
        ("</answer><answer>", None),  # tags in the wrong order
        ("<answer>1+2", None),  # unclosed only
        ("no tags", None),  # nothing
    ],
)
def test_extract_answer(text: str, answer: str | None) -> None:
    assert extract_answer(text) == answer


# ---------------------------------------------------------------- equation_reward
NUMS, TARGET = [44, 19, 35], 98

EQUATION_CASES = [
    # completion, nums, target, score  # why
    (answered("44 + 19 + 35"), NUMS, TARGET, 1.0),  # correct
    (answered("(35 + 44) + 19"), NUMS, TARGET, 1.0),  # correct, any order and grouping
    (answered("\n  44 + 19\t+ 35\n"), NUMS, TARGET, 1.0),  # newlines and tabs are allowed
    (answered("2 * (3 + 4)"), [2, 3, 4], 14, 1.0),  # precedence and parentheses
    (answered("(4 + 2) / 3 * 7"), [4, 2, 3, 7], 14, 1.0),  # division, exact
    (answered("7 / 3 * 3"), [7, 3, 3], 7, 1.0),  # exact rationals: no float rounding
    (answered("(" * 64 + "44 + 19 + 35" + ")" * 64), NUMS, TARGET, 1.0),  # nesting at the cap
    (answered("44 + 19 - 35"), NUMS, TARGET, 0.0),  # wrong value
    (answered("1000001 / 1000000"), [1000001, 1000000], 1, 0.0),  # within TinyZero's 1e-5 tolerance, still wrong
    (answered("44 + 54"), NUMS, TARGET, 0.0),  # number not given
    (answered("44 + 19"), [44, 19, 35], 63, 0.0),  # a given number is missing
    (answered("44 + 19 + 35 + 0"), NUMS, TARGET, 0.0),  # extra number
    (answered("44 + 44 + 10"), [44, 10, 5], 98, 0.0),  # a number reused
    (answered("44 + 19 + 35 = 98"), NUMS, TARGET, 0.0),  # "=" is not part of the grammar
    (answered("2 ** 3"), [2, 3], 8, 0.0),  # power
    (answered("7 // 2"), [7, 2], 3, 0.0),  # floor division
    (answered("7 % 4"), [7, 4], 3, 0.0),  # modulo
    (answered("-3 + 5"), [3, 5], 2, 0.0),  # unary minus
    (answered("+3 + 5"), [3, 5], 8, 0.0),  # unary plus
    (answered("3 - -5"), [3, 5], 8, 0.0),  # sign after an operator
    (answered("--3 + 5"), [3, 5], 8, 0.0),  # double sign
    (answered("3 + (-5)"), [3, 5], -2, 0.0),  # sign inside parentheses
    (answered("2.5 * 2"), [2, 5, 2], 5, 0.0),  # decimal whose digits are the given numbers
    (answered("x"), [1], 1, 0.0),  # a name
    (answered("abs(3)"), [3], 3, 0.0),  # a call
    (answered("(3).__class__"), [3], 3, 0.0),  # attribute access
    (answered("__import__('os').system('true')"), [1], 0, 0.0),  # the classic
    (answered("\u0663 + \u0665"), [3, 5], 8, 0.0),  # Arabic-Indic digits
    (answered("\uff13 + \uff15"), [3, 5], 8, 0.0),  # fullwidth digits
    (answered("1" * 10_000), [1], 1, 0.0),  # a 10,000-digit literal
    (answered("1" * 11), [11111111111], 11111111111, 0.0),  # 11 digits: over the literal cap
    (answered("1+" * 50_000 + "1"), [1], 1, 0.0),  # a 100 kB answer
    (answered("(" * 5_000 + "3" + ")" * 5_000), [3], 3, 0.0),  # nested 5,000 deep
    (answered("(" * 65 + "3" + ")" * 65), [3], 3, 0.0),  # one over the depth cap
    (answered("44 / (19 - 19) + 35"), [44, 19, 19, 35], 98, 0.0),  # division by zero
    (answered("44 + 19 + 35", LONG_REASONING), NUMS, TARGET, 1.0),  # 100 kB of reasoning, then an answer
    (LONG_REASONING, NUMS, TARGET, 0.0),  # 100 kB, no answer
    ("<answer>" + LONG_REASONING, NUMS, TARGET, 0.0),  # 100 kB after an unclosed tag
    (answered("1 + 2") + " wait <answer>44 + 19 + 35</answer>", NUMS, TARGET, 1.0),  # last block counts
    (answered("44 + 19 + 35") + " wait <answer>1 + 2</answer>", NUMS, TARGET, 0.0),  # last block counts
    (answered("44 + 19 + 35") + "<answer>1 + 2", NUMS, TARGET, 1.0),  # a trailing unclosed tag is ignored
    (f"{REASONING}</think><answer>44 + 19 + 35", NUMS, TARGET, 0.0),  # unclosed tag only
    (answered(""), NUMS, TARGET, 0.0),  # empty answer
    (answered("   \n"), NUMS, TARGET, 0.0),  # blank answer
    ("44 + 19 + 35", NUMS, TARGET, 0.0),  # right expression, no answer block
    (None, NUMS, TARGET, 0.0),  # None completion
    (42, NUMS, TARGET, 0.0),  # non-string completion
    ([], NUMS, TARGET, 0.0),  # empty conversation
    ([{"role": "assistant", "content": None}], NUMS, TARGET, 0.0),  # None content
    ([{"role": "assistant", "content": answered("44 + 19 + 35")}], NUMS, TARGET, 1.0),  # conversational form
    (
        [{"role": "assistant", "content": answered("1 + 2")}, {"role": "assistant", "content": answered("44+19+35")}],
        NUMS,
        TARGET,
        1.0,
    ),  # conversational: the last message is scored
]


@pytest.mark.parametrize("completion, nums, target, score", EQUATION_CASES)
def test_equation_reward(completion: object, nums: list[int], target: int, score: float) -> None:
    assert timed(equation_reward, completion, nums, target) == score


def test_equation_reward_batch_ignores_extra_kwargs() -> None:
    completions = [answered("44 + 19 + 35"), answered("1 + 2"), "nothing"]
    scores = equation_reward(
        ["p"] * 3,
        completions,
        nums=[NUMS, [1, 2], [1]],
        target=[98, 3, 1],
        completion_ids=[[1], [2], [3]],
        trainer_state=object(),
        solution=["a", "b", "c"],
        log_extra=print,
        log_metric=print,
    )
    assert scores == [1.0, 1.0, 0.0]


# ---------------------------------------------------------------- format rewards
FORMAT_CASES = [
    # completion, strict, shaped  # why
    (f"{REASONING}</think>\n<answer>1 + 2</answer>", 1.0, 1.0),  # the format
    (f"{REASONING}</think><answer>1 + 2</answer>\n \n", 1.0, 1.0),  # trailing whitespace is fine
    ("</think><answer>1</answer>", 1.0, 1.0),  # empty reasoning is allowed
    (f"{REASONING}</think>\n<answer></answer>", 1.0, 1.0),  # the answer's content is not judged
    (f"<think>{REASONING}</think>\n<answer>1</answer>", 0.0, 1.0),  # the prompt opened <think>
    (f"{REASONING}</think>\n<answer>1</answer> done", 0.0, 0.75),  # text after </answer>
    (f"{REASONING}</think> so: <answer>1</answer>", 0.0, 1.0),  # text between </think> and <answer>
    (f"{REASONING}\n<answer>1</answer>", 0.0, 0.5),  # reasoning never closed
    ("a</think>b</think>\n<answer>1</answer>", 0.0, 0.75),  # two </think>
    (f"{REASONING}</think><answer>1</answer><answer>2</answer>", 0.0, 0.5),  # two answer blocks
    (f"<answer>1</answer>{REASONING}</think>", 0.0, 0.5),  # answer before </think>
    (f"{REASONING}</think>\n<answer>1", 0.0, 0.5),  # unclosed answer
    (f"{REASONING}</think></answer><answer>", 0.0, 0.5),  # answer tags in the wrong order
    (f"{REASONING}</think>\n</answer>", 0.0, 0.5),  # closing tag only
    (f"{REASONING}</think> the answer is 9", 0.0, 0.25),  # no answer tags
    ("", 0.0, 0.0),  # empty completion
    (REASONING, 0.0, 0.0),  # no tags at all
    ("<Answer>1</Answer></Think>", 0.0, 0.0),  # tags are case-sensitive
    (None, 0.0, 0.0),  # None completion
    ([{"role": "assistant", "content": f"{REASONING}</think><answer>1</answer>"}], 1.0, 1.0),  # conversational
    (LONG_REASONING + "</think><answer>1</answer>", 1.0, 1.0),  # 100 kB of reasoning
]


@pytest.mark.parametrize("completion, strict, shaped", FORMAT_CASES)
def test_format_rewards(completion: object, strict: float, shaped: float) -> None:
    assert timed(format_reward, completion) == strict
    assert timed(shaped_format_reward, completion) == shaped


# ---------------------------------------------------------------- tinyzero_reward
TINYZERO_CASES = [
    # completion, score  # why
    (answered("44 + 19 + 35"), 1.0),  # correct
    (answered("44 + 19 - 35"), 0.1),  # wrong value
    (answered("44 + 54"), 0.1),  # wrong numbers
    (answered("abs(44) + 19 + 35"), 0.1),  # does not parse
    (answered("44 / (19 - 19) + 35"), 0.1),  # division by zero
    (answered(""), 0.1),  # empty, but an answer block
    (answered("(" * 5_000 + "3" + ")" * 5_000), 0.1),  # hostile, but an answer block
    ("44 + 19 + 35", 0.0),  # no answer block
    ("<answer>44 + 19 + 35", 0.0),  # unclosed tag
    (LONG_REASONING, 0.0),  # 100 kB, no answer block
    (None, 0.0),  # no text
    ([{"role": "assistant", "content": answered("35 + 19 + 44")}], 1.0),  # conversational
]


@pytest.mark.parametrize("completion, score", TINYZERO_CASES)
def test_tinyzero_reward(completion: object, score: float) -> None:
    assert timed(tinyzero_reward, completion, NUMS, TARGET) == score


# ---------------------------------------------------------------- data validation
GOOD = {"nums": [[1, 2]] * 4, "target": [3] * 4}

BAD_DATA = [
    # columns, message fragment  # why
    ({"target": [3] * 4}, "missing column 'nums'"),  # no nums column
    ({"nums": [[1, 2]] * 4}, "missing column 'target'"),  # no target column
    ({**GOOD, "target": [3, 3, 3, "46"]}, "row 3: column 'target' must be an integer, got '46'"),  # a string
    ({**GOOD, "target": [3, 3.0, 3, 3]}, "row 1: column 'target'"),  # a float
    ({**GOOD, "target": [True, 3, 3, 3]}, "row 0: column 'target'"),  # a bool
    ({**GOOD, "target": [3, 3, None, 3]}, "row 2: column 'target'"),  # None
    ({**GOOD, "nums": [[1, 2], [1, 2.0], [1, 2], [1, 2]]}, "row 1: column 'nums'"),  # a float in nums
    ({**GOOD, "nums": [[1, 2], [1, 2], [True, 2], [1, 2]]}, "row 2: column 'nums'"),  # a bool in nums
    ({**GOOD, "nums": [[1, 2], [1, 2], [1, 2], "1,2"]}, "row 3: column 'nums'"),  # a string, not a list
    ({**GOOD, "nums": [[], [1, 2], [1, 2], [1, 2]]}, "row 0: column 'nums'"),  # empty list
    ({**GOOD, "nums": [[1, 2]] * 3}, "4 completions but column 'nums' has 3 rows"),  # length mismatch
    ({**GOOD, "target": [3] * 5}, "4 completions but column 'target' has 5 rows"),  # length mismatch
    ({**GOOD, "target": 3}, "column 'target' must be a list"),  # a scalar, not a column
]


@pytest.mark.parametrize("reward", [equation_reward, tinyzero_reward])
@pytest.mark.parametrize("columns, message", BAD_DATA)
def test_malformed_data_raises(reward, columns: dict, message: str) -> None:
    with pytest.raises(ValueError, match=reward.__name__) as excinfo:
        reward(["p"] * 4, [answered("1 + 2")] * 4, **columns)
    assert message in str(excinfo.value)


def test_format_rewards_need_no_columns() -> None:
    assert format_reward(["p"], ["</think><answer>1</answer>"]) == [1.0]
    assert shaped_format_reward(["p"], ["</think><answer>1</answer>"]) == [1.0]


# ---------------------------------------------------------------- TRL integration
@pytest.mark.parametrize("reward", [equation_reward, format_reward, shaped_format_reward, tinyzero_reward])
def test_rewards_are_picklable_module_functions(reward) -> None:
    assert pickle.loads(pickle.dumps(reward)) is reward
    assert reward.__name__ in {"equation_reward", "format_reward", "shaped_format_reward", "tinyzero_reward"}
    assert reward(["p"], [], nums=[], target=[]) == []  # empty batch
