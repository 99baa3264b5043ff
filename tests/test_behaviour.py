"""Behaviour metrics (rules in r1lite/inspection/behaviour.py), and the trainer logging them every step."""

from __future__ import annotations

import json
import time

import pytest

from r1lite.inspection.behaviour import (
    BEHAVIOUR_FIELDS,
    DEFAULT_REFLECTION_WORDS,
    answer_position,
    candidate_expressions,
    completion_behaviour,
    count_reflections,
    percentile,
    reflection_matches,
    summarize,
)

REFLECTIONS = [
    # (text, words (None: the defaults), expected count)
    ("Wait, 3 + 4 is 7.", None, 1),  # a sentence start, capitalised
    ("WAIT. wait! wAiT?", None, 3),  # any case
    ("I await the answer; they waited", None, 0),  # only whole words: not inside "await" or "waited"
    ("let me   check\nthat again", None, 1),  # a phrase matches across any whitespace
    ("That’s not right, that's wrong", None, 2),  # the typographic apostrophe too
    ("let me check: 7 - 2 = 5. Let me check again.", None, 2),  # the longest phrase wins, never counted twice
    ("hmm... actually, I made a mistake", None, 3),  # three different phrases
    ("double-check and double check", None, 2),  # both spellings are in the default list
    ("no reflection here: 2 * 4 = 8", None, 0),  # "no" alone is not a reflection
    ("oops, oops", ["oops"], 2),  # a custom list replaces the defaults
    ("wait", ["oops"], 0),  # ... entirely
    ("wait", [], 0),  # an empty list counts nothing
    ("", None, 0),  # empty completion
    ("İ wait", None, 1),  # a letter whose lower case is longer: offsets stay right (case-insensitive fallback)
]


@pytest.mark.parametrize("text,words,expected", REFLECTIONS, ids=[f"r{i}" for i in range(len(REFLECTIONS))])
def test_reflections(text, words, expected):
    assert count_reflections(text, words) == expected
    for start, end in reflection_matches(text, words):  # spans point at the phrase itself
        assert text[start:end].strip() == text[start:end] and text[start:end]


def test_reflection_spans_are_exact():
    text = "İİ Wait, let me\ncheck"
    assert [text[s:e] for s, e in reflection_matches(text)] == ["Wait", "let me\ncheck"]


CANDIDATES = [
    # (completion, expected distinct expressions)
    (
        "2 * 4 = 8, 8 + 3 = 11, no. 3 * 4 = 12, 12 + 2 = 14.</think><answer>3 * 4 + 2</answer>",
        ["2*4", "8+3", "3*4", "12+2"],
    ),
    ("(3 + 4) * 2 = 14 and ((1+2))*3</think>", ["(3+4)*2", "((1+2))*3"]),  # opening parentheses taken back
    ("1 + 2 = 3, then 1+2 again, 1 +  2", ["1+2"]),  # the same expression tried three times counts once
    ("12 x 3 and 10 ÷ 2 and 4 × 5", ["12x3", "10÷2", "4×5"]),  # other operator signs
    ("7 - 2 = 5\n+ 1", ["7-2"]),  # an expression stays on one line
    ("numbers 1, 2 and 3; the target is 5", []),  # lists of numbers are not equations
    ("<answer>1 + 2</answer>", []),  # no reasoning: the text before the answer is empty
    ("1 + 2 <answer>3 + 4</answer>", ["1+2"]),  # without </think>, the reasoning ends at the answer
    ("123456 + 7", ["123456+7"]),  # whole numbers, never a part of one
]


@pytest.mark.parametrize("text,expected", CANDIDATES, ids=[f"c{i}" for i in range(len(CANDIDATES))])
def test_candidate_expressions(text, expected):
    assert candidate_expressions(text) == expected


POSITIONS = [
    # (completion, expected answer position)
    ("<answer>1</answer>", 0.0),  # answers at once
    ("abcdefgh</think><answer>1</answer>", 16 / 34),  # where the last complete block starts
    ("x<answer>1</answer><answer>2</answer>", 19 / 37),  # the last complete block, like extract_answer
    ("x<answer>1", None),  # an unclosed block is no answer
    ("no answer at all", None),
    ("", None),
]


@pytest.mark.parametrize("text,expected", POSITIONS, ids=[f"p{i}" for i in range(len(POSITIONS))])
def test_answer_position(text, expected):
    assert answer_position(text) == (None if expected is None else pytest.approx(expected))


COMPLETIONS = [
    # (completion, nums, target, expected fields)
    (
        " 3 * 4 = 12, 12 + 2 = 14.</think>\n<answer>3 * 4 + 2</answer>",
        [2, 3, 4],
        14,
        dict(formatted=True, correct=True, reflections=0, candidates=2, shape="b * c + a"),
    ),  # the worked example: right and well formed; its answer's shape in the puzzle's letters
    (
        " 2 + 3 = 5, wait, that's not right.</think><answer>2 + 3</answer>",
        [2, 3, 4],
        14,
        dict(formatted=True, correct=False, reflections=2, candidates=1),
    ),  # formatted, wrong answer, two reflections
    (
        "<answer>3 * 4 + 2</answer>",
        [2, 3, 4],
        14,
        dict(formatted=False, correct=True, reflections=0, candidates=0),
    ),  # correct but no </think>: not formatted
    (
        "3 * 4 + 2",
        [2, 3, 4],
        14,
        dict(formatted=False, correct=False, reflections=0, candidates=1, answer_position=None),
    ),  # no answer block
    (
        "</think><answer>3 * 4 + 2</answer>",
        None,
        None,
        dict(formatted=True, correct=None),
    ),  # no puzzle: correctness unknown
    ("</think><answer>3 * 4 + 2</answer>", [2.0, 3, 4], 14, dict(correct=None)),  # not a valid puzzle: unknown
    ("</think><answer>__import__('os')</answer>", [2, 3, 4], 14, dict(correct=False)),  # never evaluated
]


@pytest.mark.parametrize("text,nums,target,expected", COMPLETIONS, ids=[f"b{i}" for i in range(len(COMPLETIONS))])
def test_completion_behaviour(text, nums, target, expected):
    (fields,) = completion_behaviour([text], [nums], [target])
    assert set(fields) == set(BEHAVIOUR_FIELDS)
    for key, value in expected.items():
        assert fields[key] == value, key


def test_completion_behaviour_checks_lengths():
    with pytest.raises(ValueError, match="2 completions but 1 nums"):
        completion_behaviour(["a", "b"], [[1]], [1, 2])


def test_summarize():
    texts = [
        "2 + 3 = 5. Wait.</think><answer>2 + 3</answer>",  # formatted, correct (target 5), one reflection
        "1 + 1</think><answer>9</answer>",  # formatted, wrong
        "rambling without end",  # no answer, truncated
        "hmm hmm",  # no answer, two reflections
    ]
    fields = completion_behaviour(texts, [[2, 3]] * 4, [5] * 4)
    metrics = summarize(fields, lengths=[10, 20, 30, 40], truncated=[False, False, True, False])
    assert metrics == pytest.approx(
        dict(
            format_rate=0.5,
            answer_rate=0.5,
            accuracy=0.25,
            length_mean=25.0,
            length_p10=13.0,
            length_p50=25.0,
            length_p90=37.0,
            truncation_rate=0.25,
            reflection_rate=0.5,
            reflections_mean=0.75,
            candidates_mean=0.5,
            top_shape_share=0.5,  # two answers, two shapes: "a + b" and "n" (9 is not a puzzle number)
            statements_true_rate=1.0,  # one statement, "2 + 3 = 5", true
            faithful_rate=0.25,
            unread_statements_mean=0.0,
            answer_position_mean=(
                texts[0].index("<answer>") / len(texts[0]) + texts[1].index("<answer>") / len(texts[1])
            )
            / 2,
        )
    )
    none_answered = summarize(completion_behaviour(["x"]), [5], [False])
    assert not {"answer_position_mean", "accuracy", "top_shape_share"} & set(none_answered)  # absent, never NaN
    assert summarize([], [], []) == {}


@pytest.mark.parametrize("q", [0, 10, 33.3, 50, 90, 100])
def test_percentile_matches_numpy(q):
    np = pytest.importorskip("numpy")
    values = [5, 1, 9, 3, 3, 8, 2]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_default_words_cover_the_issue():
    for phrase in ("wait", "let me check", "verify", "try again", "that's not right"):
        assert phrase in DEFAULT_REFLECTION_WORDS


ADVERSARIAL = {
    "digits": "1" * 100_000,
    "spaces after a digit": "1" + " " * 100_000 + "q",
    "digit space runs": "1 " * 50_000,
    "open parentheses": "(" * 50_000 + "1",
    "operator chain": "1+" * 50_000,
    "reflection words": "wait " * 20_000,
    "parenthesis runs": "1 ( ( ( ( " * 10_000,
    "near-phrases": "let me chec " * 8_000,
}


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_linear_time_on_100kb(text):
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        completion_behaviour([text], [[1, 2]], [3])
        best = min(best, time.perf_counter() - start)
    assert best < 0.1, f"{best * 1e3:.0f} ms"


def test_tiny_run_logs_behaviour(tmp_path, tiny_recipe, tiny_model_path):
    """The trainer logs behaviour/* every step and writes the fields into each rollout record."""
    from r1lite.training import zero

    summary = zero.main(tiny_recipe + ["--eval_at_end", "false", "--reflection_words", "wait", "the"])
    run = tmp_path / "run"
    steps = [h for h in summary["log_history"] if "reward" in h]
    assert len(steps) == 2
    names = (
        "format_rate",
        "answer_rate",
        "accuracy",
        "length_mean",
        "length_p10",
        "length_p50",
        "length_p90",
        "truncation_rate",
        "reflection_rate",
        "reflections_mean",
        "candidates_mean",
    )
    for h in steps:
        assert {f"behaviour/{n}" for n in names} <= set(h), sorted(h)
    assert summary["trainer"]["reflection_words"] == ["wait", "the"]
    for n, h in enumerate(steps):
        rows = [json.loads(line) for line in (run / "rollouts" / f"step-{n:06d}.jsonl").open()]
        for row in rows:
            (expected,) = completion_behaviour([row["completion"]], [row["nums"]], [row["target"]], ["wait", "the"])
            assert {k: row[k] for k in expected} == expected
        # the logged metric is the batch's own
        assert h["behaviour/reflection_rate"] == pytest.approx(sum(r["reflections"] > 0 for r in rows) / len(rows))
        assert h["behaviour/length_mean"] == pytest.approx(sum(r["length"] for r in rows) / len(rows))
        assert h["behaviour/truncation_rate"] == pytest.approx(sum(r["truncated"] for r in rows) / len(rows))
