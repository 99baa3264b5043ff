"""Target-blind baselines, answer shapes and target twins (r1lite.task.baselines)."""

import pytest

from r1lite.task.baselines import (
    answer_shape,
    best_order_rule,
    best_template,
    diversity,
    needed_puzzles,
    order_pattern,
    probe,
    reachable_targets,
    rule_name,
    templates,
    twin_puzzles,
)
from rewards.countdown import equation_reward

# (completion, nums, shape): the answer's shape in the puzzle's letters, in the order the prompt gives them.
SHAPES = [
    # the false-reasoning, right-answer completion of the learning recipe: the shape is what counts here
    ("8 - 8 + 20 = 10. yes. </think> <answer> 8 - 8 + 20 </answer>", [8, 8, 20], "a - b + c"),
    ("</think> <answer>20 - 8 + 8</answer>", [8, 8, 20], "c - a + b"),  # same numbers, another order
    ("<answer>19 - 4 + 1</answer>", [19, 4, 1], "a - b + c"),
    ("<answer>(8+ 8)*20</answer>", [8, 20, 8], "(a + c) * b"),  # spacing normalised, parentheses kept
    ("<answer>21 + 25 + 14</answer>", [14, 21, 25], "b + c + a"),  # the sum, in another order
    ("<answer>3 + 99</answer>", [3, 4], "a + n"),  # a number not in the puzzle
    ("<answer>3 + 3</answer>", [3, 4], "a + n"),  # a puzzle number used twice: the second is not the puzzle's
    ("<answer>x + 1</answer>", [1, 2], None),  # not an arithmetic answer
    ("<answer> </answer>", [1, 2], None),  # empty
    ("3 + 4 = 7", [3, 4], None),  # no answer block
    ([{"role": "assistant", "content": "<answer>4 - 3</answer>"}], [3, 4], "b - a"),  # conversational
]


@pytest.mark.parametrize("completion, nums, shape", SHAPES)
def test_answer_shape(completion, nums, shape):
    assert answer_shape(completion, nums) == shape


def test_templates_cover_every_shape_once_by_name():
    names = [name for name, _ in templates(3)]
    assert len(names) == len(set(names))
    assert {"a - b + c", "b - a + c", "(a + b) * c", "a / (b - c)", "c * b * a"} <= set(names)
    assert names.index("a - b + c") < names.index("a - (b - c)")  # left-nested first: it names the class
    with pytest.raises(ValueError, match="1 to 4 numbers"):
        templates(5)


def _puzzles(rows):
    return [{"nums": nums, "target": target} for nums, target in rows]


# (puzzles, best shape name, solved): chosen with hindsight on the set itself, per count of numbers
BEST = [
    (_puzzles([([8, 3, 5], 10), ([20, 4, 1], 17), ([9, 9, 2], 2)]), "a - b + c", 3),  # one shape solves all
    (_puzzles([([3, 4], 7), ([5, 2], 7), ([6, 2], 3)]), "a + b", 2),  # a + b twice, a / b once
    (_puzzles([([3, 4], 7), ([8, 3, 5], 10)]), "a + b (2 numbers), a - b + c (3 numbers)", 2),  # per count
    (_puzzles([([1, 1, 1, 1, 1], 5)]), "none solves any", 0),  # 5 numbers: no template enumerated
]


@pytest.mark.parametrize("puzzles, name, solved", BEST)
def test_best_template(puzzles, name, solved):
    baseline = best_template(puzzles)
    assert (baseline.name, baseline.solved, baseline.puzzles) == (name, solved, len(puzzles))
    assert sum(baseline.hits) == solved


@pytest.mark.parametrize(
    "nums, pattern",
    [
        ([22, 12], "b < a"),  # letters from the smallest up
        ([3, 30], "a < b"),
        ([5, 5, 6], "a = b < c"),  # ties are named
        ([3, 1, 2], "b < c < a"),
    ],
)
def test_order_pattern(nums, pattern):
    assert order_pattern(nums) == pattern


def test_the_best_order_rule_reads_the_numbers_never_the_target():
    # "the larger minus the smaller": no fixed template solves more than 2 of these 4, the rule solves all
    puzzles = _puzzles([([22, 12], 10), ([9, 2], 7), ([3, 30], 27), ([4, 11], 7)])
    assert best_template(puzzles).solved == 2
    rule = best_order_rule(puzzles)
    assert (rule.solved, rule_name(rule)) == (4, "b - a where a < b; a - b where b < a")
    # twins keep the numbers, so they keep the rule's answer: it cannot solve a puzzle and its twin
    assert best_order_rule(_puzzles([([22, 12], 10), ([22, 12], 34)])).solved == 1


def test_best_template_of_the_learning_recipes_three_number_level():
    """Measured outside the test: a - b + c (in the given order) solves 28 of its 96 held-out puzzles."""
    from r1lite.task.countdown import heldout

    puzzles = heldout(96, min_numbers=3, max_numbers=3, max_number=30, target_range=(1, 60)).to_list()
    baseline = best_template(puzzles)
    assert (baseline.name, baseline.solved) == ("a - b + c", 28)


def test_diversity():
    d = diversity(["a - b + c", "a - b + c", "a + b + c", None])
    assert (d.shapes, d.top, d.answered) == (2, "a - b + c", 3) and d.top_share == pytest.approx(2 / 3)
    assert diversity([None, None]).shapes == 0


def test_twins_reach_another_target_with_the_same_numbers():
    puzzles = _puzzles([([5, 5, 6], 6), ([2, 29, 14], 22), ([3, 4], 7)])
    twins = twin_puzzles(puzzles, (1, 60), seed=0)
    assert twins == twin_puzzles(puzzles, (1, 60), seed=0)  # same seed, same twins
    for puzzle, twin in zip(puzzles, twins, strict=True):
        assert (
            twin["nums"] == puzzle["nums"]
            and twin["target"] != puzzle["target"]
            and twin["twin_of"] == puzzle["target"]
        )
        assert 1 <= twin["target"] <= 60
        answer = f"<answer>{twin['solution']}</answer>"
        assert equation_reward(None, [answer], nums=[twin["nums"]], target=[twin["target"]]) == [1.0]


def test_twins_keep_to_the_operators_of_the_puzzles():
    # [5, 6] -> 11: with '+-' the only other target is the difference 1, never the product 30
    assert sorted(reachable_targets([5, 6], "+-")) == [1, 11]
    twins = twin_puzzles(_puzzles([([5, 6], 11), ([6, 5], 1)]), (1, 60), seed=0, operators="+-")
    assert [t["target"] for t in twins] == [1, 11]


def test_a_puzzle_without_another_reachable_target_has_no_twin():
    assert sorted(reachable_targets([1, 1])) == [1, 2]
    assert twin_puzzles(_puzzles([([1, 1], 2)]), (2, 2)) == [None]


# (original answers, twin answers, twin correctness, changed): a template model answers the same on the twin
PROBES = [
    (["<answer>a</answer>"] * 3, ["<answer> a </answer>"] * 3, [0.0] * 3, 0),  # spaces do not make a change
    (
        ["<answer>3 + 4</answer>", "<answer>5 - 2</answer>"],
        ["<answer>3 * 4</answer>", "<answer>5 + 2</answer>"],
        [1.0, 0.0],
        2,
    ),
    (["no answer", "<answer>1</answer>"], ["still none", "<answer>1</answer>"], [0.0, 0.0], 0),  # none == none
]


@pytest.mark.parametrize("original, twins, correct, changed", PROBES)
def test_probe(original, twins, correct, changed):
    result = probe(original, twins, correct)
    assert (result.pairs, result.changed, result.twin_correct) == (len(twins), changed, int(sum(correct)))


def test_needed_puzzles_grows_with_the_baseline():
    assert needed_puzzles(0.0) < needed_puzzles(0.2) < needed_puzzles(0.48)
    assert needed_puzzles(0.48) > 96  # the 2-number level's 96 puzzles cannot show a 15-point gain over a + b
