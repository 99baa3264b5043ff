"""r1lite summary's before-and-after section, on hand-made evaluation records."""

from r1lite.inspection.summary import before_and_after, target_blind_lines


def _result(samples):
    return {
        "accuracy": sum(s["correct"] for s in samples) / len(samples),
        "num_prompts": len(samples),
        "num_samples": 1,
        "samples": samples,
    }


def _sample(nums, target, answer, correct):
    return {
        "nums": nums,
        "target": target,
        "completion": f" ... </think> <answer> {answer} </answer>",
        "correct": correct,
    }


def test_before_and_after_shows_the_sum_strategy_and_a_learned_puzzle():
    before = _result(
        [
            _sample([3, 4], 7, "3 - 4", 0.0),
            _sample([5, 2], 3, "5 + 2", 0.0),
            _sample([6, 2], 12, "6 * 2", 1.0),
            _sample([9, 1], 10, "1", 0.0),
        ]
    )
    after = _result(
        [
            _sample([3, 4], 7, "3 + 4", 1.0),  # learned, and only adds
            _sample([5, 2], 3, "5 - 2", 1.0),  # learned, subtracts
            _sample([6, 2], 12, "6 + 2", 0.0),  # forgotten
            _sample([9, 1], 10, "9 + 1", 1.0),
        ]
    )  # learned, only adds
    lines = before_and_after({"levels": [before]}, {"levels": [after]})
    # a + b (the sum) solves 2 of the 4 puzzles, more than any other fixed shape; one shape per order of the
    # numbers does no better (where b < a, -, * and + each solve one); no twins were evaluated
    assert "| 0 | 4 | 0.250 (0.046-0.699) | 0.750 (0.301-0.954) | `a + b` 0.500 | 0.500 | - |" in lines
    assert "Level 0, [3, 4] to 7 (3 puzzles wrong at step 0 and right at the end):" in lines
    assert "- end: `... </think> <answer> 3 + 4 </answer>`" in lines


def test_before_and_after_of_a_run_without_levels():
    before = _result([_sample([3, 4], 7, "3 - 4", 0.0)])
    after = _result([_sample([3, 4], 7, "3 + 4", 1.0)])
    after["twins"] = {"pairs": 1, "changed": 1, "changed_share": 1.0, "twin_correct": 1, "twin_accuracy": 1.0}
    row = "| 0 | 1 | 0.000 (0.000-0.793) | 1.000 (0.207-1.000) | `a + b` 1.000 | 1.000 | 1/1 |"
    assert row in before_and_after(before, after)


def test_target_blind_lines_of_an_evaluation():
    result = {
        **_result([_sample([3, 4], 7, "3 + 4", 1.0), _sample([5, 2], 3, "5 + 2", 0.0)]),
        "template": "a + b",
        "template_accuracy": 0.5,
        "accuracy_off_template": 0.0,
        "order_rule": "a + b where a < b",
        "order_rule_accuracy": 0.5,
        "answer_shapes": 1,
        "top_shape": "a + b",
        "top_shape_share": 1.0,
        "twins": {"pairs": 2, "changed": 0, "changed_share": 0.0, "twin_correct": 0, "twin_accuracy": 0.0},
    }
    assert target_blind_lines(result) == [
        "- best target-blind template `a + b`: 1/2 (0.500)",
        "- accuracy on the 1 puzzles it misses: 0.000",
        "- best target-blind rule on the numbers' order: 1/2 (0.500): a + b where a < b",
        "- answer shapes: 1 distinct; `a + b` takes 100% of the answers",
        "- target twins: the answer changed on 0/2 (0%); twins solved 0/2",
    ]
    assert target_blind_lines(_result([_sample([3, 4], 7, "3 + 4", 1.0)])) == []  # an evaluation from before


def test_heldout_history_per_level_and_the_last_record_of_a_step_wins(tmp_path):
    import json

    from r1lite.inspection.report import plot_heldout
    from r1lite.inspection.runlog import heldout_history

    (tmp_path / "eval").mkdir()
    records = [
        {
            "step": 0,
            "eval/accuracy": 0.1,
            "eval/level0/accuracy": 0.1,
            "eval/level0/accuracy_low": 0.0,
            "eval/level0/accuracy_high": 0.3,
            "eval/level1/accuracy": 0.0,
            "eval/level0/format_rate": 1.0,
            "eval/level0/template_accuracy": 0.3,
        },
        {"step": 4, "eval/accuracy": 0.5, "eval/level0/accuracy": 0.5, "eval/level1/accuracy": 0.2},
        {
            "step": 4,
            "eval/accuracy": 0.6,
            "eval/level0/accuracy": 0.6,
            "eval/level1/accuracy": 0.25,
        },  # a resumed run's
    ]
    (tmp_path / "eval" / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    history = heldout_history(tmp_path)
    assert history.index.tolist() == [0, 4]
    assert history["level1/accuracy"].tolist() == [0.0, 0.25] and "all/accuracy" not in history
    assert history.loc[0, "level0/accuracy_high"] == 0.3
    lines = plot_heldout(history).axes[0].lines
    assert len(lines) == 3 and lines[1].get_linestyle() == "--"  # level 0's template accuracy: dashed
    assert heldout_history(tmp_path / "elsewhere") is None
