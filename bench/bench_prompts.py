"""How often does the untrained model sample something RL could reinforce? Prompt variants on easy puzzles.

For each prompt variant, samples `--samples` completions (temperature 1.0 unless `--temperature`,
stop at </answer>) for each of `--puzzles` held-out puzzles of 2 numbers up to 30 (targets 1-60;
`--numbers 3` for 3), and counts the completions that close an answer block, whose answer uses at
least one of the puzzle's numbers, uses exactly the puzzle's numbers, and solves the puzzle. RL
(GRPO) can only reinforce what it samples: a rate of 0 means no group ever differs on it.

    python bench/bench_prompts.py                       # every variant, 32 puzzles x 8 samples
    python bench/bench_prompts.py --variants chat_one_shot two_numbers_try --puzzles 16

Variants: the `chat_one_shot` template; the same with a 2-number worked example that tries an
operation and rejects it (`two_numbers_try`, `two_numbers_subtract`) and without TinyZero's
`(1 + 2) / 3` example in the instruction; each of those with the puzzle restated at the start of
the model's reasoning (`restate_*`: "I have the numbers 22 and 12 and need 10."); and the
`chat_few_shot` template (four solved 2-number puzzles as earlier chat turns).
"""

from __future__ import annotations

import argparse
import re
import time

import torch
from tqdm.auto import tqdm

from r1lite.models import DEFAULT_MODEL, load_model_and_tokenizer
from r1lite.task import countdown
from r1lite.task import prompts as P
from r1lite.task.evaluation import stop_criteria
from rewards.countdown import equation_reward, extract_answer, uses_given_numbers

INSTRUCTION_NO_EXAMPLE = P.FEW_SHOT_INSTRUCTION  # TinyZero's instruction without its "(1 + 2) / 3" example
EXAMPLES = {
    "try": (
        "Here is an example. For the numbers [7, 9] and the target 63, a good response is:\n"
        "<think> 7 + 9 = 16, no. 7 * 9 = 63, yes. </think> <answer> 7 * 9 </answer>\n\nNow it is your turn. "
    ),
    "subtract": (
        "Here is an example. For the numbers [25, 9] and the target 16, a good response is:\n"
        "<think> 25 + 9 = 34, no. 25 - 9 = 16, yes. </think> <answer> 25 - 9 </answer>\n\nNow it is your turn. "
    ),
}
# name: (worked example, instruction, restate the puzzle after the prefill)
VARIANTS = {
    "chat_one_shot": (P.ONE_SHOT_EXAMPLE, P.INSTRUCTION, False),
    "two_numbers_try": (EXAMPLES["try"], INSTRUCTION_NO_EXAMPLE, False),
    "two_numbers_subtract": (EXAMPLES["subtract"], INSTRUCTION_NO_EXAMPLE, False),
    "restate_chat_one_shot": (P.ONE_SHOT_EXAMPLE, P.INSTRUCTION, True),
    "restate_two_numbers_try": (EXAMPLES["try"], INSTRUCTION_NO_EXAMPLE, True),
    "chat_few_shot": None,  # r1lite.task.prompts.few_shot_prompt
}


def prompt(tokenizer, variant: str, nums: list[int], target: int) -> str:
    if variant == "chat_few_shot":
        return P.make_prompt("chat_few_shot", nums, target, tokenizer)
    example, instruction, restate = VARIANTS[variant]
    user = example + instruction.format(numbers=str(list(nums)), target=target)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True
    )
    text += P.PREFILL
    if restate:
        text += " I have the numbers " + " and ".join(map(str, nums)) + f" and need {target}."
    return text


def counts(completions: list[str], rows: list[dict]) -> dict[str, float]:
    n = len(completions)
    block = one = exact = 0
    for text, row in zip(completions, rows, strict=True):
        answer = extract_answer(text)
        if answer is None:
            continue
        block += 1
        literals = [int(x) for x in re.findall(r"\d+", answer)]
        one += any(x in row["nums"] for x in literals)
        exact += uses_given_numbers(literals, row["nums"])
    solved = equation_reward(None, completions, nums=[r["nums"] for r in rows], target=[r["target"] for r in rows])
    return {
        "answer block": block / n,
        "uses a puzzle number": one / n,
        "uses exactly the numbers": exact / n,
        "solves it": sum(v == 1.0 for v in solved) / n,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--puzzles", type=int, default=32)
    p.add_argument("--numbers", type=int, default=2, help="numbers per puzzle (up to 30, targets 1-60)")
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--max_new_tokens", type=int, default=96)
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0)
    args = p.parse_args()
    model, tokenizer = load_model_and_tokenizer(DEFAULT_MODEL, dtype=torch.bfloat16)
    tokenizer.padding_side = "left"
    puzzles = countdown.heldout(
        args.puzzles, min_numbers=args.numbers, max_numbers=args.numbers, max_number=30, target_range=(1, 60)
    ).to_list()
    rows = [row for row in puzzles for _ in range(args.samples)]
    print("| prompt | answer block | uses a puzzle number | uses exactly the numbers | solves it | seconds |")
    print("|---|---|---|---|---|---|")
    for variant in args.variants:
        torch.manual_seed(args.seed)
        texts = [prompt(tokenizer, variant, r["nums"], r["target"]) for r in rows]
        start, outs = time.time(), []
        for i in tqdm(range(0, len(texts), args.batch_size), desc=variant, leave=False):
            enc = tokenizer(texts[i : i + args.batch_size], return_tensors="pt", padding=True)
            with torch.no_grad():
                out = model.generate(
                    **enc,
                    do_sample=True,
                    temperature=args.temperature,
                    max_new_tokens=args.max_new_tokens,
                    stopping_criteria=stop_criteria(tokenizer, ["</answer>"]),
                    pad_token_id=tokenizer.pad_token_id,
                )
            outs += tokenizer.batch_decode(out[:, enc.input_ids.shape[1] :], skip_special_tokens=True)
        c = counts(outs, rows)
        print(
            f"| {variant} | " + " | ".join(f"{v:.3f}" for v in c.values()) + f" | {time.time() - start:.0f} |",
            flush=True,
        )
    print(
        f"({len(rows)} completions per prompt: {args.puzzles} held-out puzzles x {args.samples} samples, "
        f"temperature {args.temperature})"
    )


if __name__ == "__main__":
    main()
