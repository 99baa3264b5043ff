"""Throughput of the behaviour metrics (r1lite.inspection.behaviour) on a run's own completions, on one core.

Loads a run's rollout log, repeats its completions to ``--min_rows`` or more, and times
``completion_behaviour`` over them (format, accuracy, reflections, candidate equations, answer
position): the work the trainer adds to every generation round. Median of ``--repeats``.

    python bench/bench_behaviour.py runs/smollm2-135m-zero
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", nargs="?", default="runs/smollm2-135m-zero")
    p.add_argument("--min_rows", type=int, default=5000)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args(argv)

    import torch

    from r1lite.inspection.behaviour import DEFAULT_REFLECTION_WORDS, completion_behaviour
    from r1lite.inspection.runlog import load_rollouts

    torch.set_num_threads(1)
    df = load_rollouts(a.run_dir)
    copies = -(-a.min_rows // len(df))
    completions = list(df.completion) * copies
    nums = [list(x) for x in df.nums] * copies
    targets = list(df.target) * copies
    words = tuple(DEFAULT_REFLECTION_WORDS)
    times = []
    for _ in range(a.repeats):
        start = time.perf_counter()
        completion_behaviour(completions, nums, targets, words)
        times.append(time.perf_counter() - start)
    rate = len(completions) / statistics.median(times)
    print("command: python " + " ".join(shlex.quote(x) for x in sys.argv))
    print(
        f"{len(completions)} completions ({len(df)} from {a.run_dir}, x{copies}): {rate:,.0f} completions/s, "
        f"median of {a.repeats}"
    )
    return rate


if __name__ == "__main__":
    main()
