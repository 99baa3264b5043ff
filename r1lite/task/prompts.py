"""Prompt templates for the countdown task, after TinyZero.

Every template ends with the assistant's prefilled opening, PREFILL ("Let me solve this
step by step.\\n<think>"), so a completion starts inside the reasoning: it is
"reasoning </think> <answer> expression </answer>". Numbers are shown as a Python list
("[3, 7, 25]"), exactly as TinyZero prints them.

Templates (`make_prompt`):
  base           TinyZero's template for base models, verbatim
  chat           the same instruction as the user turn of the model's chat template
  chat_one_shot  as chat, with a worked example first (small instruct models need it)
  chat_few_shot  as chat, after solved 2-number puzzles as earlier chat turns (the first four of
                 FEW_SHOT, or `shots` of them): the one prompt on which SmolLM2-135M samples right
                 answers (bench/bench_prompts.py)
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import datasets

from r1lite.errors import ConfigError

PREFILL = "Let me solve this step by step.\n<think>"

INSTRUCTION = (
    "Using the numbers {numbers}, create an equation that equals {target}. You can use basic "
    "arithmetic operations (+, -, *, /) and each number can only be used once. Show your work "
    "in <think> </think> tags. And return the final answer in <answer> </answer> tags, for "
    "example <answer> (1 + 2) / 3 </answer>."
)
"""The question, shared by every template."""

BASE_TEMPLATE = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then "
    "provides the user with the answer.\n"
    "User: " + INSTRUCTION + "\n"
    "Assistant: " + PREFILL
)
"""TinyZero's 'base' template (examples/data_preprocess/countdown.py), character for character."""

QWEN_INSTRUCT_SYSTEM = (
    "You are a helpful assistant. You first thinks about the reasoning process in the mind "
    "and then provides the user with the answer."
)
"""System prompt of TinyZero's 'qwen-instruct' template; pass it as `system` for parity."""

# The worked example of chat_one_shot: 3 * 4 + 2 == 14 (tests check it with the reward).
ONE_SHOT_NUMS = [2, 3, 4]
ONE_SHOT_TARGET = 14
ONE_SHOT_ANSWER = "3 * 4 + 2"
ONE_SHOT_EXAMPLE = (
    f"Here is an example. For the numbers {ONE_SHOT_NUMS} and the target {ONE_SHOT_TARGET}, "
    "a good response is:\n"
    "<think> 2 * 4 = 8, 8 + 3 = 11, no. 3 * 4 = 12, 12 + 2 = 14. </think> "
    f"<answer> {ONE_SHOT_ANSWER} </answer>\n\n"
    "Now it is your turn. "
)

# chat_few_shot: earlier turns of the conversation, each the question of a 2-number puzzle and an
# answer that tries an operation, rejects or accepts it, and answers with the puzzle's own numbers.
# The instruction drops TinyZero's "(1 + 2) / 3" example, which small models copy as their answer.
# (numbers, target, reasoning, answer); tests check every answer and every step of the reasoning.
FEW_SHOT = (
    ([7, 9], 63, "7 + 9 = 16, no. 7 * 9 = 63, yes.", "7 * 9"),
    ([25, 9], 16, "25 + 9 = 34, no. 25 - 9 = 16, yes.", "25 - 9"),
    ([14, 5], 19, "14 + 5 = 19, yes.", "14 + 5"),
    ([24, 6], 4, "24 - 6 = 18, no. 24 / 6 = 4, yes.", "24 / 6"),
    ([8, 6], 48, "8 + 6 = 14, no. 8 * 6 = 48, yes.", "8 * 6"),
    ([30, 12], 18, "30 + 12 = 42, no. 30 - 12 = 18, yes.", "30 - 12"),
    ([11, 16], 27, "11 + 16 = 27, yes.", "11 + 16"),
    ([45, 5], 9, "45 - 5 = 40, no. 45 * 5 = 225, no. 45 / 5 = 9, yes.", "45 / 5"),
)
FEW_SHOT_DEFAULT = 4  # how many of FEW_SHOT chat_few_shot shows unless a recipe says (few_shot_examples)

# chat_compare: solved sum-or-difference puzzles (recipes with operators: "+-") whose reasoning reads the
# target before it computes: it names the larger and the smaller number, says whether the target is above or
# below the larger, and adds or subtracts accordingly. A model that follows it answers from the target; one
# that copies a fixed shape does not. Sums and differences alternate, the larger number first and second.
# Naming only the larger number, the untrained SmolLM2-135M wrote the target as the other operand
# (`27 - 29`) and solved 10 of 64 held-out sum-or-difference puzzles greedily; naming both, 17 of 64.
FEW_SHOT_COMPARE = (
    (
        [14, 5],
        19,
        "The larger number is 14 and the smaller is 5. 19 is more than 14, so add: 14 + 5 = 19, yes.",
        "14 + 5",
    ),
    (
        [25, 9],
        16,
        "The larger number is 25 and the smaller is 9. 16 is less than 25, so subtract: 25 - 9 = 16, yes.",
        "25 - 9",
    ),
    (
        [8, 23],
        31,
        "The larger number is 23 and the smaller is 8. 31 is more than 23, so add: 8 + 23 = 31, yes.",
        "8 + 23",
    ),
    (
        [6, 20],
        14,
        "The larger number is 20 and the smaller is 6. 14 is less than 20, so subtract: 20 - 6 = 14, yes.",
        "20 - 6",
    ),
    (
        [30, 12],
        42,
        "The larger number is 30 and the smaller is 12. 42 is more than 30, so add: 30 + 12 = 42, yes.",
        "30 + 12",
    ),
    (
        [11, 27],
        16,
        "The larger number is 27 and the smaller is 11. 16 is less than 27, so subtract: 27 - 11 = 16, yes.",
        "27 - 11",
    ),
)
# chat_compare_sum_last: the same six puzzles in reverse order, so they end on a sum ("more, so add") instead
# of a difference. The untrained SmolLM2-135M ranks " more" over " less" rightly given the first sentence
# (area under the curve 0.93-0.95 over 200 training puzzles in either order), but in chat_compare's order it
# says "less" whatever the target (log-odds more - less: -0.89 on sums, -2.28 on differences); reversed, the
# sums come near even (-0.20, differences -1.31) and the likelier word is right on 70% instead of 52%
# (bench/compare_probe.py). Trained as the default, it started higher and ended as chat_compare does, adding
# on most puzzles (docs/results.md, "The lean, not the skill").
FEW_SHOT_COMPARE_SUM_LAST = FEW_SHOT_COMPARE[::-1]


# chat_try: the same six puzzles, solved by computing before accepting: the reasoning names the larger and the
# smaller number as chat_compare does, tries their sum, checks it against the target and on a miss says no and
# tries the larger minus the smaller ("The larger number is 25 and the smaller is 9. 25 + 9 = 34, no.
# 25 - 9 = 16, yes."). The decision is an equality (is the value the target?) instead of chat_compare's
# comparison of two numbers, and each step is a check that honest_check_reward reads (true arithmetic, yes
# exactly at the target); the answer is the accepted expression. Without the naming, the untrained model wrote
# the smaller number first after its no (`24 - 28`) or botched the subtraction, and RL settled on the sum
# (docs/results.md, "Computing before accepting").
def _try_example(nums: Sequence[int], target: int) -> tuple[str, str]:
    """(reasoning, answer): name the larger and the smaller number, try their sum, on a miss their difference."""
    larger, smaller = max(nums), min(nums)
    named = f"The larger number is {larger} and the smaller is {smaller}."
    total, difference = f"{larger} + {smaller}", f"{larger} - {smaller}"
    if larger + smaller == target:
        return f"{named} {total} = {target}, yes.", total
    if larger - smaller == target:
        return f"{named} {total} = {larger + smaller}, no. {difference} = {target}, yes.", difference
    raise ValueError(f"{list(nums)} -> {target} is not a sum or a difference")


FEW_SHOT_TRY = tuple((nums, target, *_try_example(nums, target)) for nums, target, _, _ in FEW_SHOT_COMPARE)
# the templates that show solved puzzles
EXAMPLES = {
    "chat_few_shot": FEW_SHOT,
    "chat_compare": FEW_SHOT_COMPARE,
    "chat_compare_sum_last": FEW_SHOT_COMPARE_SUM_LAST,
    "chat_try": FEW_SHOT_TRY,
}
FEW_SHOT_INSTRUCTION = INSTRUCTION.replace(" for example <answer> (1 + 2) / 3 </answer>.", "")

TEMPLATES = ("base", "chat", "chat_one_shot", "chat_few_shot", "chat_compare", "chat_compare_sum_last", "chat_try")


def _numbers(nums: Sequence[int]) -> str:
    """The numbers as TinyZero prints them: a Python list of ints, e.g. "[3, 7, 25]"."""
    return str([operator.index(n) for n in nums])  # index(): numpy ints yes, floats no


def instruction(nums: Sequence[int], target: int) -> str:
    """The question for one puzzle (the user turn of the chat templates)."""
    return INSTRUCTION.format(numbers=_numbers(nums), target=operator.index(target))


def base_prompt(nums: Sequence[int], target: int) -> str:
    """TinyZero's base-model prompt for one puzzle, ending with PREFILL."""
    return BASE_TEMPLATE.format(numbers=_numbers(nums), target=operator.index(target))


def _require_chat_template(tokenizer: Any) -> None:
    if getattr(tokenizer, "chat_template", None) is None:
        raise ConfigError("chat prompts need a tokenizer with a chat_template; use the 'base' template instead")


def chat_prompt(
    tokenizer: Any,
    nums: Sequence[int],
    target: int,
    *,
    system: str | None = None,
    one_shot: bool = False,
) -> str:
    """The instruction as a user turn in the tokenizer's chat template, then PREFILL.

    `system` adds a system message (None: none; the chat template may still add its own
    default). `one_shot` puts ONE_SHOT_EXAMPLE before the question.
    """
    _require_chat_template(tokenizer)
    user = (ONE_SHOT_EXAMPLE if one_shot else "") + instruction(nums, target)
    messages = ([{"role": "system", "content": system}] if system is not None else []) + [
        {"role": "user", "content": user}
    ]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text + PREFILL


def few_shot_prompt(
    tokenizer: Any,
    nums: Sequence[int],
    target: int,
    *,
    system: str | None = None,
    shots: int = FEW_SHOT_DEFAULT,
    template: str = "chat_few_shot",
) -> str:
    """The first `shots` solved puzzles of `template` (EXAMPLES) as earlier user/assistant turns in the
    tokenizer's chat template, the puzzle, PREFILL."""
    _require_chat_template(tokenizer)
    check_shots(shots, template)

    def ask(n: Sequence[int], t: int) -> dict[str, str]:
        return {"role": "user", "content": FEW_SHOT_INSTRUCTION.format(numbers=_numbers(n), target=operator.index(t))}

    messages = [{"role": "system", "content": system}] if system is not None else []
    for n, t, reasoning, answer in EXAMPLES[template][:shots]:
        messages += [
            ask(n, t),
            {"role": "assistant", "content": f"{PREFILL} {reasoning} </think> <answer> {answer} </answer>"},
        ]
    messages.append(ask(nums, target))
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) + PREFILL


def check_shots(shots: int, template: str = "chat_few_shot") -> None:
    """Refuse a number of solved puzzles that `template`'s EXAMPLES do not hold."""
    examples = EXAMPLES.get(template, FEW_SHOT)
    if not 1 <= shots <= len(examples):
        raise ConfigError(
            f"few_shot_examples={shots}: {template} has {len(examples)} solved puzzles to show, "
            f"so give 1 to {len(examples)}"
        )


def make_prompt(
    template: str,
    nums: Sequence[int],
    target: int,
    tokenizer: Any = None,
    *,
    system: str | None = None,
    shots: int = FEW_SHOT_DEFAULT,
) -> str:
    """One puzzle's prompt in `template` (one of TEMPLATES).

    The chat templates need `tokenizer`; `system` applies to them only; `shots` to chat_few_shot,
    chat_compare, chat_compare_sum_last and chat_try only.
    """
    _check_template(template, tokenizer)
    if template == "base":
        return base_prompt(nums, target)
    if template in EXAMPLES:
        return few_shot_prompt(tokenizer, nums, target, system=system, shots=shots, template=template)
    return chat_prompt(tokenizer, nums, target, system=system, one_shot=template == "chat_one_shot")


def _check_template(template: str, tokenizer: Any) -> None:
    if template not in TEMPLATES:
        raise ConfigError(f"unknown prompt template {template!r}; known templates: {', '.join(TEMPLATES)}")
    if template != "base" and tokenizer is None:
        raise ConfigError(f"prompt template {template!r} needs a tokenizer (its chat template is applied)")


def add_prompts(
    ds: datasets.Dataset,
    template: str,
    tokenizer: Any = None,
    *,
    system: str | None = None,
    shots: int = FEW_SHOT_DEFAULT,
) -> datasets.Dataset:
    """`ds` with a `prompt` column (plain text) built from its `nums` and `target` columns."""
    _check_template(template, tokenizer)

    def prompts(batch: dict[str, list[Any]]) -> dict[str, list[str]]:
        pairs = zip(batch["nums"], batch["target"], strict=True)
        return {"prompt": [make_prompt(template, n, t, tokenizer, system=system, shots=shots) for n, t in pairs]}

    return ds.map(prompts, batched=True, desc=f"{template} prompts")
