"""What a run needs installed, checked before anything heavy loads, with the extra that installs it.

A recipe names optional features (``use_vllm``, ``use_peft``, ``report_to``, ``sample_with_vllm``)
and the accelerate config names an engine (DeepSpeed). Each maps to a package and to the extra of
``pyproject.toml`` that installs it; a missing one is a :class:`~r1lite.errors.MissingPackageError`
that says ``pip install 'r1lite[EXTRA]'``. ``tests/test_gpu_path.py`` checks that every YAML in
``configs/`` names only features that an extra installs.
"""

from __future__ import annotations

import importlib.util
import os

import torch

from r1lite.errors import MissingPackageError, NoGPUError

# feature -> (module to import, extra of pyproject.toml that installs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "deepspeed": ("deepspeed", "deepspeed"),
    "vllm": ("vllm", "vllm"),
    "peft": ("peft", "peft"),
    "tensorboard": ("tensorboard", "tensorboard"),
}
# reporters of report_to that an extra installs; any other reporter is installed by its own name
REPORTERS = {"tensorboard": "tensorboard"}


def has_cuda() -> bool:
    return torch.cuda.is_available()


def is_installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def require(feature: str, why: str) -> None:
    """Raise MissingPackageError naming the extra when ``feature``'s package is missing."""
    module, extra = EXTRAS[feature]
    if not is_installed(module):
        raise MissingPackageError(f"{why} needs {module}, which is not installed: pip install 'r1lite[{extra}]'")


def check_launcher(environ=os.environ) -> None:
    """The engine that ``accelerate launch`` asked for is installed (checked before the recipe is parsed,
    since parsing sets up the distributed state)."""
    if environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true":
        require("deepspeed", "the accelerate config (distributed_type: DEEPSPEED)")


def report_to_list(training) -> list[str]:
    """The reporters of a config's ``report_to`` (TRL/transformers keep it as a string or a list)."""
    value = training.report_to
    names = [value] if isinstance(value, str) else list(value or [])
    return [n for n in names if n not in ("none", "all")]


def check_features(*, report_to=(), use_peft: bool = False, vllm: str | None = None) -> None:
    """Every optional package a recipe names is installed, and a vLLM recipe has a GPU.

    ``vllm``: the recipe field that turned vLLM on (``"use_vllm"``, ``"sample_with_vllm"``), or None.
    """
    if vllm:
        if not has_cuda():
            raise NoGPUError(
                f"this recipe generates with vLLM ({vllm}: true), which needs a CUDA GPU, and this machine has none: "
                f"run it on a GPU box, or pass --{vllm} false (HF generation; slow for the Qwen recipes)"
            )
        require("vllm", f"{vllm}: true")
    if use_peft:
        require("peft", "use_peft: true")
    for reporter in report_to:
        if reporter in REPORTERS:
            require(REPORTERS[reporter], f"report_to: {reporter}")
        elif not is_installed(reporter):
            raise MissingPackageError(
                f"report_to: {reporter} needs {reporter}, which is not installed: pip install {reporter}"
            )


def parse_or_explain(parse, argv):
    """``parse(argv)``, turning transformers' refusal of bf16 without a GPU into a :class:`NoGPUError`."""
    try:
        return parse(argv)
    except ValueError as err:
        if "use_cpu" in str(err) and not has_cuda():  # "Your setup doesn't support bf16/gpu ..."
            raise NoGPUError(
                "this recipe computes in bf16 on a GPU (bf16: true without use_cpu: true) and this machine has no "
                "CUDA GPU: run it on a GPU box, or add --use_cpu true to run it on the CPU"
            ) from err
        raise
