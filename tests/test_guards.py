"""Collapse guards (r1lite.inspection.guards) on synthetic step records and rollout logs: each trips on a run
built to trip it and stays quiet on a healthy one."""

import json
import logging

import pytest

from r1lite.inspection.guards import GuardSettings, check, run_alarms


def _steps(n=12, **series):
    """n log_history-style records; each keyword is a behaviour metric (or entropy): a value or a function of step."""
    records = []
    for step in range(1, n + 1):
        record = {"step": step}
        for name, value in series.items():
            key = name if name == "entropy" else f"behaviour/{name}"
            record[key] = value(step) if callable(value) else value
        records.append(record)
    return records


HEALTHY = dict(format_rate=0.6, accuracy=0.2, top_shape_share=0.3, length_mean=60.0, entropy=0.8)

# (name, records, the guard that must trip (None: none), at which step)
CASES = [
    ("healthy", _steps(**HEALTHY), None, None),
    # one shape for every puzzle from step 4 on: 3 steps in a row -> step 6
    ("template", _steps(**{**HEALTHY, "top_shape_share": lambda s: 0.95 if s >= 4 else 0.3}), "template", 6),
    ("template-blip", _steps(**{**HEALTHY, "top_shape_share": lambda s: 0.95 if s in (4, 5) else 0.3}), None, None),
    # format learned, accuracy 0 throughout: 8 steps -> step 8
    ("format-only", _steps(**{**HEALTHY, "format_rate": 1.0, "accuracy": 0.0}), "format_without_accuracy", 8),
    ("format-low", _steps(**{**HEALTHY, "format_rate": 0.5, "accuracy": 0.0}), None, None),  # not saturated
    # length 60 -> 10 from step 5: under 30% of 60 for 3 steps -> step 7
    ("length", _steps(**{**HEALTHY, "length_mean": lambda s: 10.0 if s >= 5 else 60.0}), "length", 7),
    ("length-shorter", _steps(**{**HEALTHY, "length_mean": lambda s: 40.0 if s >= 5 else 60.0}), None, None),
    # entropy 0.01 from step 2 -> step 4
    ("entropy", _steps(**{**HEALTHY, "entropy": lambda s: 0.01 if s >= 2 else 0.8}), "entropy", 4),
]


@pytest.mark.parametrize("name, records, guard, step", CASES, ids=[c[0] for c in CASES])
def test_guard(name, records, guard, step):
    alarms = check(records)
    assert [(a.guard, a.step) for a in alarms] == ([] if guard is None else [(guard, step)])


def test_a_guard_set_to_zero_is_off():
    records = _steps(**{**HEALTHY, "entropy": 0.01, "format_rate": 1.0, "accuracy": 0.0})
    assert {a.guard for a in check(records)} == {"entropy", "format_without_accuracy"}
    assert check(records, GuardSettings(entropy=0, format_steps=0)) == []


def test_settings_come_from_the_config_or_a_run_summary():
    from r1lite.config import R1ZeroConfig

    config = R1ZeroConfig(output_dir="/tmp/x", use_cpu=True, guard_entropy=0.0, guard_window=5)
    assert GuardSettings.from_config(config) == GuardSettings(window=5, entropy=0.0)
    assert GuardSettings.from_config({"guard_template_share": 0.9}) == GuardSettings(template_share=0.9)


def test_a_negative_threshold_is_a_config_error():
    from r1lite.config import R1ZeroConfig
    from r1lite.errors import ConfigError

    with pytest.raises(ConfigError, match="guard_entropy must be 0"):
        R1ZeroConfig(output_dir="/tmp/x", use_cpu=True, guard_entropy=-1)


def _rollouts(folder, answers_per_step):
    """A rollout log whose step k's completions answer answers_per_step[k] (puzzles differ within a step)."""
    (folder / "rollouts").mkdir(parents=True)
    for step, answers in enumerate(answers_per_step):
        with open(folder / "rollouts" / f"step-{step:06d}.jsonl", "w") as f:
            for i, answer in enumerate(answers):
                nums, target = [10 + i, 3, 2], 20 + i
                record = dict(
                    step=step,
                    index=i,
                    group=i // 2,
                    prompt="p",
                    completion=f"</think> <answer>{answer(nums)}</answer>",
                    nums=nums,
                    target=target,
                    rewards={},
                    reward=0.0,
                    advantage=0.0,
                    length=12,
                    truncated=False,
                )
                f.write(json.dumps(record) + "\n")


def _one_shape(nums):
    return f"{nums[0]} - {nums[1]} + {nums[2]}"


def _varied(i):
    shapes = ["{0} - {1} + {2}", "{0} * {1} - {2}", "({0} + {2}) * {1}", "{0} + {1} + {2}"]
    return lambda nums: shapes[i % 4].format(*nums)


def test_template_guard_on_rollout_logs(tmp_path):
    """The answer shapes come from the rollout log's completions (runlog computes them for older logs too)."""
    from r1lite.inspection.runlog import load_rollouts, step_metrics

    collapsed, healthy = tmp_path / "collapsed", tmp_path / "healthy"
    _rollouts(collapsed, [[_varied(i) for i in range(8)]] + [[_one_shape] * 8] * 4)
    _rollouts(healthy, [[_varied(i) for i in range(8)]] * 5)
    for run, expected in ((collapsed, [("template", 3)]), (healthy, [])):
        steps = step_metrics(load_rollouts(run))
        assert [(a.guard, a.step) for a in run_alarms(run, steps)] == expected
    assert step_metrics(load_rollouts(collapsed)).loc[4, "top_shape_share"] == 1.0


def test_the_trainer_callback_warns_once_per_guard(caplog):
    import types

    from r1lite.training.callbacks import CollapseGuardCallback

    callback = CollapseGuardCallback(GuardSettings())
    state = types.SimpleNamespace(is_world_process_zero=True, global_step=0)
    with caplog.at_level(logging.WARNING, logger="r1lite.training.callbacks"):
        for record in _steps(**{**HEALTHY, "entropy": 0.01}):
            state.global_step = record.pop("step")
            callback.on_log(None, state, None, logs=record)
    warnings = [r.getMessage() for r in caplog.records if "collapse guard" in r.getMessage()]
    assert len(warnings) == 1 and "entropy collapse" in warnings[0] and "step 3" in warnings[0]


def test_summary_and_report_show_the_alarms(tmp_path):
    from r1lite.inspection.report import plot_curve
    from r1lite.inspection.summary import run_table

    history = [{**r, "reward": 0.5} for r in _steps(**{**HEALTHY, "format_rate": 1.0, "accuracy": 0.0})]
    summary = {"seconds": 60, "steps": 12, "log_history": history, "trainer": {"guard_format_steps": 4}}
    (tmp_path / "run_summary.json").write_text(json.dumps(summary))
    assert "- step 4: format saturated while accuracy stayed 0 for 4 steps" in run_table(tmp_path)
    alarms = run_alarms(tmp_path)
    import pandas as pd

    steps = pd.DataFrame([{"step": r["step"], "reward": 0.5} for r in history]).set_index("step")
    ax = plot_curve(steps, "reward", alarms).axes[0]
    assert any(line.get_linestyle() == ":" for line in ax.lines)  # the guard's dotted line at step 4
