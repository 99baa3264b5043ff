"""The curriculum: its checks (before the model loads), the promotion rule, a tiny run that moves up, resume."""

import json

import pytest

from r1lite.config import TaskConfig
from r1lite.task.curriculum import Curriculum, Level
from r1lite.training import zero

from conftest import REPO

TWO_LEVELS = ["--curriculum_levels", "2/20/1-50", "3/20/1-50"]


@pytest.mark.parametrize(
    "fields, match",
    [
        (dict(curriculum_levels=["3/20/1-50", "2/10/1-20"]), r"curriculum_levels\[1\] = '2/10/1-20' is not harder"),
        (dict(curriculum_levels=["2/10/1-20", "2/10/1-20"]), r"curriculum_levels\[1\]"),  # the same level twice
        (dict(curriculum_levels=["2 numbers"]), r"curriculum_levels\[0\] = '2 numbers' is not NUMBERS"),
        (dict(curriculum_levels=["7/10/1-20"]), "within 2 to 6"),
        (
            dict(curriculum_stages=["equation_reward=1,closeness_reward=0.5"]),
            r"curriculum_stages\[0\] names 'closeness_reward'",
        ),
        (
            dict(curriculum_stages=["equation_reward"]),
            r"curriculum_stages\[0\]: 'equation_reward' is not reward_name=weight",
        ),
        (dict(curriculum_levels=["2/10/1-20"], curriculum_threshold=1.5), "can never be met"),
        (dict(curriculum_levels=["2/10/1-20"], curriculum_threshold=0), "can never be met"),
        (dict(curriculum_levels=["2/10/1-20"], curriculum_window=0), "curriculum_window=0"),
        (dict(curriculum_levels=["2/10/1-20"], curriculum_metric="reward"), "curriculum_metric='reward'"),
        (dict(curriculum_levels=["2/10/1-20"], curriculum_metric="steps"), "curriculum_steps"),
        (dict(curriculum_levels=["2/10/1-20"], curriculum_metric="steps", curriculum_steps=[5, 3]), "increasing"),
        # levels are generated: a loaded data set would be silently ignored
        (dict(curriculum_levels=["2/10/1-20"], dataset_name="data/my.jsonl"), "need dataset_name: countdown"),
    ],
)
def test_bad_curriculum_is_refused(fields, match):
    with pytest.raises(ValueError, match=match):
        TaskConfig(**fields)


@pytest.fixture
def no_model_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the bad level was reported")

    monkeypatch.setattr(zero, "load_policy", refuse)


def test_a_level_the_generator_cannot_fill_fails_before_the_model_loads(tiny_recipe, no_model_load):
    args = zero.parse_args(tiny_recipe + ["--curriculum_levels", "2/20/1-50", "2/20/99-100"])
    with pytest.raises(ValueError, match=r"curriculum_levels\[1\] = '2/20/99-100': found only"):
        zero.build_trainer(*args)


def _ladder(metric="accuracy", levels=3, stages=2, steps=()):
    level = Level(2, 2, 10, 1, 20)
    return Curriculum([level] * levels, [{"a": 1.0}] * stages, metric, 0.5, 2, list(steps))


@pytest.mark.parametrize(
    "ladder, rung, step, history, expected",
    [
        (_ladder(), 0, 5, [0.9], 0),  # one value: the window of 2 is not full yet
        (_ladder(), 0, 5, [0.2, 0.9], 1),  # mean 0.55 >= 0.5: promote
        (_ladder(), 0, 5, [0.9, 0.05], 0),  # mean 0.475: stay
        (_ladder(), 0, 5, [0.0, 0.6, 0.4], 1),  # the last two count
        (_ladder(), 2, 9, [1.0, 1.0], 2),  # the top rung stays
        (_ladder(levels=1, stages=3), 1, 9, [1.0, 1.0], 2),  # stages alone make rungs too
        (_ladder("steps", steps=(3, 6)), 0, 2, [], 0),
        (_ladder("steps", steps=(3, 6)), 0, 3, [], 1),
        (_ladder("steps", steps=(3, 6)), 1, 7, [], 2),
    ],
)
def test_promotion_rule(ladder, rung, step, history, expected):
    assert ladder.next_rung(rung, step, history) == expected


def _rollouts(run):
    return {f.name: [json.loads(line) for line in f.open()] for f in sorted((run / "rollouts").glob("*.jsonl"))}


CURRICULUM_RUN = [
    *TWO_LEVELS,
    "--reward_funcs",
    "equation_reward",
    "shaped_format_reward",
    "--curriculum_stages",
    "shaped_format_reward=1",
    "equation_reward=1,shaped_format_reward=0.25",
    "--curriculum_metric",
    "steps",
    "--curriculum_steps",
    "2",
    "--max_steps",
    "4",
    "--eval_at_end",
    "true",
]


def test_tiny_curriculum_run_moves_up_and_evaluates_per_level(tmp_path, tiny_recipe, tiny_model_path):
    summary = zero.main(tiny_recipe + CURRICULUM_RUN)
    logs = [h for h in summary["log_history"] if "curriculum/level" in h]
    assert [h["curriculum/level"] for h in logs] == [0, 0, 1, 1]  # promoted at step 2
    assert [h["curriculum/stage"] for h in logs] == [0, 0, 1, 1]
    rollouts = _rollouts(tmp_path / "run")
    first, last = rollouts["step-000000.jsonl"], rollouts["step-000003.jsonl"]
    assert all(len(r["nums"]) == 2 for r in first)  # level 0: 2 numbers
    assert all(len(r["nums"]) == 3 for r in last)  # level 1: 3 numbers
    # the stage's weights make the reward: stage 0 is the shaped format alone
    assert all(r["reward"] == pytest.approx(r["rewards"]["shaped_format_reward"]) for r in first)
    assert all(
        r["reward"] == pytest.approx(r["rewards"]["equation_reward"] + 0.25 * r["rewards"]["shaped_format_reward"])
        for r in last
    )
    final = json.loads((tmp_path / "run" / "eval" / "final.json").read_text())
    assert [len(level["samples"][0]["nums"]) for level in final["levels"]] == [2, 3]
    from r1lite.inspection.summary import run_table

    table = run_table(tmp_path / "run")
    assert "| step | level | stage |" in table and "Level 1 (8 puzzles): accuracy" in table
    from r1lite.inspection.report import write_report
    from r1lite.inspection.runlog import curriculum_steps

    levels = curriculum_steps(tmp_path / "run")  # rollout step s - 1 was generated for logged step s
    assert levels["curriculum_level"].tolist() == [0, 0, 1, 1] and levels.index.tolist() == [0, 1, 2, 3]
    write_report(tmp_path / "run")
    assert (tmp_path / "run" / "report" / "curriculum.png").exists()
    assert (tmp_path / "run" / "report" / "heldout.png").exists()  # held-out accuracy per level


def test_resume_continues_on_the_same_rung(tmp_path, tiny_model_path):
    from transformers import TrainerCallback

    class StopAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                control.should_training_stop = True

    base = [
        "--config",
        str(REPO / "configs/tiny/zero.yaml"),
        *CURRICULUM_RUN,
        "--eval_at_end",
        "false",
        "--save_strategy",
        "steps",
        "--save_steps",
        "3",
        "--output_dir",
        str(tmp_path / "run"),
    ]
    zero.main(base, callbacks=[StopAt()])
    state = json.loads((tmp_path / "run" / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["stateful_callbacks"]["CurriculumCallback"]["attributes"]["rung"] == 1
    summary = zero.main(base + ["--resume_from_checkpoint", "true"])
    logs = [h for h in summary["log_history"] if "curriculum/level" in h]
    assert logs[-1]["step"] == 4 and logs[-1]["curriculum/level"] == 1  # step 4 trained on level 1
    assert all(len(r["nums"]) == 3 for r in _rollouts(tmp_path / "run")["step-000003.jsonl"])
