"""Attention of one packed group, forward + backward: one masked SDPA over the whole packed sequence
against r1lite's grouped attention (r1lite/speedups/attention.py), in bf16 and fp32.

The shape is one group of the default recipe's training pass on SmolLM2-135M: 9 query heads, 3
key/value heads of 64, a ``--prompt`` token prompt and ``--rows`` completions of ``--completion``
tokens. The masked SDPA is what an L x L mask ("the prompt causally; each completion: the prompt and
itself causally") costs with torch's own kernel; the grouped attention computes the same numbers in
two SDPA calls (the prompt; the completions as a batch over [prompt | itself]). Medians of
``--repeats`` after one warm-up, one layer, 2 threads by default.

    python bench/bench_attention.py
    python bench/bench_attention.py --prompt 617      # the chat_few_shot prompt
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from bench_step import timed  # noqa: E402


def packed_mask(prompt: int, rows: int, completion: int) -> torch.Tensor:
    """(L, L) bool: the prompt attends causally to itself; completion i to the prompt and causally to itself."""
    segment = torch.tensor([-1] * prompt + [i for i in range(rows) for _ in range(completion)])  # (L,)
    q, k = segment[:, None], segment[None, :]
    return torch.ones(len(segment), len(segment), dtype=torch.bool).tril() & ((q == k) | (k == -1))


def main(argv: list[str] | None = None) -> dict:
    from r1lite.speedups.attention import PackedLayout, grouped_attention

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--prompt", type=int, default=230, help="prompt tokens")
    p.add_argument("--rows", type=int, default=8, help="completions in the group")
    p.add_argument("--completion", type=int, default=96, help="tokens per completion")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    heads, kv_heads, d = 9, 3, 64
    L = a.prompt + a.rows * a.completion
    layout = PackedLayout((a.prompt,), (a.rows,), a.completion)
    mask = packed_mask(a.prompt, a.rows, a.completion)
    results = {}
    print(
        f"one group: prompt {a.prompt}, {a.rows} x {a.completion} completion tokens (L = {L}), {heads}/{kv_heads} "
        f"heads of {d}, {torch.get_num_threads()} threads; forward + backward, median of {a.repeats}, ms"
    )
    print(
        "| inputs | masked SDPA over L x L | grouped, computed in the inputs' dtype "
        "| grouped, computed in fp32 (r1lite) |"
    )
    print("| --- | ---: | ---: | ---: |")
    for dtype in (torch.bfloat16, torch.float32):
        q = torch.randn(1, heads, L, d, dtype=dtype, requires_grad=True)
        k = torch.randn(1, kv_heads, L, d, dtype=dtype, requires_grad=True)
        v = torch.randn(1, kv_heads, L, d, dtype=dtype, requires_grad=True)

        # the closures are timed within this iteration; defaults bind this dtype's tensors
        def masked(q=q, k=k, v=v):
            F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True).sum().backward()

        def grouped(compute, q=q, k=k, v=v):
            grouped_attention(q, k, v, layout, compute=compute).float().sum().backward()

        name = "bf16" if dtype == torch.bfloat16 else "fp32"
        results[name] = tuple(
            1000 * statistics.median(timed(fn, a.repeats))
            for fn in (masked, lambda dtype=dtype: grouped(dtype), lambda: grouped(torch.float32))
        )
        print(f"| {name} | " + " | ".join(f"{t:.1f}" for t in results[name]) + " |")
    return results


if __name__ == "__main__":
    main()
