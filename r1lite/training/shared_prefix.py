"""Shared-prefix training pass: each group's prompt is encoded once, its completions attend to it.

A GRPO group is `num_generations` completions of one prompt; TRL's training pass runs the model on
`prompt + completion` for every row, so a group's prompt goes through the model G times, forward and
backward. Here the rows of one prompt are packed into ONE sequence,

    [ prompt (Lp) | completion 1 (C) | completion 2 (C) | ... | completion k (C) ]

with a 4D attention mask under which every completion token sees the whole prompt and its own
completion up to itself, and nothing of the other completions; the position ids of completion i
continue from the prompt (Lp, Lp+1, ...), as they would in its own row. Each completion token's
computation is then the same as in TRL's unshared row, so per-token log-probabilities and gradients
are equal (up to float rounding: tests/test_shared_prefix.py compares them against TRL's path), while
the prompt is computed once per group (Prefix Grouper, arXiv 2506.05433, does this with a custom
attention kernel; a 4D mask does it with the model's own attention).

Dropout (LoRA's ``lora_dropout``, say) draws its masks over the packed tensors, so with dropout on
the two passes agree in distribution, not bit for bit.

Applies when the model takes a 4D mask (attention "sdpa" or "eager") and at least two rows of the
batch share a prompt; otherwise the caller falls back to TRL's path (``why_not`` says why).
"""

from __future__ import annotations

import inspect

import torch

SUPPORTED_ATTENTION = ("sdpa", "eager")


def why_not(model) -> str | None:
    """None if the packed pass applies to ``model``; else the reason it does not (logged once by the trainer)."""
    config = getattr(_base(model), "config", None)
    attention = getattr(config, "_attn_implementation", None)
    if attention not in SUPPORTED_ATTENTION:
        return f"attention implementation {attention!r} takes no 4D mask (shared prefixes need one of {SUPPORTED_ATTENTION})"
    if getattr(config, "is_encoder_decoder", False):
        return "an encoder-decoder model"
    return None


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


def pack(input_ids: torch.Tensor, attention_mask: torch.Tensor, completion_length: int, groups: list[list[int]],
         float_mask_dtype: torch.dtype | None = None):
    """The packed batch for ``groups``: (ids, 4D mask, position ids, positions of each row's completion logits).

    input_ids, attention_mask: (B, P+C), prompts left-padded, completions right-padded (TRL's layout).
    Returns ids (G, L), mask (G, 1, L, L) (bool, True = attend; additive float if ``float_mask_dtype``),
    positions (G, L), and gather indices (B, C): for row r, the packed (group, position) whose logits
    predict completion token t are (index[r, t] // L, index[r, t] % L).
    """
    device = input_ids.device
    C = completion_length  # completion tokens per row
    P = input_ids.size(1) - C  # prompt width (left-padded)
    prompt_lengths = [int(attention_mask[rows[0], :P].sum()) for rows in groups]
    L = max(lp + len(rows) * C for lp, rows in zip(prompt_lengths, groups, strict=True))  # packed length
    G = len(groups)
    ids = torch.zeros(G, L, dtype=input_ids.dtype, device=device)  # (G, L)
    segment = torch.full((G, L), -2, dtype=torch.long, device=device)  # -1: prompt, i: completion i, -2: padding
    valid = torch.zeros(G, L, dtype=torch.bool, device=device)  # (G, L) a real token (keys others may attend)
    positions = torch.zeros(G, L, dtype=torch.long, device=device)  # (G, L)
    index = torch.zeros(input_ids.size(0), C, dtype=torch.long, device=device)  # (B, C) flat packed positions
    for g, (rows, lp) in enumerate(zip(groups, prompt_lengths, strict=True)):
        ids[g, :lp] = input_ids[rows[0], P - lp : P]
        segment[g, :lp] = -1
        valid[g, :lp] = True
        positions[g, :lp] = torch.arange(lp, device=device)
        for i, row in enumerate(rows):
            start = lp + i * C
            ids[g, start : start + C] = input_ids[row, P:]
            segment[g, start : start + C] = i
            valid[g, start : start + C] = attention_mask[row, P:].bool()
            positions[g, start : start + C] = torch.arange(lp, lp + C, device=device)
            # token t of the completion is predicted at the position before it: the prompt's last for t = 0
            before = torch.arange(start - 1, start + C - 1, device=device)  # (C,)
            before[0] = lp - 1
            index[row] = g * L + before
    q_seg, k_seg = segment[:, :, None], segment[:, None, :]  # (G, L, 1), (G, 1, L)
    causal = torch.ones(L, L, dtype=torch.bool, device=device).tril()  # (L, L) key <= query
    same = (q_seg == k_seg) & (q_seg >= -1)  # same segment (prompt with prompt, completion i with itself)
    into_prompt = (k_seg == -1) & (q_seg >= 0)  # a completion token sees the whole prompt
    mask = (causal & (same | into_prompt) & valid[:, None, :])  # (G, L, L)
    mask |= torch.eye(L, dtype=torch.bool, device=device)  # every query attends to itself: no empty softmax rows
    mask = mask[:, None]  # (G, 1, L, L)
    if float_mask_dtype is not None:
        additive = torch.zeros(mask.shape, dtype=float_mask_dtype, device=device)
        mask = additive.masked_fill(~mask, torch.finfo(float_mask_dtype).min)
    return ids, mask, positions, index


def packed_logits(model, input_ids, attention_mask, completion_length: int, groups: list[list[int]], autocast):
    """Logits (B, C, V) of each row's completion tokens, from one packed forward pass over the groups.

    Only positions from the shortest prompt's last token on are projected to the vocabulary (the
    model's ``logits_to_keep``): every completion position, and at most the difference in prompt lengths."""
    attention = _base(model).config._attn_implementation
    dtype = next(_base(model).parameters()).dtype
    ids, mask, positions, index = pack(input_ids, attention_mask, completion_length, groups,
                                       float_mask_dtype=dtype if attention == "eager" else None)
    L = ids.size(1)
    first = int((index % L).min())  # the earliest position whose logits are needed
    with autocast():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False,
                       logits_to_keep=L - first).logits  # (G, L - first, V)
    flat = logits.reshape(-1, logits.size(-1))  # (G*(L-first), V)
    g, pos = index // L, index % L - first  # (B, C) each
    return flat[(g * (L - first) + pos).reshape(-1)].reshape(index.size(0), index.size(1), -1)  # (B, C, V)


def cache_name(model) -> str:
    """The name under which ``model`` takes and returns its KV cache: transformers renamed
    ``past_key_values`` to ``cache`` during 5.x (the old name warns)."""
    return "cache" if "cache" in inspect.signature(_base(model).forward).parameters else "past_key_values"


def generate_with_shared_prefill(model, generate, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kwargs):
    """``generate(...)`` with each distinct prompt prefilled once, its cache copied to every row of its group.

    The prefill covers all but the last prompt token (``generate`` then runs that one and decodes);
    the cache is expanded along the batch (``DynamicCache.batch_select_indices``), so decoding is the
    same as before. Falls back to plain ``generate`` when no prompt repeats, or when the generation
    config asks for a cache of its own kind."""
    groups = prompt_groups(input_ids, attention_mask)
    config = kwargs.get("generation_config")
    if (
        len(groups) == input_ids.size(0)
        or input_ids.size(1) < 2
        or kwargs.get("past_key_values") is not None
        or kwargs.get("cache") is not None
        or getattr(config, "cache_implementation", None) is not None
    ):
        return generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
    owner = torch.empty(input_ids.size(0), dtype=torch.long, device=input_ids.device)  # (B,) row -> group
    for g, rows in enumerate(groups):
        owner[rows] = g
    first = [rows[0] for rows in groups]
    key = cache_name(model)
    with torch.no_grad():
        out = model(input_ids=input_ids[first, :-1], attention_mask=attention_mask[first, :-1], use_cache=True,
                    logits_to_keep=1)
    cache = getattr(out, key)  # (U, heads, P-1, d) per layer
    cache.batch_select_indices(owner)  # (B, heads, P-1, d) per layer
    return generate(input_ids=input_ids, attention_mask=attention_mask, **{key: cache}, **kwargs)
