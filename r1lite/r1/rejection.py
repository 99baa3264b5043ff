"""Rejection sampling: the data half of DeepSeek-R1's cleanup of R1-Zero.

From an R1-Zero checkpoint, sample k completions per training prompt, score them with the reward
functions of the RL stage, and keep a completion only if, in this order (the first failure is the
reason it is counted under):

    truncated          it hit the token cap without finishing (``drop_truncated``)
    <reward> < value   a ``keep_if`` rule fails (default: equation_reward>=1, format_reward>=1)
    repetition, language_mixing, empty_reasoning    the readability checks (r1lite.r1.readability)
    too_short, too_long                              the token bounds
    duplicate          the same text (whitespace-normalised) was already kept for this prompt
    over_cap           max_kept_per_prompt completions of this prompt are already kept

Outputs, in ``<folder>``: ``kept/`` (a ``datasets`` folder with columns prompt, completion, nums,
target, rewards, tokens), ``samples.jsonl`` (every sample with its reasons) and, written last so
its presence means the folder is complete, ``filter_stats.json``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import datasets
import torch
from accelerate.utils import gather_object

from r1lite.errors import UserError
from r1lite.models import free_memory, load_full_model
from r1lite.r1.sft_config import CleanupConfig
from r1lite.task.evaluation import generate_completions
from r1lite.training.reward_guard import checked
from rewards import get_reward_funcs

logger = logging.getLogger(__name__)

STATS_FILE = "filter_stats.json"


class EmptyKeptSetError(UserError, RuntimeError):
    """Nothing passed the filter; the message says how many were sampled and why they were dropped."""


@dataclass
class Sample:
    prompt_index: int
    prompt: str
    completion: str
    tokens: int
    truncated: bool
    row: dict  # the puzzle's columns other than the prompt (nums, target, ...)


def is_complete(folder: str | os.PathLike) -> bool:
    """Whether a rejection-sampling folder is finished (its stats file is written last)."""
    return (Path(folder) / STATS_FILE).exists() and (Path(folder) / "kept").is_dir()


def sample(
    model_path: str,
    tokenizer,
    rows: list[dict],
    cfg: CleanupConfig,
    *,
    accelerator=None,
    seed: int = 0,
    stop_strings=(),
) -> list[Sample]:
    """``cfg.samples_per_prompt`` completions for each row (with a ``prompt`` column), gathered on every process.

    ``stop_strings``: the RL stage's (its task's), so samples end where training completions did."""
    if cfg.sample_with_vllm:
        return _sample_vllm(model_path, rows, cfg, accelerator=accelerator, seed=seed, stop_strings=stop_strings)
    rank, world, indices = _share(rows, accelerator)
    torch.manual_seed(seed + rank)
    model = load_full_model(model_path)
    if accelerator is not None:
        model.to(accelerator.device)
    generated = generate_completions(
        model,
        tokenizer,
        [rows[i]["prompt"] for i in indices],
        max_new_tokens=cfg.sample_max_new_tokens,
        batch_size=cfg.sample_batch_size,
        num_samples=cfg.samples_per_prompt,
        temperature=cfg.sample_temperature,
        top_p=cfg.sample_top_p,
        progress=rank == 0,
        desc="sampling",
        stop_strings=stop_strings,
    )
    del model
    local = [
        _make_sample(indices[j // cfg.samples_per_prompt], rows, text, tokens, truncated)
        for j, (text, tokens, truncated) in enumerate(generated)
    ]
    return _gather(local, world)


def _share(rows: list[dict], accelerator) -> tuple[int, int, list[int]]:
    """(rank, world size, this rank's strided share of the row indices)."""
    world = accelerator.num_processes if accelerator is not None else 1
    rank = accelerator.process_index if accelerator is not None else 0
    return rank, world, list(range(rank, len(rows), world))


def _gather(local: list[Sample], world: int) -> list[Sample]:
    """Every rank's samples on every rank, in prompt order (stable: sample order within a prompt is kept)."""
    if world == 1:
        return local
    return sorted(gather_object(local), key=lambda s: s.prompt_index)


def _make_sample(index: int, rows: list[dict], text: str, tokens: int, truncated: bool) -> Sample:
    row = rows[index]
    return Sample(index, row["prompt"], text, tokens, truncated, {k: v for k, v in row.items() if k != "prompt"})


def _sample_vllm(
    model_path: str, rows: list[dict], cfg: CleanupConfig, *, accelerator=None, seed: int = 0, stop_strings=()
) -> list[Sample]:
    """vLLM sampling: each process samples its strided share of the prompts with an engine on its own GPU
    (as TRL's colocated mode does: ``external_launcher``, one engine per rank), then every process gets
    every sample. The engine is freed before SFT starts."""
    from vllm import LLM, SamplingParams  # noqa: PLC0415 - optional package (the vllm extra)

    rank, world, indices = _share(rows, accelerator)
    engine = {"distributed_executor_backend": "external_launcher"} if world > 1 else {}
    llm = LLM(model=model_path, seed=seed + rank, tensor_parallel_size=1, **engine)
    params = SamplingParams(
        n=cfg.samples_per_prompt,
        temperature=cfg.sample_temperature,
        top_p=cfg.sample_top_p,
        max_tokens=cfg.sample_max_new_tokens,
        seed=seed + rank,
        stop=list(stop_strings) or None,
        include_stop_str_in_output=True,
    )
    outputs = llm.generate([rows[i]["prompt"] for i in indices], params)
    local = [
        _make_sample(indices[j], rows, c.text, len(c.token_ids), c.finish_reason == "length")
        for j, out in enumerate(outputs)
        for c in out.outputs
    ]
    del llm, outputs
    free_memory()
    return _gather(local, world)


def score(samples: list[Sample], reward_names: list[str]) -> list[dict[str, float | None]]:
    """Each sample's value under each named reward (TRL's signature: prompts, completions, **columns)."""
    funcs = checked(get_reward_funcs(reward_names), where="in rejection sampling")
    columns = {key: [s.row.get(key) for s in samples] for key in (samples[0].row if samples else {})}
    prompts = [s.prompt for s in samples]
    completions = [s.completion for s in samples]
    values = {}
    for name, func in zip(reward_names, funcs, strict=True):
        out = func(prompts=prompts, completions=completions, **columns)
        values[name] = [None if v is None else float(v) for v in out]
    return [{name: values[name][i] for name in reward_names} for i in range(len(samples))]


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def filter_samples(
    samples: list[Sample], scores: list[dict], cfg: CleanupConfig
) -> tuple[list[int], list[list[str]], dict]:
    """(indices kept, reasons per sample, statistics). A sample's first reason is the one it is counted under."""
    reasons: list[list[str]] = []
    kept: list[int] = []
    seen: dict[int, set[str]] = {}
    for i, (s, values) in enumerate(zip(samples, scores, strict=True)):
        why = []
        if s.truncated and cfg.drop_truncated:
            why.append("truncated")
        for name, minimum in cfg.keep_rules:
            value = values.get(name)
            if value is None or value < minimum:
                why.append(f"{name}<{minimum:g}")
        why += cfg.readability.problems(s.completion)
        if s.tokens < cfg.min_completion_tokens:
            why.append("too_short")
        if cfg.max_completion_tokens is not None and s.tokens > cfg.max_completion_tokens:
            why.append("too_long")
        if not why:
            texts = seen.setdefault(s.prompt_index, set())
            key = _normalise(s.completion)
            if key in texts:
                why.append("duplicate")
            elif len(texts) >= cfg.max_kept_per_prompt:
                why.append("over_cap")
            else:
                texts.add(key)
                kept.append(i)
        reasons.append(why)
    dropped = Counter(r[0] for r in reasons if r)
    failed = Counter(reason for r in reasons for reason in r)
    stats = {
        "sampled": len(samples),
        "prompts": len({s.prompt_index for s in samples}),
        "kept": len(kept),
        "prompts_with_kept": len(seen),
        "dropped_by_first_reason": dict(dropped.most_common()),
        "failed_by_check": dict(failed.most_common()),  # a sample can fail several checks
        "mean_reward": {
            name: _mean([v[name] for v in scores if v.get(name) is not None]) for name in (scores[0] if scores else {})
        },
    }
    return kept, reasons, stats


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def describe(stats: dict) -> str:
    """One line: sampled, kept and the drop reasons."""
    reasons = ", ".join(f"{k}: {v}" for k, v in stats["dropped_by_first_reason"].items()) or "none"
    return (
        f"sampled {stats['sampled']} completions from {stats['prompts']} prompts, kept {stats['kept']} "
        f"(from {stats['prompts_with_kept']} prompts); dropped by first failed check: {reasons}"
    )


def run(
    model_path: str,
    tokenizer,
    rows: list[dict],
    reward_names: list[str],
    cfg: CleanupConfig,
    folder,
    *,
    accelerator=None,
    seed: int = 0,
    stop_strings=(),
):
    """Sample, score, filter and write ``folder``; returns the kept ``datasets.Dataset``.

    Raises ``EmptyKeptSetError`` (after writing the statistics) when nothing passes.
    """
    folder = Path(folder)
    names = list(dict.fromkeys([*reward_names, *(name for name, _ in cfg.keep_rules)]))
    samples = sample(model_path, tokenizer, rows, cfg, accelerator=accelerator, seed=seed, stop_strings=stop_strings)
    scores = score(samples, names)
    kept, reasons, stats = filter_samples(samples, scores, cfg)
    main = accelerator is None or accelerator.is_main_process
    if main:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "samples.jsonl", "w") as f:
            for s, values, why in zip(samples, scores, reasons, strict=True):
                record = dict(
                    prompt_index=s.prompt_index,
                    **s.row,
                    completion=s.completion,
                    tokens=s.tokens,
                    truncated=s.truncated,
                    rewards=values,
                    kept=not why,
                    reasons=why,
                )
                f.write(json.dumps(record) + "\n")
    if main:
        logger.info(describe(stats))
    if not kept:
        if main:
            (folder / STATS_FILE.replace(".json", ".empty.json")).write_text(json.dumps(stats, indent=1))
        raise EmptyKeptSetError(
            "rejection sampling kept nothing, so there is nothing to fine-tune on: " + describe(stats) + ". "
            "Sample more (num_sample_prompts, samples_per_prompt), from a better checkpoint, or loosen keep_if and "
            f"the readability thresholds. Every sample and its reasons: {folder / 'samples.jsonl'}"
        )
    rows_kept = [
        dict(
            prompt=samples[i].prompt,
            completion=samples[i].completion,
            **samples[i].row,
            rewards=json.dumps(scores[i]),
            tokens=samples[i].tokens,
        )
        for i in kept
    ]
    dataset = datasets.Dataset.from_list(rows_kept)
    if main:
        dataset.save_to_disk(str(folder / "kept"))
        (folder / STATS_FILE).write_text(json.dumps(stats, indent=1))
    if accelerator is not None:
        accelerator.wait_for_everyone()
    return dataset


def load_kept(folder):
    """The kept set of a finished rejection-sampling folder, and its statistics."""
    folder = Path(folder)
    return datasets.load_from_disk(str(folder / "kept")), json.loads((folder / STATS_FILE).read_text())
