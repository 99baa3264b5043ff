"""Run one zero recipe under several seeds, one after another, and report the run-to-run spread.

Each seed trains into `<out>/seed-<s>` (a seed whose run finished is not run again, so the command
resumes; a finished seed's checkpoints, about 1 GB of optimizer state each, are then removed unless
`--keep_checkpoints`: its final model stays); then a Markdown table (training reward at the first and
last steps, held-out accuracy with its 95% interval, per curriculum level where the recipe has levels,
strict format, mean length, minutes) with the mean and standard deviation over seeds goes to
`<out>/seeds.md`, the reward curves of all seeds to `<out>/reward.png`, and their held-out accuracy at
each evaluation to `<out>/heldout.png`. A second table gives, per level, each seed beside the untrained model and the
best target-blind answer template on the same puzzles, with the target probe and the top answer shape.

    python bench/bench_seeds.py --config configs/smollm2-135m/zero.yaml --seeds 0 1 2 --out runs/seeds/zero
    python bench/bench_seeds.py --config configs/smollm2-135m/learn.yaml --seeds 0 1 --out runs/seeds/learn
    python bench/bench_seeds.py ... -- --max_steps 4       # recipe overrides after --
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        *("--num_processes", "1", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"),
        str(REPO / "recipes/zero.py"),
        "--config",
        config,
        "--seed",
        str(seed),
        "--output_dir",
        str(folder),
        *resume,
        *overrides,
    ]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO)


def remove_checkpoints(folder: Path) -> int:
    """Delete a finished run's checkpoint-* folders (its final model and evaluations stay); returns bytes freed."""
    if not (folder / "run_summary.json").exists():  # unfinished: the checkpoints are what it resumes from
        return 0
    freed = 0
    for checkpoint in sorted(folder.glob("checkpoint-*")):
        freed += sum(f.stat().st_size for f in checkpoint.rglob("*") if f.is_file())
        shutil.rmtree(checkpoint)
    return freed


PROBE_KEYS = ("template", "template_accuracy", "accuracy_off_template", "top_shape", "top_shape_share")
PROBE_KEYS += ("faithful_rate", "faithful_correct_rate", "twins")


def level_row(result: dict) -> dict:
    """One evaluation (of a level, or of the whole held-out set): accuracy with its interval, and what a
    target-blind model reaches beside it (template, answer shapes, target twins, faithful reasoning)."""
    from r1lite.task.evaluation import accuracy_interval

    row = {
        "accuracy": result["accuracy"],
        "interval": list(accuracy_interval(result["accuracy"], result["num_prompts"])),
        "num_prompts": result["num_prompts"],
        **{key: result.get(key) for key in PROBE_KEYS},
    }
    if row["twins"]:
        row["twins"] = {k: v for k, v in row["twins"].items() if k != "samples"}
    return row


def untrained_row(folders: list[Path], path: Path | None = None) -> dict | None:
    """The untrained model's evaluation per level: ``path`` (an ``eval/step-000000.json``) or the first seed's that
    evaluated at the start (greedy decoding on the same puzzles: the same for every seed)."""
    for candidate in [path] if path else [folder / "eval" / "step-000000.json" for folder in folders]:
        if candidate.exists():
            start = json.loads(candidate.read_text())
            return {"seed": "untrained", "levels": [level_row(lv) for lv in start.get("levels") or [start]]}
    return None


def _count(share: float | None, n: int) -> str:
    return "-" if share is None else f"{round(share * n)}/{n}"


def probe_table(rows: list[dict], untrained: dict | None) -> str:
    """Per level: each seed's accuracy beside the best target-blind template on the same puzzles, its accuracy on
    the puzzles the template misses, the target probe, the most common answer shape and faithful reasoning."""
    names = ["accuracy", "best template", "accuracy off template", "answer changed on twins"]
    names += ["top answer shape", "faithful, right answers"]
    lines = ["| level | seed | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    for k in range(min(len(r.get("levels") or [r]) for r in rows)):
        for r in ([untrained] if untrained else []) + rows:
            lv = (r.get("levels") or [r])[k]
            n = lv["num_prompts"]
            low, high = lv["interval"]
            twins = lv.get("twins")
            cells = [
                f"{_count(lv['accuracy'], n)} ({low:.0%}-{high:.0%})",
                "-" if lv.get("template") is None else f"`{lv['template']}` {_count(lv['template_accuracy'], n)}",
                "-" if lv.get("accuracy_off_template") is None else f"{lv['accuracy_off_template']:.1%}",
                "-" if not twins else f"{twins['changed']}/{twins['pairs']}",
                "-" if not lv.get("top_shape") else f"`{lv['top_shape']}` {lv['top_shape_share']:.0%}",
                "-" if lv.get("faithful_correct_rate") is None else f"{lv['faithful_correct_rate']:.0%}",
            ]
            lines.append(f"| {k} | {r['seed']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def seed_row(seed: int, folder: Path) -> dict:
    summary = json.loads((folder / "run_summary.json").read_text())
    steps = [h for h in summary["log_history"] if "reward" in h]
    final = json.loads((folder / "eval" / "final.json").read_text())
    levels = [level_row(lv) for lv in final.get("levels", [])]
    from r1lite.inspection.runlog import heldout_history

    history = heldout_history(folder)
    return {
        "levels": levels,
        **level_row(final),  # accuracy, its interval, the number of puzzles, the probe keys
        "heldout": {} if history is None else {c: history[c].dropna().to_dict() for c in history.columns},
        "seed": seed,
        "rewards": [h["reward"] for h in steps],
        "first_reward": steps[0]["reward"],
        "last_reward": steps[-1]["reward"],
        "format_rate": final["format_rate"],
        "mean_length": final["mean_length"],
        "minutes": summary["seconds"] / 60,
    }


def table(rows: list[dict]) -> str:
    levels = min(len(r.get("levels", [])) for r in rows)  # per-level columns when every seed has levels
    heldout = [f"level {k} held-out accuracy (95% interval)" for k in range(levels)] or [
        "held-out accuracy (95% interval)"
    ]
    names = ["reward, first step", "reward, last step", *heldout, "strict format", "mean length", "minutes"]
    lines = ["| seed | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]

    def accuracies(r: dict) -> list[dict]:
        return r["levels"][:levels] if levels else [r]

    for r in rows:
        cells = [f"{r['first_reward']:.3f}", f"{r['last_reward']:.3f}"]
        cells += [
            f"{a['accuracy']:.3f} ({a['interval'][0]:.3f}-{a['interval'][1]:.3f}, n={a['num_prompts']})"
            for a in accuracies(r)
        ]
        cells += [f"{r['format_rate']:.3f}", f"{r['mean_length']:.1f}", f"{r['minutes']:.1f}"]
        lines.append(f"| {r['seed']} | " + " | ".join(cells) + " |")
    if len(rows) > 1:
        columns = [[r["first_reward"] for r in rows], [r["last_reward"] for r in rows]]
        columns += [[accuracies(r)[k]["accuracy"] for r in rows] for k in range(max(levels, 1))]
        columns += [[r[c] for r in rows] for c in ("format_rate", "mean_length", "minutes")]
        cells = [f"{statistics.mean(c):.3f} ± {statistics.stdev(c):.3f}" for c in columns]
        lines.append("| mean ± sd | " + " | ".join(cells) + " |")
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


def plot_heldout(rows: list[dict], path: Path) -> bool:
    """Held-out accuracy at each evaluation, a line per seed and level; False when no seed evaluated during
    training."""
    from matplotlib.figure import Figure

    if not any(r.get("heldout") for r in rows):
        return False
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    styles = ["-", "--", ":", "-."]
    for i, r in enumerate(rows):
        for column, points in r["heldout"].items():
            level, name = column.split("/")
            if name != "accuracy":
                continue
            steps = sorted(points)
            k = 0 if level == "all" else int(level.removeprefix("level"))
            ax.plot(
                steps,
                [points[s] for s in steps],
                styles[i % len(styles)],
                color=f"C{k}",
                marker="o",
                markersize=3,
                label=f"seed {r['seed']}" + ("" if level == "all" else f", level {k}"),
            )
    ax.set_xlabel("step")
    ax.set_ylabel("held-out accuracy (greedy)")
    ax.set_ylim(bottom=-0.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)
    return True


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="configs/smollm2-135m/zero.yaml")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="runs/seeds/zero")
    p.add_argument(
        "--untrained",
        type=Path,
        default=None,
        help="the untrained model's evaluation (a run's eval/step-000000.json); default: the first seed's, if any",
    )
    p.add_argument(
        "--keep_checkpoints",
        action="store_true",
        help="keep each finished seed's checkpoints (about 1 GB of optimizer state each; 2 per seed by default)",
    )
    args = p.parse_args(argv)
    out = Path(args.out)
    os.makedirs(out, exist_ok=True)
    for seed in args.seeds:
        run_seed(args.config, seed, out / f"seed-{seed}", overrides)
        if not args.keep_checkpoints and (freed := remove_checkpoints(out / f"seed-{seed}")):
            print(f"seed {seed}: removed its checkpoints ({freed / 1e9:.1f} GB; --keep_checkpoints keeps them)")
    rows = [seed_row(seed, out / f"seed-{seed}") for seed in args.seeds]
    text = (
        table(rows)
        + "\n\n"
        + probe_table(rows, untrained_row([out / f"seed-{s}" for s in args.seeds], args.untrained))
    )
    (out / "seeds.md").write_text(text + "\n")
    (out / "seeds.json").write_text(json.dumps(rows, indent=1))
    plot(rows, out / "reward.png")
    drew = plot_heldout(rows, out / "heldout.png")
    print(text)
    print(
        f"wrote {out / 'seeds.md'}, {out / 'seeds.json'}, {out / 'reward.png'}"
        + (f" and {out / 'heldout.png'}" if drew else "")
    )


if __name__ == "__main__":
    main()
