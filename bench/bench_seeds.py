"""Run one zero recipe under several seeds, one after another, and report the run-to-run spread.

Each seed trains into `<out>/seed-<s>` (a seed whose run finished is not run again, so the command
resumes); then a Markdown table (training reward at the first and last steps, held-out accuracy
with its 95% interval, strict format, mean length, minutes) with the mean and standard deviation
over seeds goes to `<out>/seeds.md`, and the reward curves of all seeds to `<out>/reward.png`.

    python bench/bench_seeds.py --config configs/smollm2-135m/zero.yaml --seeds 0 1 2 --out runs/seeds/zero
    python bench/bench_seeds.py --config configs/smollm2-135m/learn.yaml --seeds 0 1 --out runs/seeds/learn
    python bench/bench_seeds.py ... -- --max_steps 4       # recipe overrides after --
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_seed(config: str, seed: int, folder: Path, overrides: list[str]) -> None:
    if (folder / "run_summary.json").exists():
        print(f"seed {seed}: done already in {folder}")
        return
    resume = ["--resume_from_checkpoint", "true"] if any(folder.glob("checkpoint-*")) else []
    cmd = [sys.executable, "-m", "accelerate.commands.launch", str(REPO / "recipes/zero.py"), "--config", config,
           "--seed", str(seed), "--output_dir", str(folder), *resume, *overrides]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO)


def seed_row(seed: int, folder: Path) -> dict:
    from r1lite.task.evaluation import accuracy_interval

    summary = json.loads((folder / "run_summary.json").read_text())
    steps = [h for h in summary["log_history"] if "reward" in h]
    final = json.loads((folder / "eval" / "final.json").read_text())
    low, high = accuracy_interval(final["accuracy"], final["num_prompts"])
    return {
        "seed": seed,
        "rewards": [h["reward"] for h in steps],
        "first_reward": steps[0]["reward"],
        "last_reward": steps[-1]["reward"],
        "accuracy": final["accuracy"],
        "interval": [low, high],
        "num_prompts": final["num_prompts"],
        "format_rate": final["format_rate"],
        "mean_length": final["mean_length"],
        "minutes": summary["seconds"] / 60,
    }


def table(rows: list[dict]) -> str:
    cols = ["first_reward", "last_reward", "accuracy", "format_rate", "mean_length", "minutes"]
    lines = ["| seed | reward, first step | reward, last step | held-out accuracy (95% interval) | strict format | "
             "mean length | minutes |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['first_reward']:.3f} | {r['last_reward']:.3f} | {r['accuracy']:.3f} "
                     f"({r['interval'][0]:.3f}-{r['interval'][1]:.3f}, n={r['num_prompts']}) | {r['format_rate']:.3f} | "
                     f"{r['mean_length']:.1f} | {r['minutes']:.1f} |")
    if len(rows) > 1:
        cells = [f"{statistics.mean(r[c] for r in rows):.3f} ± {statistics.stdev(r[c] for r in rows):.3f}" for c in cols]
        lines.append(f"| mean ± sd | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} | {cells[4]} | {cells[5]} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for r in rows:
        ax.plot(range(1, len(r["rewards"]) + 1), r["rewards"], marker=".", label=f"seed {r['seed']}")
    ax.set_xlabel("step")
    ax.set_ylabel("mean training reward")
    ax.legend()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="configs/smollm2-135m/zero.yaml")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="runs/seeds/zero")
    args = p.parse_args(argv)
    out = Path(args.out)
    os.makedirs(out, exist_ok=True)
    for seed in args.seeds:
        run_seed(args.config, seed, out / f"seed-{seed}", overrides)
    rows = [seed_row(seed, out / f"seed-{seed}") for seed in args.seeds]
    text = table(rows)
    (out / "seeds.md").write_text(text + "\n")
    (out / "seeds.json").write_text(json.dumps(rows, indent=1))
    plot(rows, out / "reward.png")
    print(text)
    print(f"wrote {out / 'seeds.md'}, {out / 'seeds.json'} and {out / 'reward.png'}")


if __name__ == "__main__":
    main()
