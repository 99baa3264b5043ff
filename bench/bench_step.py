"""Where a GRPO step's time goes, with and without shared prefixes, beside the floor the FLOP count gives.

Measured in one process, on the recipe's model and prompts (``--rows`` rows, groups of the recipe's
``num_generations`` completions of one prompt), in fp32 or under bf16 autocast (``--dtype``):
  1. the ceiling: an n x n matrix multiply in fp32 and bf16 (GFLOP/s, best of 5);
  2. prefill: the prompts through the model with a KV cache; unshared, every row (as TRL does);
     shared, each distinct prompt once, its cache copied to the rows of its group;
  3. generation: HF ``generate`` as TRL calls it (sampling), exactly ``--new_tokens`` tokens per row;
     TRL's path: every row prefilled, and under bf16 the model's ``forward`` in its own autocast context
     (as Accelerate prepares it), so the weights are cast to bf16 at every token; r1lite's: the shared
     prefill, and the whole generation in one autocast context (r1lite/speedups/autocast.py), so each
     weight is cast once, tokens drawn by inverse CDF (r1lite/speedups/sampling.py), and each
     group's rows decoding from one cached copy of its prompt (r1lite/speedups/decode_cache.py);
     decode = generation - prefill; r1lite's decode is also timed with the prompt's cache copied to
     every row (as before shared_decode.py);
  4. the training pass: forward + backward + AdamW, loss on the completion positions only;
     unshared, ``rows`` x (prompt + completion) tokens; shared, each group packed into one sequence
     with grouped attention (r1lite/speedups/packed_pass.py).
Each timing is the median of ``--repeats`` runs after one warm-up. The floor of each part is its
model FLOPs (6 x parameters x tokens for training, 2 x for inference, plus the attention score and
value products a causal mask needs; the LM head only where logits are used) divided by the matmul
ceiling of the dtype it runs in.

    python bench/bench_step.py                                    # default recipe, bf16 where the CPU has it
    python bench/bench_step.py --dtype float32
    python bench/bench_step.py -- --prompt_template chat_few_shot  # recipe overrides after --
    python bench/bench_step.py --config configs/tiny/zero.yaml --repeats 1
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402


def matmul_ceiling(dtype: torch.dtype, n: int, device: str = "cpu") -> float:
    """GFLOP/s of an n x n matrix multiply in `dtype` (best of 5)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(5):
        if device != "cpu":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device != "cpu":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def model_sizes(model) -> tuple[int, int, int, int]:
    """(non-embedding parameters, LM head parameters, layers, hidden width)."""
    cfg = model.config
    embed = model.get_input_embeddings().weight.numel()
    body = sum(p.numel() for p in model.parameters()) - embed  # a tied head is counted apart, where used
    return body, cfg.vocab_size * cfg.hidden_size, cfg.num_hidden_layers, cfg.hidden_size


def forward_flops(model, tokens: int, scored: int, attention_pairs: float) -> float:
    """Forward FLOPs: 2 x body parameters per token, the head on `scored` positions, QK^T and AV per attended pair."""
    body, head, layers, width = model_sizes(model)
    return 2 * body * tokens + 2 * head * scored + 2 * 2 * layers * attention_pairs * width


def causal(n: int) -> float:
    """(query, key) pairs a causal mask lets n tokens attend."""
    return n * (n + 1) / 2


def train_flops(model, rows: int, prompt_len: int, new_tokens: int) -> float:
    """Forward + backward FLOPs (3 x forward) of `rows` rows of prompt + completion, the head on the completions."""
    seq = prompt_len + new_tokens
    return 3 * forward_flops(model, rows * seq, rows * (new_tokens + 1), rows * causal(seq))


def part_flops(model, groups: int, size: int, prompt: int, new: int) -> dict[str, float]:
    """FLOPs of each part, unshared and shared, for `groups` groups of `size` rows, prompt and completion lengths."""
    rows = groups * size
    decode_pairs = sum(prompt + t for t in range(new))  # token t attends to the prompt and the t before it
    completion_pairs = prompt * new + causal(new)  # a completion attends to its prompt and itself
    return {
        "prefill": forward_flops(model, rows * prompt, rows, rows * causal(prompt)),
        "prefill shared": forward_flops(model, groups * prompt, groups, groups * causal(prompt)),
        "decode": forward_flops(model, rows * new, rows * new, rows * decode_pairs),
        "training pass": train_flops(model, rows, prompt, new),
        "training pass shared": 3
        * forward_flops(
            model, groups * prompt + rows * new, rows * (new + 1), groups * causal(prompt) + rows * completion_pairs
        ),
    }


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    overrides = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=None, help="zero recipe (default: the default recipe)")
    p.add_argument("--rows", type=int, default=16, help="rows per generation batch / training pass")
    p.add_argument("--new_tokens", type=int, default=96, help="completion tokens per row")
    p.add_argument(
        "--dtype",
        choices=["bfloat16", "float32"],
        default=None,
        help="compute dtype (default: the recipe's, i.e. bf16 autocast where bf16: true and the CPU has it)",
    )
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--matmul_n", type=int, default=1024)
    a = p.parse_args(argv)

    from r1lite.models import load_tokenizer, resolve_model_path
    from r1lite.speedups.decode_cache import cache_name, generate_with_shared_prefill
    from r1lite.speedups.packed_pass import packed_logits, prompt_groups
    from r1lite.speedups.sampling import inverse_cdf_multinomial
    from r1lite.task.data import build_datasets
    from r1lite.training import zero
    from r1lite.training.cpu import configure_cpu

    task, training, model_args = zero.parse_args((["--config", a.config] if a.config else []) + overrides)
    configure_cpu(training)  # threads, and bf16 off where the CPU emulates it
    dtype = (
        torch.bfloat16 if (a.dtype or ("bfloat16" if training.bf16 else "float32")) == "bfloat16" else torch.float32
    )
    autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16)  # noqa: E731
    path = resolve_model_path(model_args.model_name_or_path)
    tokenizer = load_tokenizer(path)
    tokenizer.padding_side = "left"
    train, _ = build_datasets(task, tokenizer)
    size = training.num_generations
    groups = max(1, a.rows // size)
    prompts = [train[i]["prompt"] for i in range(groups) for _ in range(size)]  # (rows,) groups of one prompt
    model = zero.load_policy(model_args)  # fp32 master weights, as in training
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    ids, mask = batch["input_ids"], batch["attention_mask"]  # (B, P) each, left-padded
    B, P, C = ids.size(0), ids.size(1), a.new_tokens
    ceilings = {
        torch.float32: matmul_ceiling(torch.float32, a.matmul_n),
        torch.bfloat16: matmul_ceiling(torch.bfloat16, a.matmul_n),
    }

    model.eval()
    first = [rows[0] for rows in prompt_groups(ids, mask)]
    owner = torch.arange(B) // size  # (B,) row -> its group's index in `first`

    def prefill(shared: bool):
        with torch.no_grad(), autocast():
            if not shared:
                return model(input_ids=ids, attention_mask=mask, use_cache=True, logits_to_keep=1)
            out = model(input_ids=ids[first], attention_mask=mask[first], use_cache=True, logits_to_keep=1)
            getattr(out, cache_name(model)).batch_select_indices(owner)  # (B, heads, P, d) per layer
            return out

    from accelerate.utils import convert_outputs_to_fp32

    own_forward = model.forward
    per_call_forward = convert_outputs_to_fp32(autocast()(own_forward))  # Accelerate's native AMP wrapper

    def generate(shared: bool, share_cache: bool = True):
        torch.manual_seed(0)
        call = dict(
            max_new_tokens=C,
            min_new_tokens=C,
            do_sample=True,
            temperature=1.0,
            top_k=None,
            top_p=1.0,
            pad_token_id=tokenizer.pad_token_id,
        )
        with torch.no_grad():
            if shared:  # r1lite: shared prefill, one autocast context for the whole generation, inverse-CDF draws
                with autocast(), inverse_cdf_multinomial():
                    return generate_with_shared_prefill(
                        model, model.generate, ids, mask, share_cache=share_cache, **call
                    )
            model.forward = per_call_forward  # TRL under Accelerate: an autocast context per forward call
            try:
                return model.generate(input_ids=ids, attention_mask=mask, **call)
            finally:
                del model.forward  # back to the class's method

    times = {}
    for shared in (False, True):
        suffix = " shared" if shared else ""
        times["prefill" + suffix] = statistics.median(timed(lambda shared=shared: prefill(shared), a.repeats))
        completions = generate(shared)[:, P:]  # (B, C) the completions trained on below
        times["generation" + suffix] = statistics.median(timed(lambda shared=shared: generate(shared), a.repeats))
        times["decode" + suffix] = times["generation" + suffix] - times["prefill" + suffix]
    times["generation copied"] = statistics.median(timed(lambda: generate(True, share_cache=False), a.repeats))
    times["decode copied"] = times["generation copied"] - times["prefill shared"]

    full_ids = torch.cat([ids, completions], dim=1)  # (B, P+C)
    full_mask = torch.cat([mask, torch.ones_like(completions)], dim=1)  # (B, P+C)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    group_rows = [list(range(g * size, (g + 1) * size)) for g in range(groups)]

    def train_step(shared: bool):
        if shared:
            logits = packed_logits(model, full_ids, full_mask, C, group_rows, autocast)  # (B, C, V)
        else:
            with autocast():
                logits = model(
                    input_ids=full_ids, attention_mask=full_mask, logits_to_keep=C + 1, use_cache=False
                ).logits[:, :-1]  # (B, C, V)
        logps = torch.log_softmax(logits.float(), dim=-1)  # (B, C, V)
        loss = -logps.gather(-1, full_ids[:, -C:, None]).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    times["training pass"] = statistics.median(timed(lambda: train_step(False), a.repeats))
    times["training pass shared"] = statistics.median(timed(lambda: train_step(True), a.repeats))

    flops = part_flops(model, groups, size, int(mask.sum(1).max()), C)
    ceiling = ceilings[dtype]
    name = "bf16" if dtype == torch.bfloat16 else "fp32"
    print("command: python bench/bench_step.py " + " ".join(shlex.quote(x) for x in sys.argv[1:]))
    print(
        f"model {model_args.model_name_or_path}, {groups} prompts x {size} completions, prompt {P} tokens (padded), "
        f"{C} new tokens, {torch.get_num_threads()} threads, {name}, medians of {a.repeats}; "
        f"matmul {a.matmul_n}^2: fp32 {ceilings[torch.float32]:.0f}, bf16 {ceilings[torch.bfloat16]:.0f} GFLOP/s"
    )
    print()
    print(f"| part | TRL's path s | r1lite s | ratio | floor s (TRL's / shared, {name} ceiling) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    rows_out = {}
    for part, flop_key in (("prefill", "prefill"), ("decode", "decode"), ("training pass", "training pass")):
        plain, shared = times[part], times[part + " shared"]
        floor_plain = flops[flop_key] / ceiling / 1e9
        floor_shared = flops.get(flop_key + " shared", flops[flop_key]) / ceiling / 1e9
        rows_out[part] = (plain, shared, floor_plain, floor_shared)
        print(
            f"| {part} | {plain:.2f} | {shared:.2f} | {shared / plain:.2f} | {floor_plain:.2f} / {floor_shared:.2f} |"
        )
    total_plain = sum(v[0] for v in rows_out.values())
    total_shared = sum(v[1] for v in rows_out.values())
    print(
        f"| sum | {total_plain:.2f} | {total_shared:.2f} | {total_shared / total_plain:.2f} | "
        f"{sum(v[2] for v in rows_out.values()):.2f} / {sum(v[3] for v in rows_out.values()):.2f} |"
    )
    decode_gflops = flops["decode"] / times["decode"] / 1e9
    train_gflops = flops["training pass"] / times["training pass"] / 1e9
    print(
        f"\ndecode {1000 * times['decode'] / C:.0f} ms a step on TRL's path, "
        f"{1000 * times['decode shared'] / C:.0f} on "
        f"r1lite's ({B * C / times['decode']:.0f} and {B * C / times['decode shared']:.0f} tokens/s; TRL's "
        f"{decode_gflops:.1f} GFLOP/s); TRL's training pass {train_gflops:.1f} GFLOP/s = "
        f"{100 * train_gflops / ceiling:.0f}% of the {name} ceiling"
    )
    print(
        f"r1lite's decode with the prompt's cache copied to every row: {times['decode copied']:.2f} s "
        f"({1000 * times['decode copied'] / C:.0f} ms a step), against {times['decode shared']:.2f} s from one copy "
        "per group"
    )
    return {"times": times, "flops": flops, "ceilings": {str(k): v for k, v in ceilings.items()}, "dtype": name}


if __name__ == "__main__":
    main()
