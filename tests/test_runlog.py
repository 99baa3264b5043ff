"""Loading a run's rollout log: columns, old logs, ordering, and bad input (missing folder, killed run)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from r1lite.inspection.behaviour import completion_behaviour, summarize
from r1lite.inspection.runlog import (
    RolloutLogWarning,
    RunLogError,
    best_and_worst,
    early_and_late,
    first_reflection,
    load_rollouts,
    reflection_word_counts,
    rollout_files,
    same_prompt_early_late,
    step_metrics,
)

GOOD = " 3 * 4 = 12, 12 + 2 = 14.</think>\n<answer>3 * 4 + 2</answer>"
WRONG = " 2 + 3 = 5, wait, that's not right.</think><answer>2 + 3</answer>"
RAMBLE = " I think about the numbers and"


def record(step: int, index: int, completion: str, *, prompt: str | None = None, new_fields: bool = True) -> dict:
    """A rollout record as r1lite.training.trainer writes it (new_fields=False: as logs written before the
    behaviour fields)."""
    row = dict(
        step=step,
        index=index,
        group=index // 2,
        prompt=prompt or f"puzzle {step}-{index // 2}",
        completion=completion,
        nums=[2, 3, 4],
        target=14,
        rewards={"equation_reward": float(completion == GOOD), "format_reward": 1.0},
        reward=float(completion == GOOD) + 1.0,
        advantage=0.0,
        length=len(completion.split()),
        truncated=completion == RAMBLE,
    )
    if new_fields:
        (fields,) = completion_behaviour([completion], [row["nums"]], [row["target"]])
        row.update(fields)
    return row


def write_run(folder: Path, steps: dict[str, list[dict]]) -> Path:
    """``steps``: file name -> records; returns the run folder."""
    (folder / "rollouts").mkdir(parents=True, exist_ok=True)
    for name, rows in steps.items():
        (folder / "rollouts" / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.fixture
def run(tmp_path):
    return write_run(
        tmp_path / "run",
        {
            "step-000000.jsonl": [
                record(0, 0, RAMBLE),
                record(0, 1, RAMBLE),
                record(0, 2, WRONG),
                record(0, 3, RAMBLE),
            ],
            "step-000001.jsonl": [record(1, 0, WRONG), record(1, 1, GOOD), record(1, 2, GOOD), record(1, 3, WRONG)],
        },
    )


def test_one_row_per_completion(run):
    df = load_rollouts(run)
    assert len(df) == 8 and list(df["step"]) == [0] * 4 + [1] * 4
    for column in (
        "prompt",
        "completion",
        "nums",
        "target",
        "reward",
        "advantage",
        "length",
        "truncated",
        "file",
        "rewards/equation_reward",
        "rewards/format_reward",
        "formatted",
        "correct",
        "reflections",
        "candidates",
        "answer_position",
        "answered",
        "answer",
    ):
        assert column in df, column
    good = df[df["completion"] == GOOD].iloc[0]
    assert good["correct"] and good["formatted"] and good["answer"] == "3 * 4 + 2" and good["candidates"] == 2
    assert df.loc[df["completion"] == WRONG, "reflections"].tolist() == [2, 2, 2]
    assert not df.loc[df["completion"] == RAMBLE, "answered"].any()


def test_old_logs_are_recomputed_from_the_text(tmp_path, run):
    old = write_run(
        tmp_path / "old",
        {
            name: [
                {
                    k: v
                    for k, v in r.items()
                    if k not in ("formatted", "correct", "reflections", "candidates", "answer_position")
                }
                for r in map(json.loads, (run / "rollouts" / name).read_text().splitlines())
            ]
            for name in ("step-000000.jsonl", "step-000001.jsonl")
        },
    )
    new, recomputed = load_rollouts(run), load_rollouts(old)
    for column in ("formatted", "correct", "reflections", "candidates", "answer_position", "answered"):
        assert new[column].equals(recomputed[column]), column


def test_reflection_words_recount(run):
    df = load_rollouts(run, reflection_words=["numbers"])
    assert df.loc[df["completion"] == RAMBLE, "reflections"].tolist() == [1, 1, 1]
    assert df.loc[df["completion"] == WRONG, "reflections"].tolist() == [0, 0, 0]


def test_file_order_and_rollouts_folder(tmp_path):
    run = write_run(
        tmp_path,
        {
            "step-000001-0003.jsonl": [record(1, 0, GOOD)],  # a resumed run wrote step 1 again, after step-000001
            "step-000001.jsonl": [record(1, 0, WRONG)],
            "step-000000.jsonl": [record(0, 0, RAMBLE)],
            "notes.txt": [],  # other files are ignored
        },
    )
    assert [p.name for p in rollout_files(run)] == ["step-000000.jsonl", "step-000001.jsonl", "step-000001-0003.jsonl"]
    df = load_rollouts(run / "rollouts")  # the rollouts folder itself works too
    assert df["file"].tolist() == ["step-000000.jsonl", "step-000001.jsonl", "step-000001-0003.jsonl"]


def test_killed_run_skips_the_half_written_line(run):
    last = run / "rollouts" / "step-000001.jsonl"
    text = last.read_text()
    last.write_text(text[: len(text) - 40])  # the last record cut mid-line, as a killed run leaves it
    with pytest.warns(RolloutLogWarning, match=r"skipped 1 of 4 lines .*line 4\).*stopped while writing"):
        df = load_rollouts(run)
    assert len(df) == 7


def test_damaged_line_in_the_middle(run):
    first = run / "rollouts" / "step-000000.jsonl"
    lines = first.read_text().splitlines()
    broken = ["{not json", '{"no": "step"}', '{"step": "1", "completion": "text"}']  # not JSON, no step, a str step
    first.write_text("\n".join([lines[0], *broken, *lines[1:]]) + "\n")
    with pytest.warns(RolloutLogWarning, match=r"skipped 3 of 7 lines .*line 2, 3, 4\).*damaged"):
        df = load_rollouts(run)
    assert len(df) == 8


BAD_RUNS = [
    # (what the folder holds, words the error must contain)
    ("nothing: the folder does not exist", "does not exist"),
    ("a folder without rollouts/", "no rollouts/ folder"),
    ("an empty rollouts/ folder", "no step-NNNNNN.jsonl"),
    ("only unreadable lines", "no readable record"),
]


@pytest.mark.parametrize("case,words", BAD_RUNS, ids=[c for c, _ in BAD_RUNS])
def test_bad_run_folders(tmp_path, case, words):
    run = tmp_path / "run"
    if case != BAD_RUNS[0][0]:
        run.mkdir()
    if case in (BAD_RUNS[2][0], BAD_RUNS[3][0]):
        (run / "rollouts").mkdir()
    if case == BAD_RUNS[3][0]:
        (run / "rollouts" / "step-000000.jsonl").write_text('{"step": 0, "compl')
    with warnings.catch_warnings(record=True) as caught, pytest.raises(RunLogError, match=words):
        warnings.simplefilter("always")
        load_rollouts(run)
    skipped = [w for w in caught if issubclass(w.category, RolloutLogWarning)]
    assert len(skipped) == (case == BAD_RUNS[3][0])  # the unreadable line is reported before the error


def test_step_metrics_match_the_trainer_definitions(run):
    df = load_rollouts(run)
    steps = step_metrics(df)
    assert list(steps.index) == [0, 1]
    rows = df[df["step"] == 1]
    fields = completion_behaviour(list(rows["completion"]), list(rows["nums"]), list(rows["target"]))
    expected = summarize(fields, list(rows["length"]), list(rows["truncated"]))
    for name, value in expected.items():
        assert steps.loc[1, name] == pytest.approx(value), name
    assert steps.loc[1, "accuracy"] == 0.5 and steps.loc[0, "reflection_rate"] == 0.25
    assert steps.loc[1, "reward"] == pytest.approx(1.5) and steps.loc[1, "rewards/equation_reward"] == 0.5
    assert steps.loc[0, "completions"] == 4


def test_best_worst_and_first_reflection(run):
    df = load_rollouts(run)
    best, worst = best_and_worst(df, n=2)
    assert best["completion"].tolist() == [GOOD, GOOD] and worst["completion"].tolist() == [WRONG, WRONG]
    best0, _ = best_and_worst(df, step=0, n=1)
    assert best0["step"].tolist() == [0]
    with pytest.raises(RunLogError, match="no completions logged at step 7"):
        best_and_worst(df, step=7)
    step, rows = first_reflection(df)
    assert step == 0 and rows["completion"].tolist() == [WRONG]
    counts = reflection_word_counts(df)
    assert counts.loc[0, "wait"] == 1 and counts.loc[1, "that's not right"] == 2
    assert first_reflection(df[df["completion"] != WRONG]) is None


def test_same_prompt_early_and_late(tmp_path):
    run = write_run(
        tmp_path,
        {
            "step-000000.jsonl": [record(0, 0, RAMBLE, prompt="P"), record(0, 1, RAMBLE, prompt="Q")],
            "step-000003.jsonl": [record(3, 0, GOOD, prompt="P"), record(3, 1, WRONG, prompt="R")],
        },
    )
    df = load_rollouts(run)
    prompt, early, late = early_and_late(df)
    assert prompt == "P" and early["step"].tolist() == [0] and late["completion"].tolist() == [GOOD]
    assert same_prompt_early_late(df)[0] == "P"  # a repeated prompt needs no model
    no_repeat = df[df["prompt"] != "P"]
    assert early_and_late(no_repeat) is None
    assert same_prompt_early_late(no_repeat, run_dir=None) is None
    with pytest.raises(RunLogError, match="no saved model"):
        same_prompt_early_late(no_repeat, run_dir=run)


def test_cli_reports_bad_runs_without_traceback(tmp_path, capsys):
    from r1lite.cli import main

    for command, message in (("report", "no rollouts/ folder"), ("summary", "run_summary.json not found")):
        with pytest.raises(SystemExit) as exit_info:
            main([command, str(tmp_path)])
        assert exit_info.value.code == 2  # a user's mistake: one line, status 2
        err = capsys.readouterr().err
        assert err.startswith("r1lite: error: ") and message in err and err.count("\n") == 1
