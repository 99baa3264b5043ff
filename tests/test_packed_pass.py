"""The shared-prefix training pass equals TRL's unshared one: per-token log-probs and every gradient (fp32)."""

import pytest
import torch

from r1lite.models import tiny_model
from r1lite.speedups.attention import PackedLayout, grouped_attention, use_grouped_attention, why_not
from r1lite.speedups.packed_pass import pack, packed_logits, prompt_groups

from conftest import REPO


def _batch(pad: int, generator: torch.Generator, prompt_lengths=(7, 4), group=3, C=6, vocab=400):
    """TRL's layout: prompts left-padded to P, completions right-padded to C; rows of a prompt shuffled."""
    P = max(prompt_lengths)
    rows = []
    for lp in prompt_lengths:
        prompt = torch.randint(5, vocab, (lp,), generator=generator)
        for _ in range(group):
            length = int(torch.randint(1, C + 1, (1,), generator=generator))
            completion = torch.randint(5, vocab, (length,), generator=generator)
            ids = torch.cat([torch.full((P - lp,), pad), prompt, completion, torch.full((C - length,), pad)])
            mask = torch.cat([torch.zeros(P - lp), torch.ones(lp), torch.ones(length), torch.zeros(C - length)])
            rows.append((ids, mask.long()))
    order = torch.randperm(len(rows), generator=generator)  # TRL shuffles rows within a generation batch
    ids = torch.stack([rows[i][0] for i in order])  # (B, P+C)
    mask = torch.stack([rows[i][1] for i in order])  # (B, P+C)
    return ids, mask, C


def _unshared_logps(model, ids, mask, C):
    logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=C + 1).logits[:, :-1]  # (B, C, V), TRL's path
    return torch.log_softmax(logits.float(), -1).gather(-1, ids[:, -C:, None]).squeeze(-1)  # (B, C)


def _shared_logps(model, ids, mask, C):
    groups = prompt_groups(ids[:, :-C], mask[:, :-C])
    logits = packed_logits(model, ids, mask, C, groups, autocast=_no_autocast)
    return torch.log_softmax(logits.float(), -1).gather(-1, ids[:, -C:, None]).squeeze(-1)  # (B, C)


class _no_autocast:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("architecture", ["llama", "qwen2"])
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_log_probs_and_gradients_equal_the_unshared_pass(tokenizer, architecture, attention):
    _assert_equal_passes(tokenizer, architecture, attention)


@pytest.mark.parametrize("reentrant", [False, True])
def test_equal_under_gradient_checkpointing(tokenizer, reentrant):
    """Checkpointed layers recompute their forward in the backward pass: the layout travels with them."""
    _assert_equal_passes(tokenizer, "qwen2", "sdpa", checkpointing={"use_reentrant": reentrant})


def _assert_equal_passes(tokenizer, architecture, attention, checkpointing=None):
    torch.manual_seed(0)
    model = tiny_model(
        tokenizer,
        architecture=architecture,
        hidden_size=64,
        intermediate_size=128,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
    ).float()
    model.config._attn_implementation = attention
    if checkpointing is not None:
        model.train()
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=checkpointing)
        model.enable_input_require_grads()  # reentrant checkpointing needs an input that requires grad
    ids, mask, C = _batch(tokenizer.pad_token_id, torch.Generator().manual_seed(1))
    completion_mask = mask[:, -C:].float()  # (B, C)

    reference = _unshared_logps(model, ids, mask, C)  # (B, C)
    (reference * completion_mask).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()

    shared = _shared_logps(model, ids, mask, C)  # (B, C)
    (shared * completion_mask).sum().backward()
    assert (shared - reference).mul(completion_mask).abs().max() < 1e-5
    for name, param in model.named_parameters():
        torch.testing.assert_close(param.grad, grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_packing_layout():
    # two prompts (lengths 2 and 1), completions of 2 tokens; row order mixes the groups
    ids = torch.tensor([[0, 8, 9, 1, 2], [0, 8, 9, 3, 0], [0, 0, 7, 4, 5]])  # (B=3, P=3 + C=2)
    mask = torch.tensor([[0, 1, 1, 1, 1], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1]])
    groups = prompt_groups(ids[:, :3], mask[:, :3])
    assert groups == [[0, 1], [2]]
    packed, positions, index, layout = pack(ids, mask, 2, groups)
    # [prompt[:-1] | prompt[-1] completion ...]: each row's segment repeats the prompt's last token
    assert packed.tolist() == [[8, 9, 1, 2, 9, 3, 0], [7, 4, 5, 0, 0, 0, 0]]
    assert positions[0].tolist() == [0, 1, 2, 3, 1, 2, 3]  # each segment continues from the prompt
    L = packed.size(1)
    assert (index % L).tolist() == [[1, 2], [4, 5], [0, 1]]  # position t of a row's segment predicts its token t
    assert index[2, 0] // L == 1  # row 2 is group 1's
    assert layout == PackedLayout(prompt_lengths=(1, 0), group_sizes=(2, 1), completion_length=3)


@pytest.mark.parametrize("heads,kv_heads", [(4, 4), (4, 2)], ids=["mha", "gqa"])
def test_grouped_attention_equals_one_masked_attention_over_the_packed_sequence(heads, kv_heads):
    """The two-call computation against the definition: one softmax over the packed sequence under the mask
    "prompt causally; each completion: the whole prompt, and itself causally"."""
    g = torch.Generator().manual_seed(0)
    layout = PackedLayout(prompt_lengths=(5, 3), group_sizes=(3, 2), completion_length=4)
    L, d = 5 + 3 * 4 + 1, 8  # one padding position after group 0, 8 after group 1
    q = torch.randn(2, heads, L, d, generator=g, dtype=torch.float64)
    k = torch.randn(2, kv_heads, L, d, generator=g, dtype=torch.float64)
    v = torch.randn(2, kv_heads, L, d, generator=g, dtype=torch.float64)
    out = grouped_attention(q, k, v, layout)  # (G, L, H, d)
    for group, (lp, n) in enumerate(zip(layout.prompt_lengths, layout.group_sizes, strict=True)):
        segment = torch.tensor([-1] * lp + [i for i in range(n) for _ in range(4)])  # -1: prompt, i: completion i
        used = segment.numel()
        qs, ks = segment[:, None], segment[None, :]
        allowed = torch.ones(used, used, dtype=torch.bool).tril() & ((qs == ks) | (ks == -1))
        keys = k[group, :, :used].repeat_interleave(heads // kv_heads, 0)  # (H, used, d)
        values = v[group, :, :used].repeat_interleave(heads // kv_heads, 0)
        scores = (q[group, :, :used] @ keys.transpose(-1, -2)) / d**0.5  # (H, used, used)
        expected = scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ values  # (H, used, d)
        torch.testing.assert_close(out[group, :used], expected.transpose(0, 1))
        assert not out[group, used:].any()  # padding positions: zeros


def test_switched_attention_is_the_original_outside_the_packed_pass(tokenizer, tmp_path):
    import json

    torch.manual_seed(0)
    model = tiny_model(
        tokenizer, hidden_size=64, intermediate_size=128, num_layers=2, num_heads=4, num_kv_heads=2
    ).eval()
    batch = tokenizer(["Using the numbers [3, 7]", "Hi"], return_tensors="pt", padding=True)
    before = model(**batch).logits
    use_grouped_attention(model)
    assert model.config._attn_implementation == "r1lite_grouped_sdpa"
    assert why_not(model) is None
    assert torch.equal(model(**batch).logits, before)
    model.save_pretrained(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert "r1lite" not in json.dumps(saved)  # a saved model loads without r1lite


@pytest.mark.parametrize(
    "setting,reason",
    [
        (dict(_attn_implementation="flash_attention_2"), "attention implementation 'flash_attention_2'"),
        (dict(use_sliding_window=True), "sliding-window"),
        (dict(attn_logit_softcapping=30.0), "soft-capping"),
    ],
)
def test_models_it_cannot_extend_fall_back(tokenizer, setting, reason):
    model = tiny_model(tokenizer)
    assert why_not(model) is None
    for name, value in setting.items():
        setattr(model.config, name, value)
    assert reason in why_not(model)


def _run(tmp_path, name, extra):
    import json

    from r1lite.training import zero

    (tmp_path / "shared_rewards.py").write_text(
        "def length_reward(prompts, completions, **kwargs):\n    return [(len(c) % 10) / 9 for c in completions]\n"
    )
    summary = zero.main(
        [
            "--config",
            str(REPO / "configs/tiny/zero.yaml"),
            "--output_dir",
            str(tmp_path / name),
            "--reward_funcs",
            "equation_reward",
            "shared_rewards:length_reward",
            "--bf16",
            "false",
            "--max_steps",
            "3",
            "--eval_at_end",
            "false",
            # SGD: an update proportional to the gradient, so float-rounding differences stay that small
            # (Adam's first step is about sign(gradient): rounding noise on a ~0 gradient flips it)
            "--optim",
            "sgd",
            "--learning_rate",
            "0.5",
            # torch's sampler: an inverse-CDF draw reads a sum over the whole vocabulary, so
            # rounding-level differences between the updates can move a token (a test of its own)
            "--inverse_cdf_sampling",
            "false",
            *extra,
        ]
    )
    losses = [h["loss"] for h in summary["log_history"] if "loss" in h]
    rollouts = sorted((tmp_path / name / "rollouts").glob("step-*.jsonl"))
    completions = [[json.loads(line)["completion"] for line in path.read_text().splitlines()] for path in rollouts]
    return losses, completions


@pytest.mark.parametrize(
    "extra",
    [
        # gradient accumulation, two optimisation passes per generation, a KL penalty to the reference model;
        # the shared side also splits the generation batch by whole groups (group_shuffle), the plain side by rows
        ["--gradient_accumulation_steps", "2", "--num_iterations", "2", "--beta", "0.1"],
        # LoRA (the reference model is the base with the adapter disabled)
        [
            "--use_peft",
            "true",
            "--lora_r",
            "4",
            "--lora_target_modules",
            "q_proj",
            "v_proj",
            "--beta",
            "0.1",
            "--lora_dropout",
            "0",
        ],  # dropout draws masks of a different shape when packed: equal in law, not bitwise
    ],
    ids=["accumulation-iterations-kl", "lora"],
)
def test_runs_with_and_without_shared_prefixes_agree(tmp_path, tiny_model_path, monkeypatch, extra):
    monkeypatch.syspath_prepend(str(tmp_path))
    shared = _run(tmp_path, "shared", [*extra, "--shared_prefix", "true"])
    plain = _run(tmp_path, "plain", [*extra, "--shared_prefix", "false"])
    assert shared[1] == plain[1]  # the same completions at every step: the updates agreed
    assert len(shared[0]) == 3 and any(loss != 0 for loss in plain[0])
    assert shared[0] == pytest.approx(plain[0], rel=1e-4, abs=1e-6)
