"""One GRPO step at TinyZero's shape on one GPU, with random weights: generation tokens/s and training MFU.

No download: the model is built from a Qwen2.5-3B-shaped config (36 layers, width 2048, GQA 16/2
heads, MLP 11008, vocabulary 151,936) with random weights, on the default model's tokenizer
(its ids fit in the larger vocabulary). A random model never closes its tags, so every
completion runs to the token cap: the worst case of the shape.

As r1lite trains: fp32 master weights, bf16 compute (autocast). Measured on ONE GPU (the script
pins the first visible device: TRL refuses a multi-GPU DataParallel step), CUDA synchronised
around every timed region:
  1. the bf16 matmul ceiling (n x n, best of 5), beside the device's dense bf16 peak from its data
     sheet (H100/H200 SXM 989 TFLOP/s, A100 312; ``--peak_tflops`` for others);
  2. generation with HF ``generate`` (sampling, KV cache): ``--rows`` sequences of up to
     ``--new_tokens`` tokens from countdown prompts (TinyZero: 1,024); tokens/s;
  3. the training pass: forward + backward (activation checkpointing) + AdamW over the same rows,
     log-probabilities through the trainer's own path (``R1ZeroTrainer._get_per_token_logps_and_entropies``:
     TRL's fused chunked LM head on CUDA); MFU = model FLOPs / time / the device's peak, and the
     share of the measured matmul ceiling;
  4. one full step of r1lite's GRPO trainer (``R1ZeroTrainer``) at the same shape: seconds.

    python bench/bench_gpu.py                                  # on a GPU machine
    python bench/bench_gpu.py --shape tiny --device cpu         # smoke run anywhere (what the tests do)
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from bench_step import matmul_ceiling, train_flops  # noqa: E402

SHAPES = {
    # Qwen2.5-3B's config.json, weights random
    "qwen2.5-3b": dict(
        hidden_size=2048,
        intermediate_size=11008,
        num_hidden_layers=36,
        num_attention_heads=16,
        num_key_value_heads=2,
        vocab_size=151936,
        tie_word_embeddings=True,
        rope_theta=1e6,
    ),
    "tiny": dict(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        vocab_size=49152,
        tie_word_embeddings=True,
    ),
}

# Dense (no sparsity) bf16 tensor-core peaks from NVIDIA's data sheets, TFLOP/s; matched by device name.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 70.0}


def device_peak_tflops(name: str) -> float | None:
    """The data-sheet dense bf16 peak of a device by its name (first match, most specific first), or None."""
    return next((peak for key, peak in PEAK_BF16_TFLOPS.items() if key in name), None)


def pin_one_gpu() -> None:
    """Use only the first visible GPU (before CUDA initialises): the Trainer wraps a model in DataParallel
    when a single process sees several GPUs, and TRL's GRPO refuses that after the benchmark's other steps ran."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = visible.split(",")[0] if visible else "0"


def build_model(shape: str, device: str):
    """A random model of ``shape`` in fp32 (the master weights; compute runs in bf16 autocast on a GPU)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(**SHAPES[shape], max_position_embeddings=4096, attn_implementation="sdpa")
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(config)
    return model


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(device: str, fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after one warm-up, CUDA synchronised around each."""
    times = []
    for i in range(repeats + 1):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", choices=sorted(SHAPES), default="qwen2.5-3b")
    p.add_argument("--device", default="cuda")
    p.add_argument("--rows", type=int, default=64, help="sequences per step (prompts x generations)")
    p.add_argument("--num_generations", type=int, default=8)
    p.add_argument("--new_tokens", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--peak_tflops", type=float, default=None, help="the device's dense bf16 peak, if not in the table")
    p.add_argument("--skip_trainer", action="store_true", help="skip the full R1ZeroTrainer step (4)")
    a = p.parse_args(argv)
    cuda = a.device.startswith("cuda")
    if cuda:
        pin_one_gpu()
        a.device = "cuda:0"
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else nullcontext()

    from r1lite.models import load_tokenizer
    from r1lite.task import countdown
    from r1lite.task.prompts import add_prompts

    tokenizer = load_tokenizer()
    tokenizer.padding_side = "left"
    puzzles = add_prompts(
        countdown.generate(max(1, a.rows // a.num_generations), min_numbers=3, max_numbers=4, seed=0),
        "base",
        tokenizer,
    )
    prompts = [r["prompt"] for r in puzzles for _ in range(a.num_generations)][: a.rows]
    batch = tokenizer(prompts, return_tensors="pt", padding=True).to(a.device)
    prompt_len = batch["input_ids"].shape[1]
    model = build_model(a.shape, a.device)
    ceiling = matmul_ceiling(torch.bfloat16 if cuda else torch.float32, 8192 if cuda else 512, a.device)  # GFLOP/s
    peak = a.peak_tflops or (device_peak_tflops(torch.cuda.get_device_name(0)) if cuda else None)
    trainer = build_trainer(model, tokenizer, puzzles, a)

    # 2. generation: a random model never emits EOS, so min_new_tokens pins the length to the cap
    def generate():
        with torch.no_grad(), autocast:
            model.generate(
                **batch,
                max_new_tokens=a.new_tokens,
                min_new_tokens=a.new_tokens,
                do_sample=True,
                temperature=1.0,
                top_k=None,
                top_p=1.0,
                pad_token_id=tokenizer.pad_token_id,
            )

    model.eval()
    t_gen = timed(a.device, generate, a.repeats)

    # 3. training pass through the trainer's log-probability path
    model.train()
    model.gradient_checkpointing_enable()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    ids = torch.cat(
        [batch["input_ids"], torch.randint(0, tokenizer.vocab_size, (a.rows, a.new_tokens), device=a.device)], 1
    )  # (B, P+C)
    mask = torch.cat(
        [batch["attention_mask"], torch.ones(a.rows, a.new_tokens, dtype=torch.long, device=a.device)], 1
    )  # (B, P+C)
    micro = max(1, min(a.rows, 8))

    def train_pass():
        for s in range(0, a.rows, micro):  # gradient accumulation over micro-batches, as the trainer does
            with autocast:
                logps, _, _ = trainer._get_per_token_logps_and_entropies(
                    model, ids[s : s + micro], mask[s : s + micro], a.new_tokens, batch_size=micro
                )  # (b, C)
            (-logps.mean()).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    t_train = timed(a.device, train_pass, a.repeats)
    # activation checkpointing recomputes the forward: 8 instead of 6 FLOPs per parameter and token
    flops = train_flops(model, a.rows, prompt_len, a.new_tokens) * 8 / 6
    result = {
        "matmul_gflops": ceiling,
        "peak_tflops": peak,
        "generate_s": t_gen,
        "generate_tokens_per_s": a.rows * a.new_tokens / t_gen,
        "train_s": t_train,
        "train_tflops": flops / t_train / 1e12,
        "of_matmul_ceiling": flops / t_train / 1e9 / ceiling,
        "mfu": flops / t_train / 1e12 / peak if peak else None,
    }
    model.gradient_checkpointing_disable()

    # 4. one full step of the r1lite trainer at this shape
    if not a.skip_trainer:
        result["trainer_step_s"] = trainer_step(trainer, a.device)

    device = torch.cuda.get_device_name(0) if cuda else "cpu"
    print("command: python " + " ".join(shlex.quote(x) for x in sys.argv))
    print(
        f"shape {a.shape} ({sum(p.numel() for p in model.parameters()) / 1e9:.2f}B parameters, random), {device}, "
        f"fp32 weights, {'bf16 autocast' if cuda else 'fp32'}, {a.rows} rows, prompt {prompt_len} tokens, "
        f"{a.new_tokens} new tokens, medians of {a.repeats}"
    )
    print(
        f"matmul ceiling        {ceiling / 1000:9.1f} TFLOP/s measured; device peak "
        + (f"{peak:.0f} TFLOP/s (data sheet, dense bf16)" if peak else "unknown (pass --peak_tflops)")
    )
    print(f"generation            {t_gen:9.2f} s   {result['generate_tokens_per_s']:9.0f} tokens/s")
    mfu = f"MFU {100 * result['mfu']:.1f}% of peak" if peak else "MFU n/a (no peak)"
    print(
        f"training pass         {t_train:9.2f} s   {result['train_tflops']:9.1f} TFLOP/s   {mfu}, "
        f"{100 * result['of_matmul_ceiling']:.1f}% of the measured matmul ceiling"
    )
    if "trainer_step_s" in result:
        print(f"R1ZeroTrainer step    {result['trainer_step_s']:9.2f} s")
    return result


def build_trainer(model, tokenizer, puzzles, a):
    """An ``R1ZeroTrainer`` at the benchmark's shape (its log-prob path is timed in 3; it trains in 4)."""
    from r1lite.config import R1ZeroConfig
    from r1lite.training.trainer import R1ZeroTrainer
    from rewards import get_reward_funcs

    cuda = a.device.startswith("cuda")
    args = R1ZeroConfig(
        output_dir=tempfile.mkdtemp(prefix="bench_gpu-"),
        rollout_log=False,
        max_steps=2,
        per_device_train_batch_size=min(a.rows, 8),
        gradient_accumulation_steps=max(1, a.rows // min(a.rows, 8)),
        num_generations=a.num_generations,
        max_completion_length=a.new_tokens,
        learning_rate=1e-6,
        beta=0.0,
        loss_type="dapo",
        bf16=cuda,
        use_cpu=not cuda,
        gradient_checkpointing=True,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
    )
    return R1ZeroTrainer(
        model=model,
        reward_funcs=get_reward_funcs(["tinyzero_reward"]),
        args=args,
        train_dataset=puzzles,
        processing_class=tokenizer,
    )


def trainer_step(trainer, device: str) -> float:
    """Seconds of the second step of ``trainer`` (the first is warm-up), CUDA synchronised."""
    from transformers import TrainerCallback

    times = []

    class Timer(TrainerCallback):
        def on_step_begin(self, *args, **kwargs):
            sync(device)
            self.start = time.perf_counter()

        def on_step_end(self, *args, **kwargs):
            sync(device)
            times.append(time.perf_counter() - self.start)

    trainer.add_callback(Timer())
    trainer.train()
    return times[-1]


if __name__ == "__main__":
    main()
