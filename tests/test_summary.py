"""r1lite summary's before-and-after section, on hand-made evaluation records."""

from r1lite.inspection.summary import before_and_after


def _result(samples):
    return {"accuracy": sum(s["correct"] for s in samples) / len(samples), "num_prompts": len(samples),
            "num_samples": 1, "samples": samples}


def _sample(nums, target, answer, correct):
    return {"nums": nums, "target": target, "completion": f" ... </think> <answer> {answer} </answer>", "correct": correct}


def test_before_and_after_shows_the_sum_strategy_and_a_learned_puzzle():
    before = _result([_sample([3, 4], 7, "3 - 4", 0.0), _sample([5, 2], 3, "5 + 2", 0.0),
                      _sample([6, 2], 12, "6 * 2", 1.0), _sample([9, 1], 10, "1", 0.0)])
    after = _result([_sample([3, 4], 7, "3 + 4", 1.0),  # learned, and only adds
                     _sample([5, 2], 3, "5 - 2", 1.0),  # learned, subtracts
                     _sample([6, 2], 12, "6 + 2", 0.0),  # forgotten
                     _sample([9, 1], 10, "9 + 1", 1.0)])  # learned, only adds
    lines = before_and_after({"levels": [before]}, {"levels": [after]})
    # 2 of 4 targets are the sum of their numbers; 2 of the 3 right answers at the end only add
    assert "| 0 | 4 | 0.250 (0.046-0.699) | 0.750 (0.301-0.954) | 0.500 | 2 of 3 |" in lines
    assert "Level 0, [3, 4] to 7 (3 puzzles wrong at step 0 and right at the end):" in lines
    assert "- end: `... </think> <answer> 3 + 4 </answer>`" in lines


def test_before_and_after_of_a_run_without_levels():
    before = _result([_sample([3, 4], 7, "3 - 4", 0.0)])
    after = _result([_sample([3, 4], 7, "3 + 4", 1.0)])
    assert "| 0 | 1 | 0.000 (0.000-0.793) | 1.000 (0.207-1.000) | 1.000 | 1 of 1 |" in before_and_after(before, after)
