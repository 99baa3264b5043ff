"""Tests of r1lite.task.countdown: solver, generator, held-out split, validation and loading.

Solutions are checked with the rewards package's safe evaluator (`equation_reward`), an
implementation independent of the solver and the generator.
"""

import itertools
import time

import datasets
import pytest

from r1lite.task import countdown
from r1lite.task.countdown import (
    FEATURES,
    HELDOUT_FRACTION,
    HELDOUT_SEED,
    generate,
    heldout,
    is_heldout,
    load_hub_countdown,
    prepare_rows,
    puzzle_key,
    solve,
    validate_rows,
)
from rewards.countdown import equation_reward


def columns(ds: datasets.Dataset) -> dict[str, list]:
    """All columns as Python lists (one Arrow conversion; iterating ds["col"] is much slower)."""
    return ds[:]


def wrong_rows(cols: dict[str, list]) -> list[int]:
    """Indices of rows whose `solution` does not solve the puzzle (one batched reward call)."""
    completions = [f"</think> <answer> {e} </answer>" for e in cols["solution"]]
    scores = equation_reward([""] * len(completions), completions, nums=cols["nums"], target=cols["target"])
    return [i for i, score in enumerate(scores) if score != 1.0]


def is_solution(expr: str, nums: list[int], target: int) -> bool:
    return not wrong_rows({"nums": [nums], "target": [target], "solution": [expr]})


def keys(ds: datasets.Dataset) -> list[str]:
    cols = columns(ds)
    return [puzzle_key(n, t) for n, t in zip(cols["nums"], cols["target"], strict=True)]


# --------------------------------------------------------------------------- solve

SOLVABLE = [
    ([25, 7, 3, 8], 46),  # the docstring example
    ([1, 5, 5, 5], 24),  # only (5 - 1 / 5) * 5: a fraction that comes back to an integer
    ([3, 3, 8, 8], 24),  # only 8 / (3 - 8 / 3)
    ([1, 3, 4, 6], 24),  # only 6 / (1 - 3 / 4)
    ([4, 4, 10, 10], 24),  # (10 * 10 - 4) / 4: division last
    ([5], 5),  # one number is its own expression
    ([3, 6], 2),  # division in the given order's reverse: 6 / 3
    ([2, 3], 1),  # subtraction in reverse: 3 - 2
    ([7, 7], 0),  # zero target by subtraction
    ([0, 5], 0),  # zero target by multiplying with 0
    ([5, 1], 5),  # the 1 must still be used (5 * 1)
    ([100, 1, 1, 1, 1, 1], 105),  # six numbers with repeats
    ([25, 50, 75, 100, 3, 6], 952),  # the famous hard countdown game
    ([1, 2, 3, 4, 5, 6], 720),  # all six multiplied
]

UNSOLVABLE = [
    ([1, 1], 3),  # the largest value is 2
    ([2, 2], 5),  # 4, 1, 0 only
    ([2, 3], 7),  # 5, 6, 1, 2/3, 3/2 only
    ([1, 1, 1], 4),  # three ones make at most 3
    ([1, 2, 3], 10),  # at most 9
    ([1, 1, 100], 2),  # 1 + 1 would do, but the 100 must be used too
    ([5], 4),  # a single number reaches only itself
    ([1, 2, 3, 4], 1000),  # far above the maximum (36)
]


@pytest.mark.parametrize(("nums", "target"), SOLVABLE)
def test_solve_finds_a_valid_solution(nums, target):
    expr = solve(nums, target)
    assert expr is not None and is_solution(expr, nums, target), expr


@pytest.mark.parametrize(("nums", "target"), UNSOLVABLE)
def test_solve_returns_none_when_unsolvable(nums, target):
    assert solve(nums, target) is None


def test_solve_formats_with_spaces_and_needed_parentheses_only():
    assert solve([25, 7, 3, 8], 46) == "3 * (25 - 7) - 8"
    assert solve([1, 5, 5, 5], 24) == "5 * (5 - 1 / 5)"
    assert countdown.render(("-", 9, ("-", 5, 2))) == "9 - (5 - 2)"  # right operand of - keeps them
    assert countdown.render(("+", 9, ("-", 5, 2))) == "9 + 5 - 2"  # same value without them
    assert countdown.render(("/", ("*", 2, 3), ("*", 4, 5))) == "2 * 3 / (4 * 5)"


def test_solve_agrees_with_brute_force_on_small_puzzles():
    # Every 3-number multiset from 1..6 against targets 0..40: solve() is None exactly
    # when no expression tree (enumerated independently below) reaches the target.
    for nums in itertools.combinations_with_replacement(range(1, 7), 3):
        reachable = _brute_force_values(list(nums))
        for target in range(0, 41):
            expr = solve(list(nums), target)
            assert (expr is not None) == (target in reachable), (nums, target, expr)
            assert expr is None or is_solution(expr, list(nums), target), (nums, target, expr)


def _brute_force_values(nums: list) -> set:
    """Every exact value of every expression over all of `nums` (no memo, no pruning)."""
    from fractions import Fraction

    if len(nums) == 1:
        return {Fraction(nums[0])}
    values = set()
    for i, j in itertools.permutations(range(len(nums)), 2):
        rest = [n for k, n in enumerate(nums) if k not in (i, j)]
        x, y = Fraction(nums[i]), Fraction(nums[j])
        results = [x + y, x - y, x * y] + ([x / y] if y else [])
        for r in results:
            values |= _brute_force_values([*rest, r])
    return values


def test_solve_six_numbers_worst_case_is_fast():
    # Six distinct primes and an unreachable target: the search must exhaust everything.
    # About 0.4 s on the dev machine; 5 s leaves room for slow CI runners.
    start = time.perf_counter()
    assert solve([71, 73, 79, 83, 89, 97], 10**12) is None
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize(
    ("nums", "target", "error"),
    [
        ([], 1, ValueError),  # nothing to combine
        ([1.0, 2], 3, TypeError),  # floats are not numbers of the game, even 1.0
        ([True, 2], 3, TypeError),  # bools are not ints here
        (["3", 4], 7, TypeError),  # strings neither
        ([1, 2], 3.0, TypeError),  # nor a float target
    ],
)
def test_solve_rejects_bad_input(nums, target, error):
    with pytest.raises(error):
        solve(nums, target)


# --------------------------------------------------------------------------- generate


def test_generate_is_deterministic_for_a_seed():
    assert generate(300, seed=1).to_list() == generate(300, seed=1).to_list()


def test_generate_differs_between_seeds():
    one, two = set(keys(generate(300, seed=1))), set(keys(generate(300, seed=2)))
    assert len(one & two) < 30  # independent draws share few puzzles


def test_generate_longer_run_extends_shorter_one():
    assert generate(200, seed=3).to_list() == generate(400, seed=3).to_list()[:200]


def test_generate_columns_and_types():
    ds = generate(50, seed=4)
    assert ds.features == FEATURES
    row = ds[0]
    assert type(row["target"]) is int and type(row["solution"]) is str
    assert all(type(n) is int for n in row["nums"])
    empty = generate(0)
    assert len(empty) == 0 and empty.features == FEATURES


@pytest.mark.parametrize(
    "difficulty",
    [
        dict(min_numbers=2, max_numbers=2),  # pairs only
        dict(min_numbers=5, max_numbers=6, max_number=25),  # many small numbers
        dict(min_numbers=3, max_numbers=3, max_number=20, target_range=(50, 60)),  # narrow, high targets
        dict(min_numbers=3, max_numbers=4, target_range=(-5, 0)),  # zero and negative targets
        dict(min_numbers=6, max_numbers=6, max_number=1000, target_range=(500, 1000)),  # big numbers
    ],
)
def test_generate_respects_difficulty_and_rows_are_solved(difficulty):
    ds = generate(300, seed=5, **difficulty)
    cols = columns(ds)
    low, high = difficulty.get("target_range", (1, 100))
    lo_count, hi_count = difficulty["min_numbers"], difficulty["max_numbers"]
    max_number = difficulty.get("max_number", 100)
    assert len(ds) == 300
    assert all(lo_count <= len(n) <= hi_count for n in cols["nums"])
    assert all(1 <= x <= max_number for n in cols["nums"] for x in n)
    assert all(low <= t <= high for t in cols["target"])
    assert {len(n) for n in cols["nums"]} == set(range(lo_count, hi_count + 1))  # every count occurs
    assert len(set(keys(ds))) == len(ds)
    assert wrong_rows(cols) == []


@pytest.mark.parametrize("operators", ["+-", "*", "+-/"])
def test_generate_keeps_to_its_operators(operators):
    # every solution uses only the given operations, and every row is still solved
    ds = generate(200, min_numbers=2, max_numbers=3, max_number=30, target_range=(1, 60), seed=3, operators=operators)
    cols = columns(ds)
    assert all(set(s) - set(" ()0123456789") <= set(operators) for s in cols["solution"])
    assert len(set(keys(ds))) == len(ds) and wrong_rows(cols) == []


def test_sums_and_differences_split_a_two_number_level_in_half():
    # with '+-' on 2 numbers each puzzle's target is the sum or the positive difference, about half each
    ds = generate(500, min_numbers=2, max_numbers=2, max_number=30, target_range=(1, 60), seed=0, operators="+-")
    sums = sum(t == sum(n) for n, t in zip(columns(ds)["nums"], columns(ds)["target"], strict=True))
    assert 0.45 < sums / len(ds) < 0.6


def test_all_four_operators_generate_the_same_puzzles_as_before_the_option():
    # the default draws the same random numbers as before `operators` existed: recipes keep their puzzles
    assert generate(3, seed=1).to_list() == [
        {"nums": [4, 3, 55], "target": 62, "solution": "3 + 55 + 4"},
        {"nums": [23, 44, 50], "target": 17, "solution": "23 + 44 - 50"},
        {"nums": [3, 84, 56], "target": 2, "solution": "56 / (84 / 3)"},
    ]


def test_generate_counts_are_balanced():
    counts = [len(n) for n in columns(generate(2000, seed=6))["nums"]]
    assert 0.45 < counts.count(3) / len(counts) < 0.55  # uniform over 3..4 per row, not per draw


def test_generate_drops_an_exhausted_count_and_fills_with_the_others():
    # Numbers in 1..3 give only ~15 distinct 2-number puzzles; the rest must come from 3..6.
    ds = generate(500, min_numbers=2, max_numbers=6, max_number=3, seed=7)
    assert len(ds) == 500 and len(set(keys(ds))) == 500
    assert sum(len(n) == 2 for n in columns(ds)["nums"]) < 20


def test_generate_raises_when_settings_allow_too_few_puzzles():
    with pytest.raises(ValueError, match=r"found only \d+ of 1000 distinct train puzzles.*max_number"):
        generate(1000, min_numbers=2, max_numbers=2, max_number=3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(n=-1), "n must be >= 0"),  # negative size
        (dict(n=2.5), "n must be an integer"),  # fractional size
        (dict(min_numbers=1), "min_numbers <= max_numbers"),  # one number is no puzzle
        (dict(max_numbers=7), "max_numbers <= 6"),  # beyond the supported 6
        (dict(min_numbers=4, max_numbers=3), "got min_numbers=4, max_numbers=3"),  # inverted
        (dict(max_number=0), "max_number must be >= 1"),  # nothing to draw from
        (dict(target_range=(10, 1)), "low <= high"),  # inverted range
        (dict(target_range=(1,)), "target_range"),  # not a pair
        (dict(target_range=(1.0, 5)), "target_range"),  # float bound
        (dict(split="valid"), "split must be 'train' or 'test'"),  # unknown split
        (dict(min_numbers=True), "min_numbers must be an integer"),  # bool is not a count
        (dict(operators=""), "operators=''"),  # no operation at all
        (dict(operators="+x"), "operators='\\+x'"),  # not an operator
        (dict(operators="++"), "each once"),  # repeated
    ],
)
def test_generate_rejects_invalid_arguments(kwargs, message):
    kwargs = {"n": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(**kwargs)


def test_generate_100k_fast_distinct_and_all_solved():
    start = time.perf_counter()
    ds = generate(100_000, progress=False)
    elapsed = time.perf_counter() - start
    assert elapsed < 30.0, f"generation took {elapsed:.1f} s (about 6 s on the dev machine)"
    assert len(ds) == 100_000
    cols = columns(ds)
    all_keys = [puzzle_key(n, t) for n, t in zip(cols["nums"], cols["target"], strict=True)]
    assert len(set(all_keys)) == len(all_keys)
    assert not any(countdown._key_is_heldout(k) for k in all_keys)
    assert all(3 <= len(n) <= 4 and all(1 <= x <= 100 for x in n) for n in cols["nums"])
    assert all(1 <= t <= 100 for t in cols["target"])
    assert wrong_rows(cols) == []  # every row checked by the independent evaluator (~2 s)


# --------------------------------------------------------------------------- held-out split


def test_puzzle_key_and_is_heldout_are_canonical_and_stable():
    assert puzzle_key([25, 3, 7], 46) == "3,7,25|46"
    assert is_heldout([3, 7, 25], 46) == is_heldout([25, 7, 3], 46)  # order does not matter
    # Pinned hash values: changing them would silently move puzzles between the splits.
    assert [is_heldout([1, 1, 1], t) for t in (3, 4, 5, 6, 20)] == [True, False, False, True, True]
    assert is_heldout([3, 7, 25], 46) is False


def test_heldout_fraction_is_about_one_in_ten():
    puzzles = [(list(c), t) for c in itertools.combinations_with_replacement(range(1, 30), 3) for t in range(1, 30)]
    share = sum(is_heldout(n, t) for n, t in puzzles) / len(puzzles)
    assert abs(share - HELDOUT_FRACTION) < 0.005


def test_train_and_test_splits_never_overlap():
    train, test = columns(generate(3000, seed=8)), columns(generate(300, seed=8, split="test"))
    assert not any(is_heldout(n, t) for n, t in zip(train["nums"], train["target"], strict=True))
    assert all(is_heldout(n, t) for n, t in zip(test["nums"], test["target"], strict=True))
    assert {puzzle_key(n, t) for n, t in zip(train["nums"], train["target"], strict=True)}.isdisjoint(
        puzzle_key(n, t) for n, t in zip(test["nums"], test["target"], strict=True)
    )
    assert wrong_rows(test) == []


def test_heldout_is_a_fixed_set():
    fixed = heldout(128)
    assert fixed.to_list() == generate(128, seed=HELDOUT_SEED, split="test").to_list()
    assert heldout(64).to_list() == fixed.to_list()[:64]  # smaller sets are prefixes
    # Pinned: every stage and run must evaluate on exactly these puzzles.
    assert fixed.to_list()[:3] == [
        {"nums": [83, 20, 23, 37], "target": 77, "solution": "37 - 23 - (20 - 83)"},
        {"nums": [61, 24, 49, 4], "target": 3, "solution": "24 / (61 - 4 - 49)"},
        {"nums": [22, 60, 6], "target": 76, "solution": "22 + 60 - 6"},
    ]
    assert set(keys(heldout(128, min_numbers=5, max_numbers=6))).isdisjoint(keys(fixed))  # per difficulty


# --------------------------------------------------------------------------- validate_rows

GOOD = {"nums": [1, 2], "target": 3}


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (
            {"nums": ["3", 4], "target": 7},
            r"row 1: column 'nums' must be a non-empty list of integers, got \['3', 4\]",
        ),
        ({"nums": [3.0, 4], "target": 7}, "row 1: column 'nums' .* got \\[3.0, 4\\]"),  # floats, even whole
        ({"nums": [True, 4], "target": 5}, "row 1: column 'nums' .* got \\[True, 4\\]"),  # bools are not ints
        ({"nums": [], "target": 7}, "row 1: column 'nums' .* got \\[\\]"),  # empty
        ({"nums": "34", "target": 7}, "row 1: column 'nums' .* got '34'"),  # a string is no list
        ({"nums": None, "target": 7}, "row 1: column 'nums' .* got None"),  # null
        ({"nums": 3, "target": 3}, "row 1: column 'nums' .* got 3"),  # a scalar
        ({"nums": [3, 4], "target": 7.0}, "row 1: column 'target' must be an integer, got 7.0"),  # float target
        ({"nums": [3, 4], "target": "7"}, "row 1: column 'target' must be an integer, got '7'"),  # string target
        ({"nums": [3, 4], "target": True}, "row 1: column 'target' must be an integer, got True"),  # bool target
        ({"nums": [3, 4]}, "row 1: missing column 'target' \\(columns present: \\['nums'\\]\\)"),  # no target
    ],
)
def test_validate_rows_names_row_and_column(bad_row, message):
    with pytest.raises(ValueError, match=message):
        validate_rows([GOOD, bad_row, GOOD])


def test_validate_rows_accepts_good_rows_and_datasets():
    validate_rows([GOOD, {"nums": [5], "target": -2, "extra": "ignored"}])
    validate_rows(generate(100, seed=9))
    validate_rows(generate(100, seed=9).select([5, 3, 1]))  # an index mapping (Arrow fast path)
    validate_rows(datasets.Dataset.from_dict({"nums": [], "target": []}))


def test_validate_rows_dataset_missing_column_lists_columns_present():
    ds = datasets.Dataset.from_dict({"numbers": [[1, 2]], "target": [3]})
    with pytest.raises(ValueError, match=r"missing column 'nums' \(columns present: \['numbers', 'target'\]\)"):
        validate_rows(ds)


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"nums": [[1, 2], [3.0, 4.5]], "target": [3, 7]}, "row 0: column 'nums'"),  # float schema: row 0 fails
        ({"nums": [[1, 2], [3, 4]], "target": [3, None]}, "row 1: column 'target' .* got None"),  # a null
        ({"nums": [[1, 2], []], "target": [3, 7]}, "row 1: column 'nums' .* got \\[\\]"),  # an empty list
        ({"nums": [[1, 2], None], "target": [3, 7]}, "row 1: column 'nums' .* got None"),  # a null list
        ({"nums": [[1, 2], [3, None]], "target": [3, 7]}, "row 1: column 'nums' .* got \\[3, None\\]"),  # null item
        ({"nums": [["1", "2"]], "target": [3]}, "row 0: column 'nums' .* got \\['1', '2'\\]"),  # strings
        ({"nums": [[1, 2]], "target": [3.0]}, "row 0: column 'target' .* got 3.0"),  # float target schema
    ],
)
def test_validate_rows_on_datasets_names_row_and_column(columns, message):
    with pytest.raises(ValueError, match=message):
        validate_rows(datasets.Dataset.from_dict(columns))


# --------------------------------------------------------------------------- prepare_rows / hub loader


def _mixed_rows() -> datasets.Dataset:
    """Some training and some held-out puzzles, with int32 types and an extra column."""
    train, test = columns(generate(20, seed=10)), columns(generate(5, seed=10, split="test"))
    rows = {
        "nums": train["nums"] + test["nums"],
        "target": train["target"] + test["target"],
        "source": ["x"] * 25,
    }
    features = datasets.Features(
        nums=datasets.List(datasets.Value("int32")), target=datasets.Value("int32"), source=datasets.Value("string")
    )
    return datasets.Dataset.from_dict(rows, features=features)


def test_prepare_rows_casts_and_drops_heldout():
    ds = prepare_rows(_mixed_rows())
    assert ds.column_names == ["nums", "target"]
    assert ds.features == datasets.Features(nums=FEATURES["nums"], target=FEATURES["target"])
    cols = columns(ds)
    assert len(ds) == 20 and not any(is_heldout(n, t) for n, t in zip(cols["nums"], cols["target"], strict=True))
    assert len(prepare_rows(_mixed_rows(), drop_heldout=False)) == 25


def test_prepare_rows_rejects_malformed_data():
    with pytest.raises(ValueError, match="row 0: column 'target'"):
        prepare_rows(datasets.Dataset.from_dict({"nums": [[1, 2]], "target": ["3"]}))


def test_load_hub_countdown_uses_load_dataset_and_prepares(monkeypatch):
    calls = []

    def fake_load_dataset(name, split=None, **kwargs):
        calls.append((name, split))
        return _mixed_rows()

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    ds = load_hub_countdown()
    assert calls == [("Jiayi-Pan/Countdown-Tasks-3to4", "train")]
    assert len(ds) == 20 and ds.column_names == ["nums", "target"]
    assert len(load_hub_countdown("someone/other", split="test", drop_heldout=False)) == 25
    assert calls[-1] == ("someone/other", "test")


def test_load_hub_countdown_rejects_a_dataset_dict(monkeypatch):
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split=None: datasets.DatasetDict(train=_mixed_rows()))
    with pytest.raises(ValueError, match="expected one split"):
        load_hub_countdown()
