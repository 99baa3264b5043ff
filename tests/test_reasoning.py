"""Reasoning truth (rewards.reasoning): statements read from the reasoning, checked in exact arithmetic."""

import pytest

from rewards.reasoning import faithful_reward, read_reasoning, reasoning_truth_reward

# (completion, nums, (read, true, unread, relevant true, answer stated), faithful, reasoning_truth_reward)
CASES = [
    # the learning recipe's right answer with a false step: the answer is right, the reasoning is not
    ("8 - 8 + 20 = 10. yes. </think> <answer> 8 - 8 + 20 </answer>", [8, 8, 20], (1, 0, 0, 0, False), False, 0.0),
    ("19 - 4 + 1 = 53, yes.</think><answer>19 - 4 + 1</answer>", [19, 4, 1], (1, 0, 0, 0, False), False, 0.0),
    # the sum-collapse run's lines copied the target: false
    ("21 + 25 + 14 = 32, yes.</think><answer>21 + 25 + 14</answer>", [21, 25, 14], (1, 0, 0, 0, False), False, 0.0),
    # right and true, step by step; the second step uses the first's result
    ("3 * 4 = 12, 12 + 2 = 14.</think><answer>3 * 4 + 2</answer>", [2, 3, 4], (2, 2, 0, 2, False), True, 1.0),
    # the answer's expression itself stated, and true
    ("8 - 8 + 20 = 20, yes.</think><answer>8 - 8 + 20</answer>", [8, 8, 20], (1, 1, 0, 1, True), True, 1.0),
    # a chain is two statements
    ("2 + 3 = 5 + 4 = 9</think>", [2, 3, 4], (2, 2, 0, 2, False), True, 1.0),
    # one true, one false: unfaithful, half the credit
    ("3 + 4 = 7, 7 * 2 = 15</think>", [3, 4, 2], (2, 1, 0, 1, False), False, 0.5),
    # no statement: "3 = 3", "target = 46" have no operator on the left; stating nothing earns nothing
    ("3 = 3 and target = 46, so</think><answer>3</answer>", [3], (0, 0, 0, 0, False), False, 0.0),
    ("no reasoning</think><answer>3 + 4</answer>", [3, 4], (0, 0, 0, 0, False), False, 0.0),
    # true but about other numbers: no credit, and it dilutes (1 relevant of 2 read)
    ("1 + 1 = 2, 3 + 4 = 7</think>", [3, 4], (2, 2, 0, 1, False), True, 0.5),
    ("1 + 1 = 2, 2 + 2 = 4, 4 * 4 = 16</think>", [8, 8, 20], (3, 3, 0, 0, False), True, 0.0),  # padding earns 0
    # other operator signs and an aside in brackets
    ("(3 + 4 = 7) and 7 x 2 = 14 and 14 ÷ 2 = 7</think>", [3, 4, 2], (3, 3, 0, 3, False), True, 1.0),
    # fractions and decimals as values; 6 / 4 is 3/2 exactly
    ("6 / 4 = 1.5 and 6 / 4 = 3/2</think>", [6, 4], (2, 2, 0, 2, False), True, 1.0),
    # unread: a grammar the parser refuses, a missing value; never true or false
    ("2 ** 3 = 8 and 5 + 5 = ? and 5 + 5 = 10</think>", [5, 5], (1, 1, 2, 1, False), True, 1.0),
    # only the reasoning counts: equations after </think> are not statements of it
    ("3 + 4 = 7</think><answer>3 + 4</answer> 9 + 9 = 1", [3, 4], (1, 1, 0, 1, True), True, 1.0),
]


@pytest.mark.parametrize("completion, nums, counts, faithful, reward", CASES)
def test_read_reasoning(completion, nums, counts, faithful, reward):
    r = read_reasoning(completion, nums)
    assert (r.statements, r.true, r.unread, r.relevant_true, r.answer_stated) == counts
    assert r.faithful is faithful
    assert reasoning_truth_reward(None, [completion], nums=[nums], target=[0]) == [pytest.approx(reward)]
    assert faithful_reward(None, [completion]) == [float(faithful)]


def test_reading_is_bounded_on_long_text():
    text = "1 + 1 = 2, " * 10_000 + "</think>"
    r = read_reasoning(text, [1, 1])
    assert r.statements == 64  # MAX_STATEMENTS


def test_the_rewards_are_built_in_and_a_keep_if_rule():
    from r1lite.r1.sft_config import parse_keep_if
    from rewards import get_reward_funcs

    assert [f.__name__ for f in get_reward_funcs(["reasoning_truth_reward", "faithful_reward"])] == [
        "reasoning_truth_reward",
        "faithful_reward",
    ]
    assert parse_keep_if(["faithful_reward>=1"]) == [("faithful_reward", 1.0)]


def test_behaviour_metrics_count_statements():
    from r1lite.inspection.behaviour import completion_behaviour, summarize

    texts = [case[0] for case in CASES[:4]]
    fields = completion_behaviour(texts, [case[1] for case in CASES[:4]], [0] * 4)
    assert [f["faithful"] for f in fields] == [False, False, False, True]
    metrics = summarize(fields, [10] * 4, [False] * 4)
    assert metrics["faithful_rate"] == 0.25 and metrics["statements_true_rate"] == pytest.approx(2 / 5)


# (completion, nums, target, honest_check_reward): a check is a statement followed by yes/no
HONEST_CASES = [
    # the sum-collapse line: a false value beside "yes" (it copies the target) earns nothing
    ("21 + 25 + 14 = 32, yes.</think><answer>21 + 25 + 14</answer>", [21, 25, 14], 32, 0.0),
    # the prompt's worked example: a true "no", then a true "yes" at the target
    ("7 + 9 = 16, no. 7 * 9 = 63, yes.</think><answer>7 * 9</answer>", [7, 9], 63, 1.0),
    # a true value, honestly rejected, then a wrong answer: the checks are honest (the answer is equation_reward's)
    ("27 + 20 + 5 = 52, no.</think><answer>27 + 20 + 5</answer>", [27, 20, 5], 23, 1.0),
    # a true value accepted although it is not the target: dishonest
    ("27 + 20 + 5 = 52, yes.</think><answer>27 + 20 + 5</answer>", [27, 20, 5], 23, 0.0),
    # a true value at the target rejected: dishonest; one of two checks honest
    ("25 + 9 = 34, no. 25 - 9 = 16, no.</think>", [25, 9], 16, 0.5),
    # a step builds on an earlier result; verdict words in any case, after ". " or ": "
    ("27 + 20 = 47. No. 47 - 5 = 42: YES</think>", [27, 20, 5], 42, 1.0),
    # about other numbers: irrelevant, so not honest even though true
    ("1 + 1 = 2, no.</think>", [8, 8, 20], 4, 0.0),
    # statements without a verdict are not checks; no check earns nothing
    ("3 + 4 = 7 and 7 * 2 = 14</think>", [3, 4, 2], 14, 0.0),
    ("no reasoning</think><answer>3 + 4</answer>", [3, 4], 7, 0.0),
    # "nothing" after the value is not the verdict "no"
    ("3 + 4 = 7 nothing, 7 * 2 = 14, yes</think>", [3, 4, 2], 14, 1.0),
]


@pytest.mark.parametrize("completion, nums, target, reward", HONEST_CASES)
def test_honest_check_reward(completion, nums, target, reward):
    from rewards.reasoning import honest_check_reward

    assert honest_check_reward(None, [completion], nums=[nums], target=[target]) == [pytest.approx(reward)]


# (completion, nums, target, checked_answer_reward): a right answer pays only when honest checks reached it
CHECKED_CASES = [
    # chat_try's worked example: the sum honestly rejected, the difference accepted and answered
    ("25 + 9 = 34, no. 25 - 9 = 16, yes.</think><answer>25 - 9</answer>", [25, 9], 16, 1.0),
    # the sum accepted at the target and answered; blanks do not matter
    ("25 + 9 = 34, yes.</think><answer> 25+9 </answer>", [25, 9], 34, 1.0),
    # seed 0's habit: a false sum rejected, then the right difference: the answer is right, the way there false
    ("22 + 12 = 33, no. 22 - 12 = 10, yes.</think><answer>22 - 12</answer>", [22, 12], 10, 0.0),
    # the falling-rate run's habit: "yes" beside a sum that is not the target, then an answer that ignores it
    ("22 + 12 = 34, yes.</think><answer>22 - 12</answer>", [22, 12], 10, 0.0),
    # honest checks, but the answer is not what the last check accepted (it accepted nothing)
    ("22 + 12 = 34, no.</think><answer>22 - 12</answer>", [22, 12], 10, 0.0),
    # honest checks and an accepted expression, but the answer is another one (same value, other order)
    ("9 + 25 = 34, yes.</think><answer>25 + 9</answer>", [25, 9], 34, 0.0),
    # no check at all: a right answer alone earns nothing here (equation_reward pays it)
    ("</think><answer>25 - 9</answer>", [25, 9], 16, 0.0),
    # a wrong answer after honest checks: the checks cannot rescue it
    ("25 + 9 = 34, no. 25 - 9 = 16, yes.</think><answer>25 + 9</answer>", [25, 9], 16, 0.0),
    # the last check accepted a step on an earlier result ("12 + 2"), not the answer's expression
    ("3 × 4 = 12, no. 12 + 2 = 14, yes.</think><answer>3 * 4 + 2</answer>", [3, 4, 2], 14, 0.0),
    # the accepted expression answered, × written for *
    ("3 + 4 = 7, no. 3 × 4 + 2 = 14, yes.</think><answer>3 * 4 + 2</answer>", [3, 4, 2], 14, 1.0),
]


@pytest.mark.parametrize("completion, nums, target, reward", CHECKED_CASES)
def test_checked_answer_reward(completion, nums, target, reward):
    from rewards.reasoning import checked_answer_reward

    assert checked_answer_reward(None, [completion], nums=[nums], target=[target]) == [reward]


def test_honest_check_reward_needs_the_puzzle_columns():
    from rewards.reasoning import honest_check_reward

    with pytest.raises(ValueError, match="missing column 'target'"):
        honest_check_reward(None, ["3 + 4 = 7, yes"], nums=[[3, 4]])
