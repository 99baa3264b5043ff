"""Held-out evaluation: greedy pass@1 (or pass@k when sampling), format rate and lengths.

The same function serves the trainer's periodic evaluation (``HeldoutEvalCallback``) and
``recipes/eval.py``. Under ``accelerate launch`` each process generates its share of the prompts
and the results are gathered, so it works under DDP, DeepSpeed and FSDP alike.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from accelerate.utils import gather_object
from tqdm.auto import tqdm

from r1lite.errors import ConfigError
from r1lite.task.baselines import (
    answer_shape,
    best_order_rule,
    best_template,
    diversity,
    needed_puzzles,
    probe,
    rule_name,
)
from rewards.countdown import equation_reward, format_reward
from rewards.reasoning import read_reasoning

logger = logging.getLogger(__name__)


@dataclass
class EvalResult:
    """Aggregate metrics of one evaluation; ``samples`` keeps every completion for inspection."""

    num_prompts: int
    num_samples: int  # completions per prompt
    accuracy: float  # mean equation_reward over all completions (pass@1)
    pass_at_k: float  # fraction of prompts solved by at least one of num_samples completions (unbiased estimator)
    format_rate: float  # mean strict format_reward
    mean_length: float  # completion tokens
    truncation_rate: float  # completions that hit max_new_tokens without ending
    samples: list[dict]
    # What a model that never reads the target reaches on the same puzzles (r1lite.task.baselines):
    template: str = ""  # the best target-blind answer template, chosen with hindsight on these puzzles
    template_accuracy: float = 0.0  # the share of the puzzles it solves
    accuracy_off_template: float | None = None  # the model's accuracy on the puzzles the template misses
    order_rule: str = ""  # the best target-blind rule on the numbers' order: one template per order of them
    order_rule_accuracy: float = 0.0  # the share of the puzzles it solves
    answer_shapes: int = 0  # distinct answer shapes among the model's answers
    top_shape: str | None = None  # the most common one
    top_shape_share: float = 0.0  # its share of the answers
    # Whether the reasoning's equations are true (rewards.reasoning):
    faithful_rate: float = 0.0  # completions stating at least one equation, every read one true
    faithful_correct_rate: float | None = None  # the same among the correct completions
    statements_true_rate: float | None = None  # true statements / read statements
    unread_statements: int = 0  # statements the parser could not read (neither true nor false)
    twins: dict | None = None  # the target probe (evaluate(twins=...)): pairs, changed_share, twin_accuracy, samples

    @property
    def accuracy_interval(self) -> tuple[float, float]:
        """95% Wilson interval of the accuracy over all completions (one greedy completion each: pass@1)."""
        return accuracy_interval(self.accuracy, self.num_prompts, self.num_samples)

    def metrics(self, prefix: str = "eval/") -> dict[str, float]:
        keys = ("accuracy", "pass_at_k", "format_rate", "mean_length", "truncation_rate")
        keys += ("template_accuracy", "order_rule_accuracy", "answer_shapes", "top_shape_share")
        keys += ("faithful_rate", "unread_statements")
        low, high = self.accuracy_interval
        out = {
            **{prefix + key: float(getattr(self, key)) for key in keys},
            prefix + "accuracy_low": low,
            prefix + "accuracy_high": high,
        }
        for key in ("accuracy_off_template", "faithful_correct_rate", "statements_true_rate"):
            if getattr(self, key) is not None:
                out[prefix + key] = float(getattr(self, key))
        if self.twins is not None:
            out[prefix + "twin_changed_share"] = float(self.twins["changed_share"])
            out[prefix + "twin_accuracy"] = float(self.twins["twin_accuracy"])
        return out

    def baseline_lines(self) -> list[str]:
        """The accuracy beside what a target-blind model reaches, the answer shapes and the probe, as text lines."""
        n = self.num_prompts
        solved = round(self.template_accuracy * n)
        low, high = wilson_interval(solved, n)
        lines = [
            f"accuracy {self.accuracy:.1%} (95% interval {self.accuracy_interval[0]:.1%}-"
            f"{self.accuracy_interval[1]:.1%}) on {n} puzzles",
            f"best target-blind template: {self.template}: {solved}/{n} ({self.template_accuracy:.1%}, 95% interval "
            f"{low:.1%}-{high:.1%})",
        ]
        if self.accuracy_off_template is not None:
            lines.append(f"accuracy on the {n - solved} puzzles the template misses: {self.accuracy_off_template:.1%}")
        if self.order_rule:
            ruled = round(self.order_rule_accuracy * n)
            lines.append(
                f"best target-blind rule on the numbers' order: {ruled}/{n} ({self.order_rule_accuracy:.1%}): "
                f"{self.order_rule}"
            )
        if self.top_shape is not None:
            lines.append(
                f"answer shapes: {self.answer_shapes} distinct; the most common, {self.top_shape}, "
                f"takes {self.top_shape_share:.0%} of the answers"
            )
        rate = "" if self.faithful_correct_rate is None else f", {self.faithful_correct_rate:.0%} of the right answers"
        lines.append(
            f"faithful reasoning (every stated equation true): {self.faithful_rate:.0%} of completions{rate}; "
            f"{self.unread_statements} statements unread"
        )
        if self.twins is not None:
            t = self.twins
            lines.append(
                f"target twins (same numbers, another target): the answer changed on {t['changed']}/{t['pairs']} "
                f"({t['changed_share']:.0%}); twins solved {t['twin_correct']}/{t['pairs']} ({t['twin_accuracy']:.1%})"
            )
        return lines

    def to_dict(self) -> dict:
        return asdict(self)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95% for z = 1.96); (0, 1) when n is 0.

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 or n successes:
    0 of 64 gives (0, 0.057), so a gain is real only when the trained interval clears that."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy_interval(accuracy: float, num_prompts: int, num_samples: int = 1) -> tuple[float, float]:
    """The 95% Wilson interval of an accuracy measured over num_prompts x num_samples completions."""
    n = num_prompts * num_samples
    return wilson_interval(round(accuracy * n), n)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al., 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def _rows(dataset) -> list[dict]:
    """prompt, nums, target (and twin_of, the original target of a target twin) of each row."""
    return [
        {
            "prompt": r["prompt"],
            "nums": list(r["nums"]),
            "target": int(r["target"]),
            **({"twin_of": int(r["twin_of"])} if r.get("twin_of") is not None else {}),
        }
        for r in dataset
    ]


def stop_criteria(tokenizer, stop_strings: Sequence[str]):
    """``generate``'s stopping criteria that end a row at the token completing one of ``stop_strings``."""
    from transformers import StoppingCriteriaList, StopStringCriteria  # noqa: PLC0415 - heavy: r1lite summary needs only accuracy_interval

    return StoppingCriteriaList([StopStringCriteria(tokenizer, list(stop_strings))])


def rank_share(rows: list, rank: int, world: int) -> tuple[list, int]:
    """This rank's strided share of ``rows``, padded to the same length on every rank; and how many are real.

    Under ZeRO-3 and FSDP every forward is a collective: a rank with one batch fewer would leave the
    others waiting in an all-gather forever (129 puzzles, batch 64, 2 ranks: 65 and 64 rows). Padding
    with copies of the first row gives every rank the same batches; the caller drops the padding.
    """
    share = rows[rank::world]
    per_rank = -(-len(rows) // world)  # ceil
    return share + [rows[0]] * (per_rank - len(share)), len(share)


@torch.no_grad()
def generate_completions(
    model,
    tokenizer,
    prompts: list[str],
    *,
    max_new_tokens: int,
    batch_size: int = 32,
    num_samples: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
    synced_gpus: bool = False,
    progress: bool = True,
    desc: str = "eval",
    stop_strings: Sequence[str] = (),
) -> list[tuple[str, int, bool]]:
    """Generate ``num_samples`` completions per prompt; returns (text, token_count, truncated) per completion.

    Completions come out prompt-major: the samples of prompt i sit at i*num_samples .. (i+1)*num_samples-1.
    ``stop_strings`` end a completion at the token that completes one of them (as in training).
    """
    stopping = {"stopping_criteria": stop_criteria(tokenizer, stop_strings)} if stop_strings else {}
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    eos_ids = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    do_sample = temperature > 0
    out: list[tuple[str, int, bool]] = []
    expanded = [p for p in prompts for _ in range(num_samples)]
    try:
        for start in tqdm(range(0, len(expanded), batch_size), desc=desc, disable=not progress, leave=False):
            batch = tokenizer(expanded[start : start + batch_size], return_tensors="pt", padding=True).to(device)
            generated = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=do_sample,
                temperature=temperature if do_sample else None,
                top_p=top_p if do_sample else None,
                top_k=None,
                pad_token_id=tokenizer.pad_token_id,
                synced_gpus=synced_gpus,
                **stopping,
            )
            completion_ids = generated[:, batch["input_ids"].shape[1] :]  # (B, <=max_new_tokens)
            for row in completion_ids.tolist():
                ended = next((i for i, t in enumerate(row) if t in eos_ids), None)
                tokens = row if ended is None else row[: ended + 1]
                text = tokenizer.decode(tokens, skip_special_tokens=True)
                stopped = any(s in text for s in stop_strings)  # the stop string may end inside the last token
                out.append((text, len(tokens), ended is None and not stopped and len(row) >= max_new_tokens))
    finally:
        tokenizer.padding_side = old_side
        model.train(was_training)
    return out


def evaluate(
    model,
    tokenizer,
    dataset,
    *,
    max_new_tokens: int,
    batch_size: int = 32,
    num_samples: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
    accelerator=None,
    progress: bool = True,
    stop_strings: Sequence[str] = (),
    twins=None,
    check_size: bool = True,
) -> EvalResult:
    """Score a model on a data set with columns prompt, nums, target (e.g. the held-out split).

    Greedy (temperature 0) with one sample gives pass@1; with num_samples=k and temperature > 0, the
    reported pass_at_k is the unbiased pass@k and accuracy the mean per-sample accuracy. Beside it, the
    best target-blind template of the same puzzles and the answers' shapes (``target_blind``). ``twins``
    (``r1lite.task.data.twin_dataset``): the same puzzles with other targets, evaluated too, for the
    target probe (``EvalResult.twins``). ``check_size``: warn once when the set is too small to tell a model
    15 points above the template from it.
    """
    rows = _rows(dataset)
    if not rows:
        raise ConfigError("evaluation data set is empty")
    if num_samples > 1 and temperature <= 0:
        raise ConfigError("num_samples > 1 needs temperature > 0: greedy decoding gives the same completion each time")
    local, real = rows, len(rows)
    synced = False
    if accelerator is not None and accelerator.num_processes > 1:
        local, real = rank_share(rows, accelerator.process_index, accelerator.num_processes)
        # ZeRO-3/FSDP shard the weights: every forward needs every rank, so generation stays in step.
        synced = accelerator.distributed_type.name in ("DEEPSPEED", "FSDP")
    # The accelerator's autocast around whole generation calls: under bf16, each weight is cast once per batch, not
    # once per decoded token (as the trainer's generation, r1lite/speedups/autocast.py).
    autocast = getattr(accelerator, "autocast", None)  # None, or a PartialState: no mixed precision
    with autocast() if autocast is not None else contextlib.nullcontext():
        generated = generate_completions(
            model,
            tokenizer,
            [r["prompt"] for r in local],
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            num_samples=num_samples,
            temperature=temperature,
            top_p=top_p,
            synced_gpus=synced,
            progress=progress,
            stop_strings=stop_strings,
        )
    local, generated = local[:real], generated[: real * num_samples]  # drop the padding rows
    samples = []
    texts = [g[0] for g in generated]
    nums = [r["nums"] for r in local for _ in range(num_samples)]
    targets = [r["target"] for r in local for _ in range(num_samples)]
    correct = equation_reward(None, texts, nums=nums, target=targets)
    formatted = format_reward(None, texts, nums=nums, target=targets)
    for i, (text, length, truncated) in enumerate(generated):
        row = local[i // num_samples]
        samples.append(
            dict(
                prompt_index=i // num_samples,
                nums=row["nums"],
                target=row["target"],
                completion=text,
                correct=correct[i],
                format=formatted[i],
                length=length,
                truncated=truncated,
                **({"twin_of": row["twin_of"]} if "twin_of" in row else {}),
            )
        )
    if accelerator is not None and accelerator.num_processes > 1:
        samples = gather_object(samples)
    n = len(samples)
    by_prompt: dict[tuple, list[float]] = {}
    for s in samples:
        by_prompt.setdefault((tuple(s["nums"]), s["target"]), []).append(s["correct"])
    for s in samples:
        s["shape"] = answer_shape(s["completion"], s["nums"])
        reasoning = read_reasoning(s["completion"], s["nums"])
        s.update(statements=reasoning.statements, true_statements=reasoning.true, faithful=reasoning.faithful)
        s["unread_statements"] = reasoning.unread
    result = EvalResult(
        num_prompts=len(by_prompt),
        num_samples=num_samples,
        accuracy=sum(s["correct"] for s in samples) / n,
        pass_at_k=sum(pass_at_k(len(v), int(sum(v)), num_samples) for v in by_prompt.values()) / len(by_prompt),
        format_rate=sum(s["format"] for s in samples) / n,
        mean_length=sum(s["length"] for s in samples) / n,
        truncation_rate=sum(s["truncated"] for s in samples) / n,
        samples=samples,
        **target_blind(samples, check_size),
        **faithfulness(samples),
    )
    if twins is not None:
        if num_samples != 1:
            raise ConfigError("the target probe compares one answer per puzzle: evaluate twins with num_samples 1")
        twin_result = evaluate(
            model,
            tokenizer,
            twins,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            temperature=temperature,
            top_p=top_p,
            accelerator=accelerator,
            progress=progress,
            stop_strings=stop_strings,
            check_size=False,
        )
        result.twins = twin_probe(samples, twin_result.samples)
    return result


def faithfulness(samples: list[dict]) -> dict:
    """EvalResult's reasoning-truth fields over samples carrying read_reasoning's counts."""
    stated = sum(s["statements"] for s in samples)
    correct = [s for s in samples if s["correct"] == 1.0]
    return dict(
        faithful_rate=sum(s["faithful"] for s in samples) / len(samples),
        faithful_correct_rate=sum(s["faithful"] for s in correct) / len(correct) if correct else None,
        statements_true_rate=sum(s["true_statements"] for s in samples) / stated if stated else None,
        unread_statements=sum(s["unread_statements"] for s in samples),
    )


def target_blind(samples: list[dict], check_size: bool = True) -> dict:
    """EvalResult's target-blind fields over scored samples (nums, target, correct, shape): the best template
    of their puzzles, the accuracy on the puzzles it misses, the answer shapes (r1lite.task.baselines)."""
    puzzles: dict[tuple, dict] = {}  # first-seen order
    for s in samples:
        puzzles.setdefault((tuple(s["nums"]), s["target"]), {"nums": list(s["nums"]), "target": s["target"]})
    baseline = best_template(list(puzzles.values()))
    rule = best_order_rule(list(puzzles.values()))
    missed = {key for key, hit in zip(puzzles, baseline.hits, strict=True) if not hit}
    off = [s["correct"] for s in samples if (tuple(s["nums"]), s["target"]) in missed]
    shapes = diversity([s["shape"] for s in samples])
    if check_size:
        _warn_if_too_few(len(puzzles), baseline)
    return dict(
        template=baseline.name,
        template_accuracy=baseline.accuracy,
        accuracy_off_template=sum(off) / len(off) if off else None,
        order_rule=rule_name(rule)
        if len(rule.names) <= _RULE_NAME_PATTERNS
        else f"one template per order ({len(rule.names)} orders)",
        order_rule_accuracy=rule.accuracy,
        answer_shapes=shapes.shapes,
        top_shape=shapes.top,
        top_shape_share=shapes.top_share,
    )


_RULE_NAME_PATTERNS = 4  # a rule over more orders is named by its count

_warned: set[tuple[int, int]] = set()


def _warn_if_too_few(n: int, baseline) -> None:
    """One warning per set size: too few puzzles to tell a model 15 points above the template from it."""
    needed = needed_puzzles(baseline.accuracy)
    if n < needed and (n, needed) not in _warned:
        _warned.add((n, needed))
        logger.warning(
            "%d held-out puzzles cannot tell a model 15 points above the best target-blind template (%s, %.0f%%) "
            "from it (their 95%% intervals overlap): use at least %d (eval_puzzles)",
            n,
            baseline.name,
            100 * baseline.accuracy,
            needed,
        )


def twin_probe(samples: list[dict], twin_samples: list[dict]) -> dict:
    """The target probe over the puzzles that have a twin: does the answer change when only the target does?"""
    by_key = {(tuple(s["nums"]), s["target"]): s for s in samples}
    pairs = [(by_key[(tuple(t["nums"]), t["twin_of"])], t) for t in twin_samples]
    result = probe(
        [o["completion"] for o, _ in pairs], [t["completion"] for _, t in pairs], [t["correct"] for _, t in pairs]
    )
    return {
        "pairs": result.pairs,
        "changed": result.changed,
        "changed_share": result.changed_share,
        "twin_correct": result.twin_correct,
        "twin_accuracy": result.twin_accuracy,
        "samples": twin_samples,
    }
