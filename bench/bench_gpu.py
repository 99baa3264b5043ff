"""One GRPO step at TinyZero's shape on a GPU, with random weights: generation tokens/s and training MFU.

No download: the model is built from a Qwen2.5-3B-shaped config (36 layers, width 2048, GQA 16/2
heads, MLP 11008, vocabulary 151,936) with random weights, on the default model's tokenizer
(its ids fit in the larger vocabulary). A random model never closes its tags, so every
completion runs to the token cap: the worst case of the shape.

Measured, in one process on one GPU:
  1. the bf16 matmul ceiling (n x n, best of 5);
  2. generation with HF ``generate`` (sampling, KV cache): ``--rows`` sequences of up to
     ``--new_tokens`` tokens from countdown prompts (TinyZero: 1,024); tokens/s;
  3. the training pass: forward + backward (activation checkpointing) + AdamW over the same
     rows, loss on completion positions; MFU = model FLOPs / time / the measured bf16 ceiling;
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
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from bench_step import matmul_ceiling, train_flops  # noqa: E402

SHAPES = {
    # Qwen2.5-3B's config.json, weights random
    "qwen2.5-3b": dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
                       num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True, rope_theta=1e6),
    "tiny": dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                 num_key_value_heads=1, vocab_size=49152, tie_word_embeddings=True),
}


def build_model(shape: str, dtype: torch.dtype, device: str):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(**SHAPES[shape], max_position_embeddings=4096, attn_implementation="sdpa")
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(dtype)
    return model


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", choices=sorted(SHAPES), default="qwen2.5-3b")
    p.add_argument("--device", default="cuda")
    p.add_argument("--rows", type=int, default=64, help="sequences per step (prompts x generations)")
    p.add_argument("--num_generations", type=int, default=8)
    p.add_argument("--new_tokens", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--skip_trainer", action="store_true", help="skip the full R1ZeroTrainer step (4)")
    a = p.parse_args(argv)
    dtype = torch.bfloat16 if a.device.startswith("cuda") else torch.float32

    from r1lite import countdown
    from r1lite.models import load_tokenizer
    from r1lite.prompts import add_prompts

    tokenizer = load_tokenizer()
    tokenizer.padding_side = "left"
    puzzles = add_prompts(countdown.generate(max(1, a.rows // a.num_generations), min_numbers=3, max_numbers=4, seed=0),
                          "base", tokenizer)
    prompts = [r["prompt"] for r in puzzles for _ in range(a.num_generations)][: a.rows]
    batch = tokenizer(prompts, return_tensors="pt", padding=True).to(a.device)
    prompt_len = batch["input_ids"].shape[1]
    model = build_model(a.shape, dtype, a.device)
    ceiling = matmul_ceiling(dtype, 8192 if a.device.startswith("cuda") else 512, a.device)

    # 2. generation: a random model never emits EOS, so min_new_tokens pins the length to the cap
    model.eval()
    gen_times = []
    for i in range(a.repeats + 1):
        sync(a.device)
        start = time.perf_counter()
        with torch.no_grad():
            model.generate(**batch, max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens, do_sample=True,
                           temperature=1.0, top_k=None, top_p=1.0, pad_token_id=tokenizer.pad_token_id)
        sync(a.device)
        if i:
            gen_times.append(time.perf_counter() - start)
    t_gen = statistics.median(gen_times)

    # 3. training pass
    model.train()
    model.gradient_checkpointing_enable()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    ids = torch.cat([batch["input_ids"], torch.randint(0, tokenizer.vocab_size, (a.rows, a.new_tokens), device=a.device)], 1)  # (B, P+C)
    mask = torch.cat([batch["attention_mask"], torch.ones(a.rows, a.new_tokens, dtype=torch.long, device=a.device)], 1)  # (B, P+C)
    micro = max(1, min(a.rows, 8))
    train_times = []
    for i in range(a.repeats + 1):
        sync(a.device)
        start = time.perf_counter()
        for s in range(0, a.rows, micro):  # gradient accumulation over micro-batches, as the trainer does
            logits = model(input_ids=ids[s : s + micro], attention_mask=mask[s : s + micro],
                           logits_to_keep=a.new_tokens + 1, use_cache=False).logits  # (b, C+1, V)
            logps = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (b, C, V)
            loss = -logps.gather(-1, ids[s : s + micro, -a.new_tokens:, None]).mean()
            loss.backward()
            del logits, logps
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync(a.device)
        if i:
            train_times.append(time.perf_counter() - start)
    t_train = statistics.median(train_times)
    # activation checkpointing recomputes the forward: 8 instead of 6 FLOPs per parameter and token
    flops = train_flops(model, a.rows, prompt_len, a.new_tokens) * 8 / 6
    result = {
        "matmul_gflops": ceiling,
        "generate_s": t_gen,
        "generate_tokens_per_s": a.rows * a.new_tokens / t_gen,
        "train_s": t_train,
        "train_tflops": flops / t_train / 1e12,
        "mfu": flops / t_train / 1e9 / ceiling,
    }
    del optimizer
    model.gradient_checkpointing_disable()

    # 4. one full step of the r1lite trainer at this shape
    if not a.skip_trainer:
        result["trainer_step_s"] = trainer_step(model, tokenizer, puzzles, a)

    print("command: python " + " ".join(shlex.quote(x) for x in sys.argv))
    print(f"shape {a.shape} ({sum(p.numel() for p in model.parameters()) / 1e9:.2f}B parameters, random), {a.device}, "
          f"{dtype}, {a.rows} rows, prompt {prompt_len} tokens, {a.new_tokens} new tokens, medians of {a.repeats}")
    print(f"matmul ceiling        {ceiling / 1000:9.1f} TFLOP/s")
    print(f"generation            {t_gen:9.2f} s   {result['generate_tokens_per_s']:9.0f} tokens/s")
    print(f"training pass         {t_train:9.2f} s   {result['train_tflops']:9.1f} TFLOP/s   MFU {100 * result['mfu']:.1f}%")
    if "trainer_step_s" in result:
        print(f"R1ZeroTrainer step    {result['trainer_step_s']:9.2f} s")
    return result


def trainer_step(model, tokenizer, puzzles, a) -> float:
    from trl import GRPOConfig

    from r1lite.trainer import R1ZeroTrainer
    from rewards import get_reward_funcs

    with tempfile.TemporaryDirectory() as out:
        args = GRPOConfig(
            output_dir=out, max_steps=2, per_device_train_batch_size=min(a.rows, 8),
            gradient_accumulation_steps=max(1, a.rows // min(a.rows, 8)), num_generations=a.num_generations,
            max_completion_length=a.new_tokens, learning_rate=1e-6, beta=0.0, loss_type="dapo",
            bf16=a.device.startswith("cuda"), use_cpu=not a.device.startswith("cuda"), gradient_checkpointing=True,
            logging_steps=1, report_to="none", save_strategy="no",
        )
        times = []
        from transformers import TrainerCallback

        class Timer(TrainerCallback):
            def on_step_begin(self, *args, **kwargs):
                self.start = time.perf_counter()

            def on_step_end(self, *args, **kwargs):
                times.append(time.perf_counter() - self.start)

        trainer = R1ZeroTrainer(model=model, reward_funcs=get_reward_funcs(["tinyzero_reward"]), args=args,
                                train_dataset=puzzles, processing_class=tokenizer, callbacks=[Timer()], rollout_log=False)
        trainer.train()
    return times[-1]  # the first step is warm-up


if __name__ == "__main__":
    main()
