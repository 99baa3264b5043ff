"""The final model of a run: a folder that ``from_pretrained`` and vLLM load, under every engine.

``Trainer.save_model`` alone leaves two kinds of run without one:

1. FSDP with ``fsdp_state_dict_type: SHARDED_STATE_DICT`` (what ``configs/accelerate/fsdp.yaml``
   keeps for fast checkpoints) writes no ``config.json`` and no weights into ``output_dir``. Here the
   full state dict is gathered from the shards (every rank takes part) and rank 0 writes it with
   ``save_pretrained``; intermediate checkpoints stay sharded.
2. LoRA writes only an adapter, which the R1 stage and vLLM cannot load as a model. Here the adapter
   goes to ``output_dir/adapter/`` and rank 0 merges it into a fresh copy of the base model and saves
   the merged full model in ``output_dir``. Under ZeRO-3 the adapter save gathers the trained LoRA
   weights from their partitions (``Trainer.save_model``, every rank), and the merge loads the base
   model whole on rank 0 alone, outside ZeRO-3's partitioned init (``r1lite.models.outside_zero3_init``).

DDP, one process and DeepSpeed keep ``Trainer.save_model`` (ZeRO-3 needs
``zero3_save_16bit_model: true`` in the accelerate config, which r1lite's configs set). Every path
ends with :func:`check_loadable`, so a stage is never counted as done without a model.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from r1lite.models import load_model, outside_zero3_init

logger = logging.getLogger(__name__)

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def save_final_model(trainer, output_dir: str, base_model: str | None = None) -> None:
    """Save ``trainer``'s model as a loadable full model in ``output_dir`` (call on every rank).

    ``base_model``: the model a LoRA run started from (merged with the adapter); unused otherwise.
    """
    accelerator = trainer.accelerator
    if _is_peft(accelerator.unwrap_model(trainer.model)):
        adapter_dir = os.path.join(output_dir, "adapter")
        _save_weights(trainer, adapter_dir)
        if accelerator.is_main_process:
            if base_model is None:
                raise ValueError("a LoRA run's final model needs base_model to merge the adapter into")
            merge_adapter(base_model, adapter_dir, output_dir)
    else:
        _save_weights(trainer, output_dir)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        check_loadable(output_dir)


def _save_weights(trainer, folder: str) -> None:
    accelerator = trainer.accelerator
    if accelerator.distributed_type.name != "FSDP":
        trainer.save_model(folder)
        return
    state_dict = accelerator.get_state_dict(trainer.model)  # a collective: every rank gathers the shards
    if accelerator.is_main_process:
        accelerator.unwrap_model(trainer.model).save_pretrained(folder, state_dict=state_dict, safe_serialization=True)
        logger.info("FSDP: gathered the full model from its shards into %s", folder)


def merge_adapter(base_model: str, adapter_dir: str, output_dir: str) -> None:
    """Merge the LoRA adapter in ``adapter_dir`` into ``base_model`` and save the full model in ``output_dir``.

    Runs on one process (rank 0), so the base model loads whole, outside ZeRO-3 init."""
    from peft import PeftModel  # noqa: PLC0415 - optional package (the peft extra)

    with outside_zero3_init():
        base = load_model(base_model, dtype=torch.float32)  # merge in fp32, whatever the base is stored in
        merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
        merged.save_pretrained(output_dir, safe_serialization=True)
    logger.info("LoRA: merged %s into %s and saved the full model in %s", adapter_dir, base_model, output_dir)


def check_loadable(folder: str | os.PathLike) -> None:
    """Raise if ``folder`` lacks what ``from_pretrained`` needs: a config and full weights."""
    folder = Path(folder)
    missing = [] if (folder / "config.json").exists() else ["config.json"]
    if not any((folder / name).exists() for name in WEIGHT_FILES):
        missing.append("model weights (" + " or ".join(WEIGHT_FILES[:2]) + ")")
    if missing:
        raise RuntimeError(f"the final model in {folder} is not loadable: no {', '.join(missing)}")


def _is_peft(model) -> bool:
    try:
        from peft import PeftModel  # noqa: PLC0415 - optional package (the peft extra)
    except ImportError:
        return False
    return isinstance(model, PeftModel)
