"""stated_operation_reward: the arithmetic after "so subtract:" must subtract (rewards/consistency.py)."""

import pytest

from rewards.consistency import named_operations, stated_operation_reward

# (completion, (holds, named)): one line per case, the comment says why
CASES = [
    (" 16 is less than 25, so subtract: 25 - 9 = 16, yes. </think> <answer> 25 - 9 </answer>", (1, 1)),
    (" 10 is less than 9, so subtract: 9 + 10 = 10, yes. </think> <answer> 9 + 10 </answer>", (0, 1)),  # said - did +
    (" 53 is more than 28, so add: 25 + 28 = 53, yes. </think>", (1, 1)),
    (" so Add 3 and 4: 3 + 4 = 7. </think>", (1, 1)),  # any case; the first expression after the word
    (" adding: (25 - 9) + 3 = 19 </think>", (1, 1)),  # the operator appears somewhere in the expression
    (" multiply: 3 x 4 = 12; divide: 12 ÷ 4 = 3 </think>", (2, 2)),  # x and ÷ are * and /
    (" subtract. Then 25 - 9 = 16 </think>", (0, 0)),  # the expression is in the next sentence: not counted
    (" I will add them up </think> <answer> 3 + 4 </answer>", (0, 0)),  # no expression in the clause
    (" address 3 + 4 </think>", (0, 0)),  # 'add' inside a word is no operation word
    (" 3 + 4 = 7 </think> <answer> subtract: 3 + 4 </answer>", (0, 0)),  # the answer block is not reasoning
    (" subtract: 9 + 10, add: 9 + 10 </think>", (1, 2)),  # each word is checked on its own
    ("", (0, 0)),
]


@pytest.mark.parametrize(("completion", "expected"), CASES)
def test_named_operations(completion, expected):
    assert named_operations(completion) == expected


@pytest.mark.parametrize(("completion", "expected"), CASES)
def test_stated_operation_reward(completion, expected):
    holds, named = expected
    reward = holds / named if named else 0.0
    assert stated_operation_reward(None, [completion]) == [pytest.approx(reward)]


def test_conversational_and_bad_completions():
    completions = [[{"role": "assistant", "content": "so add: 3 + 4 = 7 </think>"}], None, 3, []]
    assert stated_operation_reward(None, completions) == [1.0, 0.0, 0.0, 0.0]


# (completion, (true, read)): comparisons between two whole numbers, checked exactly
COMPARISONS = [
    (" 16 is less than 25, so subtract: 25 - 9 = 16 </think>", (1, 1)),
    (" 5 is more than 20, so add: 25 + 20 = 45 </think>", (0, 1)),  # the always-"more" template
    (" 53 is greater than 28. 3 is smaller than 4. 7 is bigger than 9 </think>", (2, 3)),
    (" 10 is more than 10 </think>", (0, 1)),  # equal is neither more nor less
    (" 10 IS LESS THAN 12 </think>", (1, 1)),  # any case
    (" the target is more than 25 </think>", (0, 0)),  # a word on the left: not read
    (" 2.5 is less than 3, -4 is less than 3 </think>", (0, 0)),  # only whole numbers are read
    (" 4 is less than 26 </think> <answer> 30 is more than 4 </answer>", (1, 1)),  # the answer is not reasoning
    ("", (0, 0)),
]


@pytest.mark.parametrize(("completion", "expected"), COMPARISONS)
def test_comparisons(completion, expected):
    from rewards.consistency import comparisons, true_comparison_reward

    assert comparisons(completion) == expected
    true, read = expected
    assert true_comparison_reward(None, [completion]) == [pytest.approx(true / read if read else 0.0)]
