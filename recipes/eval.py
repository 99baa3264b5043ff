"""Evaluate any checkpoint (or hub model) on the fixed held-out countdown split.

A checkpoint of an r1lite run is evaluated on its own task: prompt template, difficulty, number of
held-out puzzles, completion cap and stop strings come from its task record (r1lite_task.json), or
from a zero recipe given with --config; options given here override them. Other models get
TaskConfig's defaults (r1lite/config.py).

Greedy decoding gives pass@1; `--num_samples k --temperature 0.7` samples k completions per
prompt and reports the unbiased pass@k. Results go to `<output>` (default:
`<checkpoint>/eval/heldout.json`; for a hub id or built-in name, `runs/eval/<name>.json`).

Launch:
    python recipes/eval.py runs/smollm2-135m-zero
    python recipes/eval.py smollm2-135m-instruct --config configs/smollm2-135m/zero.yaml   # the base, same puzzles
    accelerate launch --num_processes 8 recipes/eval.py Qwen/Qwen2.5-3B --prompt_template base \
        --min_numbers 3 --max_numbers 4 --max_number 100 --num_samples 8 --temperature 0.7
"""

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

from accelerate import PartialState

from r1lite.config import PROMPT_TEMPLATES, TaskConfig
from r1lite.errors import ArgumentParser, ConfigError, run_main
from r1lite.models import load_model_and_tokenizer, resolve_model_path
from r1lite.task.data import heldout_dataset, twin_dataset
from r1lite.task.evaluation import evaluate
from r1lite.task.record import find_task_record, record_stop_strings, task_from_record, task_record
from r1lite.training.zero import parse_args as parse_zero_args

TASK_KEYS = ("prompt_template", "eval_puzzles", "min_numbers", "max_numbers", "max_number", "target_min", "target_max")
TASK_FIELDS = (*TASK_KEYS, "operators", "eval_template_share")  # the task fields the command may set


def main(argv=None) -> dict:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="checkpoint folder, hub id, or built-in name (smollm2-135m-instruct)")
    # None: from the checkpoint's task record (r1lite_task.json), else TaskConfig's defaults
    p.add_argument("--prompt_template", default=None, choices=PROMPT_TEMPLATES)
    for key in TASK_KEYS[1:]:
        p.add_argument(f"--{key}", type=int, default=None)
    p.add_argument(
        "--operators", default=None, help="the operations the puzzles' solutions use, e.g. '+-' (default: the run's)"
    )
    p.add_argument(
        "--eval_template_share",
        type=float,
        nargs="*",
        default=None,
        help="draw the held-out puzzles so that no fixed answer template solves more than this share of them "
        "(one value, or one per curriculum level; default: the run's)",
    )
    p.add_argument(
        "--max_new_tokens", type=int, default=None, help="default: the run's max_completion_length, else 96"
    )
    p.add_argument("--batch_size", type=int, default=None, help="default: the task's eval_batch_size")
    p.add_argument("--num_samples", type=int, default=1, help="completions per prompt (pass@k with k = this)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    p.add_argument("--stop_strings", nargs="*", default=None, help="end completions at these (default: the run's)")
    p.add_argument("--dtype", default=None, help="float32, bfloat16, ... (default: the checkpoint's)")
    p.add_argument("--output", default=None, help="JSON file to write")
    p.add_argument("--config", default=None, help="a zero recipe whose task to use (e.g. to evaluate its base model)")
    p.add_argument(
        "--level", type=int, default=None, help="evaluate at this curriculum level of the task (0: the first)"
    )
    p.add_argument(
        "--twins",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also evaluate each puzzle's target twin (same numbers, another target) and report how often the "
        "answer changes (default: on for greedy pass@1)",
    )
    args = p.parse_args(argv)
    if args.twins and (args.num_samples != 1 or args.temperature > 0):
        raise ConfigError("--twins compares one greedy answer per puzzle: drop --num_samples/--temperature or --twins")
    twins = args.twins if args.twins is not None else args.num_samples == 1 and args.temperature <= 0

    accelerator = PartialState()  # devices and ranks; evaluation needs no training state
    path = resolve_model_path(args.model)  # fails fast on a missing local path
    record = find_task_record(path) if os.path.isdir(path) else None
    if args.config:
        task, training, model_args = parse_zero_args(["--config", args.config])
        record = task_record(
            task, model_args.model_name_or_path, training.max_completion_length, training.stop_strings
        )
    task, max_new_tokens, stop_strings = settings(args, record)
    args.max_new_tokens, args.stop_strings = max_new_tokens, stop_strings
    args.batch_size = args.batch_size or task.eval_batch_size
    if args.level is not None:
        task = at_level(task, args.level)
    model, tokenizer = load_model_and_tokenizer(path, dtype=args.dtype)
    model.to(accelerator.device)
    data = heldout_dataset(task, tokenizer)
    result = evaluate(
        model,
        tokenizer,
        data,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        num_samples=args.num_samples,
        stop_strings=args.stop_strings,
        temperature=args.temperature,
        accelerator=accelerator,
        twins=twin_dataset(data, task, tokenizer) if twins else None,
    )
    report = {
        "model": args.model,
        "settings": {**vars(args), **{k: getattr(task, k) for k in TASK_FIELDS}},
        "accuracy_interval": list(result.accuracy_interval),
        "task_from": "task record" if record else "defaults",
        **result.to_dict(),
    }
    if accelerator.is_main_process:
        if args.output:
            out = Path(args.output)
        elif os.path.isdir(os.path.expanduser(args.model)):  # a checkpoint of the user's: write beside it
            out = Path(path) / "eval" / "heldout.json"
        else:
            out = Path("runs") / "eval" / f"{args.model.replace('/', '--')}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1))
        print(json.dumps(result.metrics(prefix=""), indent=1))
        print("\n".join(result.baseline_lines()))
        print(f"wrote {out}")
    return report


def settings(args, record: dict | None) -> tuple[TaskConfig, int, list[str]]:
    """(task, max_new_tokens, stop_strings): the command's values, else the task record's, else the defaults."""
    given = {k: getattr(args, k) for k in TASK_FIELDS if getattr(args, k) is not None}
    if record is not None:
        task = task_from_record(record)
        task = TaskConfig(**{**asdict(task), **given})  # re-checked like a recipe
        max_new_tokens = args.max_new_tokens or record["max_completion_length"]
        stop_strings = record_stop_strings(record) if args.stop_strings is None else args.stop_strings
    else:
        task = TaskConfig(**given)
        max_new_tokens = args.max_new_tokens or 96
        stop_strings = args.stop_strings or []
    return task, max_new_tokens, stop_strings


def at_level(task: TaskConfig, level: int) -> TaskConfig:
    """The task at one of its curriculum levels' difficulty."""
    levels = task.curriculum.levels if task.curriculum is not None else []
    if not 0 <= level < len(levels):
        raise ConfigError(
            f"--level {level}: the task has {len(levels)} curriculum levels "
            f"(curriculum_levels: {task.curriculum_levels})"
        )
    share = task.heldout_share(level)
    return TaskConfig(  # a Level's fields are TaskConfig's
        **{**asdict(task), **asdict(levels[level]), "eval_template_share": [share] if share else []}
    )


if __name__ == "__main__":
    run_main(main)
