"""Model loading: the offline default model, path checks, tiny test models."""

import pytest

from r1lite import models


def test_default_model_loads_offline_from_cache(tokenizer, monkeypatch):
    # The first load (fixture) converted the GGUF once; later loads are a plain local from_pretrained:
    # neither pip nor the GGUF conversion may run again. (Asserted by counting calls, not by a wall-clock
    # bound, which a loaded CI machine missed: 9.1 s against 5 s.)
    def must_not_run(*args, **kwargs):
        raise AssertionError("a cached default model was fetched or converted again")

    monkeypatch.setattr(models, "_fetch_gguf", must_not_run)
    monkeypatch.setattr(models, "_convert_gguf", must_not_run)
    model, tok = models.load_model_and_tokenizer(models.DEFAULT_MODEL)
    assert model.config.model_type == "llama" and model.config.num_hidden_layers == 30
    assert not hasattr(model.config, "quantization_config")  # trainable and savable
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert tok.eos_token == "<|im_end|>" and tok.pad_token is not None
    assert "<|im_start|>assistant" in tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )


def test_default_model_generates_sensible_text(tokenizer):
    model, tok = models.load_model_and_tokenizer(models.DEFAULT_MODEL)
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    assert "Paris" in tok.decode(out[0, ids["input_ids"].shape[1] :])


def test_tiny_model_shares_the_tokenizer(tokenizer, tiny_model_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    assert model.config.vocab_size == len(tokenizer)
    assert model.config.hidden_size == 16 and model.config.num_hidden_layers == 2
    out = model.generate(**tokenizer("3 + 4 =", return_tensors="pt"), max_new_tokens=4, do_sample=False)
    assert out.shape[1] > 4


@pytest.mark.parametrize(
    "name",
    [
        "./no/such/checkpoint",  # relative path
        "/no/such/checkpoint",  # absolute path
        "~/no/such/checkpoint",  # home path
    ],
)
def test_missing_local_path_fails_fast(name):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        models.resolve_model_path(name)


def test_hub_ids_pass_through_unchanged():
    assert models.resolve_model_path("Qwen/Qwen2.5-3B") == "Qwen/Qwen2.5-3B"


def test_cache_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("R1LITE_CACHE", str(tmp_path))
    assert models.cache_dir() == tmp_path


def test_cpu_without_fast_bf16_trains_in_fp32(monkeypatch, tmp_path):
    from trl import GRPOConfig

    from r1lite.training import cpu

    monkeypatch.setattr(cpu, "has_fast_bf16", lambda: False)
    args = GRPOConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        bf16=True,
        per_device_train_batch_size=4,
        num_generations=2,
        report_to="none",
    )
    cpu.configure_cpu(args)
    assert args.bf16 is False and args.mixed_precision == "no"


def test_cpu_under_a_bf16_deepspeed_launch_keeps_bf16(monkeypatch, tmp_path):
    """DeepSpeed's config enables bf16 when accelerate's mixed precision is bf16; turning TrainingArguments' bf16 off
    then makes transformers refuse the run ("DeepSpeed config values that mismatch"), so the CPU fallback stands
    back."""
    from trl import GRPOConfig

    from r1lite.training import cpu

    monkeypatch.setattr(cpu, "has_fast_bf16", lambda: False)
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")
    args = GRPOConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        bf16=True,
        per_device_train_batch_size=4,
        num_generations=2,
        report_to="none",
    )
    cpu.configure_cpu(args)
    assert args.bf16 is True
