"""A finished run as Markdown: per-step rewards and time, the held-out evaluation, and before against after.

Before and after compares the held-out evaluation of the untrained model (step 0, written when
``eval_every`` is set) with the final one on the same puzzles, per curriculum level, beside the
accuracy of the simplest strategy (answer the sum of the numbers: generated puzzles with small
targets are often sums), and shows one puzzle per level that the run learned, early and late."""

from __future__ import annotations

import json
from pathlib import Path

from r1lite.errors import PathNotFoundError
from r1lite.inspection.guards import run_alarms, summary_alarms

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
        f"Run `{run_dir}`: {summary['steps']} steps in {summary['seconds'] / 60:.1f} min "
        "(wall clock, with loading and evaluation).",
        "",
        "| step | " + " | ".join(name for _, name in shown) + " |",
        "| ---: | " + " | ".join("---:" for _ in shown) + " |",
    ]
    last: dict[str, float] = {}
    for h in steps:
        h = {**{k: v for k, v in last.items() if k.startswith("curriculum/")}, **h}  # eval rows lack the rung
        last = h
        cells = [f"{h[key]:.3g}" if key in h else "" for key, _ in shown]
        lines.append(f"| {h.get('step', '')} | " + " | ".join(cells) + " |")
    alarms = summary_alarms(summary)
    if alarms:
        lines += ["", "Collapse guards (r1lite/inspection/guards.py):"]
        lines += [f"- step {alarm.step}: {alarm.message}" for alarm in alarms]
    final = run_dir / "eval" / "final.json"
    if final.exists():
        ev = json.loads(final.read_text())
        from r1lite.task.evaluation import accuracy_interval  # noqa: PLC0415 - torch: only a run with an evaluation

        low, high = accuracy_interval(ev["accuracy"], ev["num_prompts"], ev.get("num_samples", 1))
        lines += [
            "",
            f"Held-out ({ev['num_prompts']} puzzles, greedy): accuracy {ev['accuracy']:.3f} "
            f"(95% interval {low:.3f}-{high:.3f}), "
            f"format rate {ev['format_rate']:.3f}, mean length {ev['mean_length']:.1f} tokens, "
            f"truncated {ev['truncation_rate']:.3f}.",
        ]
        lines += target_blind_lines(ev)
        for k, level in enumerate(ev.get("levels", [])):
            low, high = accuracy_interval(level["accuracy"], level["num_prompts"], level.get("num_samples", 1))
            lines.append(
                f"Level {k} ({level['num_prompts']} puzzles): accuracy {level['accuracy']:.3f} "
                f"(95% interval {low:.3f}-{high:.3f}), format rate {level['format_rate']:.3f}."
            )
            lines += ["  " + line for line in target_blind_lines(level)]
        start = run_dir / "eval" / "step-000000.json"
        if start.exists():
            lines += before_and_after(json.loads(start.read_text()), ev)
    return "\n".join(lines)


def target_blind_lines(result: dict) -> list[str]:
    """What a target-blind model reaches on the same puzzles, the answer shapes and the target probe
    (``EvalResult``'s fields; none for an evaluation written before they existed)."""
    if "template" not in result:
        return []
    n = result["num_prompts"]
    solved = round(result["template_accuracy"] * n)
    lines = [f"- best target-blind template `{result['template']}`: {solved}/{n} ({result['template_accuracy']:.3f})"]
    if result.get("accuracy_off_template") is not None:
        lines.append(f"- accuracy on the {n - solved} puzzles it misses: {result['accuracy_off_template']:.3f}")
    if result.get("order_rule"):
        ruled = round(result["order_rule_accuracy"] * n)
        lines.append(
            f"- best target-blind rule on the numbers' order: {ruled}/{n} ({result['order_rule_accuracy']:.3f}): "
            f"{result['order_rule']}"
        )
    if result.get("top_shape"):
        lines.append(
            f"- answer shapes: {result['answer_shapes']} distinct; `{result['top_shape']}` takes "
            f"{result['top_shape_share']:.0%} of the answers"
        )
    if "faithful_rate" in result:
        right = result.get("faithful_correct_rate")
        lines.append(
            f"- faithful reasoning: {result['faithful_rate']:.3f} of completions"
            + ("" if right is None else f", {right:.3f} of the right ones")
            + f"; {result.get('unread_statements', 0)} statements unread"
        )
    twins = result.get("twins")
    if twins:
        lines.append(
            f"- target twins: the answer changed on {twins['changed']}/{twins['pairs']} "
            f"({twins['changed_share']:.0%}); twins solved {twins['twin_correct']}/{twins['pairs']}"
        )
    return lines


def _interval(result: dict) -> str:
    from r1lite.task.evaluation import accuracy_interval  # noqa: PLC0415 - torch: only a run with an evaluation

    low, high = accuracy_interval(result["accuracy"], result["num_prompts"], result.get("num_samples", 1))
    return f"{result['accuracy']:.3f} ({low:.3f}-{high:.3f})"


def _best_template(samples: list[dict]) -> str:
    """The best target-blind template of an evaluation written before EvalResult carried it."""
    from r1lite.task.baselines import best_template  # noqa: PLC0415 - only for evaluations of older runs

    baseline = best_template(_puzzles(samples))
    return f"`{baseline.name}` {baseline.accuracy:.3f}"


def _order_rule(samples: list[dict]) -> str:
    """The best target-blind rule on the numbers' order (one template per order of them) of these puzzles."""
    from r1lite.task.baselines import best_order_rule  # noqa: PLC0415 - torch-free, but only for a finished run

    return f"{best_order_rule(_puzzles(samples)).accuracy:.3f}"


def _puzzles(samples: list[dict]) -> list[dict]:
    """The distinct puzzles of an evaluation's samples, in order."""
    return list({(tuple(x["nums"]), x["target"]): x for x in samples}.values())


def _twins_changed(result: dict) -> str:
    twins = result.get("twins")
    return "-" if not twins else f"{twins['changed']}/{twins['pairs']}"


def before_and_after(before: dict, after: dict) -> list[str]:
    """Markdown lines: accuracy per level at step 0 and at the end beside the target-blind baselines and the
    target probe, then one learned puzzle per level."""
    levels = list(zip(before.get("levels") or [before], after.get("levels") or [after], strict=False))
    lines = [
        "",
        "Before and after, on the same held-out puzzles (greedy; 95% intervals):",
        "",
        "| level | puzzles | step 0 | end | best target-blind template | best order rule | answer changed on twins |",
        "| ---: | ---: | --- | --- | --- | --- | ---: |",
    ]
    for k, (b, a) in enumerate(levels):
        samples = a["samples"]
        template = f"`{a['template']}` {a['template_accuracy']:.3f}" if "template" in a else _best_template(samples)
        rule = f"{a['order_rule_accuracy']:.3f}" if "order_rule_accuracy" in a else _order_rule(samples)
        row = [k, a["num_prompts"], _interval(b), _interval(a), template, rule, _twins_changed(a)]
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    lines += [
        "",
        "A model that ignores the target can reach the template's share (one fixed answer shape) or the order "
        "rule's (one shape per order of the numbers, such as the larger minus the smaller); one that reads the "
        "target beats both, and changes its answer when only the target changes (the twins).",
    ]
    for k, (b, a) in enumerate(levels):
        learned = [
            (x, y) for x, y in zip(b["samples"], a["samples"], strict=True) if not x["correct"] and y["correct"]
        ]
        if learned:
            x, y = learned[0]
            lines += [
                "",
                f"Level {k}, {x['nums']} to {x['target']} "
                f"({len(learned)} puzzles wrong at step 0 and right at the end):",
                f"- step 0: `{x['completion'].strip()}`",
                f"- end: `{y['completion'].strip()}`",
            ]
    return lines


def closing_lines(run_dir: str | Path) -> list[str]:
    """What a finished R1-Zero run prints last: the held-out result before and after training with the best
    target-blind template beside it, the collapse guards that tripped, where the run is and what to open next."""
    run_dir = Path(run_dir)
    lines = ["", f"Run finished: {run_dir}"]
    final, start = run_dir / "eval" / "final.json", run_dir / "eval" / "step-000000.json"
    if final.exists():
        ev = json.loads(final.read_text())
        if start.exists():
            lines += before_and_after(json.loads(start.read_text()), ev)
        else:
            lines.append(f"Held-out accuracy at the end: {_interval(ev)} on {ev['num_prompts']} puzzles")
        lines += ["", *target_blind_lines(ev)]
    lines += [f"- collapse guard at step {a.step}: {a.message}" for a in run_alarms(run_dir)]
    lines += [
        "",
        "Next:",
        f"  r1lite summary {run_dir}      # reward, accuracy and time per step",
        f"  r1lite report {run_dir}       # curves and sample completions: {run_dir / 'report' / 'report.html'}",
        "  notebooks/inspect_rollouts.ipynb   # read the completions step by step",
    ]
    return lines
