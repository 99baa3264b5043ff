"""Training puzzles that no fixed answer template can win: a cap on the share any one template solves.

A puzzle generator that joins random numbers with random operations makes some answer shapes pay far
more than others: on 3 numbers up to 30 with targets 1-60, "a - b + c" in the given order solves 28 of the
learning recipe's 96 held-out puzzles. RL finds that template and stops (``r1lite.task.baselines``). With
``max_template_share`` set, the training set is drawn from a larger pool of generated puzzles, in the
generator's order, keeping a puzzle only while every template that solves it has solved fewer than
``share * n`` of the puzzles kept so far. So no template scores more than ``share`` of the training set,
and a policy earns more only by reading the target.

Only puzzles of up to 3 numbers are capped (168 shapes; 4 numbers have 5,856, too many to try on every
puzzle of a pool); larger ones are kept as generated. The held-out split is left as generated unless
``eval_template_share`` asks for a capped set too (``heldout``).

With ``train_twins``, each training puzzle comes beside its target twin, in adjacent rows: the same numbers
with another reachable target (``twin_pairs``). A fixed answer shape gives the same value on both, so it
solves at most one of each pair, and a step that serves both pushes one shape up on one target and down on
the other: what is left to learn is which target asks for which shape.
"""

from __future__ import annotations

import logging
import random
from collections import Counter

import datasets

from r1lite.errors import ConfigError
from r1lite.task import countdown
from r1lite.task.baselines import reachable_targets, templates, value

logger = logging.getLogger(__name__)

CAPPED_NUMBERS = 3  # puzzles of more numbers are kept as generated
# the pool is this many times the wanted size: the first that the level allows and that is enough wins
_POOL_FACTORS = (4, 3, 2, 1.5, 16)


def solving_templates(nums, target) -> list[str]:
    """The names of every template (answer shape over the given order) that solves the puzzle."""
    return [name for name, tree in templates(len(nums)) if value(tree, nums) == target]


def cap_templates(pool: datasets.Dataset, n: int, share: float) -> datasets.Dataset | None:
    """The first ``n`` puzzles of ``pool`` (in order) such that no template solves more than ``share * n`` of
    them; None when the pool runs out first."""
    cap = max(1, int(share * n))
    used: Counter[str] = Counter()
    keep: list[int] = []
    for i, (nums, target) in enumerate(zip(pool["nums"], pool["target"], strict=True)):
        if len(nums) > CAPPED_NUMBERS:
            keep.append(i)
        else:
            names = solving_templates(nums, target)
            if any(used[name] >= cap for name in names):
                continue
            used.update(names)
            keep.append(i)
        if len(keep) == n:
            return pool.select(keep)
    return None


def generate_train(n: int, difficulty: dict, seed: int, max_template_share: float = 0.0) -> datasets.Dataset:
    """``n`` training puzzles at ``difficulty`` (``countdown.generate``'s keywords); with ``max_template_share``
    in (0, 1), drawn so that no fixed template solves more than that share of them."""
    if not max_template_share:
        return countdown.generate(n, seed=seed, split="train", **difficulty)
    for factor in _POOL_FACTORS:
        try:
            pool = countdown.generate(int(n * factor), seed=seed, split="train", **difficulty)
        except ConfigError:
            continue  # the level holds fewer distinct puzzles: try a smaller pool
        capped = cap_templates(pool, n, max_template_share)
        if capped is not None:
            return capped
    raise ConfigError(
        f"max_template_share={max_template_share}: the generated puzzles hold too few that keep "
        f"every answer template under {max_template_share:.0%} of {n}; raise max_template_share, or widen the "
        "puzzles (max_number, target range) so that more answer shapes occur"
    )


def heldout(n: int, difficulty: dict, max_template_share: float = 0.0) -> datasets.Dataset:
    """The fixed held-out split at ``difficulty`` (``countdown.heldout``); with ``max_template_share`` in (0, 1),
    ``n`` of its puzzles drawn in order so that no fixed template solves more than that share of them: a set on
    which a model that ignores the target scores at most that share."""
    if not max_template_share:
        return countdown.heldout(n, **difficulty)
    pool = countdown.generate(
        n * _HELDOUT_POOL_FACTOR, seed=countdown.HELDOUT_SEED, split="test", allow_fewer=True, **difficulty
    )
    capped = cap_templates(pool, n, max_template_share)
    if capped is None:
        raise ConfigError(
            f"eval_template_share={max_template_share}: the {len(pool)} held-out puzzles at this difficulty hold too "
            f"few that keep every answer template under {max_template_share:.0%} of {n}; ask for fewer eval_puzzles, "
            "raise eval_template_share, or widen the puzzles (max_number, target range)"
        )
    return capped


_HELDOUT_POOL_FACTOR = 8  # the pool: up to this many times n of the held-out split, in its fixed order


def twin_pairs(
    rows: datasets.Dataset, target_range: tuple[int, int], seed: int, operators: str = countdown.OPERATORS
) -> datasets.Dataset:
    """``rows`` with each puzzle followed by its target twin (same numbers, another target in ``target_range``
    reachable with ``operators``, never a held-out puzzle): rows 2k and 2k+1 are a pair.

    Of a puzzle's possible twin targets, the one whose solving templates have solved fewest rows so far is
    taken (ties drawn with ``seed``): drawn at random, the twin's target would be the sum half the time (the
    sum is almost always in range, a product or a quotient seldom), and the sum would pay on 40% of the rows.
    A puzzle without a twin is dropped (and counted in the log); none left is an error."""
    rng = random.Random(seed)
    low, high = target_range
    used: Counter[str] = Counter()
    paired = []
    for puzzle in rows.to_list():
        nums, target = list(puzzle["nums"]), int(puzzle["target"])
        used.update(solving_templates(nums, target))
        reach = reachable_targets(nums, operators)
        options = [t for t in sorted(reach) if low <= t <= high and t != target and not countdown.is_heldout(nums, t)]
        if not options:
            continue
        solvers = {t: solving_templates(nums, t) for t in options}
        load = {t: max((used[name] for name in names), default=0) for t, names in solvers.items()}
        least = min(load.values())
        chosen = rng.choice([t for t in options if load[t] == least])
        used.update(solvers[chosen])
        paired += [puzzle, {**puzzle, "target": chosen, "solution": reach[chosen]}]
    dropped = rows.num_rows - len(paired) // 2
    if not paired:
        raise ConfigError(
            f"train_twins: none of the {rows.num_rows} training puzzles has a twin (another reachable target in "
            f"{low}-{high} that is not held out); widen the target range or turn it off"
        )
    if dropped:
        logger.info("train_twins: %d of %d training puzzles have no twin and are left out", dropped, rows.num_rows)
    return datasets.Dataset.from_list(paired)
