"""CPU runs: use every core, and fall back from bf16 where the CPU has no fast bf16 arithmetic.

Two traps met on 2-core CPU machines:
- ``accelerate launch`` without a config sets OMP_NUM_THREADS=1, halving the speed of a 2-core box;
- CPUs without AVX512-BF16/AMX emulate bf16 matrix multiplies: measured 0.33 GFLOP/s in bf16
  against 83 GFLOP/s in fp32 on an AVX2-only machine, so a bf16 recipe would crawl there.
"""

from __future__ import annotations

import logging
import os
import time

import torch

logger = logging.getLogger(__name__)


def is_cpu_run(training) -> bool:
    return bool(training.use_cpu) or not torch.cuda.is_available()


def matmul_gflops(dtype: torch.dtype, n: int = 256, repeats: int = 3) -> float:
    """Measured GFLOP/s of an n x n matrix multiply in ``dtype`` on this CPU (best of ``repeats``)."""
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def has_fast_bf16() -> bool:
    """True when this CPU multiplies bf16 matrices in hardware (AVX512-BF16 or AMX).

    Asks torch for the instruction sets; where torch cannot tell, measures instead (a bf16 matrix
    multiply at least half as fast as fp32). The flags come first because a measurement on a busy
    machine can mistake slow emulated bf16 for fast.
    """
    flags = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if all(callable(f) for f in flags):
        return any(f() for f in flags)
    return matmul_gflops(torch.bfloat16) >= 0.5 * matmul_gflops(torch.float32)


def configure_cpu(training) -> None:
    """Thread count per process and bf16 fallback for CPU runs; no effect on GPU runs.

    ``R1LITE_NUM_THREADS`` overrides the thread count; ``R1LITE_FORCE_BF16=1`` keeps bf16 anyway.
    """
    if not is_cpu_run(training):
        return
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    threads = int(os.environ.get("R1LITE_NUM_THREADS", "0")) or max(1, (os.cpu_count() or 1) // local)
    if torch.get_num_threads() != threads:
        logger.info("CPU run: %d torch threads per process (was %d)", threads, torch.get_num_threads())
        torch.set_num_threads(threads)
    if training.bf16 and _deepspeed_sets_bf16():
        logger.info("CPU run under DeepSpeed with bf16 in its config: bf16 stays on (DeepSpeed refuses a mismatch)")
        return
    if training.bf16 and os.environ.get("R1LITE_FORCE_BF16") != "1" and not has_fast_bf16():
        logger.warning(
            "bf16 requested, but this CPU has no fast bf16 matrix multiply (%.1f GFLOP/s bf16 vs %.1f fp32): "
            "training in fp32 instead. Set R1LITE_FORCE_BF16=1 to keep bf16.",
            matmul_gflops(torch.bfloat16),
            matmul_gflops(torch.float32),
        )
        training.bf16 = False
        training.mixed_precision = "no"  # TrainingArguments derived it from bf16 already; the Trainer reads this


def _deepspeed_sets_bf16() -> bool:
    """Whether this process runs under an accelerate DeepSpeed launch whose mixed precision is bf16: DeepSpeed's
    config then enables bf16, and transformers refuses TrainingArguments that turn it off ("DeepSpeed config
    values that mismatch TrainingArguments")."""
    return (
        os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true"
        and os.environ.get("ACCELERATE_MIXED_PRECISION", "").lower() == "bf16"
    )
