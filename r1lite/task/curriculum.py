"""A curriculum: difficulty levels and reward stages, advanced by a rule the recipe states.

Recipe fields (``TaskConfig``)::

    curriculum_levels: ["2/10/1-20", "2/20/1-50", "3/20/1-50"]   # NUMBERS/MAX_NUMBER/TARGET_MIN-TARGET_MAX
    curriculum_stages: ["answer_expression_reward=0.2,numbers_used_reward=0.4,closeness_reward=0.4,equation_reward=1",
                        "equation_reward=1,format_reward=0.2"]   # reward=weight; rewards not named weigh 0
    curriculum_metric: accuracy        # behaviour/accuracy, format_rate (behaviour/format_rate) or steps
    curriculum_threshold: 0.3          # promote when the metric's mean over the window reaches this
    curriculum_window: 4               # ... over the last 4 logged steps at the current rung
    curriculum_steps: [20, 40]         # with metric 'steps': the rung changes at these steps

NUMBERS is a count (``2``) or a range (``2-3``). The curriculum is a ladder of rungs: rung r trains
on level ``min(r, levels - 1)`` with reward stage ``min(r, stages - 1)``, and promotion moves one
rung. The rung is logged every step (``curriculum/level``, ``curriculum/stage``), kept in
checkpoints (a resumed run continues on the same rung) and shown by ``r1lite summary``; held-out
evaluation reports accuracy per level (``eval/level<k>/accuracy``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from r1lite.errors import ConfigError, did_you_mean
from r1lite.task.countdown import OPERATORS

METRICS = {"accuracy": "behaviour/accuracy", "format_rate": "behaviour/format_rate", "steps": None}
_LEVEL = re.compile(r"^\s*(\d+)(?:-(\d+))?\s*/\s*(\d+)\s*/\s*(\d+)\s*-\s*(\d+)\s*$")


@dataclass(frozen=True)
class Level:
    """One difficulty: the keyword arguments of ``r1lite.task.countdown.generate`` that set it."""

    min_numbers: int
    max_numbers: int
    max_number: int
    target_min: int
    target_max: int
    operators: str = OPERATORS  # the operations a solution may use (the recipe's ``operators``)

    @property
    def difficulty(self) -> dict:
        return dict(
            min_numbers=self.min_numbers,
            max_numbers=self.max_numbers,
            max_number=self.max_number,
            target_range=(self.target_min, self.target_max),
            operators=self.operators,
        )

    def harder_or_equal(self, other: Level) -> bool:
        return (
            self.min_numbers >= other.min_numbers
            and self.max_numbers >= other.max_numbers
            and self.max_number >= other.max_number
            and self.target_max >= other.target_max
        )


def parse_level(text: str, index: int) -> Level:
    match = _LEVEL.match(text)
    if not match:
        raise ConfigError(
            f"curriculum_levels[{index}] = {text!r} is not NUMBERS/MAX_NUMBER/TARGET_MIN-TARGET_MAX, "
            "e.g. '2/10/1-20' or '2-3/20/1-50'"
        )
    low, high, max_number, target_min, target_max = (int(g) if g else None for g in match.groups())
    level = Level(low, high or low, max_number, target_min, target_max)
    if not 2 <= level.min_numbers <= level.max_numbers <= 6:
        raise ConfigError(f"curriculum_levels[{index}] = {text!r}: numbers per puzzle must be within 2 to 6")
    if level.target_min > level.target_max or level.max_number < 1:
        raise ConfigError(f"curriculum_levels[{index}] = {text!r}: the target range is empty or max_number below 1")
    return level


def parse_stage(text: str, index: int, reward_funcs: list[str]) -> dict[str, float]:
    """``"name=weight,name=weight"`` -> {name: weight}; every name must be one of ``reward_funcs``."""
    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = None
        if not sep or weight is None:
            raise ConfigError(
                f"curriculum_stages[{index}]: {part!r} is not reward_name=weight, e.g. 'equation_reward=1'"
            )
        if name.strip() not in reward_funcs:
            raise ConfigError(
                f"curriculum_stages[{index}] names {name.strip()!r}{did_you_mean(name.strip(), reward_funcs)}, "
                "which is not "
                f"in reward_funcs {reward_funcs}: "
                "a stage weighs the recipe's rewards, so add it to reward_funcs"
            )
        weights[name.strip()] = weight
    if not weights:
        raise ConfigError(f"curriculum_stages[{index}] is empty: name at least one reward=weight")
    return weights


@dataclass
class Curriculum:
    """The parsed ladder: levels, reward stages and the promotion rule."""

    levels: list[Level]
    stages: list[dict[str, float]]
    metric: str
    threshold: float
    window: int
    steps: list[int]

    @property
    def rungs(self) -> int:
        return max(len(self.levels), len(self.stages), 1)

    def level_of(self, rung: int) -> int:
        return min(rung, len(self.levels) - 1) if self.levels else 0

    def stage_of(self, rung: int) -> int:
        return min(rung, len(self.stages) - 1) if self.stages else 0

    def weights(self, rung: int, reward_funcs: list[str]) -> list[float] | None:
        """The reward weights of a rung, in reward_funcs order; None without stages."""
        if not self.stages:
            return None
        stage = self.stages[self.stage_of(rung)]
        return [stage.get(name, 0.0) for name in reward_funcs]

    def next_rung(self, rung: int, step: int, history: list[float]) -> int:
        """The rung after this step: the rule applied to the metric's values logged at the current rung."""
        if self.metric == "steps":
            return min(sum(step >= boundary for boundary in self.steps), self.rungs - 1)
        if rung + 1 < self.rungs and len(history) >= self.window:
            if sum(history[-self.window :]) / self.window >= self.threshold:
                return rung + 1
        return rung


def from_task(task) -> Curriculum | None:
    """The curriculum of a ``TaskConfig``, checked; None when it has no levels and no stages."""
    if not task.curriculum_levels and not task.curriculum_stages:
        return None
    levels = [replace(parse_level(text, i), operators=task.operators) for i, text in enumerate(task.curriculum_levels)]
    for i in range(1, len(levels)):
        if not levels[i].harder_or_equal(levels[i - 1]) or levels[i] == levels[i - 1]:
            raise ConfigError(
                f"curriculum_levels[{i}] = {task.curriculum_levels[i]!r} is not harder than level {i - 1} "
                f"({task.curriculum_levels[i - 1]!r}): order levels from easiest to hardest, each at least as large "
                "in every field and larger in one"
            )
    stages = [parse_stage(text, i, list(task.reward_funcs)) for i, text in enumerate(task.curriculum_stages)]
    if task.curriculum_metric not in METRICS:
        raise ConfigError(f"curriculum_metric={task.curriculum_metric!r} is not one of {sorted(METRICS)}")
    if task.curriculum_metric == "steps":
        steps = list(task.curriculum_steps)
        if not steps or any(s < 1 for s in steps) or steps != sorted(set(steps)):
            raise ConfigError(
                f"curriculum_steps={steps}: with curriculum_metric 'steps', give increasing step numbers above 0, "
                "one per promotion"
            )
    else:
        steps = []
        if not 0 < task.curriculum_threshold <= 1:
            raise ConfigError(
                f"curriculum_threshold={task.curriculum_threshold} can never be met by a rate: choose one in (0, 1]"
            )
        if task.curriculum_window < 1:
            raise ConfigError(f"curriculum_window={task.curriculum_window}: the rule needs at least 1 step to average")
    return Curriculum(levels, stages, task.curriculum_metric, task.curriculum_threshold, task.curriculum_window, steps)
