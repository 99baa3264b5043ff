"""Grouped prefix attention: the attention of r1lite's shared-prefix paths, inside the model's own layers.

Both shared-prefix paths need an attention transformers does not have:

- the packed training pass (``packed_pass.py``) runs each group's prompt once and its k completions
  after it in one sequence. ``grouped_attention`` computes it per group in two calls: the prompt
  causally over itself, and the k completions as a batch of k, each over [prompt | itself] under the
  causal mask of its row (key j visible to completion position i iff j <= Lp + i), with the prompt's
  keys and values expanded, not copied, to the k completions. Each completion token's computation is
  then the same as in TRL's unshared row (Prefix Grouper, arXiv 2506.05433, splits attention the
  same way);
- shared-prefix decoding (``decode_cache.py``) attends a decoded token over its group's one cached
  prompt and its row's own tokens (``SharedPrefixCache.attend``).

It reaches the model through transformers' ``AttentionInterface``: on first use, a model whose
attention is "sdpa" or "eager" is switched to the matching ``r1lite_grouped_*`` entry, which runs the
grouped computation when the forward call carries a ``shared_prefix_layout``, the decode attention
while ``DECODE_LAYOUT`` holds a shared-prefix cache, and the model's original attention otherwise
(TRL's path), so the switch changes no other number. On the CPU the grouped attention runs in fp32
even under bf16 autocast, which torch's CPU SDPA runs faster at these shapes; on GPUs it keeps the
autocast dtype. ``python bench/bench_attention.py`` times it against one masked SDPA over the packed
sequence.

Dropout (LoRA's ``lora_dropout``, say) draws its masks over the packed tensors, so with dropout on
the two passes agree in distribution, not bit for bit.

Applies when the model's attention is "sdpa" or "eager", with neither sliding windows nor logit
soft-capping (``why_not`` says why not otherwise; the caller then keeps TRL's path).
"""

from __future__ import annotations

import contextvars
import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, eager_mask, sdpa_mask

LAYOUT_KWARG = "shared_prefix_layout"  # the forward keyword that carries a PackedLayout to the attention
# generate() passes a model only the keywords its forward names, so a decode's cache comes by context instead
DECODE_LAYOUT: contextvars.ContextVar = contextvars.ContextVar("r1lite_shared_prefix_decode", default=None)


@dataclass(frozen=True)
class PackedLayout:
    """Where each group's prompt and completions sit in its packed sequence (see the module docstring)."""

    prompt_lengths: tuple[int, ...]  # Lp of each group
    group_sizes: tuple[int, ...]  # completions (rows) of each group
    completion_length: int  # C


def _eager_of(module):
    """The eager attention function of ``module``'s model (transformers defines one per modelling file)."""
    return sys.modules[type(module).__module__].eager_attention_forward


def _grouped(fallback_of):
    """An attention function: grouped prefix attention under a PackedLayout, decode attention over a
    SharedPrefixCache (decode_cache.py), else ``fallback_of(module)``'s."""

    def attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
        layout = kwargs.pop(LAYOUT_KWARG, None) or DECODE_LAYOUT.get()
        if layout is None:
            return fallback_of(module)(
                module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
            )
        if kwargs.get("sliding_window") is not None or kwargs.get("softcap") is not None:
            raise ValueError(
                "grouped prefix attention has no sliding window or soft-capping (why_not should have refused)"
            )
        if not isinstance(layout, PackedLayout):  # a decode step over a shared-prefix cache (decode_cache.py)
            return layout.attend(module, query, attention_mask, dropout=dropout, scaling=scaling), None
        return grouped_attention(query, key, value, layout, dropout=dropout, scaling=scaling), None

    return attention


GROUPED = {"sdpa": "r1lite_grouped_sdpa", "eager": "r1lite_grouped_eager"}  # model attention -> r1lite's entry
AttentionInterface.register(GROUPED["sdpa"], _grouped(lambda module: sdpa_attention_forward))
AttentionInterface.register(GROUPED["eager"], _grouped(_eager_of))
AttentionMaskInterface.register(GROUPED["sdpa"], sdpa_mask)
AttentionMaskInterface.register(GROUPED["eager"], eager_mask)


def attention_dtypes(tensor: torch.Tensor) -> tuple[torch.dtype, torch.dtype]:
    """(the dtype SDPA would return for attention over ``tensor``, the dtype r1lite computes it in): autocast's
    dtype where it is on (queries and keys arrive in fp32 from RoPE), else the tensor's; at least fp32 on the CPU,
    where torch's SDPA runs faster in fp32 at these shapes."""
    device = tensor.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else tensor.dtype
    return dtype, torch.promote_types(dtype, torch.float32) if device == "cpu" else dtype


def grouped_attention(
    query,
    key,
    value,
    layout: PackedLayout,
    dropout: float = 0.0,
    scaling: float | None = None,
    compute: torch.dtype | None = None,
):
    """Attention of packed groups: (G, H, L, d) queries, (G, Hkv, L, d) keys and values -> (G, L, H, d) output.

    Positions after a group's last completion (padding of the packed batch) get zeros. ``compute``:
    the dtype the attention runs in (default: at least fp32 on the CPU, else the output's dtype)."""
    device = query.device.type
    dtype, default = attention_dtypes(query)
    if compute is None:
        compute = default
    query, key, value = query.to(compute), key.to(compute), value.to(compute)
    G, H, L, d = query.shape
    Hkv = key.size(1)
    C = layout.completion_length
    gqa = H != Hkv
    with torch.autocast(device, enabled=False):
        outputs = []
        for q, k, v, lp, n in zip(
            query.unbind(0), key.unbind(0), value.unbind(0), layout.prompt_lengths, layout.group_sizes, strict=True
        ):  # (H, L, d), (Hkv, L, d) x2 per group
            sizes = [lp, n * C, L - lp - n * C]  # prompt, completions, padding
            qp, qc, _ = q.split(sizes, dim=1)  # (H, lp, d), (H, n*C, d)
            kp, kc, _ = k.split(sizes, dim=1)  # (Hkv, lp, d), (Hkv, n*C, d)
            vp, vc, _ = v.split(sizes, dim=1)
            prompt = (
                qp
                if lp == 0
                else F.scaled_dot_product_attention(  # (H, lp, d); a one-token prompt has no part
                    qp[None], kp[None], vp[None], is_causal=True, dropout_p=dropout, scale=scaling, enable_gqa=gqa
                )[0]
            )
            qc = qc.unflatten(1, (n, C)).transpose(0, 1)  # (n, H, C, d)
            keys = torch.cat(
                [kp.expand(n, Hkv, lp, d), kc.unflatten(1, (n, C)).transpose(0, 1)], dim=2
            )  # (n, Hkv, lp+C, d)
            values = torch.cat(
                [vp.expand(n, Hkv, lp, d), vc.unflatten(1, (n, C)).transpose(0, 1)], dim=2
            )  # (n, Hkv, lp+C, d)
            visible = torch.ones(C, lp + C, dtype=torch.bool, device=q.device).tril(lp)  # (C, lp+C) key j <= lp + i
            completions = F.scaled_dot_product_attention(
                qc, keys, values, attn_mask=visible, dropout_p=dropout, scale=scaling, enable_gqa=gqa
            )  # (n, H, C, d)
            outputs.append(
                torch.cat([prompt, completions.transpose(0, 1).flatten(1, 2), q.new_zeros(H, sizes[2], d)], dim=1)
            )  # (H, L, d)
        out = torch.stack(outputs).transpose(1, 2)  # (G, L, H, d)
    return out.to(dtype)


def why_not(model) -> str | None:
    """None if the packed pass applies to ``model``; else the reason it does not (logged once by the trainer)."""
    config = getattr(base_model(model), "config", None)
    attention = getattr(config, "_attn_implementation", None)
    if attention not in GROUPED and attention not in GROUPED.values():
        return (
            f"attention implementation {attention!r} is not one shared prefixes extend "
            f"(they need one of {tuple(GROUPED)})"
        )
    if getattr(config, "is_encoder_decoder", False):
        return "an encoder-decoder model"
    layer_types = getattr(config, "layer_types", None) or ()
    if getattr(config, "use_sliding_window", False) or any(t != "full_attention" for t in layer_types):
        return "sliding-window attention layers"
    if getattr(config, "attn_logit_softcapping", None):
        return "attention logit soft-capping"
    return None


def use_grouped_attention(model) -> None:
    """Switch ``model``'s attention to r1lite's grouped entry of the same kind (idempotent; see module docstring)."""
    config = base_model(model).config
    if config._attn_implementation in GROUPED:
        config._attn_implementation = GROUPED[config._attn_implementation]


def base_model(model):
    """The transformers model inside DDP / DeepSpeed / PEFT wrappers."""
    while hasattr(model, "module"):
        model = model.module
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return model
