"""Cast the weights to bf16 once per ``generate`` call, not once per decoded token.

Under ``bf16: true`` Accelerate wraps the model's ``forward`` in ``torch.autocast``; the weights
stay fp32 (the optimizer steps them) and autocast casts each one to bf16 when a matmul uses it.
autocast keeps those casts in a cache, but empties it when the outermost autocast context exits,
i.e. after every forward call. TRL's HF generation calls ``forward`` once per new token, so every
decode step re-read all fp32 weights and wrote a bf16 copy of them (bench/LOG.md: with this and
inverse-CDF sampling, decoding 16 rows of SmolLM2-135M took about half the time).

``weights_cast_once(accelerator)`` opens the accelerator's own autocast context around a whole
generation: the forward's autocast nests inside it, so the cache lives until generation ends. The
casts are the same ones, so the tokens are identical (tests/test_autocast.py); the price is a bf16
copy of the weights (2 bytes per parameter) held while generating. Where mixed precision is off, or
the engine casts by itself (DeepSpeed), the accelerator's context is a no-op. Switch:
``cast_weights_once`` (``r1lite.config.R1ZeroConfig``).
"""

from __future__ import annotations

import contextlib


def weights_cast_once(accelerator):
    """A context for a whole generation under which autocast casts each weight once (see module docstring)."""
    autocast = getattr(accelerator, "autocast", None)  # None, or a PartialState: no mixed precision to keep
    return autocast() if autocast is not None else contextlib.nullcontext()
