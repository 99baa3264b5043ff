"""Read the comparison that chat_compare's reasoning makes, in a run's held-out answers.

The chat_compare prompt's worked examples compare the target with the larger number before choosing
("16 is less than 25, so subtract: 25 - 9 = 16, yes."). For each evaluation file this prints how often
the model's comparison is right (the target is more than the larger of the two numbers, or less) and how
often its answer's operator follows its own comparison ("more": +, "less": -). A model that reads the
target gets the first right; one whose answer ignores what it just wrote fails the second. It also counts
the answers whose reasoning earns ``target_decision_reward`` (``rewards/decision.py``): the target compared
truly with the larger number and the operation word chosen by that comparison. A second line counts the
first sentence, "The larger number is X and the smaller is Y": how often it names the two numbers rightly,
and, on the sums and on the differences, how many answers are right after a right naming and after a wrong
one (subtracting depends on it, adding does not).

    python bench/compare_verdicts.py runs/smollm2-135m-zero/eval/*.json
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from r1lite.errors import ConfigError, run_main
from rewards.decision import names_truly, puzzle_kind, target_decision_reward

COMPARISON = re.compile(r"is (more|less) than")


def verdicts(samples: list[dict]) -> tuple[int, int]:
    """(comparisons that are right, answers whose operator follows the comparison) over the samples."""
    right = follows = 0
    for sample in samples:
        said = COMPARISON.search(sample["completion"])
        if said is None:  # no comparison written: neither right nor followed
            continue
        truth = "more" if sample["target"] > max(sample["nums"]) else "less"
        right += said[1] == truth
        follows += ("+" if said[1] == "more" else "-") in (sample.get("shape") or "")
    return right, follows


def naming(samples: list[dict]) -> dict[tuple[str, bool], list[int]]:
    """{(kind, named right): [right answers, answers]}: kind is "sum" or "difference" of the two numbers."""
    counts: dict[tuple[str, bool], list[int]] = {}
    for sample in samples:
        kind = puzzle_kind(sample["nums"], sample["target"])
        if kind is None:
            continue  # only sum-or-difference puzzles of two numbers
        named = names_truly(sample["completion"], sample["nums"])  # named_numbers_reward's reading
        count = counts.setdefault((kind, named), [0, 0])
        count[0] += sample.get("correct") == 1.0
        count[1] += 1
    return counts


def _naming_line(samples: list[dict]) -> str:
    counts = naming(samples)
    named = sum(c[1] for (_, right), c in counts.items() if right)
    total = sum(c[1] for c in counts.values())
    parts = []
    for kind in ("sum", "difference"):
        good, bad = counts.get((kind, True), [0, 0]), counts.get((kind, False), [0, 0])
        parts.append(f"{kind}s solved {good[0]}/{good[1]} named right, {bad[0]}/{bad[1]} named wrong")
    return f"  larger number named right {named}/{total}; " + "; ".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="evaluation JSON files (RUN/eval/*.json)")
    for path in parser.parse_args(argv).files:
        if not path.is_file():
            raise ConfigError(
                f"{path} not found: pass evaluation files (RUN/eval/step-000000.json, RUN/eval/final.json)"
            )
        samples = json.loads(path.read_text())["samples"]
        right, follows = verdicts(samples)
        columns = {"nums": [s["nums"] for s in samples], "target": [s["target"] for s in samples]}
        decided = target_decision_reward(None, [s["completion"] for s in samples], **columns)
        n = len(samples)
        print(
            f"{path}: comparison right {right}/{n}, answer's operator follows it {follows}/{n}, "
            f"decision right {decided.count(1.0)}/{n}"
        )
        print(_naming_line(samples))


if __name__ == "__main__":
    run_main(main)
