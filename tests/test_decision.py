"""target_decision_reward, acted_decision_reward and named_numbers_reward: the naming of the two numbers, the
comparison of the target with the larger number, the choice it makes, and whether the answer carries it out."""

import pytest

from rewards.decision import (
    acted_decision_reward,
    named_numbers,
    named_numbers_reward,
    puzzle_kind,
    right_decision,
    stated_decision,
    target_decision_reward,
)

SUM = ([25, 9], 34)  # the target is the sum: "more, so add"
DIFF = ([25, 9], 16)  # the target is the difference: "less, so subtract"

# (completion, (nums, target), reward): one line per case, the comment says why
CASES = [
    (" The larger number is 25 and the smaller is 9. 16 is less than 25, so subtract: 25 - 9 = 16, yes.", DIFF, 1.0),
    (" 34 is more than 25, so add: 25 + 9 = 34, yes. </think> <answer> 25 + 9 </answer>", SUM, 1.0),
    (" 16 is less than 25, so subtract: 25 - 9 = 16, yes.", SUM, 0.0),  # the always-"less" template on a sum
    (" 34 is more than 25, so add: 25 + 9 = 34, yes.", DIFF, 0.0),  # false: 34 is not this puzzle's target
    (" 16 is more than 25, so add: 25 + 9 = 34.", DIFF, 0.0),  # the target compared, falsely
    (" 16 is less than 25, so add: 25 + 9 = 34.", DIFF, 0.0),  # a true comparison, the wrong choice
    (" 16 is less than 25. So 25 - 9 = 16.", DIFF, 0.0),  # a true comparison and no choice in its clause
    (" 25 is more than 16, so subtract: 25 - 9 = 16.", DIFF, 1.0),  # either way round: the target is less
    (" 9 is less than 25. 16 is less than 25, subtracting: 25 - 9", DIFF, 1.0),  # the first about the target counts
    (" 16 is less than 25, so add. 16 is less than 25, so subtract.", DIFF, 0.0),  # the first decision counts
    (" 34 is more than 9, so add: 25 + 9 = 34", SUM, 0.0),  # compared with the smaller number: no decision
    (" 16 IS SMALLER THAN 25, SO SUBTRACT", DIFF, 1.0),  # any case, any comparison word
    (" </think> <answer> 16 is less than 25, so subtract </answer>", DIFF, 0.0),  # the answer is not reasoning
    ("", DIFF, 0.0),
    (" 34 is more than 25, so add", ([25, 9, 3], 34), None),  # three numbers: not applicable
    (" 225 is more than 25, so multiply", ([25, 9], 225), None),  # a product: not applicable
    (" 7 is less than 25, so subtract", ([25, 9], 7), None),  # unreachable by sum or difference
]


@pytest.mark.parametrize(("completion", "puzzle", "reward"), CASES)
def test_target_decision_reward(completion, puzzle, reward):
    nums, target = puzzle
    assert target_decision_reward(None, [completion], nums=[nums], target=[target]) == [reward]


@pytest.mark.parametrize(
    ("nums", "target", "decision"),
    [
        ([25, 9], 34, ("more", "add")),
        ([9, 25], 16, ("less", "subtract")),  # the difference either way round
        ([5, 5], 10, ("more", "add")),  # equal numbers: the difference is 0, never a target
        ([3, 4], 12, None),
    ],
)
def test_right_decision(nums, target, decision):
    assert right_decision(nums, target) == decision


def test_stated_decision_reports_what_was_written():
    assert stated_decision(" 16 is more than 25, so add", 25, 16) == ("more", "add")
    assert stated_decision(" 16 is less than 25.", 25, 16) == ("less", None)
    assert stated_decision(" no comparison", 25, 16) is None


def test_conversational_and_bad_completions():
    completions = [[{"role": "assistant", "content": " 16 is less than 25, so subtract"}], None, 3]
    assert target_decision_reward(None, completions, nums=[[25, 9]] * 3, target=[16] * 3) == [1.0, 0.0, 0.0]


def test_missing_column_names_the_reward():
    with pytest.raises(ValueError, match="target_decision_reward"):
        target_decision_reward(None, ["x"], nums=[[25, 9]])


DECIDED_LESS = " 16 is less than 25, so subtract: 25 - 9 = 16, yes. </think> "
DECIDED_MORE = " 34 is more than 25, so add: 25 + 9 = 34, yes. </think> "

# (completion, (nums, target), reward): rule 5, the decision carried out by the answer
ACTED_CASES = [
    (DECIDED_LESS + "<answer> 25 - 9 </answer>", DIFF, 1.0),
    (DECIDED_MORE + "<answer> 9 + 25 </answer>", SUM, 1.0),  # either order
    (DECIDED_LESS + "<answer> 9 - 25 </answer>", DIFF, 1.0),  # acted on; the answer rewards judge the order
    (DECIDED_LESS + "<answer> 16 </answer>", DIFF, 0.0),  # the value alone: the run that drifted there
    (DECIDED_LESS + "<answer> 25 + 9 </answer>", DIFF, 0.0),  # decided to subtract, answered with a sum
    (DECIDED_LESS + "<answer> 25 - 25 </answer>", DIFF, 0.0),  # not the given numbers
    (DECIDED_LESS + "<answer> 25 - 9 - 0 </answer>", DIFF, 0.0),  # a number not in the puzzle
    (DECIDED_LESS, DIFF, 0.0),  # no answer block
    (DECIDED_LESS + "<answer> 25 - </answer>", DIFF, 0.0),  # not an expression
    (" 16 is less than 25, so add: 25 + 9 = 34. </think> <answer> 25 + 9 </answer>", DIFF, 0.0),  # wrong decision
    (DECIDED_MORE + "<answer> 25 + 9 </answer>", ([25, 9, 3], 34), None),  # three numbers: not applicable
]


@pytest.mark.parametrize(("completion", "puzzle", "reward"), ACTED_CASES)
def test_acted_decision_reward(completion, puzzle, reward):
    nums, target = puzzle
    assert acted_decision_reward(None, [completion], nums=[nums], target=[target]) == [reward]


def test_acted_decision_is_registered_and_names_itself_in_errors():
    from rewards import get_reward_func

    assert get_reward_func("acted_decision_reward") is acted_decision_reward
    with pytest.raises(ValueError, match="acted_decision_reward"):
        acted_decision_reward(None, ["x"], nums=[[25, 9]])


# named_numbers_reward: (completion, nums, reward), one line per case, the comment says why
NAMING_CASES = [
    (" The larger number is 25 and the smaller is 9. 16 is less than 25, so subtract", [25, 9], 1.0),
    (" The larger number is 25 and the smaller is 9.", [9, 25], 1.0),  # true whatever order the puzzle gives
    (" The larger number is 9 and the smaller is 25.", [9, 25], 0.0),  # the given order copied: false
    (" The larger number is 25 and the smaller is 8.", [25, 9], 0.0),  # a number not in the puzzle
    (" the LARGER number is 25, and the smaller number is 9", [25, 9], 1.0),  # any case, "number" and a comma
    (" The larger number is 250 and the smaller is 9.", [25, 9], 0.0),  # whole numbers only: 250 is not 25
    (" The larger number is 9 and the smaller is 25. The larger number is 25 and the smaller is 9.", [25, 9], 0.0),
    # ^ the first naming counts: a correction after a wrong one is not paid
    (" 16 is less than 25, so subtract: 25 - 9 = 16.", [25, 9], 0.0),  # no naming: nothing earned
    (" </think> <answer> The larger number is 25 and the smaller is 9 </answer>", [25, 9], 0.0),  # not reasoning
    (" The larger number is 7 and the smaller is 7.", [7, 7], 1.0),  # equal numbers: both names are true
    ("", [25, 9], 0.0),
    (" The larger number is 25 and the smaller is 9.", [25, 9, 3], None),  # three numbers: not applicable
]


@pytest.mark.parametrize(("completion", "nums", "reward"), NAMING_CASES)
def test_named_numbers_reward(completion, nums, reward):
    assert named_numbers_reward(None, [completion], nums=[nums], target=[1]) == [reward]


def test_named_numbers_reads_what_was_written():
    assert named_numbers(" The larger number is 9 and the smaller is 25.") == (9, 25)  # false, reported as written
    assert named_numbers(" no naming here") is None


def test_named_numbers_reward_is_registered_and_names_itself_in_errors():
    from rewards.registry import get_reward_func

    assert get_reward_func("named_numbers_reward") is named_numbers_reward
    completions = [[{"role": "assistant", "content": " The larger number is 25 and the smaller is 9."}], None]
    assert named_numbers_reward(None, completions, nums=[[9, 25]] * 2, target=[16] * 2) == [1.0, 0.0]
    with pytest.raises(ValueError, match="named_numbers_reward"):
        named_numbers_reward(None, ["x"], nums=[[25, 9]])


@pytest.mark.parametrize(
    ("nums", "target", "kind"),
    [([25, 9], 34, "sum"), ([9, 25], 16, "difference"), ([3, 4], 12, None), ([2, 3, 4], 9, None)],
)
def test_puzzle_kind(nums, target, kind):
    assert puzzle_kind(nums, target) == kind
