"""Collapse guards: four ways an R1-Zero run stops learning while its reward still looks fine.

Each guard reads the per-step metrics the trainer logs (``behaviour/*`` and TRL's ``entropy``) and
trips when its condition holds for ``window`` steps in a row:

    guard                        condition (defaults in R1ZeroConfig; 0 turns a guard off)
    template                     the most common answer shape takes at least ``template_share`` of a
                                 step's answers (``behaviour/top_shape_share``): one fixed answer for
                                 different puzzles, which reads no target (``r1lite.task.baselines``)
    format_without_accuracy      strict format in at least 90% of completions and accuracy 0, for
                                 ``format_steps`` steps: the format is learned, the task is not
    length                       mean completion length below ``length_ratio`` of its largest value
                                 so far: the reasoning is being cut away
    entropy                      TRL's mean token entropy below ``entropy``: sampling has become
                                 nearly greedy, so a group's completions stop differing

``check`` is a pure function of the step records, so the same rules run live (the trainer's
``CollapseGuardCallback`` warns once per guard), in ``r1lite summary`` and on ``r1lite report``'s
curves (a dotted vertical line where each guard tripped).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

FORMAT_SATURATED = 0.9  # the format_without_accuracy guard's "the format is learned"


@dataclass(frozen=True)
class GuardSettings:
    """Thresholds of the collapse guards; 0 turns one off (R1ZeroConfig's ``guard_*`` fields)."""

    window: int = 3  # steps in a row the template, length and entropy conditions must hold
    template_share: float = 0.8
    format_steps: int = 8
    length_ratio: float = 0.3
    entropy: float = 0.05

    @classmethod
    def from_config(cls, config: object) -> GuardSettings:
        """From an R1ZeroConfig (or a run_summary.json's ``trainer`` dict): its ``guard_<name>`` fields."""
        get = config.get if isinstance(config, Mapping) else lambda key, default: getattr(config, key, default)
        return cls(**{f.name: get(f"guard_{f.name}", f.default) for f in fields(cls)})


@dataclass(frozen=True)
class Alarm:
    guard: str  # template, format_without_accuracy, length or entropy
    step: int  # the step at which the condition had held long enough
    message: str


def _value(record: Mapping, name: str) -> float | None:
    for key in (f"behaviour/{name}", name):
        value = record.get(key)
        if value is not None and value == value:  # NaN: not logged
            return float(value)
    return None


def check(records: Iterable[Mapping], settings: GuardSettings = GuardSettings()) -> list[Alarm]:
    """The first alarm of each guard over step records in step order (log_history entries or
    ``runlog.step_metrics`` rows with a ``step``); records without behaviour metrics are skipped."""
    alarms: dict[str, Alarm] = {}
    runs = {"template": 0, "format_without_accuracy": 0, "length": 0, "entropy": 0}
    longest = 0.0
    for record in records:
        step = record.get("step")
        share, fmt, accuracy = (_value(record, k) for k in ("top_shape_share", "format_rate", "accuracy"))
        length, entropy = _value(record, "length_mean"), _value(record, "entropy")
        if step is None or (fmt is None and entropy is None):
            continue
        if length is not None:
            longest = max(longest, length)
        held = {
            "template": bool(settings.template_share) and share is not None and share >= settings.template_share,
            "format_without_accuracy": bool(settings.format_steps)
            and fmt is not None
            and fmt >= FORMAT_SATURATED
            and accuracy == 0.0,
            "length": bool(settings.length_ratio) and length is not None and length < settings.length_ratio * longest,
            "entropy": bool(settings.entropy) and entropy is not None and entropy < settings.entropy,
        }
        for guard, holds in held.items():
            runs[guard] = runs[guard] + 1 if holds else 0
            needed = settings.format_steps if guard == "format_without_accuracy" else settings.window
            if guard not in alarms and runs[guard] >= max(needed, 1):
                alarms[guard] = Alarm(guard, int(step), _message(guard, runs[guard], share, length, longest, entropy))
    return sorted(alarms.values(), key=lambda a: a.step)


def _message(guard: str, steps: int, share, length, longest, entropy) -> str:
    if guard == "template":
        return f"template collapse: one answer shape took {share:.0%} of the answers for {steps} steps"
    if guard == "format_without_accuracy":
        return f"format saturated while accuracy stayed 0 for {steps} steps"
    if guard == "length":
        return f"length collapse: mean length {length:.0f} tokens, under {longest:.0f} before, for {steps} steps"
    return f"entropy collapse: mean token entropy {entropy:.3f} for {steps} steps"


def summary_alarms(summary: Mapping) -> list[Alarm]:
    """The alarms of a ``run_summary.json``'s content: TRL's log history under the run's own guard settings."""
    return check(summary.get("log_history", []), GuardSettings.from_config(summary.get("trainer", {})))


def run_alarms(run_dir, steps=None) -> list[Alarm]:
    """The alarms of a run folder: from its ``run_summary.json`` (TRL's log history, the run's own guard
    settings), else from ``steps`` (``runlog.step_metrics`` of its rollout log, default settings; no entropy)."""
    path = Path(run_dir) / "run_summary.json"
    if path.exists():
        return summary_alarms(json.loads(path.read_text()))
    if steps is None:
        return []
    return check({"step": step, **row.dropna().to_dict()} for step, row in steps.iterrows())
