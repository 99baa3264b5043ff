"""Tables for the graded rewards (rules G1-G6 in rewards/graded.py), and the hacking guards."""

import pytest

from rewards.graded import answer_expression_reward, closeness_reward, exact_numbers_reward, numbers_used_reward

NUMS, TARGET = [3, 7, 25], 46  # 3 * 7 + 25 = 46


def scores(completion: str, nums=NUMS, target=TARGET) -> tuple[float, float, float, float]:
    """(expression, numbers used, exact numbers, closeness) of one completion."""
    kw = dict(nums=[nums], target=[target])
    return (
        answer_expression_reward(None, [completion], **kw)[0],
        numbers_used_reward(None, [completion], **kw)[0],
        exact_numbers_reward(None, [completion], **kw)[0],
        closeness_reward(None, [completion], **kw)[0],
    )


CASES = [
    # (completion, (expression, numbers used, exact numbers, closeness), why)
    ("x</think> <answer>3 * 7 + 25</answer>", (1.0, 1.0, 1.0, 1.0), "correct: full credit everywhere"),
    ("x</think> <answer> (25 + 3) * 7 / 1 </answer>", (1.0, 2 / 3, 0.0, 0.0), "1 is not given: 3 matched, 1 extra"),
    ("x</think> <answer>25 + 7 + 3</answer>", (1.0, 1.0, 1.0, 0.5 * (1 - 11 / 46)), "right numbers, 35: 11 away"),
    (
        "x</think> <answer>25 * 7 * 3</answer>",
        (1.0, 1.0, 1.0, 0.0),
        "525: farther than the target itself, closeness 0",
    ),
    ("x</think> <answer>25 + 7</answer>", (1.0, 2 / 3, 0.0, 0.0), "drops 3: two thirds, no closeness"),
    (
        "x</think> <answer>1 + 2</answer>",
        (1.0, 0.0, 0.0, 0.0),
        "the prompt's example numbers: nothing but the expression",
    ),
    ("x</think> <answer>46</answer>", (1.0, 0.0, 0.0, 0.0), "the target itself: no number of the puzzle"),
    ("x</think> <answer>3 * 7 / 0 + 25 - 25</answer>", (1.0, 1 / 3, 0.0, 0.0), "a repeat costs what it gains"),
    ("x</think> <answer>25 / (7 - 7) + 3</answer>", (1.0, 2 / 3, 0.0, 0.0), "7 twice: one extra"),
    ("x</think> <answer>3 * 7 = 21</answer>", (0.0, 0.0, 0.0, 0.0), "an equation is not an expression"),
    ("x</think> <answer>three times seven</answer>", (0.0, 0.0, 0.0, 0.0), "words"),
    ("x</think> <answer>2 ** 5</answer>", (0.0, 0.0, 0.0, 0.0), "power is not in the grammar"),
    ("x</think> no answer block", (0.0, 0.0, 0.0, 0.0), "no answer"),
    ("x</think> <answer>3 * 7 + 25", (0.0, 0.0, 0.0, 0.0), "unclosed"),
    ("<answer>1</answer> <answer>3 * 7 + 25</answer>", (0.0, 0.0, 0.0, 0.0), "two blocks: padding earns nothing"),
    ("x</think> <answer><answer>3 * 7 + 25</answer>", (0.0, 0.0, 0.0, 0.0), "an extra tag earns nothing"),
    ("x</think> </answer><answer>3 * 7 + 25", (0.0, 0.0, 0.0, 0.0), "tags out of order"),
    ("x</think> <answer></answer>", (0.0, 0.0, 0.0, 0.0), "empty"),
]


@pytest.mark.parametrize("completion, expected, why", CASES, ids=[c[2] for c in CASES])
def test_graded_rewards(completion, expected, why):
    assert scores(completion) == pytest.approx(expected), why


@pytest.mark.parametrize(
    "honest, gamed",
    [
        ("<answer>3 * 7 + 25</answer>", "<answer>3 * 7 + 25 + 3 - 3</answer>"),  # repeats numbers
        ("<answer>25 + 7 + 3</answer>", "<answer>25 + 7 + 7</answer>"),  # repeats instead of using 3
        ("<answer>25 + 7 + 3</answer>", "<answer>25 + 7</answer>"),  # drops a number
        ("<answer>25 + 7 + 3</answer>", "<answer>25 + 7 + 3</answer> <answer>46</answer>"),  # pads answer blocks
        ("<answer>25 + 7</answer>", "<answer>25 + 7 + 14</answer>"),  # hits the target with a foreign number
    ],
)
def test_gaming_never_raises_a_score(honest, gamed):
    """Repeating, dropping, padding or importing numbers never earns more than the honest answer."""
    for honest_score, gamed_score in zip(scores(honest), scores(gamed), strict=True):
        assert gamed_score <= honest_score


def test_a_wrong_answer_never_outscores_a_right_one():
    right = scores("<answer>3 * 7 + 25</answer>")
    for wrong in ("<answer>3 * 7 - 25</answer>", "<answer>(25 + 7) * 3</answer>", "<answer>(25 - 7) * 3</answer>"):
        assert all(w <= r for w, r in zip(scores(wrong), right, strict=True))
        assert closeness_reward(None, [wrong], nums=[NUMS], target=[TARGET])[0] < 0.5


def test_division_by_zero_earns_no_closeness():
    assert scores("<answer>5 / (2 - 2)</answer>", nums=[2, 2, 5], target=3) == (1.0, 1.0, 1.0, 0.0)


def test_groups_differ():
    """Partial credit separates completions of one prompt that the strict reward scores alike (all 0)."""
    group = ["<answer>1 + 2</answer>", "<answer>25 + 7</answer>", "<answer>25 + 7 + 3</answer>", "no answer"]
    used = numbers_used_reward(None, group, nums=[NUMS] * 4, target=[TARGET] * 4)
    assert len(set(used)) == 3


def test_columns_are_checked():
    with pytest.raises(ValueError, match="numbers_used_reward: missing column 'nums'"):
        numbers_used_reward(None, ["<answer>1</answer>"])
