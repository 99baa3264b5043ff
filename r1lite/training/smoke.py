"""A first run on a new machine: a few steps of a recipe, then the checks that say the path works.

    accelerate launch recipes/smoke.py --config configs/qwen2.5-0.5b/zero.yaml     # on a GPU box
    python recipes/smoke.py --config configs/tiny/zero.yaml                        # anywhere, seconds

Runs the recipe for ``--max_steps`` (default 3) into ``runs/smoke`` without evaluation or
checkpoints, then checks and prints:
  1. the loss and gradient norm of every step are finite, and the gradient is not zero everywhere;
  2. the optimizer moved the weights (the saved model differs from the starting one);
  3. the saved model reloads with ``from_pretrained``;
and reports tokens/s (prompt + completion tokens over the trained steps' time) and peak memory
(GPU: the largest ``max_memory_allocated`` of this process; CPU: its peak resident set).
Any recipe key can follow, as for ``recipes/zero.py``. Exit status 1 when a check fails.
"""

from __future__ import annotations

import math
import os
import sys

import torch

from r1lite.models import peak_memory_gb

SMOKE_DEFAULTS = ["--max_steps", "3", "--output_dir", "runs/smoke", "--eval_at_end", "false", "--eval_every", "0",
                  "--save_strategy", "no", "--logging_steps", "1", "--report_to", "none"]


def main(argv: list[str] | None = None) -> dict:
    """Run the smoke steps and checks; returns the report (also printed)."""
    from r1lite.training import zero

    argv = list(sys.argv[1:] if argv is None else argv)
    summary = zero.main([*SMOKE_DEFAULTS, *argv])  # the user's keys come last and win
    report = measure(summary)
    if int(os.environ.get("RANK", "0")) == 0:
        print(format_report(report))
    if not all(report["checks"].values()):
        raise SystemExit(1)
    return report


def measure(summary: dict) -> dict:
    """Checks and speed from a finished zero run's summary (its output_dir holds the final model)."""
    from transformers import AutoModelForCausalLM

    steps = [h for h in summary["log_history"] if "loss" in h and "step_time" in h]
    losses = [float(h["loss"]) for h in steps]
    grads = [float(h.get("grad_norm", 0.0)) for h in steps]
    tokens = [float(h["num_tokens"]) for h in steps]
    seconds = sum(float(h["step_time"]) for h in steps[1:])  # the first step is warm-up
    rate = (tokens[-1] - tokens[0]) / seconds if len(steps) > 1 and seconds > 0 else float("nan")
    start = AutoModelForCausalLM.from_pretrained(summary["model"], dtype=torch.float32).state_dict()
    reloaded = AutoModelForCausalLM.from_pretrained(summary["output_dir"], dtype=torch.float32).state_dict()
    moved = sum(not torch.equal(start[k], reloaded[k]) for k in start if k in reloaded)
    return {
        "losses": losses,
        "grad_norms": grads,
        "tokens_per_s": rate,
        "peak_memory_gb": peak_memory_gb(),
        "tensors_changed": moved,
        "tensors": len(start),
        "checks": {
            "loss and gradient finite": all(math.isfinite(x) for x in losses + grads) and bool(steps),
            "gradient not zero": any(g > 0 for g in grads),
            "weights moved": moved > 0,
            "saved model reloads": set(reloaded) == set(start),
        },
    }


def format_report(report: dict) -> str:
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    lines = [
        f"smoke run on {device}",
        f"  loss per step       {', '.join(f'{x:.4g}' for x in report['losses'])}",
        f"  grad norm per step  {', '.join(f'{x:.4g}' for x in report['grad_norms'])}",
        f"  tokens/s            {report['tokens_per_s']:.0f} (prompt + completion, steps after the first)",
        f"  peak memory         {report['peak_memory_gb']:.2f} GiB ({'GPU, this process' if torch.cuda.is_available() else 'resident, this process'})",
        f"  tensors changed     {report['tensors_changed']} of {report['tensors']}",
    ]
    lines += [f"  [{'ok' if ok else 'FAILED'}] {name}" for name, ok in report["checks"].items()]
    return "\n".join(lines)
