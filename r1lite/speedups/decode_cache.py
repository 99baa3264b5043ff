"""Shared-prefix generation: each group's prompt is prefilled once and decoded from one cached copy.

A GRPO generation batch holds `num_generations` rows of each prompt. HF ``generate`` prefills every
row and keeps a KV cache per row, so a group of 8 holds 8 copies of its prompt's keys and values, and
every decoded token concatenates, casts and (under grouped-query attention with padding) repeats all
of them, in every layer. Here the rows of each prompt share one cache entry:

    prefix  (G, Hkv, Lp, d)     each group's prompt, written once by one prefill per distinct prompt
    rows    (G, Hkv, n, t, d)   each row's own tokens (the prompt's last token, then its completion)

and a decoded token attends to both in one softmax (``SharedPrefixCache.attend``): the scores against
the prompt are one matrix product per group (its n rows' queries together), those against the row's
own tokens one per row, concatenated before the softmax. That is the attention of the row's own
cache, up to float rounding, so greedy decoding gives the same tokens (tests/test_decode_cache.py,
tests/test_equal_to_trl.py). On the CPU it is computed in fp32, as the grouped training attention
(``attention.py``).

The cache reaches the attention through the grouped ``AttentionInterface`` entry (``attention.py``);
``generate`` passes a model only the keywords its forward names, so the cache is set in a context
variable (``DECODE_LAYOUT``) for the length of the ``generate`` call. It applies where the packed
pass does (``why_not``) and the rows of each prompt are contiguous and equally many (TRL's order);
otherwise each distinct prompt is still prefilled once and its cache copied to the rows of its group.
``python bench/bench_step.py`` times decoding both ways (bench/README.md).
"""

from __future__ import annotations

import inspect
import logging

import torch
from transformers.cache_utils import Cache, CacheLayerMixin

from r1lite.speedups.attention import DECODE_LAYOUT, attention_dtypes, base_model, use_grouped_attention, why_not
from r1lite.speedups.packed_pass import prompt_groups

logger = logging.getLogger(__name__)
_said: set[str] = set()  # why decoding fell back to copied caches, each said once per process


def _say_once(reason: str) -> None:
    if reason not in _said:
        _said.add(reason)
        logger.info("shared-prefix decoding off (%s): each row decodes from a copy of its prompt's cache", reason)


def cache_name(model) -> str:
    """The name under which ``model`` takes and returns its KV cache: transformers renamed
    ``past_key_values`` to ``cache`` during 5.x (the old name warns)."""
    return "cache" if "cache" in inspect.signature(base_model(model).forward).parameters else "past_key_values"


class GroupPrefixLayer(CacheLayerMixin):
    """One layer's cache: each group's prompt once, each row's own tokens after it (see module docstring)."""

    is_sliding = False

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, group_size: int):
        super().__init__()
        _, dtype = attention_dtypes(keys)  # the dtype the decode attention runs in, as the training pass's
        self.prefix_keys = keys.to(dtype)  # (G, Hkv, Lp, d)
        self.prefix_values = values.to(dtype)  # (G, Hkv, Lp, d)
        self.group_size = group_size  # n rows per group, contiguous in the batch
        self.length = 0  # t: tokens cached per row
        G, Hkv, _, d = keys.shape
        self._rows_k = keys.new_empty(G, Hkv, group_size, 0, d, dtype=dtype)  # (G, Hkv, n, capacity, d)
        self._rows_v = self._rows_k.clone()
        self.device = keys.device
        self.is_initialized = True

    def lazy_initialization(self, key_states, value_states) -> None:
        pass  # built from the prefill's cache

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        """Append (B, Hkv, q, d) new keys and values to each row; returns the rows' (G, Hkv, n, t, d)."""
        G, Hkv, n, capacity, d = self._rows_k.shape
        q = key_states.size(2)
        if self.length + q > capacity:  # grow by doubling: a write per token, not a copy of the whole cache
            grown = max(2 * capacity, self.length + q, 32)
            for name in ("_rows_k", "_rows_v"):
                old = getattr(self, name)
                new = old.new_empty(G, Hkv, n, grown, d)  # (G, Hkv, n, grown, d)
                new[..., : self.length, :] = old[..., : self.length, :]
                setattr(self, name, new)
        end = self.length + q
        self._rows_k[..., self.length : end, :] = key_states.view(G, n, Hkv, q, d).transpose(1, 2)  # (G, Hkv, n, q, d)
        self._rows_v[..., self.length : end, :] = value_states.view(G, n, Hkv, q, d).transpose(1, 2)
        self.length = end
        return self.row_keys, self.row_values

    @property
    def row_keys(self) -> torch.Tensor:
        return self._rows_k[..., : self.length, :]  # (G, Hkv, n, t, d)

    @property
    def row_values(self) -> torch.Tensor:
        return self._rows_v[..., : self.length, :]  # (G, Hkv, n, t, d)

    def get_seq_length(self) -> int:
        return self.prefix_keys.size(2) + self.length

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.get_seq_length() + query_length, 0

    def get_max_length(self) -> int:
        return -1

    def reset(self) -> None:
        self.length = 0

    def _unsupported(self, *args, **kwargs):
        raise NotImplementedError(
            "a shared-prefix cache serves sampling and greedy decoding only (no beam search, "
            "no assisted decoding); r1lite's generation does not ask for them"
        )

    reorder_cache = batch_repeat_interleave = batch_select_indices = crop = _unsupported


class SharedPrefixCache(Cache):
    """The KV cache of a generation batch whose rows come in contiguous groups of one prompt."""

    def __init__(self, layers: list[GroupPrefixLayer]):
        super().__init__(layers=layers)

    @classmethod
    def from_prefill(cls, prefill: Cache, group_size: int) -> SharedPrefixCache:
        """From the cache of one prefill per group: (G, Hkv, Lp, d) keys and values per layer."""
        return cls([GroupPrefixLayer(layer.keys, layer.values, group_size) for layer in prefill.layers])

    def attend(self, module, query: torch.Tensor, attention_mask, dropout: float = 0.0, scaling: float | None = None):
        """Attention of (B, H, q, d) queries over [group prompt | own tokens] -> (B, q, H, d), as the model's
        attention function returns it; ``attention_mask``: transformers' 4D mask over the whole cache, or None."""
        layer = self.layers[module.layer_idx]
        pk, pv = layer.prefix_keys, layer.prefix_values  # (G, Hkv, Lp, d) each
        rk, rv = layer.row_keys, layer.row_values  # (G, Hkv, n, t, d) each
        G, Hkv, Lp, d = pk.shape
        n, t = layer.group_size, layer.length
        B, H, q, _ = query.shape
        r, L = H // Hkv, Lp + t  # query heads per key head; keys visible in all
        device = query.device.type
        out_dtype, _ = attention_dtypes(query)
        scale = scaling if scaling is not None else d**-0.5
        with torch.autocast(device, enabled=False):
            # head h reads key head h // r (transformers' repeat_kv order)
            qg = query.to(pk.dtype).reshape(G, n, Hkv, r * q, d).transpose(1, 2).contiguous()  # (G, Hkv, n, r*q, d)
            prompt = (qg.view(G, Hkv, n * r * q, d) @ pk.transpose(-1, -2)).view(
                G, Hkv, n, r * q, Lp
            )  # (G, Hkv, n, rq, Lp)
            own = qg @ rk.transpose(-1, -2)  # (G, Hkv, n, r*q, t)
            scores = (torch.cat([prompt, own], dim=-1) * scale).view(G, Hkv, n, r, q, L)  # (G, Hkv, n, r, q, L)
            if attention_mask is not None:
                mask = attention_mask.expand(B, 1, q, L).reshape(G, 1, n, 1, q, L)  # (G, 1, n, 1, q, L)
                scores = (
                    scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
                    if mask.dtype == torch.bool
                    else scores + mask.to(scores.dtype)
                )
            elif q > 1:  # no padding: causal among the new tokens
                visible = torch.ones(q, L, dtype=torch.bool, device=query.device).tril(L - q)  # (q, L)
                scores = scores.masked_fill(~visible, torch.finfo(scores.dtype).min)
            weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(pk.dtype)  # (G, Hkv, n, r, q, L)
            if dropout:
                weights = torch.nn.functional.dropout(weights, p=dropout, training=True)
            wp, wr = weights.view(G, Hkv, n, r * q, L).split([Lp, t], dim=-1)  # (G, Hkv, n, rq, Lp), (.., t)
            out = (wp.reshape(G, Hkv, n * r * q, Lp) @ pv).view(G, Hkv, n, r * q, d) + wr @ rv  # (G, Hkv, n, rq, d)
            out = out.view(G, Hkv, n, r, q, d).permute(0, 2, 4, 1, 3, 5).reshape(B, q, H, d)  # (B, q, H, d)
        return out.to(out_dtype)


def prompt_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids (B, P) of left-padded prompts, as ``generate`` numbers them: each row's first real token is
    position 0 (``GenerationMixin._prepare_position_ids_for_generation``; padding gets 0 and is masked anyway).

    The prefill must number the prompt this way: ``generate`` then continues each row from its own length,
    and a prefill that numbered the padding too (a model's default without ``position_ids``) would put a
    padded row's prompt that many positions away from its completion under rotary embeddings."""
    return (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)  # (B, P)


def _equal_contiguous(groups: list[list[int]]) -> bool:
    """Whether the groups are rows [0, n), [n, 2n), ... in order."""
    n = len(groups[0])
    return all(rows == list(range(g * n, (g + 1) * n)) for g, rows in enumerate(groups))


def generate_with_shared_prefill(
    model, generate, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, share_cache: bool = True, **kwargs
):
    """``generate(...)`` with each distinct prompt prefilled once and decoded from one shared cache entry.

    The prefill covers all but the last prompt token (``generate`` then runs that one and decodes), at the
    positions ``generate`` gives a left-padded prompt (``prompt_positions``).
    Where the model's attention can be extended (``why_not``) and each prompt's rows are contiguous
    and equally many, its rows decode from a ``SharedPrefixCache``; otherwise the prefill's cache is
    copied to every row of its group (``DynamicCache.batch_select_indices``). Falls back to plain
    ``generate`` when no prompt repeats, or when the call brings a cache or asks for one of its own
    kind or for several beams. ``share_cache=False`` always copies (bench/bench_step.py times both)."""
    groups = prompt_groups(input_ids, attention_mask)
    config = kwargs.get("generation_config")
    if (
        len(groups) == input_ids.size(0)
        or input_ids.size(1) < 2
        or kwargs.get("past_key_values") is not None
        or kwargs.get("cache") is not None
        or getattr(config, "cache_implementation", None) is not None
        or (getattr(config, "num_beams", 1) or 1) > 1
    ):
        return generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
    first = [rows[0] for rows in groups]
    reason = why_not(model)
    if reason is None and not _equal_contiguous(groups):
        reason = "the rows of a prompt are not contiguous and equally many"
    if share_cache and reason is not None:
        _say_once(reason)
    shared = share_cache and reason is None
    if shared:
        use_grouped_attention(model)  # its entry is the model's own attention outside shared calls
    key = cache_name(model)
    prefill_mask = attention_mask[first, :-1]  # (G, P-1)
    with torch.no_grad():
        out = model(
            input_ids=input_ids[first, :-1],
            attention_mask=prefill_mask,
            position_ids=prompt_positions(prefill_mask),
            use_cache=True,
            logits_to_keep=1,
        )
    cache = getattr(out, key)  # (G, Hkv, P-1, d) per layer
    if shared:
        cache = SharedPrefixCache.from_prefill(cache, len(groups[0]))
        token = DECODE_LAYOUT.set(cache)
        try:
            return generate(input_ids=input_ids, attention_mask=attention_mask, **{key: cache}, **kwargs)
        finally:
            DECODE_LAYOUT.reset(token)
    owner = torch.empty(input_ids.size(0), dtype=torch.long, device=input_ids.device)  # (B,) row -> group
    for g, rows in enumerate(groups):
        owner[rows] = g
    cache.batch_select_indices(owner)  # (B, Hkv, P-1, d) per layer
    return generate(input_ids=input_ids, attention_mask=attention_mask, **{key: cache}, **kwargs)
