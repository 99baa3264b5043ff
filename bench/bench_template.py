"""The best target-blind answer template on a run's held-out puzzles, beside the run's own accuracy.

A template is one fixed answer shape over the puzzle's numbers: an order of them, an operator between
each two, evaluated left to right with standard precedence or with every step parenthesised. It
ignores the target, so what it scores is what a model that never reads the target could reach. The
best one is chosen with hindsight on the same puzzles (the most any single shape scores there); a
learning claim counts only above it. Beside it, the best target-blind rule on the numbers' order (one
template per order of the numbers, such as "the larger minus the smaller"): it reads the numbers, never the
target.

    python bench/bench_template.py runs/seeds/zero-fixed/seed-1      # a run folder (its eval/final.json)
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import Counter
from pathlib import Path


def templates(n: int):
    """Every fixed answer shape over n numbers: (order, operators, parenthesised)."""
    for order in itertools.permutations(range(n)):
        for ops in itertools.product("+-*/", repeat=n - 1):
            for parenthesised in (False, True):
                yield order, ops, parenthesised


def render(template, nums: list[int]) -> str:
    order, ops, parenthesised = template
    expr = str(nums[order[0]])
    for op, i in zip(ops, order[1:], strict=True):
        expr = f"({expr} {op} {nums[i]})" if parenthesised else f"{expr} {op} {nums[i]}"
    return expr


def best_template(puzzles: list[dict]) -> tuple[tuple | None, int]:
    """(the template that solves most of ``puzzles``, how many it solves); each puzzle: nums, target."""
    from rewards.countdown import equation_reward

    solved: Counter = Counter()
    for puzzle in puzzles:
        nums, target = puzzle["nums"], puzzle["target"]
        shapes = list(templates(len(nums)))
        answers = [f"<answer>{render(t, nums)}</answer>" for t in shapes]
        scores = equation_reward(
            [None] * len(answers), answers, nums=[nums] * len(answers), target=[target] * len(answers)
        )
        solved.update((len(nums), *t) for t, score in zip(shapes, scores, strict=True) if score == 1.0)
    if not solved:
        return None, 0
    return solved.most_common(1)[0]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", help="a run folder with eval/final.json")
    args = parser.parse_args(argv)
    from r1lite.task.evaluation import wilson_interval

    final = json.loads((Path(args.run_dir) / "eval" / "final.json").read_text())
    samples = final["samples"]
    template, solved = best_template(samples)
    n = len(samples)
    correct = sum(s["correct"] == 1.0 for s in samples)
    shape = (
        "none solves any"
        if template is None
        else f"{render(template[1:], ['a', 'b', 'c', 'd', 'e', 'f'][: template[0]])} on {template[0]}-number puzzles"
    )
    report = {
        "puzzles": n,
        "model": f"{correct}/{n} ({correct / n:.1%}, 95% interval {wilson_interval(correct, n)[0]:.1%}-"
        f"{wilson_interval(correct, n)[1]:.1%})",
        "best template": f"{shape}: {solved}/{n} ({solved / n:.1%}, 95% interval {wilson_interval(solved, n)[0]:.1%}-"
        f"{wilson_interval(solved, n)[1]:.1%})",
    }
    from r1lite.task.baselines import best_order_rule, rule_name

    rule = best_order_rule([{"nums": s["nums"], "target": s["target"]} for s in samples])
    report["best order rule"] = f"{rule_name(rule)}: {rule.solved}/{n} ({rule.accuracy:.1%})"
    for key, value in report.items():
        print(f"{key:15s} {value}")
    return report


if __name__ == "__main__":
    main()
