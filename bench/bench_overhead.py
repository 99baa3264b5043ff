"""Overhead of r1lite's zero stage against plain TRL ``GRPOTrainer`` on the same work.

Both sides get the same recipe: model, prompts (same data set, same seed, so the same batches),
reward functions, ``GRPOConfig``. A is plain TRL; B is ``r1lite.training.zero.build_trainer`` with
r1lite's extras off (no rollout log, no held-out evaluation, ``speedups: false``: TRL's own
generation and log-probability paths), so B/A is r1lite's overhead; C (``--with_extras``) is r1lite
as the recipe runs it: rollout log, completion-only logits on the CPU, shared prefixes, inverse-CDF
sampling, and the recipe's speed levers (stop strings, dynamic sampling). Runs alternate A B A B ...
in this one process; each run loads a fresh model and trains ``--steps`` steps; the first step of
each run is warm-up and not counted. Prints the median step time of each side, the ratio, and the
mean reward, equation accuracy and completion length of each side over all its steps (same steps, so
a faster side that learns less would show).

    python bench/bench_overhead.py                                   # default recipe, 3 rounds x 3 steps
    python bench/bench_overhead.py --config configs/tiny/zero.yaml --rounds 2 --steps 2
    python bench/bench_overhead.py --sides A --rounds 1   # one side: its peak memory
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers import TrainerCallback  # noqa: E402


class StepTimer(TrainerCallback):
    def __init__(self):
        self.times: list[float] = []
        self.rewards: list[float] = []
        self.accuracy: list[float] = []
        self.tokens: list[float] = []
        self._start = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self._start)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "reward" in logs:
            self.rewards.append(float(logs["reward"]))
            self.accuracy.append(float(logs.get("rewards/equation_reward/mean", float("nan"))))
            self.tokens.append(float(logs.get("completions/mean_length", float("nan"))))


def run_side(side: str, argv: list[str], steps: int, out: str) -> StepTimer:
    from trl import GRPOTrainer

    from r1lite.training import zero

    args = argv + [
        "--max_steps",
        str(steps),
        "--output_dir",
        out,
        "--save_strategy",
        "no",
        "--eval_at_end",
        "false",
        "--eval_every",
        "0",
        "--logging_steps",
        "1",
        "--rollout_log",
        "true" if side == "C" else "false",
        "--speedups",
        "true" if side == "C" else "false",
    ]
    task, training, model_args = zero.parse_args(args)
    if side != "C":  # plain TRL has none of r1lite's levers; B turns them all off
        training.stop_strings, training.dynamic_sampling = [], False
    from r1lite.training.cpu import configure_cpu

    configure_cpu(training)
    timer = StepTimer()
    if side == "A":
        from r1lite.models import load_tokenizer, resolve_model_path
        from r1lite.task.data import build_datasets
        from rewards import get_reward_funcs

        model_args.model_name_or_path = resolve_model_path(model_args.model_name_or_path)
        tokenizer = load_tokenizer(model_args.model_name_or_path)
        tokenizer.padding_side = "left"
        train, _ = build_datasets(task, tokenizer)
        model = zero.load_policy(model_args)
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=get_reward_funcs(task.reward_funcs),
            args=training,
            train_dataset=train,
            processing_class=tokenizer,
            callbacks=[timer],
        )
    else:
        trainer = zero.build_trainer(task, training, model_args, callbacks=[timer])
    trainer.train()
    return timer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=None, help="recipe (default: the default recipe)")
    p.add_argument("--rounds", type=int, default=3, help="A/B alternations")
    p.add_argument("--steps", type=int, default=3, help="steps per run (the first is warm-up)")
    p.add_argument("--with_extras", action="store_true", help="also time r1lite with the rollout log on (C)")
    p.add_argument(
        "--sides", default=None, help="comma-separated sides to run, e.g. A,C (default: A,B and C with --with_extras)"
    )
    p.add_argument("overrides", nargs=argparse.REMAINDER, help="recipe overrides, e.g. -- --max_completion_length 64")
    a = p.parse_args()
    argv = (["--config", a.config] if a.config else []) + [x for x in a.overrides if x != "--"]
    sides = a.sides.split(",") if a.sides else ["A", "B"] + (["C"] if a.with_extras else [])
    results: dict[str, list[float]] = {s: [] for s in sides}
    rewards: dict[str, list[float]] = {s: [] for s in sides}
    accuracy: dict[str, list[float]] = {s: [] for s in sides}
    tokens: dict[str, list[float]] = {s: [] for s in sides}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for side in sides:
                timer = run_side(side, argv, a.steps, os.path.join(tmp, f"{side}{r}"))
                counted = timer.times[1:] or timer.times
                results[side] += counted
                rewards[side] += timer.rewards
                accuracy[side] += timer.accuracy
                tokens[side] += timer.tokens
                print(f"round {r} side {side}: steps {[round(t, 2) for t in timer.times]} s", flush=True)
    names = {"A": "plain TRL GRPOTrainer", "B": "r1lite, extras off", "C": "r1lite, defaults"}
    print()
    print("command: python " + " ".join(shlex.quote(x) for x in sys.argv))
    print(
        f"{'side':28s} {'median step s':>14s} {'ratio to A':>11s} {'mean reward':>12s} {'accuracy':>9s} "
        f"{'mean tokens':>12s}  steps counted"
    )
    base = statistics.median(results["A"]) if "A" in sides else float("nan")  # ratios are against plain TRL
    for side in sides:
        med = statistics.median(results[side])

        def mean(xs):
            return statistics.mean(xs) if xs else float("nan")

        print(
            f"{names[side]:28s} {med:14.2f} {med / base:11.3f} {mean(rewards[side]):12.3f} "
            f"{mean(accuracy[side]):9.3f} "
            f"{mean(tokens[side]):12.1f}  {len(results[side])}"
        )
    from r1lite.models import peak_memory_gb

    print(
        f"peak resident memory of this process: {peak_memory_gb():.2f} GiB"
        + (" (the largest side's; run one side at a time to measure each)" if len(sides) > 1 else "")
    )


if __name__ == "__main__":
    main()
