"""Where a GRPO step's time goes: generation tokens/s and the training pass's GFLOP/s against the matmul ceiling.

Measured in one process, on the recipe's model and prompts:
  1. the ceiling: an n x n matrix multiply in fp32 and bf16 (GFLOP/s, best of 5);
  2. generation: ``--rows`` sequences from the recipe's prompts, up to ``--new_tokens`` tokens, HF
     ``generate`` as TRL calls it (sampling, KV cache): tokens/s counting every row and decoding
     step, ms per decoding step, and the same with generation stopping at ``</answer>``;
  3. the training pass: forward + backward + AdamW over ``--rows`` x (prompt + ``--new_tokens``)
     tokens, loss on the completion positions only (as r1lite computes it): seconds, model FLOPs
     (6 x parameters x tokens + attention) and achieved GFLOP/s as a share of the fp32 ceiling.
Each timing is the median of ``--repeats`` runs after one warm-up.

    python bench/bench_step.py                       # default recipe: SmolLM2-135M, 16 rows, 96 tokens
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


def train_flops(model, rows: int, prompt_len: int, new_tokens: int) -> float:
    """Forward+backward FLOPs: 6 x (non-embedding parameters) per token, LM head on completion positions,
    plus causal attention (QK^T and AV, 6 x 2 x layers x T^2/2 x width per row)."""
    cfg = model.config
    seq = prompt_len + new_tokens
    embed = model.get_input_embeddings().weight.numel()
    body = sum(p.numel() for p in model.parameters()) - embed  # tied head counted below, on completions only
    head = cfg.vocab_size * cfg.hidden_size
    attention = 6 * 2 * cfg.num_hidden_layers * (seq * seq / 2) * cfg.hidden_size
    return rows * (6 * body * seq + 6 * head * (new_tokens + 1) + attention)


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def training_pass(model, batch, tokenizer, a) -> tuple[float, float]:
    """Median seconds of forward + backward + AdamW over the rows, and the model FLOPs of one pass."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    ids = torch.cat([batch["input_ids"], torch.randint(0, tokenizer.vocab_size, (a.rows, a.new_tokens))], dim=1)  # (B, P+C)
    mask = torch.cat([batch["attention_mask"], torch.ones(a.rows, a.new_tokens, dtype=torch.long)], dim=1)  # (B, P+C)

    def train_step():
        logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=a.new_tokens + 1, use_cache=False).logits  # (B, C+1, V)
        logps = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (B, C, V)
        loss = -logps.gather(-1, ids[:, -a.new_tokens:, None]).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    times = timed(train_step, a.repeats)
    return statistics.median(times), train_flops(model, a.rows, batch["input_ids"].shape[1], a.new_tokens)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=None, help="zero recipe (default: the default recipe)")
    p.add_argument("--rows", type=int, default=16, help="sequences per generation batch / training pass")
    p.add_argument("--new_tokens", type=int, default=96, help="completion tokens")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--matmul_n", type=int, default=1024)
    p.add_argument("--skip_train", action="store_true", help="generation only (e.g. to compare --rows)")
    a = p.parse_args(argv)

    from r1lite.training import zero
    from r1lite.training.cpu import configure_cpu
    from r1lite.task.data import build_datasets
    from r1lite.models import load_tokenizer, resolve_model_path
    from transformers import StopStringCriteria

    task, training, model_args = zero.parse_args(["--config", a.config] if a.config else [])
    configure_cpu(training)
    path = resolve_model_path(model_args.model_name_or_path)
    tokenizer = load_tokenizer(path)
    tokenizer.padding_side = "left"
    train, _ = build_datasets(task, tokenizer)
    prompts = [train[i % len(train)]["prompt"] for i in range(a.rows // 8 or 1) for _ in range(8)][: a.rows]
    model = zero.load_policy(model_args)
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    prompt_len = batch["input_ids"].shape[1]

    fp32 = matmul_ceiling(torch.float32, a.matmul_n)
    bf16 = matmul_ceiling(torch.bfloat16, a.matmul_n)

    # 2. generation
    steps_done = []

    def generate(stop: bool = False):
        torch.manual_seed(0)
        kwargs = dict(stopping_criteria=[StopStringCriteria(tokenizer, ["</answer>"])]) if stop else {}
        with torch.no_grad():
            out = model.generate(**batch, max_new_tokens=a.new_tokens, do_sample=True, temperature=1.0, top_k=None,
                                 top_p=1.0, pad_token_id=tokenizer.pad_token_id, **kwargs)
        steps_done.append(out.shape[1] - prompt_len)

    model.eval()
    gen_times = timed(generate, a.repeats)
    gen_steps = statistics.median(steps_done[1:])
    steps_done.clear()
    stop_times = timed(lambda: generate(stop=True), a.repeats)
    stop_steps = statistics.median(steps_done[1:])

    # 3. training pass
    t_train = flops = float("nan")
    if not a.skip_train:
        t_train, flops = training_pass(model, batch, tokenizer, a)
    t_gen, t_stop = statistics.median(gen_times), statistics.median(stop_times)
    result = {
        "matmul_fp32_gflops": fp32,
        "matmul_bf16_gflops": bf16,
        "generate_s": t_gen,
        "generate_steps": gen_steps,
        "generate_tokens_per_s": a.rows * gen_steps / t_gen,
        "ms_per_decode_step": 1000 * t_gen / gen_steps,
        "generate_stop_s": t_stop,
        "generate_stop_steps": stop_steps,
        "train_s": t_train,
        "train_gflops": flops / t_train / 1e9,
        "train_share_of_fp32_ceiling": flops / t_train / 1e9 / fp32,
    }
    print("command: python " + " ".join(shlex.quote(x) for x in sys.argv))
    print(f"model {model_args.model_name_or_path}, {a.rows} rows, prompt {prompt_len} tokens (padded), "
          f"{a.new_tokens} new tokens, {torch.get_num_threads()} threads, dtype {next(model.parameters()).dtype}, "
          f"medians of {a.repeats}")
    print(f"matmul {a.matmul_n}^2          fp32 {fp32:8.1f} GFLOP/s   bf16 {bf16:8.1f} GFLOP/s")
    print(f"generate               {t_gen:8.2f} s  {gen_steps:.0f} decoding steps  {result['ms_per_decode_step']:.0f} ms/step  "
          f"{result['generate_tokens_per_s']:.0f} tokens/s")
    print(f"generate, stop at </answer> {t_stop:8.2f} s  {stop_steps:.0f} decoding steps")
    if not a.skip_train:
        print(f"training pass          {t_train:8.2f} s  {flops / 1e9:.0f} GFLOP  {result['train_gflops']:.1f} GFLOP/s  "
              f"= {100 * result['train_share_of_fp32_ceiling']:.0f}% of the fp32 matmul ceiling")
    return result


if __name__ == "__main__":
    main()
