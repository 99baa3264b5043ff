"""Tests of r1lite.task.prompts: TinyZero's templates, the chat variants and the dataset column.

The chat tests use a tiny offline tokenizer (a WordLevel `tokenizers` object with a
ChatML chat template); nothing is downloaded.
"""

import operator
import re

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from r1lite.errors import ConfigError
from r1lite.task.countdown import generate, is_heldout, solve
from r1lite.task.prompts import (
    FEW_SHOT,
    FEW_SHOT_COMPARE,
    FEW_SHOT_COMPARE_SUM_LAST,
    FEW_SHOT_DEFAULT,
    FEW_SHOT_TRY,
    ONE_SHOT_ANSWER,
    ONE_SHOT_EXAMPLE,
    ONE_SHOT_NUMS,
    ONE_SHOT_TARGET,
    PREFILL,
    QWEN_INSTRUCT_SYSTEM,
    add_prompts,
    base_prompt,
    chat_prompt,
    check_shots,
    few_shot_prompt,
    make_prompt,
)
from rewards.countdown import equation_reward
from rewards.reasoning import honest_check_reward

# TinyZero's templates (examples/data_preprocess/countdown.py), written out independently
# of the module under test, for [3, 7, 25] and 46.
QUESTION = (
    "Using the numbers [3, 7, 25], create an equation that equals 46. You can use basic arithmetic "
    "operations (+, -, *, /) and each number can only be used once. Show your work in <think> </think> "
    "tags. And return the final answer in <answer> </answer> tags, for example <answer> (1 + 2) / 3 </answer>."
)
TINYZERO_BASE = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with "
    "the answer.\nUser: " + QUESTION + "\nAssistant: Let me solve this step by step.\n<think>"
)
TINYZERO_QWEN_INSTRUCT = (
    "<|im_start|>system\nYou are a helpful assistant. You first thinks about the reasoning process in the "
    "mind and then provides the user with the answer.<|im_end|>\n<|im_start|>user\n "
    + QUESTION
    + "<|im_end|>\n<|im_start|>assistant\nLet me solve this step by step.\n<think>"
)

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def tiny_tokenizer(chat_template: str | None = CHATML) -> PreTrainedTokenizerFast:
    """An offline fast tokenizer whose only interesting part is its chat template."""
    backend = Tokenizer(models.WordLevel({"[UNK]": 0, "<|im_start|>": 1, "<|im_end|>": 2}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    tokenizer.chat_template = chat_template
    return tokenizer


@pytest.fixture(scope="module")
def chatml() -> PreTrainedTokenizerFast:
    """Named apart from conftest's `tokenizer` (the default model's, which these tests do not need)."""
    return tiny_tokenizer()


# --------------------------------------------------------------------------- base template


def test_base_prompt_is_tinyzero_verbatim():
    assert base_prompt([3, 7, 25], 46) == TINYZERO_BASE


def test_prompts_end_with_the_prefill_and_no_newline():
    assert PREFILL == "Let me solve this step by step.\n<think>"
    assert base_prompt([3, 7, 25], 46).endswith("Assistant: " + PREFILL)


@pytest.mark.parametrize(
    "nums",
    [
        [3, 7, 25],  # a list
        (3, 7, 25),  # a tuple prints as a list too
        np.array([3, 7, 25]),  # numpy ints print as plain ints, not "[ 3  7 25]"
    ],
)
def test_numbers_print_as_a_python_list(nums):
    assert "Using the numbers [3, 7, 25], create" in base_prompt(nums, np.int64(46))


def test_float_numbers_are_rejected():
    with pytest.raises(TypeError):
        base_prompt([3.0, 7, 25], 46)


# --------------------------------------------------------------------------- chat templates


def test_chat_prompt_is_the_question_in_the_chat_template_plus_prefill(chatml):
    expected = "<|im_start|>user\n" + QUESTION + "<|im_end|>\n<|im_start|>assistant\n" + PREFILL
    assert chat_prompt(chatml, [3, 7, 25], 46) == expected


def test_chat_prompt_with_tinyzero_system_matches_qwen_instruct(chatml):
    # TinyZero's qwen-instruct template, except its stray space before "Using".
    expected = TINYZERO_QWEN_INSTRUCT.replace("user\n Using", "user\nUsing")
    assert chat_prompt(chatml, [3, 7, 25], 46, system=QWEN_INSTRUCT_SYSTEM) == expected


def test_one_shot_puts_the_worked_example_before_the_question(chatml):
    text = chat_prompt(chatml, [3, 7, 25], 46, one_shot=True)
    assert text == "<|im_start|>user\n" + ONE_SHOT_EXAMPLE + QUESTION + "<|im_end|>\n<|im_start|>assistant\n" + PREFILL
    assert text.index("<answer> " + ONE_SHOT_ANSWER) < text.index("Using the numbers [3, 7, 25]")


def test_one_shot_example_is_correct():
    # The answer solves the example puzzle (independent evaluator) ...
    answer = f"</think> <answer> {ONE_SHOT_ANSWER} </answer>"
    assert equation_reward([""], [answer], nums=[ONE_SHOT_NUMS], target=[ONE_SHOT_TARGET]) == [1.0]
    assert solve(ONE_SHOT_NUMS, ONE_SHOT_TARGET) is not None
    # ... and every "a op b = c" step of its reasoning is true arithmetic.
    steps = re.findall(r"(\d+) ([-+*/]) (\d+) = (\d+)", ONE_SHOT_EXAMPLE)
    ops = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
    assert len(steps) == 4
    assert all(ops[op](int(a), int(b)) == int(c) for a, op, b, c in steps)


def test_few_shot_puts_solved_puzzles_in_earlier_turns(chatml):
    text = few_shot_prompt(chatml, [3, 7, 25], 46)
    question = QUESTION.replace(" for example <answer> (1 + 2) / 3 </answer>.", "")  # the copied example is gone
    first = (
        "<|im_start|>user\n" + question.replace("[3, 7, 25]", "[7, 9]").replace("46", "63") + "<|im_end|>\n"
        "<|im_start|>assistant\n"
        + PREFILL
        + " 7 + 9 = 16, no. 7 * 9 = 63, yes. </think> <answer> 7 * 9 </answer><|im_end|>\n"
    )
    assert text.startswith(first)
    assert text.endswith("<|im_start|>user\n" + question + "<|im_end|>\n<|im_start|>assistant\n" + PREFILL)
    assert text.count("<|im_start|>assistant") == FEW_SHOT_DEFAULT + 1


@pytest.mark.parametrize(("nums", "target", "reasoning", "answer"), FEW_SHOT + FEW_SHOT_COMPARE)
def test_few_shot_examples_are_correct_and_not_held_out(nums, target, reasoning, answer):
    completion = f"{reasoning} </think> <answer> {answer} </answer>"
    assert equation_reward([""], [completion], nums=[nums], target=[target]) == [1.0]
    ops = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
    steps = re.findall(r"(\d+) ([-+*/]) (\d+) = (\d+)", reasoning)
    assert steps and all(ops[op](int(a), int(b)) == int(c) for a, op, b, c in steps)
    assert not is_heldout(nums, target)  # evaluation never asks a puzzle whose answer the prompt shows


def test_chat_prompt_needs_a_chat_template():
    for build in (chat_prompt, few_shot_prompt):
        with pytest.raises(ValueError, match="chat_template"):
            build(tiny_tokenizer(chat_template=None), [3, 7, 25], 46)


# --------------------------------------------------------------------------- make_prompt / add_prompts


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("base", lambda tok: base_prompt([3, 7, 25], 46)),  # no tokenizer involved
        ("chat", lambda tok: chat_prompt(tok, [3, 7, 25], 46)),  # the plain chat variant
        ("chat_one_shot", lambda tok: chat_prompt(tok, [3, 7, 25], 46, one_shot=True)),  # with the example
        ("chat_few_shot", lambda tok: few_shot_prompt(tok, [3, 7, 25], 46)),  # solved puzzles as earlier turns
    ],
)
def test_make_prompt_dispatches_by_template(chatml, template, expected):
    assert make_prompt(template, [3, 7, 25], 46, chatml) == expected(chatml)


def test_make_prompt_base_needs_no_tokenizer():
    assert make_prompt("base", [3, 7, 25], 46) == TINYZERO_BASE


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "qwen-instruct",
            "unknown prompt template 'qwen-instruct'; known templates: base, chat, chat_one_shot, chat_few_shot",
        ),
        ("Base", "unknown prompt template 'Base'"),  # names are case-sensitive
        ("chat", "'chat' needs a tokenizer"),  # chat without a tokenizer
        ("chat_one_shot", "'chat_one_shot' needs a tokenizer"),  # likewise
        ("chat_few_shot", "'chat_few_shot' needs a tokenizer"),  # likewise
    ],
)
def test_make_prompt_rejects_bad_requests(template, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_prompt(template, [3, 7, 25], 46)


@pytest.mark.parametrize("template", ["base", "chat", "chat_one_shot", "chat_few_shot"])
def test_add_prompts_adds_a_prompt_column(chatml, template):
    ds = generate(8, seed=1)
    out = add_prompts(ds, template, chatml)
    assert out.column_names == ["nums", "target", "solution", "prompt"]
    rows = out[:]
    pairs = zip(rows["nums"], rows["target"], strict=True)
    assert rows["prompt"] == [make_prompt(template, n, t, chatml) for n, t in pairs]


def test_add_prompts_checks_the_template_before_mapping():
    empty = generate(0)
    with pytest.raises(ValueError, match="unknown prompt template"):
        add_prompts(empty, "nope")
    with pytest.raises(ValueError, match="needs a tokenizer"):
        add_prompts(empty, "chat")


@pytest.mark.parametrize(("nums", "target", "reasoning", "answer"), FEW_SHOT_COMPARE)
def test_compare_examples_read_the_target_truthfully(nums, target, reasoning, answer):
    # both numbers are named right, the comparison is true, and it picks the operation that solves
    larger, smaller, said, relation, op = re.match(
        r"The larger number is (\d+) and the smaller is (\d+)\. (\d+) is (more|less) than \1, so (add|subtract)",
        reasoning,
    ).groups()
    assert (int(larger), int(smaller)) == (max(nums), min(nums)) and int(said) == target
    assert relation == ("more" if target > max(nums) else "less")
    assert op == ("add" if relation == "more" else "subtract") and ("+" in answer) == (op == "add")


def test_compare_examples_alternate_sums_and_differences():
    ops = ["+" in answer for _, _, _, answer in FEW_SHOT_COMPARE]
    assert ops == [True, False] * (len(ops) // 2)  # no fixed shape to copy from the shots
    assert {nums.index(max(nums)) for nums, _, _, _ in FEW_SHOT_COMPARE} == {0, 1}  # larger first and second


def test_compare_prompt_shows_its_own_solved_puzzles(chatml):
    text = make_prompt("chat_compare", [3, 22], 19, chatml, shots=4)
    assert text.count("<|im_start|>assistant") == 5
    assert all(reasoning in text for _, _, reasoning, _ in FEW_SHOT_COMPARE[:4])
    assert "7 * 9" not in text  # not chat_few_shot's examples
    with pytest.raises(ConfigError, match=f"few_shot_examples=7: chat_compare has {len(FEW_SHOT_COMPARE)}"):
        check_shots(7, "chat_compare")


def test_compare_sum_last_shows_the_same_puzzles_ending_on_a_sum(chatml):
    text = make_prompt("chat_compare_sum_last", [3, 22], 19, chatml, shots=6)
    shown = [text.index(reasoning) for _, _, reasoning, _ in FEW_SHOT_COMPARE]
    assert shown == sorted(shown, reverse=True)  # chat_compare's six, last first
    last = FEW_SHOT_COMPARE_SUM_LAST[-1]
    assert last[1] == sum(last[0]) and "so add" in last[2]  # the final solved puzzle is a sum
    first_two = make_prompt("chat_compare_sum_last", [3, 22], 19, chatml, shots=2)
    assert FEW_SHOT_COMPARE[-1][2] in first_two and FEW_SHOT_COMPARE[0][2] not in first_two
    with pytest.raises(ConfigError, match="few_shot_examples=7: chat_compare_sum_last has 6"):
        check_shots(7, "chat_compare_sum_last")


@pytest.mark.parametrize(("nums", "target", "reasoning", "answer"), FEW_SHOT_TRY)
def test_try_examples_compute_before_they_accept(nums, target, reasoning, answer):
    # every check is true and says yes exactly at the target (honest_check_reward 1.0); the larger and the
    # smaller number are named, their sum is tried first, a miss is followed by the larger minus the smaller,
    # and the answer is the accepted expression
    completion = f"{reasoning} </think> <answer> {answer} </answer>"
    assert honest_check_reward(None, [completion], nums=[nums], target=[target]) == [1.0]
    assert equation_reward(None, [completion], nums=[nums], target=[target]) == [1.0]
    larger, smaller = max(nums), min(nums)
    assert reasoning.startswith(
        f"The larger number is {larger} and the smaller is {smaller}. {larger} + {smaller} = {larger + smaller}, "
    )
    assert reasoning.endswith(f"{answer} = {target}, yes.") and reasoning.count(", yes.") == 1
    assert reasoning.count(", no.") == (answer == f"{larger} - {smaller}")


def test_try_prompt_shows_its_own_solved_puzzles(chatml):
    assert [(n, t) for n, t, _, _ in FEW_SHOT_TRY] == [(n, t) for n, t, _, _ in FEW_SHOT_COMPARE]
    text = make_prompt("chat_try", [3, 22], 19, chatml, shots=6)
    assert text.count("<|im_start|>assistant") == 7
    assert "The larger number is 25 and the smaller is 9. 25 + 9 = 34, no. 25 - 9 = 16, yes. </think>" in text
    assert "23 + 8 = 31, yes. </think> <answer> 23 + 8 </answer>" in text
    assert "is less than" not in text  # not chat_compare's reasoning
    with pytest.raises(ConfigError, match=f"few_shot_examples=7: chat_try has {len(FEW_SHOT_TRY)}"):
        check_shots(7, "chat_try")


@pytest.mark.parametrize("shots", [1, FEW_SHOT_DEFAULT, len(FEW_SHOT)])
def test_few_shot_shows_the_first_shots_solved_puzzles(chatml, shots):
    text = few_shot_prompt(chatml, [3, 7, 25], 46, shots=shots)
    assert text.count("<|im_start|>assistant") == shots + 1
    for _, _, reasoning, answer in FEW_SHOT[:shots]:
        assert f"{reasoning} </think> <answer> {answer} </answer>" in text


@pytest.mark.parametrize("shots", [0, len(FEW_SHOT) + 1])
def test_a_number_of_shots_it_does_not_have_is_a_config_error(shots):
    from r1lite.config import TaskConfig

    with pytest.raises(ConfigError, match=f"few_shot_examples={shots}: chat_few_shot has {len(FEW_SHOT)}"):
        TaskConfig(prompt_template="chat_few_shot", few_shot_examples=shots)
