"""Anti-template training options: the template cap on generated puzzles, and mixing earlier curriculum levels."""

from collections import Counter

import pytest

from r1lite.config import TaskConfig
from r1lite.task.balanced import cap_templates, generate_train, solving_templates
from r1lite.task.baselines import best_template
from r1lite.task.data import build_curriculum_datasets, row_level

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
        (dict(curriculum_mix=1.0, curriculum_levels=["2/10/1-20", "3/10/1-20"]), "curriculum_mix=1.0 is not a share"),
        (dict(curriculum_mix=0.25), "give at least two levels"),  # nothing earlier to mix in
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


def test_a_mixed_curriculum_serves_earlier_puzzles_after_promotion(tokenizer):
    task = TaskConfig(
        prompt_template="chat",
        num_train_puzzles=64,
        eval_puzzles=8,
        curriculum_levels=["2/20/1-50", "3/20/1-50"],
        curriculum_mix=0.25,
        max_template_share=[0.3, 0.2],
    )
    train, switch, _ = build_curriculum_datasets(task, tokenizer)
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
