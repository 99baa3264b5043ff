"""Read the check that chat_try's reasoning makes: is the sum computed, is its yes or no right, is it acted on.

The chat_try prompt's worked examples try the sum first and accept it only at the target
("25 + 9 = 34, no. 25 - 9 = 16, yes."). The first check of a completion is the statement
``a + b = v`` followed by ``yes`` or ``no``. Its verdict is right when it says ``yes`` exactly on the
puzzles whose target is the sum; a model that reads the target gets it right, one that always accepts
(or always rejects) the sum is right on the sums (or the differences) only.

For an evaluation file (``RUN/eval/*.json``): how many answers make the check, with the sum stated truly,
with the verdict right, and whose answer follows the verdict (``yes``: an answer with +, ``no``: with -);
then, on sum puzzles and on difference puzzles, how many answers are right, and how many of those honest
checks reached (``checked_answer_reward``: every check true and honest, the answer the last one accepted):
a right difference after a false sum ("22 + 12 = 33, no. 22 - 12 = 10, yes.") is right, not reached;
and of the statements in the reasoning that add or subtract exactly the puzzle's two numbers, how many are
true (the arithmetic an honest road needs).
For a run folder (its ``rollouts/step-*.jsonl``), per window of steps: the share of completions whose first
check says ``no``, on sum puzzles and on difference puzzles, how many of those end on a right answer (and how
many of those honest checks reached), and the summed GRPO advantage of those completions per kind
(positive: training pushes toward ``no``).

    python bench/try_verdicts.py runs/seeds/try/seed-*/eval/final.json
    python bench/try_verdicts.py runs/seeds/try/seed-0 --window 8
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from r1lite.errors import PathNotFoundError, run_main
from r1lite.inspection.runlog import read_rollouts
from rewards import safe_math
from rewards.decision import puzzle_kind
from rewards.reasoning import checked_answer_reward, reasoning_part, statements

FIRST_CHECK = re.compile(r"(\d+)\s*\+\s*(\d+)\s*=\s*(-?\d+)[\s,.:;!-]{0,4}(yes|no)\b", re.IGNORECASE)


def first_check(completion: str, nums: list[int]) -> tuple[int, bool] | None:
    """(stated value, said yes) of the first ``a + b = v, yes|no`` over the puzzle's two numbers, or None."""
    for m in FIRST_CHECK.finditer(completion.split("</think>")[0]):
        if sorted((int(m[1]), int(m[2]))) == sorted(nums):
            return int(m[3]), m[4].lower() == "yes"
    return None


def verdicts(samples: list[dict]) -> dict[str, int]:
    """Counts over held-out samples: checked, sum true, verdict right, answer follows the verdict."""
    out = {"checked": 0, "sum true": 0, "verdict right": 0, "answer follows": 0}
    for s in samples:
        check = first_check(s["completion"], s["nums"])
        if check is None:
            continue
        value, yes = check
        out["checked"] += 1
        out["sum true"] += value == sum(s["nums"])
        out["verdict right"] += yes == (s["target"] == sum(s["nums"]))
        out["answer follows"] += ("+" if yes else "-") in (s.get("shape") or "")
    return out


def _reached(row: dict) -> bool:
    return checked_answer_reward(None, [row["completion"]], nums=[row["nums"]], target=[row["target"]])[0] == 1.0


def right_per_kind(samples: list[dict]) -> dict[str, dict[str, int]]:
    """Per kind: rows, right answers, right answers that honest checks reached."""
    out = {k: {"rows": 0, "right": 0, "reached": 0} for k in ("sum", "difference")}
    for s in samples:
        kind = puzzle_kind(s["nums"], s["target"])
        if kind is None:
            continue
        out[kind]["rows"] += 1
        if s.get("correct"):
            out[kind]["right"] += 1
            out[kind]["reached"] += _reached(s)
    return out


def stated_arithmetic(samples: list[dict]) -> dict[str, list[int]]:
    """[true, stated] for the statements ``a + b = v`` and ``a - b = v`` (either order) over each puzzle's numbers."""
    out = {"sums": [0, 0], "differences": [0, 0]}
    for s in samples:
        for _, expression, value in statements(reasoning_part(s["completion"])):
            parsed = None if expression is None or value is None else safe_math.parse(expression)
            if parsed is None or sorted(parsed.literals) != sorted(s["nums"]):
                continue
            kind = "sums" if "+" in expression else "differences" if "-" in expression else None
            if kind is not None:
                out[kind][0] += parsed.value() == value
                out[kind][1] += 1
    return out


def _window_counts() -> dict:
    return {"no": 0, "rows": 0, "right": 0, "reached": 0, "push": 0.0}


def drift(rollouts: list[dict], window: int) -> list[dict]:
    """Per window of ``window`` steps, per kind: rows, first checks saying no, how many of those are right, and
    their summed advantage."""
    windows: dict[int, dict] = {}
    for row in rollouts:
        k = puzzle_kind(row["nums"], row["target"])
        if k is None:
            continue  # only sum-or-difference puzzles of two numbers
        start = row["step"] // window * window
        w = windows.setdefault(start, {"steps": (start, start + window - 1)})
        counts = w.setdefault(k, _window_counts())
        counts["rows"] += 1
        check = first_check(row["completion"], row["nums"])
        if check is not None and not check[1]:
            counts["no"] += 1
            counts["right"] += bool(row.get("correct"))
            counts["reached"] += bool(row.get("correct")) and _reached(row)
            counts["push"] += row["advantage"]
    return [windows[s] for s in sorted(windows)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="evaluation JSON files, or run folders with rollouts")
    parser.add_argument("--window", type=int, default=8, help="steps per window (run folders)")
    args = parser.parse_args(argv)
    for path in args.paths:
        if path.is_dir():
            rows = read_rollouts(path)
            print(path)
            for w in drift(rows, args.window):
                parts = []
                for k in ("sum", "difference"):
                    c = w.get(k) or _window_counts()
                    parts.append(
                        f"{k}s: 'no' {c['no']}/{c['rows']} ({c['right']} right, {c['reached']} honestly), "
                        f"push {c['push']:+.1f}"
                    )
                print(f"  steps {w['steps'][0]}-{w['steps'][1]}: " + "; ".join(parts))
            continue
        if not path.exists():
            raise PathNotFoundError(
                f"{path} does not exist: pass an evaluation file (RUN/eval/final.json) or a run folder"
            )
        samples = json.loads(path.read_text())["samples"]
        counts = verdicts(samples)
        n = len(samples)
        print(f"{path}: " + ", ".join(f"{name} {c}/{n}" for name, c in counts.items()))
        kinds = right_per_kind(samples)
        print(
            "  right: "
            + ", ".join(
                f"{k}s {c['right']}/{c['rows']} ({c['reached']} reached by honest checks)" for k, c in kinds.items()
            )
        )
        stated = stated_arithmetic(samples)
        print(
            "  stated over the puzzle's numbers: "
            + ", ".join(f"{k} true {true}/{made}" for k, (true, made) in stated.items())
        )


if __name__ == "__main__":
    run_main(main)
