"""Shared-prefix training pass: each group's prompt is encoded once, its completions attend to it.

A GRPO group is `num_generations` completions of one prompt; TRL's training pass runs the model on
`prompt + completion` for every row, so a group's prompt goes through the model G times, forward and
backward. Here the rows of one prompt are packed into ONE sequence,

    [ prompt[:-1] | prompt[-1] completion 1 | prompt[-1] completion 2 | ... | prompt[-1] completion k ]

whose position ids continue from the prompt in each segment, as in its own row (``pack``; the prompt's
last token is repeated per row so that each scored position belongs to one row, as TRL's fused LM
head needs).
Attention is the model's own, computed per group in two calls (``grouped_attention``): the prompt
causally over itself, and the k completions as a batch of k, each over [prompt | itself] under the
causal mask of its row (key j visible to completion position i iff j <= Lp + i), with the prompt's
keys and values expanded, not copied, to the k completions. Each completion token's computation is
then the same as in TRL's unshared row, so per-token log-probabilities and gradients are equal (up to
float rounding: tests/test_shared_prefix.py compares them against TRL's path), while the prompt is
computed once per group (Prefix Grouper, arXiv 2506.05433, splits attention the same way).

The attention reaches the model through transformers' ``AttentionInterface``: on first use, a model
whose attention is "sdpa" or "eager" is switched to the matching ``r1lite_grouped_*`` entry, which
runs the grouped computation when the forward call carries a ``shared_prefix_layout``, the decode
attention of a shared-prefix cache while ``DECODE_LAYOUT`` holds one (shared_decode.py), and the
model's original attention otherwise (TRL's path), so the switch changes no other number. On the
CPU the grouped attention runs in fp32 even under bf16 autocast, which torch's CPU SDPA runs faster
at these shapes; on GPUs it keeps the autocast dtype. ``python bench/bench_attention.py`` times it
against one masked SDPA over the packed sequence (bench/README.md has the numbers).

Dropout (LoRA's ``lora_dropout``, say) draws its masks over the packed tensors, so with dropout on
the two passes agree in distribution, not bit for bit.

Applies when the model's attention is "sdpa" or "eager", with neither sliding windows nor logit
soft-capping, and at least two rows of the batch share a prompt; otherwise the caller falls back to
TRL's path (``why_not`` says why).
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
    SharedPrefixCache (shared_decode.py), else ``fallback_of(module)``'s."""

    def attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
        layout = kwargs.pop(LAYOUT_KWARG, None) or DECODE_LAYOUT.get()
        if layout is None:
            return fallback_of(module)(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                       **kwargs)
        if kwargs.get("sliding_window") is not None or kwargs.get("softcap") is not None:
            raise ValueError("grouped prefix attention has no sliding window or soft-capping (why_not should have refused)")
        if not isinstance(layout, PackedLayout):  # a decode step over a shared-prefix cache (shared_decode.py)
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


def grouped_attention(query, key, value, layout: PackedLayout, dropout: float = 0.0, scaling: float | None = None,
                      compute: torch.dtype | None = None):
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
        for q, k, v, lp, n in zip(query.unbind(0), key.unbind(0), value.unbind(0), layout.prompt_lengths,
                                  layout.group_sizes, strict=True):  # (H, L, d), (Hkv, L, d) x2 per group
            sizes = [lp, n * C, L - lp - n * C]  # prompt, completions, padding
            qp, qc, _ = q.split(sizes, dim=1)  # (H, lp, d), (H, n*C, d)
            kp, kc, _ = k.split(sizes, dim=1)  # (Hkv, lp, d), (Hkv, n*C, d)
            vp, vc, _ = v.split(sizes, dim=1)
            prompt = qp if lp == 0 else F.scaled_dot_product_attention(  # (H, lp, d); a one-token prompt has no part
                qp[None], kp[None], vp[None], is_causal=True, dropout_p=dropout, scale=scaling, enable_gqa=gqa)[0]
            qc = qc.unflatten(1, (n, C)).transpose(0, 1)  # (n, H, C, d)
            keys = torch.cat([kp.expand(n, Hkv, lp, d), kc.unflatten(1, (n, C)).transpose(0, 1)], dim=2)  # (n, Hkv, lp+C, d)
            values = torch.cat([vp.expand(n, Hkv, lp, d), vc.unflatten(1, (n, C)).transpose(0, 1)], dim=2)  # (n, Hkv, lp+C, d)
            visible = torch.ones(C, lp + C, dtype=torch.bool, device=q.device).tril(lp)  # (C, lp+C) key j <= lp + i
            completions = F.scaled_dot_product_attention(qc, keys, values, attn_mask=visible, dropout_p=dropout,
                                                         scale=scaling, enable_gqa=gqa)  # (n, H, C, d)
            outputs.append(torch.cat([prompt, completions.transpose(0, 1).flatten(1, 2), q.new_zeros(H, sizes[2], d)],
                                     dim=1))  # (H, L, d)
        out = torch.stack(outputs).transpose(1, 2)  # (G, L, H, d)
    return out.to(dtype)


def why_not(model) -> str | None:
    """None if the packed pass applies to ``model``; else the reason it does not (logged once by the trainer)."""
    config = getattr(_base(model), "config", None)
    attention = getattr(config, "_attn_implementation", None)
    if attention not in GROUPED and attention not in GROUPED.values():
        return f"attention implementation {attention!r} is not one shared prefixes extend (they need one of {tuple(GROUPED)})"
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
    config = _base(model).config
    if config._attn_implementation in GROUPED:
        config._attn_implementation = GROUPED[config._attn_implementation]


def _base(model):
    """The transformers model inside DDP / DeepSpeed / PEFT wrappers."""
    while hasattr(model, "module"):
        model = model.module
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return model


def prompt_groups(prompt_ids: torch.Tensor, prompt_mask: torch.Tensor) -> list[list[int]]:
    """Rows with the same prompt (its unpadded tokens), in first-seen order: [[row, row, ...], ...]."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for row, (ids, mask) in enumerate(zip(prompt_ids.tolist(), prompt_mask.tolist(), strict=True)):
        key = tuple(t for t, m in zip(ids, mask, strict=True) if m)
        groups.setdefault(key, []).append(row)
    return list(groups.values())


def pack(input_ids: torch.Tensor, attention_mask: torch.Tensor, completion_length: int, groups: list[list[int]]):
    """The packed batch for ``groups``: (ids, position ids, positions of each row's completion scores, layout).

    input_ids, attention_mask: (B, P+C), prompts left-padded, completions right-padded (TRL's layout).
    A group of prompt p (length lp) and completions c_1..c_n packs as

        [ p[:-1] | p[-1] c_1 | p[-1] c_2 | ... | p[-1] c_n ]      positions 0..lp-2, then lp-1..lp-1+C in each segment

    so every scored position is a row's own: segment i's position t predicts token t of c_i (t < C),
    which is what TRL's fused LM head needs (one label per position, ``shift_labels``), at the cost of
    one repeated token per row. Returns ids (G, L), positions (G, L), index (B, C) (row r's token t is
    predicted at packed (index[r, t] // L, index[r, t] % L)) and the PackedLayout (prompt part lp-1,
    segments of C+1). A completion's padding needs no mask: it comes after the row's real tokens,
    causal attention keeps those from seeing it, and the loss masks the padding positions themselves.
    """
    device = input_ids.device
    C = completion_length  # completion tokens per row
    P = input_ids.size(1) - C  # prompt width (left-padded)
    prompt_lengths = [int(attention_mask[rows[0], :P].sum()) for rows in groups]
    if min(prompt_lengths) < 1:
        raise ValueError("a row has an empty prompt: the shared-prefix pass needs at least one prompt token")
    S = C + 1  # a segment: the prompt's last token, then the completion
    L = max(lp - 1 + len(rows) * S for lp, rows in zip(prompt_lengths, groups, strict=True))  # packed length
    G = len(groups)
    ids = torch.zeros(G, L, dtype=input_ids.dtype, device=device)  # (G, L)
    positions = torch.zeros(G, L, dtype=torch.long, device=device)  # (G, L)
    index = torch.zeros(input_ids.size(0), C, dtype=torch.long, device=device)  # (B, C) flat packed positions
    for g, (rows, lp) in enumerate(zip(groups, prompt_lengths, strict=True)):
        ids[g, : lp - 1] = input_ids[rows[0], P - lp : P - 1]
        positions[g, : lp - 1] = torch.arange(lp - 1, device=device)
        for i, row in enumerate(rows):
            start = lp - 1 + i * S
            ids[g, start : start + S] = input_ids[row, P - 1 :]  # (S,) the prompt's last token, then the completion
            positions[g, start : start + S] = torch.arange(lp - 1, lp - 1 + S, device=device)
            index[row] = g * L + torch.arange(start, start + C, device=device)  # (C,) position t predicts token t
    layout = PackedLayout(tuple(lp - 1 for lp in prompt_lengths), tuple(len(rows) for rows in groups), S)
    return ids, positions, index, layout


def _forward_packed(model, ids, positions, layout: PackedLayout, autocast, **kwargs):
    """``model`` on the packed (G, L) batch under ``autocast``, its attention reading ``layout``.

    The attention mask is a (G, 1, 1, 1) placeholder: a 4D mask is taken as given by transformers, which
    then builds none of its own (an L x L mask per group); the grouped attention reads the layout instead."""
    placeholder = torch.ones(ids.size(0), 1, 1, 1, dtype=torch.bool, device=ids.device)
    with autocast():
        return model(input_ids=ids, attention_mask=placeholder, position_ids=positions, use_cache=False,
                     **{LAYOUT_KWARG: layout}, **kwargs)


def packed_logits(model, input_ids, attention_mask, completion_length: int, groups: list[list[int]], autocast):
    """Logits (B, C, V) of each row's completion tokens, from one packed forward pass over the groups.

    Only positions from the first scored one on are projected to the vocabulary (the model's
    ``logits_to_keep``)."""
    use_grouped_attention(model)
    ids, positions, index, layout = pack(input_ids, attention_mask, completion_length, groups)
    G, L = ids.shape
    first = int((index % L).min())  # the earliest position whose logits are needed
    logits = _forward_packed(model, ids, positions, layout, autocast, logits_to_keep=L - first).logits  # (G, L-first, V)
    flat = logits.reshape(-1, logits.size(-1))  # (G*(L-first), V)
    g, pos = index // L, index % L - first  # (B, C) each
    # index_select, not flat[...]: its backward adds rows in place, where indexing's (index_put with
    # accumulate) took 3x as long on (1600, 49152) logits on the CPU
    rows = flat.index_select(0, (g * (L - first) + pos).reshape(-1))  # (B*C, V)
    return rows.reshape(index.size(0), index.size(1), -1)  # (B, C, V)


def packed_fused_logps(model, input_ids, attention_mask, completion_length: int, groups: list[list[int]], autocast,
                       compute_entropy: bool = False):
    """Per-token log-probs (B, C) (and entropies or None) of each row's completion tokens from one packed forward
    pass through TRL's fused LM head (``trl.trainer.utils.add_fused_lm_head``): the model is called with
    ``fused_lm_head=True`` and one label per packed position (``shift_labels``), so no (B, C, V) logits tensor
    exists; the head applies TRL's temperature. Labels of completion padding are -100, as in TRL's pass (their
    log-prob is 0)."""
    use_grouped_attention(model)
    ids, positions, index, layout = pack(input_ids, attention_mask, completion_length, groups)
    G, L = ids.shape
    C = completion_length
    labels = torch.full((G * L,), -100, dtype=ids.dtype, device=ids.device)  # (G*L,)
    targets = input_ids[:, -C:].masked_fill(attention_mask[:, -C:] == 0, -100)  # (B, C)
    labels[index.reshape(-1)] = targets.reshape(-1)
    out = _forward_packed(model, ids, positions, layout, autocast, fused_lm_head=True, shift_labels=labels.view(G, L))
    flat = index.reshape(-1)  # (B*C,)
    logps = out.log_probs.reshape(-1).index_select(0, flat).view_as(index)  # (B, C)
    entropy = out.entropy.reshape(-1).index_select(0, flat).view_as(index) if compute_entropy else None  # (B, C)
    return logps, entropy
