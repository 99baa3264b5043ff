"""Read the comparison that chat_compare's reasoning makes, in a run's held-out answers.

The chat_compare prompt's worked examples compare the target with the larger number before choosing
("16 is less than 25, so subtract: 25 - 9 = 16, yes."). For each evaluation file this prints how often
the model's comparison is right (the target is more than the larger of the two numbers, or less) and how
often its answer's operator follows its own comparison ("more": +, "less": -). A model that reads the
target gets the first right; one whose answer ignores what it just wrote fails the second. It also counts
the answers whose reasoning earns ``target_decision_reward`` (``rewards/decision.py``): the target compared
truly with the larger number and the operation word chosen by that comparison.

    python bench/compare_verdicts.py runs/smollm2-135m-zero/eval/*.json
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from rewards.decision import target_decision_reward

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="evaluation JSON files (RUN/eval/*.json)")
    for path in parser.parse_args(argv).files:
        samples = json.loads(path.read_text())["samples"]
        right, follows = verdicts(samples)
        columns = {"nums": [s["nums"] for s in samples], "target": [s["target"] for s in samples]}
        decided = target_decision_reward(None, [s["completion"] for s in samples], **columns)
        n = len(samples)
        print(
            f"{path}: comparison right {right}/{n}, answer's operator follows it {follows}/{n}, "
            f"decision right {decided.count(1.0)}/{n}"
        )


if __name__ == "__main__":
    main()
