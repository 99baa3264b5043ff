"""Evaluate any checkpoint (or hub model) on the fixed held-out countdown split.

Greedy decoding gives pass@1; `--num_samples k --temperature 0.7` samples k completions per
prompt and reports the unbiased pass@k. Results go to `<output>` (default:
`<checkpoint>/eval/heldout.json`; for a hub id or built-in name, `runs/eval/<name>.json`).

Launch:
    python recipes/eval.py runs/smollm2-135m-zero
    python recipes/eval.py smollm2-135m-instruct --prompt_template chat_one_shot --eval_puzzles 64
    accelerate launch --num_processes 8 recipes/eval.py Qwen/Qwen2.5-3B --prompt_template base \
        --min_numbers 3 --max_numbers 4 --max_number 100 --num_samples 8 --temperature 0.7
"""

import argparse
import json
import os
from pathlib import Path

from r1lite.config import PROMPT_TEMPLATES, TaskConfig
from r1lite.countdown import heldout
from r1lite.evaluation import evaluate
from r1lite.models import load_model_and_tokenizer, resolve_model_path
from r1lite.prompts import add_prompts


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="checkpoint folder, hub id, or built-in name (smollm2-135m-instruct)")
    p.add_argument("--prompt_template", default="chat_one_shot", choices=PROMPT_TEMPLATES)
    p.add_argument("--eval_puzzles", type=int, default=64)
    p.add_argument("--min_numbers", type=int, default=2)
    p.add_argument("--max_numbers", type=int, default=3)
    p.add_argument("--max_number", type=int, default=20)
    p.add_argument("--target_min", type=int, default=1)
    p.add_argument("--target_max", type=int, default=50)
    p.add_argument("--max_new_tokens", type=int, default=96)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--num_samples", type=int, default=1, help="completions per prompt (pass@k with k = this)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    p.add_argument("--stop_strings", nargs="*", default=[], help="end completions at these, e.g. '</answer>' (as in training)")
    p.add_argument("--dtype", default=None, help="float32, bfloat16, ... (default: the checkpoint's)")
    p.add_argument("--output", default=None, help="JSON file to write")
    args = p.parse_args(argv)

    from accelerate import Accelerator

    accelerator = Accelerator()
    path = resolve_model_path(args.model)  # fails fast on a missing local path
    difficulty = TaskConfig(  # the same difficulty knobs (and checks) as a recipe's
        min_numbers=args.min_numbers,
        max_numbers=args.max_numbers,
        max_number=args.max_number,
        target_min=args.target_min,
        target_max=args.target_max,
    ).difficulty
    model, tokenizer = load_model_and_tokenizer(path, dtype=args.dtype)
    model.to(accelerator.device)
    data = add_prompts(heldout(args.eval_puzzles, **difficulty), args.prompt_template, tokenizer)
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
    )
    report = {"model": args.model, "settings": vars(args), **result.to_dict()}
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
        print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
