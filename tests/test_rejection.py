"""Rejection sampling: readability checks, keep_if rules, the filter's reasons and statistics, bad input."""

import json

import pytest

from r1lite.r1 import rejection
from r1lite.r1.readability import (
    ReadabilityRules,
    foreign_letter_fraction,
    max_ngram_count,
    readability_rates,
    reasoning_text,
)
from r1lite.r1.rejection import EmptyKeptSetError, Sample, filter_samples
from r1lite.r1.sft_config import CleanupConfig, parse_keep_if

GOOD = "3 * 4 = 12, 12 + 2 = 14. </think> <answer> 3 * 4 + 2 </answer>"


@pytest.mark.parametrize(
    "text, problems",
    [
        (GOOD, []),  # readable reasoning, then the answer
        ("a b c d a b c d a b c d a b c d </think>", ["repetition"]),  # the 4-gram "a b c d" occurs 4 times
        ("a b c d a b c d a b c d </think>", []),  # 3 times is still tolerated (max_repeats=3)
        ("3 加 4 等于 七 啊 </think>", ["language_mixing"]),  # CJK letters inside English reasoning
        (
            "café = 3 + 4 then more words to dilute the accent letter here ok </think>",
            [],
        ),  # 1 of ~50 letters: under 2%
        ("</think> <answer> 1 + 2 </answer>", ["empty_reasoning"]),  # nothing before </think>
        ("one two </think>", ["empty_reasoning"]),  # two words < min_words=3
        ("reasoning that never closes the tag", ["empty_reasoning"]),  # no </think>: no reasoning part at all
        ("", ["empty_reasoning"]),  # empty completion
    ],
)
def test_readability_problems(text, problems):
    assert ReadabilityRules().problems(text) == problems


@pytest.mark.parametrize(
    "text, n, expected",
    [
        ("a b a b a b", 2, 3),  # "a b" three times
        ("A b a B", 2, 2),  # case-insensitive: "a b" twice ("b a" once)
        ("a b", 3, 0),  # fewer words than n
    ],
)
def test_max_ngram_count(text, n, expected):
    assert max_ngram_count(text, n) == expected


def test_helpers():
    assert reasoning_text("x y </think> z") == "x y "
    assert foreign_letter_fraction("12 + 3") == 0.0  # no letters
    assert foreign_letter_fraction("aé") == 0.5
    rates = readability_rates([GOOD, "</think>"])
    assert rates["empty_reasoning_rate"] == 0.5 and rates["readable_rate"] == 0.5 and rates["repetition_rate"] == 0.0
    assert rates["distinct_rate"] == 1.0 and readability_rates([GOOD, GOOD + " "])["distinct_rate"] == 0.5
    with pytest.raises(ValueError, match="at least one"):
        readability_rates([])


@pytest.mark.parametrize(
    "rule, parsed",
    [
        ("equation_reward>=1", ("equation_reward", 1.0)),
        (" format_reward >= 0.5 ", ("format_reward", 0.5)),  # spaces allowed
        ("my.module:score>=-1e-3", ("my.module:score", -0.001)),  # dotted path, negative, exponent
    ],
)
def test_parse_keep_if(rule, parsed):
    assert parse_keep_if([rule]) == [parsed]


@pytest.mark.parametrize("rule", ["equation_reward", "equation_reward>1", "equation_reward>=one", ">=1"])
def test_parse_keep_if_rejects(rule):
    with pytest.raises(ValueError, match="reward_name>=value"):
        parse_keep_if([rule])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(samples_per_prompt=0), "samples_per_prompt must be at least 1"),
        (dict(sample_temperature=0.0), "greedy decoding"),
        (dict(min_completion_tokens=10, max_completion_tokens=5), "below min_completion_tokens"),
        (dict(max_foreign_letters=2.0), r"fraction of letters in \[0, 1\]"),
    ],
)
def test_cleanup_config_checks(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CleanupConfig(**kwargs)


def _sample(prompt_index, text, tokens=20, truncated=False):
    return Sample(prompt_index, f"prompt {prompt_index}", text, tokens, truncated, {"nums": [2, 3, 4], "target": 14})


def test_filter_reasons_and_stats():
    cfg = CleanupConfig(max_kept_per_prompt=2, max_completion_tokens=50)
    good = {"equation_reward": 1.0, "format_reward": 1.0}
    cases = [  # (sample, scores, expected reasons) - one line per case
        (_sample(0, GOOD), good, []),  # kept
        (_sample(0, GOOD + " "), good, ["duplicate"]),  # same text up to whitespace
        (_sample(0, "2 * 4 = 8, 8 + 3 = 11, no. " + GOOD), good, []),  # second distinct one: kept
        (_sample(0, "check again: " + GOOD), good, ["over_cap"]),  # a third passing one: over the cap of 2
        (_sample(1, GOOD, truncated=True), good, ["truncated"]),  # hit the token cap
        (_sample(1, GOOD), {"equation_reward": 0.0, "format_reward": 1.0}, ["equation_reward<1"]),  # wrong answer
        (_sample(1, GOOD), {"equation_reward": None, "format_reward": 1.0}, ["equation_reward<1"]),  # unscorable
        (_sample(1, "</think> <answer> 3 * 4 + 2 </answer>"), good, ["empty_reasoning"]),  # no reasoning
        (_sample(1, GOOD, tokens=80), good, ["too_long"]),  # over max_completion_tokens
        (
            _sample(2, "x", truncated=True),
            {"equation_reward": 0.0, "format_reward": 0.0},
            ["truncated", "equation_reward<1", "format_reward<1", "empty_reasoning"],
        ),  # fails several checks
    ]
    samples, scores, expected = zip(*cases, strict=True)
    kept, reasons, stats = filter_samples(list(samples), list(scores), cfg)
    assert reasons == list(expected)
    assert kept == [0, 2]
    assert stats["sampled"] == 10 and stats["kept"] == 2 and stats["prompts"] == 3 and stats["prompts_with_kept"] == 1
    assert stats["dropped_by_first_reason"] == {
        "equation_reward<1": 2,
        "truncated": 2,
        "duplicate": 1,
        "over_cap": 1,
        "empty_reasoning": 1,
        "too_long": 1,
    }
    assert stats["failed_by_check"]["empty_reasoning"] == 2  # counted under every failed check here
    assert "sampled 10 completions from 3 prompts, kept 2" in rejection.describe(stats)


def test_score_uses_the_named_rewards():
    samples = [_sample(0, GOOD), _sample(0, "</think> <answer> 2 + 3 </answer>")]
    scores = rejection.score(samples, ["equation_reward", "format_reward"])
    assert scores[0] == {"equation_reward": 1.0, "format_reward": 1.0}
    assert scores[1]["equation_reward"] == 0.0  # 2 + 3 != 14 and does not use 4


def test_empty_kept_set_says_what_was_sampled(tmp_path, monkeypatch):
    samples = [_sample(0, "1 + 1 </think> <answer> 2 </answer>"), _sample(1, "no tags", truncated=True)]
    monkeypatch.setattr(rejection, "sample", lambda *a, **k: samples)
    with pytest.raises(EmptyKeptSetError) as err:
        rejection.run("unused", None, [], ["equation_reward"], CleanupConfig(), tmp_path / "samples")
    message = str(err.value)
    assert "kept nothing" in message and "sampled 2 completions from 2 prompts" in message
    assert "equation_reward<1: 1" in message and "truncated: 1" in message
    assert not rejection.is_complete(tmp_path / "samples")  # a rerun samples again instead of training on nothing
    lines = (tmp_path / "samples" / "samples.jsonl").read_text().splitlines()
    assert [json.loads(line)["kept"] for line in lines] == [False, False]


def test_keep_if_faithful_drops_right_answers_with_false_steps():
    """keep_if faithful_reward>=1 (rewards.reasoning): of two right answers, the one whose step is false goes."""
    true_steps = "Let me think. 3 * 4 = 12, and 12 + 2 = 14.</think> <answer>3 * 4 + 2</answer>"
    false_step = "Let me think. 3 * 4 = 14, so that is it.</think> <answer>3 * 4 + 2</answer>"
    samples = [_sample(0, true_steps), _sample(1, false_step)]
    cfg = CleanupConfig(keep_if=["equation_reward>=1", "faithful_reward>=1"])
    scores = rejection.score(samples, ["equation_reward", "faithful_reward"])
    kept, reasons, _ = filter_samples(samples, scores, cfg)
    assert kept == [0] and reasons[1] == ["faithful_reward<1"]
