"""One sampled token per row: ``torch.multinomial`` against r1lite's inverse-CDF draw, on the CPU.

HF ``generate`` samples each decoded token with ``torch.multinomial(probs, 1)`` over the whole
vocabulary; r1lite's trainer swaps in an inverse-CDF draw on the CPU (r1lite/speedups/sampling.py).
Times one draw for ``--rows`` rows of a ``--vocab``-word distribution (SmolLM2's by default), median
of ``--repeats`` after a warm-up; the distribution is a softmax of random logits.

    python bench/bench_sampling.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from bench_step import timed  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    from r1lite.speedups.sampling import inverse_cdf_sample

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=16)
    p.add_argument("--vocab", type=int, default=49152)
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    probs = torch.softmax(3 * torch.randn(a.rows, a.vocab), dim=-1)  # (rows, vocab)
    results = {
        name: 1000 * statistics.median(timed(draw, a.repeats))
        for name, draw in (
            ("torch.multinomial", lambda: torch.multinomial(probs, 1)),
            ("inverse CDF (r1lite)", lambda: inverse_cdf_sample(probs)),
        )
    }
    print(f"{a.rows} rows x {a.vocab} words, {torch.get_num_threads()} threads, median of {a.repeats} draws, ms:")
    for name, ms in results.items():
        print(f"  {name:22s} {ms:7.2f}")
    first, second = results.values()
    print(f"  ratio {second / first:.3f}")
    return results


if __name__ == "__main__":
    main()
