"""The countdown task: combine the given numbers with + - * / to reach the target.

Every number must be used exactly once; operations are binary (no unary minus) and
arithmetic is exact (``fractions.Fraction``), so ``(5 - 1 / 5) * 5 == 24`` counts.

Contents:
  solve              exact solver, returns one expression or None
  render             expression tree -> text ("3 * (25 - 7) - 8")
  generate           random puzzles built by construction (each comes with a solution)
  puzzle_key         a puzzle's identity: sorted numbers and target ("3,7,25|46")
  is_heldout         the fixed hash split: about 1 puzzle in 10 is reserved for evaluation
  heldout            the fixed evaluation set for a difficulty (same seed everywhere)
  validate_rows      schema checks shared by the loaders and the trainer
  prepare_rows       validate + cast + drop held-out puzzles (for any Dataset)
  load_hub_countdown TinyZero's hub dataset, prepared as above (needs hub access)
"""

from __future__ import annotations

import hashlib
import operator
import random
import reprlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any

import datasets
import datasets.table
import pyarrow as pa
import pyarrow.compute as pc
from tqdm.auto import tqdm

from r1lite.errors import ConfigError, DataError

HELDOUT_MODULUS = 10
"""A puzzle is held out iff blake2b(canonical key) % HELDOUT_MODULUS == 0."""
HELDOUT_FRACTION = 1 / HELDOUT_MODULUS
"""Share of all possible puzzles that belongs to the held-out (test) split."""
HELDOUT_SEED = 20250122
"""Seed of `heldout`: every stage evaluates on the same puzzles for a given difficulty."""
HUB_DATASET = "Jiayi-Pan/Countdown-Tasks-3to4"
"""TinyZero's dataset (a single 'train' split, 3-4 numbers in 1..99, targets up to ~100)."""

REQUIRED_COLUMNS = ("nums", "target")
FEATURES = datasets.Features(
    {
        "nums": datasets.List(datasets.Value("int64")),
        "target": datasets.Value("int64"),
        "solution": datasets.Value("string"),
    }
)
"""Schema of `generate`; `prepare_rows` keeps only the first two columns."""

MIN_NUMBERS, MAX_NUMBERS = 2, 6
OPERATORS = "+-*/"
_OPS = OPERATORS
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_ATOM = 3
# `generate` gives up after this many attempts in a row without a new puzzle,
# or after this many attempts per requested puzzle in total.
_STALL_ATTEMPTS = 100_000
_ATTEMPTS_PER_PUZZLE = 10_000
_PROGRESS_THRESHOLD = 20_000

# An expression tree: a leaf is a number, a node is (op, left, right).
Expr = int | tuple[str, "Expr", "Expr"]
# An exact value: a plain int while possible (fast), a Fraction otherwise.
Number = int | Fraction


# --------------------------------------------------------------------------- solver


def render(expr: Expr) -> str:
    """Write an expression tree with spaces around operators and only the needed parentheses."""
    return _render(expr)[0]


def _render(expr: Expr) -> tuple[str, int]:
    if not isinstance(expr, tuple):
        return str(expr), _ATOM
    op, left, right = expr
    prec = _PRECEDENCE[op]
    (ltext, lprec), (rtext, rprec) = _render(left), _render(right)
    if lprec < prec:
        ltext = f"({ltext})"
    # a - (b + c) and a / (b * c) keep their parentheses; a + (b - c) == a + b - c does not.
    if rprec < prec or (rprec == prec and op in "-/"):
        rtext = f"({rtext})"
    return f"{ltext} {op} {rtext}", prec


def _combine(x: Fraction, ex: Expr, y: Fraction, ey: Expr) -> Iterator[tuple[Fraction, Expr]]:
    """Every value of x op y and y op x (commutative ops once, no division by zero)."""
    yield x + y, ("+", ex, ey)
    yield x * y, ("*", ex, ey)
    yield x - y, ("-", ex, ey)
    yield y - x, ("-", ey, ex)
    if y:
        yield x / y, ("/", ex, ey)
    if x:
        yield y / x, ("/", ey, ex)


def _partners(x: Fraction, target: Fraction) -> Iterator[tuple[Fraction, str, bool]]:
    """Values y with (x op y) or (y op x) == target, as (y, op, x_on_the_left)."""
    yield target - x, "+", True  # x + y
    yield x - target, "-", True  # x - y
    yield x + target, "-", False  # y - x
    if x:
        yield target / x, "*", True  # x * y
        yield target * x, "/", False  # y / x
        if target:
            yield x / target, "/", True  # x / y, y = x / target != 0


def _popcount(mask: int) -> int:
    return bin(mask).count("1")


def _splits(mask: int) -> Iterator[tuple[int, int]]:
    """Each unordered split of `mask` into two non-empty parts once, smaller part first."""
    part = (mask - 1) & mask
    while part:
        rest = mask ^ part
        if (_popcount(part), part) < (_popcount(rest), rest):
            yield part, rest
        part = (part - 1) & mask


class _Search:
    """Meet-in-the-middle search over subsets of the numbers (bitmasks).

    Small subsets (up to `table_size` numbers) get a table of every reachable value
    with one expression each. A larger subset reaches `target` iff for some split
    (A, B) and some value x of A's table, B reaches a partner y with x op y == target
    (or y op x); that question recurses on B, and failed (subset, target) pairs are
    memoised. With 6 numbers only the tables of at most 4 numbers are ever built.
    """

    def __init__(self, nums: Sequence[int]) -> None:
        self.nums = list(nums)
        self.values = [Fraction(n) for n in nums]
        self.table_size = max(1, min(len(nums) - 2, 4))
        self.tables: dict[int, dict[Fraction, Expr]] = {}
        self.failed: set[tuple[int, Fraction]] = set()

    def table(self, mask: int) -> dict[Fraction, Expr]:
        if mask not in self.tables:
            if mask & (mask - 1) == 0:  # one number
                i = mask.bit_length() - 1
                self.tables[mask] = {self.values[i]: self.nums[i]}
            else:
                reachable: dict[Fraction, Expr] = {}
                for part, rest in _splits(mask):
                    rest_table = self.table(rest)
                    for x, ex in self.table(part).items():
                        for y, ey in rest_table.items():
                            for value, expr in _combine(x, ex, y, ey):
                                if value not in reachable:
                                    reachable[value] = expr
                self.tables[mask] = reachable
        return self.tables[mask]

    def find(self, mask: int, target: Fraction) -> Expr | None:
        if _popcount(mask) <= self.table_size:
            return self.table(mask).get(target)
        if (mask, target) in self.failed:
            return None
        for part, rest in _splits(mask):
            for x, ex in self.table(part).items():
                if not x and not target:  # 0 * anything == 0
                    return ("*", ex, self.any_expr(rest))
                for y, op, x_left in _partners(x, target):
                    ey = self.find(rest, y)
                    if ey is not None:
                        return (op, ex, ey) if x_left else (op, ey, ex)
        self.failed.add((mask, target))
        return None

    def any_expr(self, mask: int) -> Expr:
        """Some expression using exactly the numbers in `mask` (their sum)."""
        leaves = [n for i, n in enumerate(self.nums) if mask >> i & 1]
        expr: Expr = leaves[0]
        for leaf in leaves[1:]:
            expr = ("+", expr, leaf)
        return expr


def solve(nums: Sequence[int], target: int) -> str | None:
    """Find an expression using every number exactly once that equals `target`, or None.

    Binary + - * / and parentheses only; exact rational arithmetic, intermediate values
    may be negative or fractional. The result has spaces around operators and only the
    parentheses it needs, e.g. ``solve([25, 7, 3, 8], 46) == "3 * (25 - 7) - 8"`` (one
    of possibly many solutions; which one is found is deterministic).

    Cost (measured, one core of the dev machine): 3-4 numbers take about 1 ms (at most
    ~10 ms); 6 numbers about 70 ms (median, random targets 100..999), and the worst cases
    we found, unsolvable targets that force an exhaustive search (e.g. six distinct primes
    [71, 73, 79, 83, 89, 97] -> 10**12), about 0.4 s. More than 6 numbers works but the
    cost grows exponentially.
    """
    values = [_as_int(n, "every number") for n in nums]
    if not values:
        raise ValueError("solve needs at least one number")
    search = _Search(values)
    expr = search.find((1 << len(values)) - 1, Fraction(_as_int(target, "target")))
    return None if expr is None else render(expr)


def _as_int(value: Any, what: str) -> int:
    if not _is_int(value):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    return int(value)


def _is_int(value: Any) -> bool:
    """Plain ints only: not bools, floats (even 3.0), strings or numpy scalars (as in `rewards`)."""
    return type(value) is int


# --------------------------------------------------------------------------- held-out split


def puzzle_key(nums: Iterable[int], target: int) -> str:
    """Canonical identity of a puzzle: sorted numbers and target, e.g. "3,7,25|46"."""
    return ",".join(str(operator.index(n)) for n in sorted(nums)) + f"|{operator.index(target)}"


def is_heldout(nums: Iterable[int], target: int) -> bool:
    """Whether the puzzle belongs to the held-out test split (stable across runs and machines)."""
    return _key_is_heldout(puzzle_key(nums, target))


def _key_is_heldout(key: str) -> bool:
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % HELDOUT_MODULUS == 0


# --------------------------------------------------------------------------- generator


def generate(
    n: int,
    *,
    min_numbers: int = 3,
    max_numbers: int = 4,
    max_number: int = 100,
    target_range: tuple[int, int] = (1, 100),
    seed: int = 0,
    split: str = "train",
    progress: bool | None = None,
    allow_fewer: bool = False,
    operators: str = OPERATORS,
) -> datasets.Dataset:
    """`n` distinct solvable puzzles with columns nums (list[int]), target (int), solution (str).

    Built by construction: for each row pick a count uniformly in min_numbers..max_numbers,
    draw that many numbers in 1..max_number, join them with a random binary tree of random
    operations in exact arithmetic, and keep the puzzle when the value is an integer inside
    `target_range` (inclusive); otherwise draw again. `operators` (a subset of "+-*/") are the
    operations a solution may use: with "+-", every target is a sum or difference of the numbers.
    Puzzles are distinct by (sorted nums, target); `split` keeps only training puzzles ("train")
    or only held-out ones ("test"), see `is_heldout`. The result depends only on the arguments,
    and a longer run with the same arguments extends a shorter one. Small targets come out more often than large
    ones (about 1.7x for 1 vs 100 at the defaults). `progress` shows a bar; by default
    only when n > 20,000. 100,000 puzzles at the defaults take about 6 s on one core.

    Raises ValueError for invalid arguments, or when the settings allow too few distinct
    puzzles: a count that yields no new puzzle in 100,000 draws in a row is dropped, and
    when none is left (or after 10,000 draws per requested puzzle) generation stops.
    With `allow_fewer`, it returns the puzzles found so far instead (all a small level holds).
    """
    _check_generate_args(n, min_numbers, max_numbers, max_number, target_range, split)
    check_operators(operators)
    low, high = target_range
    want_heldout = split == "test"
    rand = random.Random(seed).random  # floats only: cheap, and stable across Python versions
    counts = list(range(min_numbers, max_numbers + 1))
    seen: set[str] = set()  # puzzles of both splits, so the other split's are not hashed again
    rows: dict[str, list[Any]] = {"nums": [], "target": [], "solution": []}
    attempts, max_attempts = 0, _STALL_ATTEMPTS + _ATTEMPTS_PER_PUZZLE * n
    show = n > _PROGRESS_THRESHOLD if progress is None else progress
    with tqdm(total=n, desc=f"countdown {split} puzzles", unit="puzzle", disable=not show) as bar:
        while len(rows["target"]) < n:
            if not counts or attempts >= max_attempts:
                if allow_fewer:
                    break
                raise ConfigError(
                    f"found only {len(rows['target'])} of {n} distinct {split} puzzles after "
                    f"{attempts} attempts: these settings allow too few (or too rare) puzzles. "
                    "Loosen them: "
                    f"raise max_number (now {max_number}) or max_numbers (now {max_numbers}), "
                    f"widen target_range (now {target_range}), or ask for fewer puzzles."
                )
            count = counts[int(rand() * len(counts))]
            for _ in range(_STALL_ATTEMPTS):
                attempts += 1
                nums = [1 + int(rand() * max_number) for _ in range(count)]
                puzzle = _random_puzzle(rand, nums, low, high, operators)
                if puzzle is None:
                    continue
                target, expr = puzzle
                key = puzzle_key(nums, target)
                if key in seen:
                    continue
                seen.add(key)
                if _key_is_heldout(key) == want_heldout:
                    rows["nums"].append(nums)
                    rows["target"].append(target)
                    rows["solution"].append(render(expr))
                    bar.update(1)
                    break
            else:
                counts.remove(count)  # this count is exhausted; the others may still have room
    return _to_dataset(rows, split)


def _to_dataset(rows: dict[str, list[Any]], split: str) -> datasets.Dataset:
    """Columns -> Dataset with the FEATURES schema (via Arrow: 15x faster than from_dict)."""
    table = pa.Table.from_pydict(rows, schema=FEATURES.arrow_schema)
    return datasets.Dataset(datasets.table.InMemoryTable(table), split=datasets.Split(split))


def _random_puzzle(
    rand: Callable[[], float], nums: list[int], low: int, high: int, ops: str = OPERATORS
) -> tuple[int, Expr] | None:
    """A random expression over `nums`, with operations from `ops`, whose value is an integer in [low, high], or None.

    Pairs are joined in random order with random operations; the last operation is
    picked among those that land in range (a third of the rejections of drawing it
    blindly). The hot loop of `generate`: values stay plain ints while exact.
    """
    values: list[Number] = list(nums)
    exprs: list[Expr] = list(nums)
    while len(values) > 2:
        i = int(rand() * len(values))
        j = int(rand() * (len(values) - 1))
        j += j >= i  # a second, different index
        op = ops[int(rand() * len(ops))]  # the same draws as before for all four operators
        x, y = values[i], values[j]
        if op == "+":
            value = x + y
        elif op == "-":
            value = x - y
        elif op == "*":
            value = x * y
        elif not y:
            return None
        else:
            value = _divide(x, y)
        values[i], exprs[i] = value, (op, exprs[i], exprs[j])
        del values[j], exprs[j]
    (x, y), (ex, ey) = values, exprs
    last = [(x + y, ("+", ex, ey)), (x * y, ("*", ex, ey)), (x - y, ("-", ex, ey)), (y - x, ("-", ey, ex))]
    if y:
        last.append((_int_quotient(x, y), ("/", ex, ey)))
    if x:
        last.append((_int_quotient(y, x), ("/", ey, ex)))
    fits = [(int(v), e) for v, e in last if v is not None and v.denominator == 1 and low <= v <= high and e[0] in ops]
    return fits[int(rand() * len(fits))] if fits else None


def _divide(x: Number, y: Number) -> Number:
    """x / y exactly (y != 0): an int when it divides, a Fraction otherwise."""
    if type(x) is int and type(y) is int:
        return x // y if x % y == 0 else Fraction(x, y)
    value = x / y  # at least one Fraction: exact
    return value.numerator if value.denominator == 1 else value


def _int_quotient(x: Number, y: Number) -> int | None:
    """x / y (y != 0) when it is an integer, else None (no Fraction built for ints)."""
    if type(x) is int and type(y) is int:
        return x // y if x % y == 0 else None
    value = x / y
    return value.numerator if value.denominator == 1 else None


def check_operators(operators: str) -> None:
    """Refuse an operator set that is not a non-empty subset of "+-*/" without repeats."""
    if (
        not isinstance(operators, str)
        or not operators
        or set(operators) - set(OPERATORS)
        or len(set(operators)) < len(operators)
    ):
        raise ConfigError(
            f"operators={operators!r}: give some of {OPERATORS!r}, each once, e.g. '+-' for sums and differences only"
        )


def _check_generate_args(
    n: int,
    min_numbers: int,
    max_numbers: int,
    max_number: int,
    target_range: tuple[int, int],
    split: str,
) -> None:
    for name, value in (
        ("n", n),
        ("min_numbers", min_numbers),
        ("max_numbers", max_numbers),
        ("max_number", max_number),
    ):
        if not _is_int(value):
            raise ConfigError(f"{name} must be an integer, got {value!r}")
    if n < 0:
        raise ConfigError(f"n must be >= 0, got {n}")
    if not MIN_NUMBERS <= min_numbers <= max_numbers <= MAX_NUMBERS:
        raise ConfigError(
            f"need {MIN_NUMBERS} <= min_numbers <= max_numbers <= {MAX_NUMBERS}, "
            f"got min_numbers={min_numbers}, max_numbers={max_numbers}"
        )
    if max_number < 1:
        raise ConfigError(f"max_number must be >= 1 (numbers are drawn from 1..max_number), got {max_number}")
    if (
        not isinstance(target_range, (tuple, list))
        or len(target_range) != 2
        or not all(_is_int(t) for t in target_range)
        or target_range[0] > target_range[1]
    ):
        raise ConfigError(f"target_range must be (low, high) integers with low <= high, got {target_range!r}")
    if split not in ("train", "test"):
        raise ConfigError(f"split must be 'train' or 'test', got {split!r}")


def heldout(
    n: int = 128,
    *,
    min_numbers: int = 3,
    max_numbers: int = 4,
    max_number: int = 100,
    target_range: tuple[int, int] = (1, 100),
    operators: str = OPERATORS,
) -> datasets.Dataset:
    """The fixed evaluation set for a difficulty: `generate(split="test", seed=HELDOUT_SEED)`.

    Same arguments, same puzzles, in every stage and run; `heldout(64)` is the first 64
    rows of `heldout(128)`. No puzzle of it can appear in any `generate(split="train")`.
    """
    return generate(
        n,
        min_numbers=min_numbers,
        max_numbers=max_numbers,
        max_number=max_number,
        target_range=target_range,
        seed=HELDOUT_SEED,
        split="test",
        operators=operators,
    )


# --------------------------------------------------------------------------- validation and loading


def validate_rows(rows: datasets.Dataset | Iterable[Mapping[str, Any]]) -> None:
    """Check that every row has `nums` (a non-empty list of ints) and `target` (an int).

    Accepts a Dataset or any iterable of row mappings. Bools, floats (even 3.0) and
    strings are not integers. Raises ValueError naming the row index and the column, or,
    for a Dataset without a required column, naming it and the columns present. A Dataset
    whose schema already is integer is checked in Arrow (fast for the 490k-row hub set).
    """
    if isinstance(rows, datasets.Dataset):
        missing = [c for c in REQUIRED_COLUMNS if c not in rows.column_names]
        if missing:
            raise DataError(f"dataset is missing column {missing[0]!r} (columns present: {rows.column_names})")
        rows = rows.select_columns(list(REQUIRED_COLUMNS))
        if _integer_schema(rows.features) and _arrow_rows_ok(rows):
            return
    for index, row in enumerate(rows):
        _check_row(index, row)


def _check_row(index: int, row: Any) -> None:
    if not isinstance(row, Mapping):
        raise DataError(f"row {index}: expected a mapping of column names to values, got {row!r}")
    for column in REQUIRED_COLUMNS:
        if column not in row:
            raise DataError(f"row {index}: missing column {column!r} (columns present: {list(row)})")
    nums, target = row["nums"], row["target"]
    if (
        not isinstance(nums, Sequence)
        or isinstance(nums, (str, bytes))
        or not nums
        or not all(_is_int(x) for x in nums)
    ):
        raise DataError(f"row {index}: column 'nums' must be a non-empty list of integers, got {reprlib.repr(nums)}")
    if not _is_int(target):
        raise DataError(f"row {index}: column 'target' must be an integer, got {reprlib.repr(target)}")


def _is_int_value(feature: Any) -> bool:
    return isinstance(feature, datasets.Value) and feature.dtype.startswith(("int", "uint"))


def _integer_schema(features: datasets.Features) -> bool:
    nums = features["nums"]
    is_list = isinstance(nums, (datasets.List, datasets.LargeList))
    return is_list and _is_int_value(nums.feature) and _is_int_value(features["target"])


def _arrow_rows_ok(ds: datasets.Dataset) -> bool:
    """No nulls and no empty lists (given an integer schema); False sends rows to the slow path."""
    table = ds.with_format("arrow")[:]
    nums, target = table.column("nums"), table.column("target")
    if nums.null_count or target.null_count or pc.list_flatten(nums).null_count:
        return False
    return len(nums) == 0 or pc.min(pc.list_value_length(nums)).as_py() > 0


def prepare_rows(ds: datasets.Dataset, *, drop_heldout: bool = True) -> datasets.Dataset:
    """Validate a countdown Dataset, keep only `nums` (list[int64]) and `target` (int64),
    and, by default, drop the puzzles that belong to our held-out split."""
    validate_rows(ds)
    ds = ds.select_columns(list(REQUIRED_COLUMNS))
    wanted = datasets.Features({c: FEATURES[c] for c in REQUIRED_COLUMNS})
    if ds.features != wanted:
        ds = ds.cast(wanted)
    if drop_heldout:
        ds = ds.filter(_not_heldout_batch, batched=True)
    return ds


def _not_heldout_batch(batch: dict[str, list[Any]]) -> list[bool]:
    return [not is_heldout(nums, target) for nums, target in zip(batch["nums"], batch["target"], strict=True)]


def load_hub_countdown(name: str = HUB_DATASET, split: str = "train", drop_heldout: bool = True) -> datasets.Dataset:
    """Load a countdown dataset from the Hugging Face Hub (needs network) and `prepare_rows` it.

    The default is TinyZero's dataset; it has only a 'train' split (TinyZero evaluates on
    its tail). With drop_heldout the puzzles of our held-out split are removed, so
    training on it never sees the `heldout` evaluation puzzles.
    """
    ds = datasets.load_dataset(name, split=split)
    if not isinstance(ds, datasets.Dataset):
        raise DataError(f"expected one split of {name!r}, got {type(ds).__name__}")
    return prepare_rows(ds, drop_heldout=drop_heldout)
