"""Can the untrained model tell "more" from "less", and which way does the prompt lean it? A probe, no sampling.

The chat_compare reasoning turns on one word: "16 is less than 25, so subtract". For each of ``--puzzles``
training-distribution puzzles (sum-or-difference, half sums), this feeds the prompt and a right first
sentence ("The larger number is 25 and the smaller is 9. 16 is") and reads the model's log-probabilities of
" more" and " less" as the next token. It prints, per prompt:

- the area under the curve of the log-odds (more - less) against the truth (the target is more than the
  larger number): how well the model ranks the right word, whatever its lean (0.5: not at all, 1: always);
- the share of puzzles where the likelier word is right (what greedy decoding would say);
- the best share any one threshold on the log-odds reaches (what removing the lean alone would give);
- the mean log-odds on sums and on differences (both below 0: the prompt leans the model to "less").

``--order 543210`` also probes chat_compare's six solved puzzles in that order (digits index them).

    python bench/compare_probe.py --templates chat_compare chat_compare_sum_last --order 103254 135024
"""

from __future__ import annotations

import argparse
import copy

import torch

from r1lite.errors import ConfigError, run_main
from r1lite.models import DEFAULT_MODEL, load_model_and_tokenizer
from r1lite.task import prompts
from r1lite.task.balanced import generate_train

MARKER = "<|im_start|>user"  # the puzzle's own turn starts here; everything before it is shared


def by_kind(scores: list[float], truths: list[bool]) -> tuple[list[float], list[float]]:
    """(scores where the truth is "more": the sums, scores where it is "less": the differences)."""
    pos = [s for s, t in zip(scores, truths, strict=True) if t]
    neg = [s for s, t in zip(scores, truths, strict=True) if not t]
    if not pos or not neg:
        raise ConfigError("the probed puzzles hold no sums or no differences: probe more of them (--puzzles)")
    return pos, neg


def auc(scores: list[float], truths: list[bool]) -> float:
    """Area under the ROC curve of ``scores`` for ``truths`` (ties count half)."""
    pos, neg = by_kind(scores, truths)
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def best_threshold_share(scores: list[float], truths: list[bool]) -> float:
    """The largest share of right calls that one threshold on ``scores`` gives ("more" above it)."""
    cuts = [float("-inf"), *sorted(scores)]
    return max(sum((s > c) == t for s, t in zip(scores, truths, strict=True)) for c in cuts) / len(scores)


def log_odds(model, tokenizer, template: str, rows, examples) -> list[float]:
    """log p(" more") - log p(" less") after each puzzle's prompt and its right first sentence."""
    more, less = (tokenizer(w, add_special_tokens=False).input_ids for w in (" more", " less"))
    if len(more) != 1 or len(less) != 1:
        raise ConfigError(
            f"the tokenizer splits ' more' or ' less' into several tokens ({more}, {less}): probe another model"
        )
    saved = prompts.EXAMPLES[template]
    prompts.EXAMPLES[template] = examples
    try:
        texts = []
        for nums, target in zip(rows["nums"], rows["target"], strict=True):
            larger, smaller = max(nums), min(nums)
            head = prompts.make_prompt(template, list(nums), int(target), tokenizer, shots=len(examples))
            texts.append(f"{head} The larger number is {larger} and the smaller is {smaller}. {target} is")
    finally:
        prompts.EXAMPLES[template] = saved
    shared = texts[0][: texts[0].rindex(MARKER)]
    shared_ids = tokenizer(shared, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        cache = model(shared_ids, use_cache=True).past_key_values  # the solved puzzles, once
    out = []
    for i, text in enumerate(texts):
        if not text.startswith(shared):
            raise AssertionError("the prompts do not share their solved puzzles")
        own = tokenizer(text[len(shared) :], return_tensors="pt", add_special_tokens=False).input_ids
        if i == 0:  # the cut at the puzzle's turn must not change the tokens the model reads
            whole = tokenizer(text, add_special_tokens=False).input_ids
            if whole != shared_ids[0].tolist() + own[0].tolist():
                raise AssertionError(f"splitting the prompt at {MARKER!r} changes its tokens")
        with torch.no_grad():
            logits = model(own, cache=copy.deepcopy(cache), use_cache=True).logits[0, -1]
        lp = logits.float().log_softmax(-1)
        out.append(float(lp[more[0]] - lp[less[0]]))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--templates", nargs="+", default=["chat_compare", "chat_compare_sum_last"])
    parser.add_argument(
        "--order", nargs="*", default=[], help="chat_compare's solved puzzles in this order, e.g. 543210"
    )
    parser.add_argument("--puzzles", type=int, default=200)
    parser.add_argument("--max_number", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7, help="of the training-distribution puzzles probed")
    args = parser.parse_args(argv)
    model, tokenizer = load_model_and_tokenizer(args.model, dtype=torch.float32)
    model.eval()
    level = dict(min_numbers=2, max_numbers=2, max_number=args.max_number, target_range=(1, 2 * args.max_number))
    rows = generate_train(args.puzzles, {**level, "operators": "+-"}, seed=args.seed, max_template_share=0.5)
    truths = [int(t) > max(n) for n, t in zip(rows["nums"], rows["target"], strict=True)]
    variants = [(name, name, prompts.EXAMPLES[name]) for name in args.templates]
    for order in args.order:
        examples = tuple(prompts.FEW_SHOT_COMPARE[int(i)] for i in order)
        variants.append((f"chat_compare order {order}", "chat_compare", examples))
    print(f"{args.puzzles} puzzles ({sum(truths)} sums), numbers up to {args.max_number}, {args.model}, fp32")
    print("| prompt | AUC | likelier word right | best threshold | log-odds on sums | on differences |")
    print("|---|---|---|---|---|---|")
    for label, template, examples in variants:
        scores = log_odds(model, tokenizer, template, rows, examples)
        right = sum((s > 0) == t for s, t in zip(scores, truths, strict=True)) / len(scores)
        on_sums, on_diffs = by_kind(scores, truths)
        print(
            f"| {label} | {auc(scores, truths):.3f} | {right:.1%} | {best_threshold_share(scores, truths):.1%} | "
            f"{sum(on_sums) / len(on_sums):.2f} | {sum(on_diffs) / len(on_diffs):.2f} |"
        )


if __name__ == "__main__":
    run_main(main)
