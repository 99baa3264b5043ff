"""Anti-template training options: the template cap on generated puzzles, and mixing earlier curriculum levels."""

import dataclasses
from collections import Counter

import pytest

from r1lite.config import TaskConfig
from r1lite.task import countdown
from r1lite.task.balanced import cap_templates, generate_train, heldout, solving_templates, twin_pairs
from r1lite.task.baselines import best_template, reachable_targets
from r1lite.task.data import (
    build_curriculum_datasets,
    heldout_dataset,
    level_train_rows,
    load_train_rows,
    row_level,
    twin_dataset,
)

THREE = dict(min_numbers=3, max_numbers=3, max_number=30, target_range=(1, 60))
SMALL = dict(min_numbers=2, max_numbers=2, max_number=12, target_range=(1, 24))  # 181 distinct training puzzles


def _rows(ds):
    return [{"nums": list(r["nums"]), "target": r["target"]} for r in ds]


@pytest.mark.parametrize(
    "nums, target, expected",
    [
        ([3, 4], 7, {"a + b", "b + a"}),  # the sum, in both orders
        ([8, 2], 6, {"a - b"}),  # the difference in the given order only
        ([6, 2], 3, {"a / b"}),
        ([3, 4], 12, {"a * b", "b * a"}),
        ([19, 4, 1], 16, {"a - b + c", "a + c - b"}),  # and other writings of the same value
    ],
)
def test_solving_templates(nums, target, expected):
    found = set(solving_templates(nums, target))
    assert expected <= found
    assert all(name not in found for name in ("a + b", "b - a") if name not in expected and len(nums) == 2)


def test_the_cap_keeps_every_template_under_its_share():
    plain = generate_train(200, THREE, seed=0)
    capped = generate_train(200, THREE, seed=0, max_template_share=0.15)
    assert best_template(_rows(plain)).accuracy > 0.15  # the generator's mix: one shape pays most
    assert best_template(_rows(capped)).accuracy <= 0.15
    assert len(capped) == 200 and len({(tuple(r["nums"]), r["target"]) for r in _rows(capped)}) == 200
    assert _rows(capped) == _rows(generate_train(200, THREE, seed=0, max_template_share=0.15))  # deterministic


def test_a_small_level_uses_the_puzzles_it_has():
    # a level with fewer than 4 x 60 distinct training puzzles: the pool shrinks to what it holds
    capped = generate_train(60, SMALL, seed=0, max_template_share=0.3)
    shapes = Counter(name for r in _rows(capped) for name in solving_templates(r["nums"], r["target"]))
    assert len(capped) == 60 and max(shapes.values()) <= 18


def test_a_cap_the_puzzles_cannot_meet_says_what_to_change():
    with pytest.raises(ValueError, match=r"max_template_share=0.05: .* raise max_template_share"):
        generate_train(60, SMALL, seed=0, max_template_share=0.05)


def test_puzzles_of_more_than_three_numbers_are_kept_as_generated():
    pool = generate_train(40, dict(min_numbers=4, max_numbers=4, max_number=20, target_range=(1, 50)), seed=0)
    assert _rows(cap_templates(pool, 40, 0.01)) == _rows(pool)


@pytest.mark.parametrize(
    "fields, match",
    [
        (dict(max_template_share=[1.0]), r"max_template_share=\[1.0\] holds a value that is not a share"),
        (dict(max_template_share=[0.2, 0]), "is not a share"),  # 0 is no cap: leave the list empty instead
        (dict(max_template_share=[0.2], dataset_name="data/my.jsonl"), "needs dataset_name: countdown"),
        (dict(max_template_share=[0.2, 0.1]), "2 values for 0 curriculum levels"),
        (dict(eval_template_share=[0.0]), r"eval_template_share=\[0.0\] .* of the held-out puzzles"),
        (dict(eval_template_share=[0.2, 0.2, 0.2], curriculum_levels=["2/10/1-20", "3/10/1-20"]), "3 values for 2"),
        (dict(curriculum_mix=1.0, curriculum_levels=["2/10/1-20", "3/10/1-20"]), "curriculum_mix=1.0 is not a share"),
        (dict(curriculum_mix=0.25), "give at least two levels"),  # nothing earlier to mix in
        (dict(train_twins=True, dataset_name="data/my.jsonl"), "train_twins pairs generated puzzles"),
        (dict(operators="+-x"), r"operators='\+-x': give some of '\+-\*/', each once"),  # a typo
    ],
)
def test_bad_options_are_refused(fields, match):
    with pytest.raises(ValueError, match=match):
        TaskConfig(**fields)


@pytest.mark.parametrize(
    "level, mix, share_earlier",
    [
        (0, 0.5, 0.0),  # the first level has nothing earlier
        (2, 0.0, 0.0),  # mixing off
        (1, 0.25, 0.25),
        (2, 0.3, 0.3),
    ],
)
def test_level_mixing_draws_its_share_from_the_earlier_levels(level, mix, share_earlier):
    levels = Counter(row_level(row, level, mix) for row in range(4000))
    earlier = sum(count for lv, count in levels.items() if lv < level) / 4000
    assert earlier == pytest.approx(share_earlier, abs=0.02)
    if level == 2 and mix:
        assert levels[0] == pytest.approx(levels[1], rel=0.15)  # spread evenly over the earlier levels
    assert all(lv <= level for lv in levels)


def _mixed_curriculum(tokenizer, **fields):
    """(train, switch) of a 64-row two-level curriculum that mixes a quarter of level 0 into level 1."""
    levels = ["2/20/1-50", "3/20/1-50"]
    task = TaskConfig(
        prompt_template="chat", num_train_puzzles=64, eval_puzzles=8, curriculum_levels=levels, curriculum_mix=0.25
    )
    train, switch, _ = build_curriculum_datasets(dataclasses.replace(task, **fields), tokenizer)
    return train, switch


def test_a_mixed_curriculum_serves_earlier_puzzles_after_promotion(tokenizer):
    train, switch = _mixed_curriculum(tokenizer, max_template_share=[0.3, 0.2])
    assert {len(n) for n in train[:64]["nums"]} == {2}
    switch.level = 1
    counts = Counter(len(n) for n in train[:64]["nums"])
    assert counts[3] > counts[2] > 0 and set(train[0]) >= {"prompt", "nums", "target"}


def test_one_share_serves_every_level_or_one_per_level():
    levels = ["2/20/1-50", "3/20/1-50"]
    assert [TaskConfig(curriculum_levels=levels, max_template_share=[0.3]).template_share(i) for i in (0, 1)] == [
        0.3,
        0.3,
    ]
    per_level = TaskConfig(curriculum_levels=levels, max_template_share=[0.3, 0.1])
    assert [per_level.template_share(i) for i in (0, 1)] == [0.3, 0.1]
    assert TaskConfig().template_share() == 0.0


TWO = dict(min_numbers=2, max_numbers=2, max_number=30, target_range=(1, 60))  # 118 held-out puzzles in all


def test_a_balanced_heldout_set_caps_every_template():
    plain = heldout(64, TWO)
    balanced = heldout(64, TWO, max_template_share=0.25)
    assert _rows(plain) == _rows(countdown.heldout(64, **TWO))  # no share: the fixed split as before
    assert best_template(_rows(plain)).accuracy > 0.25  # the generator's mix: the sum alone pays more
    assert best_template(_rows(balanced)).accuracy <= 0.25 and len(balanced) == 64
    assert _rows(balanced) == _rows(heldout(64, TWO, max_template_share=0.25))  # the same set every time
    # drawn from the held-out split only: no training puzzle at any seed can be among them
    split = {(tuple(r["nums"]), r["target"]) for r in _rows(countdown.heldout(118, **TWO))}
    assert {(tuple(r["nums"]), r["target"]) for r in _rows(balanced)} <= split


def test_a_balanced_heldout_set_the_level_cannot_hold_says_what_to_change():
    with pytest.raises(ValueError, match=r"eval_template_share=0.1: the \d+ held-out puzzles .* fewer eval_puzzles"):
        heldout(96, TWO, max_template_share=0.1)


def test_the_heldout_share_serves_every_level_or_one_per_level():
    levels = ["2/20/1-50", "3/20/1-50"]
    assert TaskConfig(curriculum_levels=levels, eval_template_share=[0.3]).heldout_share(1) == 0.3
    assert TaskConfig(curriculum_levels=levels, eval_template_share=[0.3, 0.1]).heldout_share(1) == 0.1
    assert TaskConfig().heldout_share() == 0.0


def test_training_twins_share_their_numbers_and_no_template_solves_both():
    rows = _rows(twin_pairs(generate_train(40, TWO, seed=0), TWO["target_range"], seed=0))
    assert len(rows) == 72  # 4 of the 40 have no other reachable target in 1-60 that is not held out
    for puzzle, twin in zip(rows[::2], rows[1::2], strict=True):
        assert puzzle["nums"] == twin["nums"] and puzzle["target"] != twin["target"]
        assert solving_templates(twin["nums"], twin["target"])  # the twin is solvable
        assert not countdown.is_heldout(twin["nums"], twin["target"])  # and never a held-out puzzle
        assert not set(solving_templates(puzzle["nums"], puzzle["target"])) & set(
            solving_templates(twin["nums"], twin["target"])
        )  # one fixed shape gives one value: it cannot solve both
    assert best_template(rows).accuracy <= 0.5


def test_an_operator_set_reaches_every_level_and_its_twins(tokenizer):
    # operators: '+-' makes every training, held-out and twin target a sum or a difference of the numbers
    task = TaskConfig(
        num_train_puzzles=20, train_twins=True, min_numbers=2, max_numbers=2, max_number=30, target_max=60,
        operators="+-", curriculum_levels=["2/30/1-60", "3/30/1-60"],
    )  # fmt: skip
    assert [level.operators for level in task.curriculum.levels] == ["+-", "+-"]
    held = heldout_dataset(task, tokenizer)
    rows = _rows(level_train_rows(task, 0)) + _rows(level_train_rows(task, 1)) + _rows(held)
    rows += _rows(twin_dataset(held, task, tokenizer))
    assert all(r["target"] in reachable_targets(r["nums"], "+-") for r in rows)


def test_a_puzzle_without_a_twin_is_left_out_and_none_left_is_an_error():
    only = dict(min_numbers=2, max_numbers=2, max_number=2, target_range=(4, 4))  # [2, 2] -> 4: 2 + 2 and 2 * 2
    rows = countdown.generate(1, seed=0, split="train", allow_fewer=True, **only)
    with pytest.raises(ValueError, match="train_twins: none of the 1 training puzzles has a twin"):
        twin_pairs(rows, (4, 4), seed=0)


def test_a_twin_recipe_serves_pairs_in_adjacent_rows_at_every_level(tokenizer):
    small = dict(min_numbers=2, max_numbers=2, max_number=30, target_max=60)  # most pairs reach a second target
    flat = _rows(load_train_rows(TaskConfig(num_train_puzzles=20, train_twins=True, **small)))
    assert len(flat) % 2 == 0 and len(flat) > 15
    assert all(a["nums"] == b["nums"] for a, b in zip(flat[::2], flat[1::2], strict=True))
    train, switch = _mixed_curriculum(tokenizer, train_twins=True)
    switch.level = 1
    rows = train[:64]
    assert 0 < sum(len(n) == 2 for n in rows["nums"]) < 64  # the mix serves some 2-number pairs
    assert rows["nums"][::2] == rows["nums"][1::2]  # both rows of a pair read the same level


@pytest.mark.parametrize(
    "args, match",
    [
        ([], "set shuffle_dataset: false"),  # TRL's shuffling would separate each pair
        (["--shuffle_dataset", "false", "--num_generations", "8"], "it holds 1 prompts"),  # 8 completions / 8
    ],
)
def test_a_twin_recipe_that_would_split_its_pairs_is_refused(tiny_recipe, args, match):
    from r1lite.training import zero

    parsed = zero.parse_args(tiny_recipe + ["--train_twins", "true", *args])
    with pytest.raises(ValueError, match=match):
        zero.build_trainer(*parsed)
