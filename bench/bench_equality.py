"""r1lite's speed layer against TRL's path on the real default model: how far apart are they?

tests/test_equal_to_trl.py holds every hook to TRL's numbers on tiny models in fp32. This runs the
same comparison on SmolLM2-135M-Instruct with the default recipe's prompts (chat template, different
lengths, so left-padded), ``--groups`` prompts x ``--rows`` completions, in ``--dtype`` (bf16 autocast
as a bf16 run trains, or fp32):

  1. near-greedy generation (temperature 0.01, ``--new_tokens`` tokens), TRL's ``GRPOTrainer`` against
     ``R1ZeroTrainer`` with shared prefixes and completion-only logits (inverse-CDF sampling off: it draws
     another random stream by design): the largest difference of the first decoded token's logits, the
     share of rows with identical tokens, and the share of tokens before each row's first difference;
  2. on TRL's generated batch, the per-token log-probs of both scoring paths at temperature 1: the
     largest and the mean absolute difference over completion tokens.

    python bench/bench_equality.py                      # bf16 (slow where the CPU emulates bf16)
    python bench/bench_equality.py --dtype float32
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def build(kind: str, path: str, tokenizer, dataset, args, folder: str, temperature: float):
    from trl import GRPOConfig, GRPOTrainer

    from r1lite.config import R1ZeroConfig
    from r1lite.training.trainer import R1ZeroTrainer

    common = dict(
        output_dir=os.path.join(folder, kind),
        per_device_train_batch_size=args.groups * args.rows,
        num_generations=args.rows,
        max_completion_length=args.new_tokens,
        temperature=temperature,
        beta=0.0,
        use_cpu=True,
        bf16=args.dtype == "bfloat16",
        report_to="none",
        save_strategy="no",
        seed=0,
    )
    reward = lambda completions, **kw: [0.0] * len(completions)  # noqa: E731  generation and scoring only
    if kind == "trl":
        return GRPOTrainer(
            model=path,
            reward_funcs=reward,
            args=GRPOConfig(**common),
            train_dataset=dataset,
            processing_class=tokenizer,
        )
    config = R1ZeroConfig(
        **common, shared_prefix=True, completion_only_logits=True, inverse_cdf_sampling=False, rollout_log=False
    )
    return R1ZeroTrainer(
        model=path, reward_funcs=reward, args=config, train_dataset=dataset, processing_class=tokenizer
    )


def generate(trainer, prompts, rows: int):
    """(completion ids, the first decoded token's logits (B, V)) of one near-greedy generation."""
    firsts = []

    def record(module, inputs, output):
        if getattr(output, "logits", None) is not None and output.logits.size(0) == len(prompts) and not firsts:
            firsts.append(output.logits[:, -1].detach().float().clone())

    hook = trainer.model.register_forward_hook(record)
    try:
        torch.manual_seed(0)
        _, completion_ids, *_ = trainer._generate(prompts)
    finally:
        hook.remove()
    return completion_ids, firsts[0]


def logps(trainer, batch):
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)  # (B, P+C)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)  # (B, P+C)
    with torch.no_grad():
        out, _, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model, ids, mask, batch["completion_ids"].size(1), batch_size=ids.size(0)
        )
    return out  # (B, C)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dtype", choices=["bfloat16", "float32"], default="bfloat16")
    parser.add_argument("--groups", type=int, default=3, help="distinct prompts")
    parser.add_argument("--rows", type=int, default=4, help="completions per prompt")
    parser.add_argument("--new_tokens", type=int, default=24)
    parser.add_argument("--model", default=None, help="model (default: the default recipe's)")
    args = parser.parse_args(argv)

    from datasets import Dataset

    from r1lite.models import load_tokenizer, resolve_model_path
    from r1lite.task.data import build_datasets
    from r1lite.training.zero import parse_args

    start = time.time()
    task, training, model_args = parse_args([])
    path = str(resolve_model_path(args.model or model_args.model_name_or_path))
    tokenizer = load_tokenizer(path)
    tokenizer.padding_side = "left"
    train, _ = build_datasets(task, tokenizer)
    chosen, lengths = [], set()
    for row in train:  # prompts of distinct token lengths: every batch left-pads
        length = (
            len(tokenizer.apply_chat_template(row["prompt"], tokenize=True))
            if isinstance(row["prompt"], list)
            else len(tokenizer(row["prompt"]).input_ids)
        )
        if length not in lengths:
            lengths.add(length)
            chosen.append(row)
        if len(chosen) == args.groups:
            break
    dataset = Dataset.from_list(chosen)
    prompts = [row["prompt"] for row in chosen for _ in range(args.rows)]
    with tempfile.TemporaryDirectory() as folder:
        trl = build("trl", path, tokenizer, dataset, args, folder, temperature=0.01)
        ours = build("r1lite", path, tokenizer, dataset, args, folder, temperature=0.01)
        for trainer in (trl, ours):
            trainer.model.train()
        expected, expected_first = generate(trl, prompts, args.rows)
        got, got_first = generate(ours, prompts, args.rows)
        same_rows = sum(a == b for a, b in zip(got, expected, strict=True))
        prefix = sum(  # tokens agreeing before the first difference: zip stops at the shorter row on purpose
            next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            for a, b in zip(got, expected, strict=True)
        )
        total = sum(len(b) for b in expected)

        def fixed(prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
            return [list(c) for c in expected], None

        # scored at temperature 1 (at 0.01 every greedy token has log-prob 0.0 on both sides)
        trl = build("trl", path, tokenizer, dataset, args, folder, temperature=1.0)
        ours = build("r1lite", path, tokenizer, dataset, args, folder, temperature=1.0)
        trl._generate_single_turn = fixed  # TRL's own completions, scored by both paths
        batch = trl._generate_and_score_completions([{"prompt": p} for p in prompts])
        mask = batch["completion_mask"].bool()
        diff = (logps(ours, batch) - logps(trl, batch)).abs()[mask]  # (tokens,)
    report = {
        "cpu": cpu_name(),
        "dtype": args.dtype,
        "rows": len(prompts),
        "prompt_lengths": sorted(lengths),
        "first_token_logit_max_diff": float((got_first - expected_first).abs().max()),
        "rows_identical": f"{same_rows}/{len(prompts)}",
        "tokens_before_first_difference": f"{prefix}/{total}",
        "logp_max_diff": float(diff.max()),
        "logp_mean_diff": float(diff.mean()),
        "seconds": round(time.time() - start, 1),
        "command": "python bench/bench_equality.py " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    for key, value in report.items():
        print(f"{key:32s} {value}")
    return report


if __name__ == "__main__":
    main()
