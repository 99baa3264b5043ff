"""The shared-prefix training pass: each group's prompt is encoded once, its completions attend to it.

A GRPO group is `num_generations` completions of one prompt; TRL's training pass runs the model on
`prompt + completion` for every row, so a group's prompt goes through the model G times, forward and
backward. Here the rows of one prompt are packed into ONE sequence,

    [ prompt[:-1] | prompt[-1] completion 1 | prompt[-1] completion 2 | ... | prompt[-1] completion k ]

whose position ids continue from the prompt in each segment, as in its own row (``pack``; the prompt's
last token is repeated per row so that each scored position belongs to one row, as TRL's fused LM
head needs), and the model's attention is the grouped one (``attention.py``). Per-token
log-probabilities and gradients are TRL's up to float rounding (tests/test_equal_to_trl.py), while
the prompt is computed once per group.

``packed_logps`` is the pass the trainer calls: whole groups, about ``batch_size`` rows per forward,
through TRL's fused LM head on a Triton device (no (B, C, V) logits) or through logits of the
completion positions only elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from r1lite.speedups.attention import LAYOUT_KWARG, PackedLayout, use_grouped_attention


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
        return model(
            input_ids=ids,
            attention_mask=placeholder,
            position_ids=positions,
            use_cache=False,
            **{LAYOUT_KWARG: layout},
            **kwargs,
        )


def packed_logits(model, input_ids, attention_mask, completion_length: int, groups: list[list[int]], autocast):
    """Logits (B, C, V) of each row's completion tokens, from one packed forward pass over the groups.

    Only positions from the first scored one on are projected to the vocabulary (the model's
    ``logits_to_keep``)."""
    use_grouped_attention(model)
    ids, positions, index, layout = pack(input_ids, attention_mask, completion_length, groups)
    G, L = ids.shape
    first = int((index % L).min())  # the earliest position whose logits are needed
    logits = _forward_packed(
        model, ids, positions, layout, autocast, logits_to_keep=L - first
    ).logits  # (G, L-first, V)
    flat = logits.reshape(-1, logits.size(-1))  # (G*(L-first), V)
    g, pos = index // L, index % L - first  # (B, C) each
    # index_select, not flat[...]: its backward adds rows in place, where indexing's (index_put with
    # accumulate) took 3x as long on (1600, 49152) logits on the CPU
    rows = flat.index_select(0, (g * (L - first) + pos).reshape(-1))  # (B*C, V)
    return rows.reshape(index.size(0), index.size(1), -1)  # (B, C, V)


def packed_fused_logps(
    model,
    input_ids,
    attention_mask,
    completion_length: int,
    groups: list[list[int]],
    autocast,
    compute_entropy: bool = False,
):
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


def packed_logps(
    model,
    input_ids,
    attention_mask,
    logits_to_keep: int,
    groups: list[list[int]],
    batch_size: int | None,
    autocast,
    fused: bool,
    score: Callable,
    compute_entropy: bool,
):
    """Per-token log-probs (B, C) and entropies (B, C) or None of the completions, from packed forwards over whole
    groups, about ``batch_size`` rows per forward.

    ``fused`` (a Triton device): through TRL's fused, chunked LM head, no (B, C, V) logits; else logits of the
    completion positions only, scored by ``score(logits, targets, compute_entropy)``."""
    batch_size = batch_size or input_ids.size(0)
    chunk: list[list[int]] = []
    chunks = []
    for rows in groups:  # whole groups, about batch_size rows at a time
        if chunk and sum(map(len, chunk)) + len(rows) > batch_size:
            chunks.append(chunk)
            chunk = []
        chunk.append(rows)
    chunks.append(chunk)
    parts, entropy_parts, order = [], [], []
    for chunk in chunks:
        rows = [r for g in chunk for r in g]
        local = {r: i for i, r in enumerate(rows)}
        ids, mask = input_ids[rows], attention_mask[rows]  # (b, P+C)
        local_groups = [[local[r] for r in g] for g in chunk]
        if fused:
            logps, entropy = packed_fused_logps(
                model, ids, mask, logits_to_keep, local_groups, autocast, compute_entropy
            )  # (b, C) each
        else:
            logits = packed_logits(model, ids, mask, logits_to_keep, local_groups, autocast)  # (b, C, V)
            logps, entropy = score(logits, ids[:, -logits_to_keep:], compute_entropy)  # (b, C) each
        parts.append(logps)
        entropy_parts.append(entropy)
        order += rows
    inverse = torch.empty(len(order), dtype=torch.long, device=input_ids.device)
    inverse[torch.tensor(order, device=input_ids.device)] = torch.arange(len(order), device=input_ids.device)
    logps = torch.cat(parts)[inverse]  # (B, C) back in the batch's row order
    entropies = torch.cat(entropy_parts)[inverse] if compute_entropy else None  # (B, C)
    return logps, entropies
