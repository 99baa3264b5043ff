"""The best target-blind answer template on a run's held-out puzzles, beside the run's own accuracy.

A template is one fixed answer shape over the puzzle's numbers: an order of them, an operator between
each two, any parentheses (``r1lite.task.baselines``, the same baseline `r1lite summary` reports). It
ignores the target, so what it scores is what a model that never reads the target could reach. The
best one is chosen with hindsight on the same puzzles (the most any single shape scores there); a
learning claim counts only above it. Beside it, the best target-blind rule on the numbers' order (one
template per order of the numbers, such as "the larger minus the smaller"): it reads the numbers, never the
target.

    python bench/bench_template.py runs/seeds/zero-fixed/seed-1      # a run folder (its eval/final.json)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from r1lite.task.baselines import best_order_rule, best_template, rule_name
from r1lite.task.evaluation import wilson_interval


def _share(solved: int, n: int) -> str:
    low, high = wilson_interval(solved, n)
    return f"{solved}/{n} ({solved / n:.1%}, 95% interval {low:.1%}-{high:.1%})"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", help="a run folder with eval/final.json")
    args = parser.parse_args(argv)

    final = Path(args.run_dir) / "eval" / "final.json"
    if not final.is_file():
        parser.error(f"{final} not found: pass the folder of a run that has finished its final evaluation")
    samples = json.loads(final.read_text())["samples"]
    puzzles = [{"nums": s["nums"], "target": s["target"]} for s in samples]
    n = len(samples)
    correct = sum(s["correct"] == 1.0 for s in samples)
    template = best_template(puzzles)
    shape = template.name
    if len(template.names) == 1:
        shape += f" on {next(iter(template.names))}-number puzzles"
    rule = best_order_rule(puzzles)
    report = {
        "puzzles": n,
        "model": _share(correct, n),
        "best template": f"{shape}: {_share(template.solved, n)}",
        "best order rule": f"{rule_name(rule)}: {rule.solved}/{n} ({rule.accuracy:.1%})",
    }
    for key, value in report.items():
        print(f"{key:15s} {value}")
    return report


if __name__ == "__main__":
    main()
