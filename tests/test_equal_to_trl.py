"""Equal to TRL: every speed hook of R1ZeroTrainer samples and trains what TRL's GRPOTrainer would.

This module is the specification of r1lite's speed layer. It builds TRL's ``GRPOTrainer`` and
``R1ZeroTrainer`` on the same tiny Llama and Qwen2 models (the classes of SmolLM2 and Qwen2.5) and
feeds them batches shaped like real ones:

- prompts whose lengths differ by 1 to 20 tokens, so every batch is left-padded;
- several rows per prompt (GRPO groups of 3);
- stop strings (rows that end early, an EOS appended, others truncated);
- gradient accumulation with ``steps_per_generation = 2``, ``num_iterations = 2`` and ``beta > 0``
  (old and reference log-probs, micro-batches split from one generation batch).

With each switch of the speed layer on alone, then all together, it asserts:

- near-greedy generation (temperature 0.01) gives TRL's tokens, and the first decoded token's
  logits agree to ``LOGIT_TOL`` (see there);
- the per-token log-probs and entropies, the loss of a training step and the gradients agree in
  fp32 (``LOGP_TOL``, ``GRAD_TOL``), on one generation batch given to both trainers.

``inverse_cdf_sampling`` draws from the same distribution with a different random stream by design:
it is checked for distribution (``test_inverse_cdf_draws_follow_the_distribution``), and turned off
where tokens are compared. Stop strings are an R1-Zero feature TRL's HF path lacks, so runs with
them compare against ``R1ZeroTrainer`` with the whole speed layer off, itself compared against TRL
without them. A new hook joins ``SWITCHES``. ``python bench/bench_equality.py`` runs the same
comparison on the real default model in bf16.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from datasets import Dataset
from torch.utils._python_dispatch import TorchDispatchMode
from transformers import AutoModelForCausalLM
from trl import GRPOConfig, GRPOTrainer

from r1lite.config import R1ZeroConfig
from r1lite.models import tiny_model
from r1lite.training.trainer import R1ZeroTrainer

# The speed layer's switches (R1ZeroConfig fields); each is tested alone and all together, and the one
# switch of the whole layer (speedups: false) gives TRL's path.
SWITCHES = ("shared_prefix", "completion_only_logits", "cast_weights_once")
OFF = {name: False for name in (*SWITCHES, "inverse_cdf_sampling")}
SPEEDUPS_OFF = {"speedups": False}  # the reference of the stop-string runs
SETTINGS = {
    "speedups-false": SPEEDUPS_OFF,
    **{name: {**OFF, name: True} for name in SWITCHES},
    "all": {**OFF, **dict.fromkeys(SWITCHES, True)},
}

# fp32 tolerances. The hooks compute the same sums in another order (the prompt once per group, rows
# batched differently, fp32 attention on the CPU): each logit is a sum over 64-wide dot products through
# two layers, so its rounding error is a few ulps of its magnitude (<= ~10 here): ~1e-6; measured 4e-6.
LOGIT_TOL = 1e-4
LOGP_TOL = 1e-4  # log-softmax of those logits: log-probs of these random tokens reach -30; measured 1.1e-5
# A gradient entry sums thousands of products, in another order on each side: its rounding error scales
# with the tensor's largest entries, not with its own (an entry near 0 can carry their error). So the
# bound is relative to the tensor's largest entry; measured 1e-6 (embed_tokens: 1.5e-5 on entries up to 19).
GRAD_TOL = 1e-5


def assert_close_to_scale(got: torch.Tensor, expected: torch.Tensor, tol: float, name: str, floor=0.0) -> None:
    scale = expected.abs().max().clamp(min=1e-12)
    error = (got - expected).abs().max()
    assert error <= tol * scale + floor, (
        f"{name}: largest difference {error:.3g}, {error / scale:.3g} of its scale {scale:.3g}"
    )


GROUP = 3  # completions per prompt
PROMPTS = [  # token lengths differ by 1 to 20 (asserted in test_batch_is_realistic)
    "Make 10.",
    "Using 3 and 7, make 10.",
    "Using the numbers [3, 7, 25], create an equation that equals 46. Show your work.",
    "Using the numbers [19, 36, 55, 7], create an equation that equals 65. You can use basic arithmetic "
    "operations (+, -, *, /) and each number can only be used once.",
]


# Words the near-greedy models write in two of the four prompts' completions, after 2 to 8 tokens.
STOP_STRINGS = {"llama": [" insertion", " swollen"], "qwen2": [" Baking", " effortlessly"]}


def _model(tokenizer, architecture):
    """A tiny model whose next-token choices are clear: weights of std 0.15, so the top two logits differ by
    far more than rounding (at the default init they tie within 1e-4, and greedy decoding is a coin toss)."""
    model = tiny_model(
        tokenizer,
        architecture=architecture,
        hidden_size=64,
        intermediate_size=128,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
    ).float()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() == 2 or name.endswith("bias"):  # Qwen2's q/k/v biases too (zeros at init)
                param.copy_(torch.randn(param.shape, generator=generator) * 0.15)
    return model


def _reward(completions, **kwargs):
    """Deterministic and varied, so advantages are not zero."""
    return [float(sum(map(ord, c)) % 7) for c in completions]


@pytest.fixture(scope="module")
def model_paths(tokenizer, tmp_path_factory):
    """Each architecture's tiny model saved once: TRL builds the reference model (beta > 0) from the path."""
    paths = {}
    for architecture in ("llama", "qwen2"):
        path = tmp_path_factory.mktemp(architecture)
        _model(tokenizer, architecture).save_pretrained(path)
        tokenizer.save_pretrained(path)
        paths[architecture] = str(path)
    return paths


def _trainer(kind, tokenizer, path, tmp_path, stop_strings=(), temperature=1.0, **switches):
    common = dict(
        output_dir=str(tmp_path / kind),
        per_device_train_batch_size=2 * GROUP,
        num_generations=GROUP,
        gradient_accumulation_steps=2,
        steps_per_generation=2,
        num_iterations=2,
        beta=0.1,
        max_completion_length=10,
        temperature=temperature,
        learning_rate=1.0,
        optim="sgd",
        lr_scheduler_type="constant",
        max_steps=2,
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        seed=0,
        disable_dropout=True,
    )
    dataset = Dataset.from_list([{"prompt": p} for p in PROMPTS])
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    if kind == "trl":
        args = GRPOConfig(**common)
        cls = GRPOTrainer
    else:
        args = R1ZeroConfig(**common, stop_strings=list(stop_strings), rollout_log=False, **{**OFF, **switches})
        cls = R1ZeroTrainer
    trainer = cls(model=model, reward_funcs=_reward, args=args, train_dataset=dataset, processing_class=tokenizer)
    trainer.model.train()
    return trainer


def _generation_batch():
    return [{"prompt": p} for p in PROMPTS for _ in range(GROUP)]  # TRL's order: the rows of a prompt together


def _generate(trainer):
    """(completion ids per row, the first decoded token's logits (B, V)) of one near-greedy generation."""
    rows = len(PROMPTS) * GROUP
    firsts = []

    def record(module, args, output):
        if getattr(output, "logits", None) is not None and output.logits.size(0) == rows and not firsts:
            firsts.append(output.logits[:, -1].detach().float().clone())  # (B, V) generate's first step

    hook = trainer.model.register_forward_hook(record)
    try:
        torch.manual_seed(1)
        _, completion_ids, *_ = trainer._generate([x["prompt"] for x in _generation_batch()])
    finally:
        hook.remove()
    return completion_ids, firsts[0]


def test_batch_is_realistic(tokenizer):
    lengths = sorted(len(tokenizer(p).input_ids) for p in PROMPTS)
    gaps = [b - a for a, b in itertools.pairwise(lengths)]
    assert min(gaps) >= 1 and lengths[-1] - lengths[0] >= 20  # every batch left-pads, by 1 to 20+ tokens


@pytest.fixture(scope="module")
def reference(tokenizer, model_paths, tmp_path_factory):
    """TRL's results per architecture, computed once: generation, scored batch, log-probs, training."""
    results = {}
    for architecture, path in model_paths.items():
        folder = tmp_path_factory.mktemp(f"trl-{architecture}")
        generation = _generate(_trainer("trl", tokenizer, path, folder, temperature=0.01))
        trainer = _trainer("trl", tokenizer, path, folder)
        batch = _scored_batch(trainer, _completions(tokenizer))
        scores = _logps(trainer, batch)
        training = _train(_trainer("trl", tokenizer, path, folder), _completions(tokenizer))
        results[architecture] = dict(generation=generation, batch=batch, scores=scores, training=training)
    return results


@pytest.mark.parametrize("architecture", ["llama", "qwen2"])
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_near_greedy_generation_equals_trl(tokenizer, model_paths, reference, tmp_path, architecture, setting):
    expected, expected_first = reference[architecture]["generation"]
    ours = _trainer("r1lite", tokenizer, model_paths[architecture], tmp_path, temperature=0.01, **SETTINGS[setting])
    got, got_first = _generate(ours)
    assert (got_first - expected_first).abs().max() < LOGIT_TOL
    assert got == expected


@pytest.mark.parametrize("architecture", ["llama", "qwen2"])
def test_near_greedy_generation_with_stop_strings(tokenizer, model_paths, tmp_path, architecture):
    """Stop strings with the speed layer on give the tokens of R1ZeroTrainer with it off (the reference
    for an R1-Zero feature TRL's HF path lacks); some rows stop, others run to the cap."""
    stops = STOP_STRINGS[architecture]
    reference = _trainer(
        "plain", tokenizer, model_paths[architecture], tmp_path, stop_strings=stops, temperature=0.01, **SPEEDUPS_OFF
    )
    ours = _trainer(
        "r1lite",
        tokenizer,
        model_paths[architecture],
        tmp_path,
        stop_strings=stops,
        temperature=0.01,
        **SETTINGS["all"],
    )
    expected, expected_first = _generate(reference)
    got, got_first = _generate(ours)
    assert (got_first - expected_first).abs().max() < LOGIT_TOL
    assert got == expected
    eos = tokenizer.eos_token_id
    ended = [ids[-1] == eos and len(ids) < 11 for ids in expected]
    assert any(ended) and not all(ended)  # the batch holds stopped and unstopped rows


def _scored_batch(trainer, completions):
    """TRL's generation batch of ``completions`` (rewards, advantages, masks) as TRL builds it."""
    _fixed_generation(trainer, completions)
    return trainer._generate_and_score_completions(_generation_batch())


def _logps(trainer, batch):
    """Per-token log-probs and entropies (B, C) of the batch's completions, and the gradient of a
    weighted sum of them, through ``trainer``'s scoring path."""
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)  # (B, P+C)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)  # (B, P+C)
    C = batch["completion_ids"].size(1)
    trainer.model.zero_grad()
    logps, entropies, _ = trainer._get_per_token_logps_and_entropies(
        trainer.model, ids, mask, C, batch_size=2 * GROUP, compute_entropy=True
    )  # (B, C) each
    weights = batch["advantages"][:, None] * batch["completion_mask"]  # (B, C)
    (logps * weights).sum().backward()
    grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
    trainer.model.zero_grad()
    return logps.detach(), entropies, grads


def _fixed_generation(trainer, completions):
    """Make ``trainer`` generate ``completions`` (a fixed batch), so two trainers train on the same rows."""

    def generate(prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        return [list(c) for c in completions[: len(prompt_ids)]], None

    trainer._generate_single_turn = generate


def _train(trainer, completions):
    """Losses of two optimizer steps (one generation: 2 micro-batches x 2 iterations) and the update of each weight."""
    _fixed_generation(trainer, completions)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    updates = {n: p.detach() - before[n] for n, p in trainer.model.named_parameters()}
    return losses, updates, before


def _completions(tokenizer):
    """Rows of different lengths: some end with EOS early (as a stop string's rows do), some run to the cap."""
    eos = tokenizer.eos_token_id
    generator = torch.Generator().manual_seed(3)
    rows = []
    for i in range(len(PROMPTS) * GROUP):
        length = int(torch.randint(2, 11, (1,), generator=generator))
        ids = torch.randint(100, 5000, (length,), generator=generator).tolist()
        rows.append(ids[:-1] + [eos] if i % 3 else ids)
    return rows


@pytest.mark.parametrize("architecture", ["llama", "qwen2"])
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_log_probs_gradients_and_training_steps_equal_trl(
    tokenizer, model_paths, reference, tmp_path, architecture, setting
):
    """On one generation batch of both trainers: the per-token log-probs, entropies and gradients agree; then two
    SGD steps from it (accumulation, 2 iterations, KL) give the same losses and updates (lr x gradient, summed
    over the steps). Old log-probs, reference log-probs and the split into micro-batches (whole groups under
    shared prefixes, TRL's rows otherwise) all take part."""
    expected = reference[architecture]
    batch = expected["batch"]
    mask = batch["completion_mask"].bool()  # (B, C)
    assert mask.sum(1).min() < mask.sum(1).max()  # completions of different lengths: right padding too
    expected_logps, expected_entropy, expected_grads = expected["scores"]
    ours = _trainer("r1lite", tokenizer, model_paths[architecture], tmp_path, **SETTINGS[setting])
    got, got_entropy, got_grads = _logps(ours, batch)
    assert (got - expected_logps)[mask].abs().max() < LOGP_TOL
    assert (got_entropy - expected_entropy)[mask].abs().max() < LOGP_TOL
    assert set(got_grads) == set(expected_grads)
    for name, grad in expected_grads.items():
        assert_close_to_scale(got_grads[name], grad, GRAD_TOL, name)

    expected_losses, expected_updates, weights = expected["training"]
    losses, updates, _ = _train(ours, _completions(tokenizer))
    assert len(losses) == 2 and all(loss != 0 for loss in expected_losses)
    assert losses == pytest.approx(expected_losses, rel=1e-5, abs=1e-7)
    for name, update in expected_updates.items():
        assert update.abs().max() > 0, name  # every weight trained
        # floor: a weight's own rounding (its fp32 ulp) bounds how exactly an update of it can be read back
        floor = 2 * torch.finfo(torch.float32).eps * weights[name].abs().max()
        assert_close_to_scale(updates[name], update, GRAD_TOL, name, floor)


class _LargestLogits(TorchDispatchMode):
    """Records the element count of the largest vocabulary-wide tensor (last dimension V: logits, their
    softmax or gradient) any operation creates inside the block. TRL's fused head works in tiles of
    32,768 words, never V."""

    def __init__(self, vocabulary: int):
        super().__init__()
        self.vocabulary = vocabulary
        self.numel = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(tensor, torch.Tensor) and tensor.dim() > 1 and tensor.size(-1) == self.vocabulary:
                self.numel = max(self.numel, tensor.numel())
        return out


@pytest.mark.parametrize("triton", [True, False], ids=["fused-head", "cpu-logits"])
def test_shared_prefix_keeps_trls_fused_head(tokenizer, model_paths, reference, tmp_path, monkeypatch, triton):
    """Where TRL's fused, chunked LM head serves (a Triton device: ``use_triton`` switched on here), the shared-prefix
    pass scores through it: the model is called with ``fused_lm_head=True`` and no vocabulary-wide tensor exists.
    Same log-probs and gradients as TRL's. On the CPU (``use_triton`` off) the pass builds completion logits."""
    import r1lite.speedups.hooks as hooks

    monkeypatch.setattr(hooks, "use_triton", lambda device: triton)
    expected = reference["qwen2"]
    batch = expected["batch"]
    ours = _trainer("r1lite", tokenizer, model_paths["qwen2"], tmp_path, **SETTINGS["all"])
    calls = []
    forward = ours.model.forward

    def recorded(*args, **kwargs):
        calls.append(sorted(kwargs))
        return forward(*args, **kwargs)

    monkeypatch.setattr(ours.model, "forward", recorded)
    with _LargestLogits(len(tokenizer)) as largest:
        got, got_entropy, got_grads = _logps(ours, batch)
    C = batch["completion_ids"].size(1)
    full_logits = 2 * GROUP * C * len(tokenizer)  # (b, C, V) logits of one chunk of b = batch_size rows
    assert calls and all(("fused_lm_head" in kwargs) == triton for kwargs in calls)
    assert largest.numel == 0 if triton else largest.numel >= full_logits
    mask = batch["completion_mask"].bool()
    expected_logps, expected_entropy, expected_grads = expected["scores"]
    assert (got - expected_logps)[mask].abs().max() < LOGP_TOL
    assert (got_entropy - expected_entropy)[mask].abs().max() < LOGP_TOL
    for name, grad in expected_grads.items():
        assert_close_to_scale(got_grads[name], grad, GRAD_TOL, name)


def test_inverse_cdf_draws_follow_the_distribution():
    """Inverse-CDF sampling draws what torch.multinomial draws, in law: a chi-square test over 20,000 draws
    from a skewed distribution with zeros (which are never drawn)."""
    from r1lite.speedups.sampling import inverse_cdf_sample

    torch.manual_seed(0)
    probs = torch.tensor([0.5, 0.0, 0.25, 0.125, 0.0625, 0.0625, 0.0])
    draws = inverse_cdf_sample(probs.expand(20000, -1)).squeeze(1)  # (20000,)
    counts = torch.bincount(draws, minlength=probs.numel()).double()
    assert counts[probs == 0].sum() == 0
    expected = probs.double() * draws.numel()
    chi2 = ((counts - expected)[probs > 0] ** 2 / expected[probs > 0]).sum()
    assert chi2 < 20.5  # chi-square, 4 degrees of freedom: P(> 20.5) < 0.0004
