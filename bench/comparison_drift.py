"""How the chat_compare comparison moves during training: "more" on sums and on differences, and its push.

For each run folder, from its training rollouts (``RUN/rollouts/step-*.jsonl``), per window of steps: the
share of completions that write "is more than" on puzzles whose target is the sum of the two numbers, the
same on puzzles whose target is their difference, and the summed GRPO advantage of the completions that
write it, per kind of puzzle (positive: training pushes toward "more"). A model that reads the target says
"more" on sums and "less" on differences; one whose "more" spreads from the sums to the differences shows
the second share rising behind the first. A second line per window gives, per kind, how many completions
name the two numbers truly ("The larger number is X and the smaller is Y", ``named_numbers_reward``'s
reading) and how many are right.

    python bench/comparison_drift.py runs/seeds/decision/seed-0 --window 8
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from r1lite.errors import run_main
from r1lite.inspection.runlog import read_rollouts
from rewards.decision import names_truly, puzzle_kind

MORE = re.compile(r"is more than")


def drift(rollouts: list[dict], window: int) -> list[dict]:
    """Per window of ``window`` steps: counts of "more" and rows, and summed advantage of "more", per kind."""
    windows: dict[int, dict] = {}
    for row in rollouts:
        kind = puzzle_kind(row["nums"], row["target"])
        if kind is None:
            continue  # only sum-or-difference puzzles of two numbers have a right comparison
        start = row["step"] // window * window
        w = windows.setdefault(start, {"steps": (start, start + window - 1)})
        counts = w.setdefault(kind, {"more": 0, "rows": 0, "push": 0.0, "named": 0, "right": 0})
        counts["rows"] += 1
        counts["named"] += names_truly(row["completion"], row["nums"])
        counts["right"] += bool(row.get("correct"))
        if MORE.search(row["completion"]):
            counts["more"] += 1
            counts["push"] += row["advantage"]
    return [windows[k] for k in sorted(windows)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders with rollouts/step-*.jsonl")
    parser.add_argument("--window", type=int, default=8, help="steps per window")
    args = parser.parse_args(argv)
    for run in args.runs:
        rows = read_rollouts(run)
        print(run)
        for w in drift(rows, args.window):
            parts, links = [], []
            for kind in ("sum", "difference"):
                c = w.get(kind, {"more": 0, "rows": 0, "push": 0.0, "named": 0, "right": 0})
                parts.append(f"{kind}s: 'more' {c['more']}/{c['rows']}, push {c['push']:+.1f}")
                links.append(f"{kind}s: named right {c['named']}/{c['rows']}, solved {c['right']}/{c['rows']}")
            print(f"  steps {w['steps'][0]}-{w['steps'][1]}: " + "; ".join(parts))
            print("    " + "; ".join(links))


if __name__ == "__main__":
    run_main(main)
