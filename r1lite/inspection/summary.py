"""A finished run as a Markdown table: per-step rewards and time, then the held-out evaluation."""

from __future__ import annotations

import json
from pathlib import Path
from r1lite.errors import PathNotFoundError

COLUMNS = [
    ("curriculum/level", "level"),
    ("curriculum/stage", "stage"),
    ("reward", "reward"),
    ("rewards/equation_reward/mean", "equation"),
    ("rewards/format_reward/mean", "format"),
    ("rewards/shaped_format_reward/mean", "shaped format"),
    ("rewards/closeness_reward/mean", "closeness"),
    ("behaviour/accuracy", "accuracy"),
    ("frac_reward_zero_std", "zero-variance groups"),
    ("completions/mean_length", "mean tokens"),
    ("behaviour/reflection_rate", "reflection rate"),
    ("step_time", "step s"),
]


def run_table(run_dir: str | Path) -> str:
    run_dir = Path(run_dir)
    summary_path = run_dir / "run_summary.json"
    if not summary_path.exists():
        raise PathNotFoundError(f"{summary_path} not found: is {run_dir} the output_dir of a finished run?")
    summary = json.loads(summary_path.read_text())
    steps = [h for h in summary["log_history"] if "reward" in h]
    shown = [(key, name) for key, name in COLUMNS if any(key in h for h in steps)]
    lines = [
        f"Run `{run_dir}`: {summary['steps']} steps in {summary['seconds'] / 60:.1f} min (wall clock, with loading and evaluation).",
        "",
        "| step | " + " | ".join(name for _, name in shown) + " |",
        "| ---: | " + " | ".join("---:" for _ in shown) + " |",
    ]
    for h in steps:
        cells = [f"{h[key]:.3g}" if key in h else "" for key, _ in shown]
        lines.append(f"| {h.get('step', '')} | " + " | ".join(cells) + " |")
    final = run_dir / "eval" / "final.json"
    if final.exists():
        ev = json.loads(final.read_text())
        from r1lite.task.evaluation import accuracy_interval

        low, high = accuracy_interval(ev["accuracy"], ev["num_prompts"], ev.get("num_samples", 1))
        lines += [
            "",
            f"Held-out ({ev['num_prompts']} puzzles, greedy): accuracy {ev['accuracy']:.3f} (95% interval {low:.3f}-{high:.3f}), "
            f"format rate {ev['format_rate']:.3f}, mean length {ev['mean_length']:.1f} tokens, "
            f"truncated {ev['truncation_rate']:.3f}.",
        ]
        for k, level in enumerate(ev.get("levels", [])):
            low, high = accuracy_interval(level["accuracy"], level["num_prompts"], level.get("num_samples", 1))
            lines.append(f"Level {k} ({level['num_prompts']} puzzles): accuracy {level['accuracy']:.3f} "
                         f"(95% interval {low:.3f}-{high:.3f}), format rate {level['format_rate']:.3f}.")
    return "\n".join(lines)
