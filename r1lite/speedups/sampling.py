"""Draw sampled tokens on the CPU by inverse CDF instead of ``torch.multinomial``.

HF ``generate`` draws every sampled token with ``torch.multinomial(probs, num_samples=1)``. torch
does that as argmax(p / q) with q ~ Exp(1) drawn for every vocabulary entry; on the CPU those draws
are serial, so 16 rows of SmolLM2's 49,152 words cost a 786,432-variate draw per decoded token,
about a sixth of a decode step (see ``python bench/bench_sampling.py``).

Inverse-CDF sampling draws one uniform u per row and returns the first token whose cumulative
probability exceeds u x (the row's total): the same distribution (cumulative sums in float64; a
token of probability 0, e.g. cut by top-k or top-p, is never drawn), one random number per row.
It consumes the random stream differently, so for one seed the tokens differ from
``torch.multinomial``'s: ``inverse_cdf_sampling: false`` gives TRL's tokens back. And because u is
compared with a sum over the vocabulary, a rounding-level change of the probabilities moves a draw
more often than under torch's per-word draws; that matters only where two runs are compared sample
for sample (tests/test_equal_to_trl.py turns it off there).

``inverse_cdf_multinomial()`` swaps ``torch.multinomial`` for the length of a ``with`` block (the
HF generation of ``SpeedHooks``, ``hooks.py``); calls it does not cover (several samples without replacement,
a generator of their own, non-CPU or non-2D tensors) go to torch's own function.
"""

from __future__ import annotations

import contextlib

import torch

_torch_multinomial = torch.multinomial


def inverse_cdf_sample(probs: torch.Tensor) -> torch.Tensor:
    """One index per row of ``probs`` (B, V), drawn with probability proportional to its entry: (B, 1) int64."""
    if not bool(torch.isfinite(probs).all()) or bool((probs < 0).any()):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    cdf = probs.to(torch.float64).cumsum(dim=-1)  # (B, V) non-decreasing; flat across zero-probability tokens
    total = cdf[:, -1:]  # (B, 1)
    if bool((total <= 0).any()):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    u = torch.rand(probs.size(0), 1, dtype=torch.float64, device=probs.device)  # (B, 1) in [0, 1)
    x = torch.minimum(u * total, torch.nextafter(total, torch.zeros_like(total)))  # (B, 1) in [0, total)
    return torch.searchsorted(cdf, x, right=True)  # (B, 1): first token with cdf > x, so its probability > 0


def _multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    if num_samples == 1 and generator is None and out is None and input.device.type == "cpu" and input.dim() == 2:
        return inverse_cdf_sample(input)
    return _torch_multinomial(input, num_samples, replacement, generator=generator, out=out)


@contextlib.contextmanager
def inverse_cdf_multinomial(enabled: bool = True):
    """Within the block, ``torch.multinomial`` draws single CPU samples by inverse CDF (see module docstring)."""
    if not enabled:
        yield
        return
    previous, torch.multinomial = torch.multinomial, _multinomial
    try:
        yield
    finally:
        torch.multinomial = previous
