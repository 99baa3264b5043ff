"""Shared-prefix generation: one prefill per prompt, its rows decoded from one cached copy, the same tokens."""

import types

import pytest
import torch
from transformers import DynamicCache, GenerationConfig

from r1lite.models import tiny_model
from r1lite.speedups.attention import DECODE_LAYOUT
from r1lite.speedups.decode_cache import GroupPrefixLayer, SharedPrefixCache, generate_with_shared_prefill


def _reference(query, prefix_k, prefix_v, rows_k, rows_v, mask, scale):
    """Each row's own attention over [its group's prompt | its tokens] in float64: (B, q, H, d)."""
    B, H, q, d = query.shape
    G, Hkv = prefix_k.shape[:2]
    n, r = B // G, H // Hkv
    out = []
    for b in range(B):
        keys = torch.cat([prefix_k[b // n], rows_k[b]], dim=1).double().repeat_interleave(r, dim=0)  # (H, L, d)
        values = torch.cat([prefix_v[b // n], rows_v[b]], dim=1).double().repeat_interleave(r, dim=0)
        scores = query[b].double() @ keys.transpose(-1, -2) * scale  # (H, q, L)
        scores = scores.masked_fill(~mask[b], float("-inf"))
        out.append((scores.softmax(-1) @ values).transpose(0, 1))  # (q, H, d)
    return torch.stack(out)


@pytest.mark.parametrize("heads,kv_heads", [(4, 4), (6, 2)])
@pytest.mark.parametrize("mask_kind", ["bool", "float", "none"])
@pytest.mark.parametrize("q", [1, 3])
def test_decode_attention_equals_each_rows_own_attention(heads, kv_heads, mask_kind, q):
    g = torch.Generator().manual_seed(0)
    G, n, Lp, d, steps = 2, 3, 9, 8, 40  # 40 tokens grow the row buffer past its first 32
    B = G * n
    prefix_k, prefix_v = torch.randn(2, G, kv_heads, Lp, d, generator=g)
    cache = SharedPrefixCache([GroupPrefixLayer(prefix_k, prefix_v, n)])
    rows_k, rows_v = torch.randn(2, B, kv_heads, steps + q, d, generator=g)
    for t in range(steps):  # one token at a time, as generate decodes
        cache.update(rows_k[:, :, t : t + 1], rows_v[:, :, t : t + 1], 0)
    cache.update(rows_k[:, :, steps:], rows_v[:, :, steps:], 0)  # then q at once
    L = Lp + steps + q
    assert cache.get_seq_length() == L and cache.layers[0].get_mask_sizes(1) == (L + 1, 0)
    visible = torch.ones(q, L, dtype=torch.bool).tril(L - q).expand(B, 1, q, L).clone()  # (B, 1, q, L) causal
    if mask_kind != "none":
        visible[:n, ..., :2] = False  # group 0's prompt is left-padded by 2
    mask = {
        "bool": visible,
        "float": torch.zeros(B, 1, q, L).masked_fill(~visible, torch.finfo(torch.float32).min),
        "none": None,
    }[mask_kind]
    query = torch.randn(B, heads, q, d, generator=g)
    out = cache.attend(types.SimpleNamespace(layer_idx=0), query, mask, scaling=0.3)
    expected = _reference(query, prefix_k, prefix_v, rows_k, rows_v, visible, 0.3)
    torch.testing.assert_close(out.double(), expected, atol=1e-5, rtol=1e-5)


def test_decode_attention_under_bf16_autocast_returns_what_sdpa_would():
    g = torch.Generator().manual_seed(0)
    prefix_k, prefix_v = torch.randn(2, 1, 2, 5, 8, generator=g)
    cache = SharedPrefixCache([GroupPrefixLayer(prefix_k, prefix_v, 2)])
    rows_k, rows_v = torch.randn(2, 2, 2, 1, 8, generator=g)
    query = torch.randn(2, 4, 1, 8, generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cache.update(rows_k, rows_v.bfloat16(), 0)  # values come out of a bf16 matmul, keys out of fp32 RoPE
        out = cache.attend(types.SimpleNamespace(layer_idx=0), query, None)
    assert out.dtype == torch.bfloat16  # SDPA's output dtype under autocast; computed in fp32 on the CPU
    visible = torch.ones(2, 1, 1, 6, dtype=torch.bool)
    expected = _reference(query, prefix_k, prefix_v, rows_k, rows_v.bfloat16().float(), visible, 8**-0.5)
    torch.testing.assert_close(out.double(), expected, atol=1e-2, rtol=1e-2)


def _prompts(tokenizer, order=None, group=3):
    prompts = [tokenizer(text).input_ids for text in ("Using the numbers [3, 7], make 10.", "Hi")]
    P = max(map(len, prompts))
    rows = [p for p in prompts for _ in range(group)]  # groups of 3, TRL's order
    if order is not None:
        rows = [rows[i] for i in order]
    ids = torch.tensor([[tokenizer.pad_token_id] * (P - len(p)) + p for p in rows])  # (B, P) left-padded
    mask = torch.tensor([[0] * (P - len(p)) + [1] * len(p) for p in rows])  # (B, P)
    return ids, mask


def _generate_both(tokenizer, model, ids, mask, sample: bool, new_tokens: int = 12):
    """(plain generate's tokens, shared generation's tokens, the cache the shared one decoded from)."""
    config = GenerationConfig(
        max_new_tokens=new_tokens,
        do_sample=sample,
        temperature=1.0,
        top_k=0,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=None,
    )
    calls = []

    def counted(**kwargs):
        calls.append(kwargs)
        return model.generate(**kwargs)

    torch.manual_seed(1)
    plain = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
    torch.manual_seed(1)
    shared = generate_with_shared_prefill(model, counted, ids, mask, generation_config=config)
    return plain, shared, calls[0].get("cache", calls[0].get("past_key_values"))


@pytest.mark.parametrize("architecture", ["llama", "qwen2"])
@pytest.mark.parametrize("sample", [False, True], ids=["greedy", "sampled"])
def test_rows_of_a_prompt_decode_from_one_cached_copy_with_the_same_tokens(tokenizer, architecture, sample):
    torch.manual_seed(0)
    model = tiny_model(
        tokenizer,
        hidden_size=64,
        intermediate_size=128,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        architecture=architecture,
    ).eval()
    ids, mask = _prompts(tokenizer)
    plain, shared, cache = _generate_both(tokenizer, model, ids, mask, sample)
    assert torch.equal(shared, plain)
    assert isinstance(cache, SharedPrefixCache)
    layer = cache.layers[0]
    assert layer.prefix_keys.size(0) == 2 and layer.group_size == 3  # prefilled for 2 prompts, decoded for 6 rows
    assert cache.get_seq_length() == ids.size(1) - 1 + 12  # the prompt's last token is decoded with the row's own
    assert DECODE_LAYOUT.get() is None  # the attention is the model's own again after generate


def test_rows_out_of_group_order_decode_from_copies_of_the_prefill(tokenizer, monkeypatch, caplog):
    import r1lite.speedups.decode_cache as shared_decode

    monkeypatch.setattr(shared_decode, "_said", set())
    torch.manual_seed(0)
    model = tiny_model(tokenizer, hidden_size=64, intermediate_size=128, num_layers=2).eval()
    ids, mask = _prompts(tokenizer, order=[0, 3, 1, 4, 2, 5])
    with caplog.at_level("INFO", logger="r1lite.speedups.decode_cache"):
        plain, shared, cache = _generate_both(tokenizer, model, ids, mask, sample=False)
        _generate_both(tokenizer, model, ids, mask, sample=False)
    assert torch.equal(shared, plain)
    assert isinstance(cache, DynamicCache) and cache.layers[0].keys.size(0) == 6  # prefilled for 2, copied to 6
    said = [r.message for r in caplog.records if "shared-prefix decoding off" in r.message]
    assert said == [
        "shared-prefix decoding off (the rows of a prompt are not contiguous and equally many): "
        "each row decodes from a copy of its prompt's cache"
    ]  # once, however many generations


def test_a_model_it_cannot_extend_decodes_from_copies_of_the_prefill(tokenizer):
    torch.manual_seed(0)
    model = tiny_model(tokenizer, hidden_size=64, intermediate_size=128, num_layers=2).eval()
    model.config.attn_logit_softcapping = 30.0  # refused by why_not (Llama ignores the field)
    ids, mask = _prompts(tokenizer)
    plain, shared, cache = _generate_both(tokenizer, model, ids, mask, sample=False)
    assert torch.equal(shared, plain)
    assert isinstance(cache, DynamicCache) and model.config._attn_implementation == "sdpa"


def test_the_decode_context_is_left_after_an_error(tokenizer):
    model = tiny_model(tokenizer).eval()
    ids, mask = _prompts(tokenizer)

    def failing(**kwargs):
        assert isinstance(DECODE_LAYOUT.get(), SharedPrefixCache)
        raise RuntimeError("generation failed")

    with pytest.raises(RuntimeError, match="generation failed"):
        generate_with_shared_prefill(model, failing, ids, mask, generation_config=GenerationConfig(max_new_tokens=2))
    assert DECODE_LAYOUT.get() is None


def test_beam_search_and_cache_reordering_are_refused_with_a_reason(tokenizer):
    layer = GroupPrefixLayer(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4), 2)
    with pytest.raises(NotImplementedError, match="no beam search"):
        layer.reorder_cache(torch.tensor([1, 0]))
    calls = []
    model = tiny_model(tokenizer).eval()
    ids, mask = _prompts(tokenizer)
    generate_with_shared_prefill(
        model, lambda **kw: calls.append(kw), ids, mask, generation_config=GenerationConfig(num_beams=2)
    )
    assert set(calls[0]) == {"input_ids", "attention_mask", "generation_config"}  # plain generate: no cache of ours
