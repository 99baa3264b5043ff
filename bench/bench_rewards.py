"""Throughput of the countdown rewards on one core.

Builds N realistic completions (about 300 tokens: ~1,200 characters of reasoning, then an
answer block): 40% correct, 30% wrong value or wrong numbers, 15% with no answer block,
15% malformed (hostile expressions, broken tags). Times each reward over the whole batch,
then all four together, and reports the median over the repeats in completions/second.

    python bench/bench_rewards.py [--n 20000] [--repeats 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import random
import shlex
import statistics
import sys
import time
from collections.abc import Callable

from rewards import equation_reward, format_reward, shaped_format_reward, tinyzero_reward
from rewards.safe_math import evaluate

REWARDS = [equation_reward, format_reward, shaped_format_reward, tinyzero_reward]
REASONING_CHARS = 1200
MALFORMED_ANSWERS = [
    "2 ** 10",
    "-3 + 5",
    "abs(3)",
    "__import__('os')",
    "2.5 * 4",
    "(" * 200 + "1" + ")" * 200,
    "9" * 400,
    "\u0663 + \u0665",  # Arabic-Indic digits
]


def make_problem(rng: random.Random) -> tuple[list[int], str, int]:
    """Numbers, a correct expression over all of them, and its integer value."""
    while True:
        nums = [rng.randint(1, 99) for _ in range(rng.choice([3, 4]))]
        expr = str(nums[0])
        for n in nums[1:]:
            op = rng.choice("+-*/")
            expr = f"({expr}) {op} {n}" if rng.random() < 0.5 else f"{expr} {op} {n}"
        value = evaluate(expr)
        if value is not None and value.denominator == 1 and value > 0:
            return nums, expr, int(value)


def make_reasoning(rng: random.Random, nums: list[int], target: int) -> str:
    parts: list[str] = []
    while sum(map(len, parts)) < REASONING_CHARS:
        a, b = rng.sample(nums, 2)
        parts.append(
            rng.choice(
                [
                    f"Let me try {a} + {b} = {a + b}, which is not {target}. ",
                    f"Maybe {a} * {b} = {a * b}; that overshoots {target}, so I need to subtract. ",
                    f"What if I divide {a} by {b}? That gives a fraction, which does not help yet. ",
                    f"Alternatively {a} - {b} = {a - b}, and then I still have to use the other numbers. ",
                ]
            )
        )
    return "".join(parts)[:REASONING_CHARS]


def make_completions(n: int, seed: int) -> tuple[list[str], list[list[int]], list[int]]:
    rng = random.Random(seed)
    completions, all_nums, targets = [], [], []
    for _ in range(n):
        nums, expr, target = make_problem(rng)
        reasoning = make_reasoning(rng, nums, target)
        kind = rng.random()
        if kind < 0.40:  # correct
            completion = f"{reasoning}</think>\n<answer>{expr}</answer>"
        elif kind < 0.55:  # wrong value
            completion = f"{reasoning}</think>\n<answer>{expr} + 1</answer>"
        elif kind < 0.70:  # wrong numbers
            completion = f"{reasoning}</think>\n<answer>{' + '.join(map(str, nums[:-1]))}</answer>"
        elif kind < 0.85:  # no answer block
            completion = f"{reasoning}</think> The answer is {target}."
        else:  # malformed: hostile expression, or broken tags
            answer = rng.choice(MALFORMED_ANSWERS)
            completion = rng.choice(
                [
                    f"{reasoning}</think>\n<answer>{answer}</answer>",
                    f"<think>{reasoning}</think><answer>{expr}</answer> done",
                    f"{reasoning}<answer>{expr}",
                ]
            )
        completions.append(completion)
        all_nums.append(nums)
        targets.append(target)
    return completions, all_nums, targets


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="completions per batch (default 20000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats, median reported (>= 3)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats must be at least 3")
    if hasattr(os, "sched_setaffinity"):  # one core, whatever the machine has
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    completions, nums, targets = make_completions(args.n, args.seed)
    prompts = ["prompt"] * args.n
    mean_chars = sum(map(len, completions)) / args.n
    print(f"command: {shlex.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"python {platform.python_version()} on {platform.machine()}, pinned to one core")
    print(f"{args.n} completions, mean {mean_chars:.0f} characters, median of {args.repeats} repeats")

    def call_all() -> None:
        for reward in REWARDS:
            reward(prompts, completions, nums=nums, target=targets)

    for reward in REWARDS:
        call = functools.partial(reward, prompts, completions, nums=nums, target=targets)
        mean_score = statistics.fmean(call())
        seconds = median_seconds(call, args.repeats)
        print(f"{reward.__name__:22s} {args.n / seconds:>12,.0f} completions/s   mean score {mean_score:.3f}")
    seconds = median_seconds(call_all, args.repeats)
    print(f"{'all four':22s} {args.n / seconds:>12,.0f} completions/s")


if __name__ == "__main__":
    main()
