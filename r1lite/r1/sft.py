"""The R1 stage as a library: rejection-sample an R1-Zero checkpoint, then fine-tune on what was kept.

``recipes/sft.py`` is a thin wrapper around :func:`main`. Steps:

1. checks before anything heavy: the recipe parses, ``sample_from`` exists and carries a task
   record (or ``task_recipe`` gives the task), reward names and ``keep_if`` rules resolve;
2. rejection sampling into ``<output_dir>/samples/`` (``r1lite.r1.rejection``), skipped when that
   folder is already complete, so a stopped run resumes at SFT;
3. TRL's ``SFTTrainer`` on the kept prompt/completion pairs, loss on the completion tokens only,
   from ``init_from`` (the sampled checkpoint, the R1-Zero run's base model, or a path);
4. greedy evaluation on the held-out split of the task (``eval/final.json``), the model, and
   ``run_summary.json``.

Under ``accelerate launch`` each process samples its share of the prompts; SFT then runs under the
same DDP, DeepSpeed or FSDP configs as the zero stage.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path

from trl import ModelConfig, SFTConfig, SFTTrainer, get_peft_config

from r1lite.config import CONFIGS, TaskConfig, parse_recipe
from r1lite.errors import ConfigError, PathNotFoundError
from r1lite.models import load_model, load_tokenizer, resolve_model_path, training_dtype
from r1lite.r1 import rejection
from r1lite.r1.sft_config import CleanupConfig
from r1lite.requirements import check_features, report_to_list
from r1lite.task.data import heldout_dataset, sampling_rows
from r1lite.task.record import find_task_record, record_stop_strings, task_from_record, task_record, write_task_record
from r1lite.training.callbacks import HeldoutEvalCallback
from r1lite.training.cpu import configure_cpu
from r1lite.training.disk_space import DiskSpaceCallback
from r1lite.training.run_folder import resume_point, run_folder_lock
from r1lite.training.saving import save_final_model
from r1lite.training.zero import parse_args as parse_zero_args
from rewards import get_reward_funcs

logger = logging.getLogger("r1lite.r1.sft")

DEFAULT_RECIPE = CONFIGS / "smollm2-135m" / "sft.yaml"


def parse_args(argv: list[str] | None = None) -> tuple[CleanupConfig, SFTConfig, ModelConfig]:
    """Parse ``--config recipe.yaml`` plus ``--key value`` overrides; no ``--config`` means the default recipe."""
    cleanup, training, model_args = parse_recipe((CleanupConfig, SFTConfig, ModelConfig), DEFAULT_RECIPE, argv)
    if not cleanup.sample_from:
        raise ConfigError(
            "sample_from is not set: give the R1-Zero checkpoint to sample, e.g. --sample_from runs/smollm2-135m-zero"
        )
    if model_args.model_name_or_path:
        raise ConfigError(
            f"model_name_or_path={model_args.model_name_or_path!r} is set, but the R1 stage starts from init_from "
            "('zero', 'base' or a path); set init_from instead"
        )
    return cleanup, training, model_args


def resolve_stage(cleanup: CleanupConfig):
    """(task, sample path, init path, base model name) with every check that needs no model."""
    sample_path = Path(cleanup.sample_from)
    if not sample_path.is_dir():
        raise PathNotFoundError(
            f"sample_from={cleanup.sample_from!r}: no such folder. Point it at an R1-Zero run's output_dir "
            "(e.g. runs/smollm2-135m-zero) or one of its checkpoint-N folders."
        )
    if not (sample_path / "config.json").exists():
        raise PathNotFoundError(
            f"sample_from={cleanup.sample_from!r} holds no model (no config.json); is the run finished?"
        )
    record = find_task_record(sample_path)
    if cleanup.task_recipe:
        task, zero_training, zero_model = parse_zero_args(["--config", cleanup.task_recipe])
        record = task_record(
            task, zero_model.model_name_or_path, zero_training.max_completion_length, zero_training.stop_strings
        )
    if record is None:
        raise PathNotFoundError(
            f"{sample_path} has no r1lite_task.json (nor its parent folder), so the task it was trained on is "
            "unknown; set task_recipe to the zero recipe it was trained with"
        )
    task = task_from_record(record)
    get_reward_funcs([*task.reward_funcs, *(name for name, _ in cleanup.keep_rules)])  # unknown names fail here
    if cleanup.init_from == "zero":
        init = str(sample_path)
    elif cleanup.init_from == "base":
        init = resolve_model_path(record["base_model"])
    else:
        init = resolve_model_path(cleanup.init_from)
    return task, str(sample_path), init, record


def fitting_sample_rows(task: TaskConfig, tokenizer, cleanup: CleanupConfig, training: SFTConfig) -> list[dict]:
    """The puzzles rejection sampling draws from (``num_sample_prompts`` of the task's), checked to fit SFT's
    ``max_length`` once sampled (:func:`check_samples_fit`)."""
    rows = sampling_rows(task, tokenizer, cleanup.num_sample_prompts)
    check_samples_fit(rows, tokenizer, cleanup.sample_max_new_tokens, training)
    return rows


def check_samples_fit(rows: list[dict], tokenizer, max_new_tokens: int, training: SFTConfig) -> None:
    """Fail before sampling when a sample (prompt + up to ``max_new_tokens``) can exceed SFT's ``max_length``.

    TRL's SFTTrainer cuts longer sequences from the end under ``truncation_mode="keep_start"`` (its default),
    which cuts the completion the loss is on, and drops the rows cut to their prompt alone: a long few-shot
    prompt can leave no training rows at all."""
    if training.max_length is None or training.packing or training.truncation_mode != "keep_start" or not rows:
        return
    longest = max(len(tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]) for row in rows)
    if longest + max_new_tokens > training.max_length:
        raise ConfigError(
            f"max_length={training.max_length} is shorter than a sample can be: prompts of up to {longest} tokens "
            f"plus sample_max_new_tokens={max_new_tokens}; SFT would cut completions off (and drop those cut to "
            f"nothing). Set max_length to at least {longest + max_new_tokens}"
        )


def build_trainer(
    cleanup: CleanupConfig,
    training: SFTConfig,
    model_args: ModelConfig,
    kept,
    tokenizer,
    init: str,
    eval_dataset=None,
    stop_strings=(),
    callbacks=(),
):
    """An SFTTrainer on the kept prompt/completion pairs, plus the held-out eval callback.

    The loss is on the completion tokens only: TRL's default (``completion_only_loss: None``) for
    prompt/completion data, and what the recipes set explicitly."""
    model = load_model(init, dtype=training_dtype(model_args))
    callbacks = [*callbacks, DiskSpaceCallback()]
    eval_cb = None
    if eval_dataset is not None:
        eval_cb = HeldoutEvalCallback(
            eval_dataset,
            tokenizer,
            max_new_tokens=cleanup.sample_max_new_tokens,
            at_end=True,
            stop_strings=stop_strings,
        )
        callbacks.append(eval_cb)
    trainer = SFTTrainer(
        model=model,
        args=training,
        train_dataset=kept.select_columns(["prompt", "completion"]),
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        callbacks=callbacks,
    )
    if eval_cb is not None:
        eval_cb.trainer = trainer
    return trainer


def main(argv: list[str] | None = None, callbacks=()) -> dict:
    """Run the R1 stage; returns a summary (also written to ``<output_dir>/run_summary.json``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    cleanup, training, model_args = parse_args(argv)
    with run_folder_lock(training.output_dir, main_process=training.process_index == 0):  # before any model loads
        return _run(cleanup, training, model_args, callbacks)


def _run(cleanup: CleanupConfig, training: SFTConfig, model_args: ModelConfig, callbacks=()) -> dict:
    check_features(
        report_to=report_to_list(training),
        use_peft=model_args.use_peft,
        vllm="sample_with_vllm" if cleanup.sample_with_vllm else None,
    )
    task, sample_path, init, record = resolve_stage(cleanup)
    stop_strings = record_stop_strings(record)  # samples and evaluations end where training completions did
    resume, _ = resume_point(training)
    configure_cpu(training)
    start = time.time()

    _ = training.device  # sets up the distributed state the recipe asks for (use_cpu, DDP, DeepSpeed, ...)
    state = training.distributed_state
    tokenizer = load_tokenizer(sample_path)
    heldout = heldout_dataset(task, tokenizer)
    samples_dir = Path(training.output_dir) / "samples"
    rows = fitting_sample_rows(task, tokenizer, cleanup, training)
    if rejection.is_complete(samples_dir):
        kept, stats = rejection.load_kept(samples_dir)
        logger.info("rejection sampling already done in %s: %s", samples_dir, rejection.describe(stats))
    else:
        kept = rejection.run(
            sample_path,
            tokenizer,
            rows,
            task.reward_funcs,
            cleanup,
            samples_dir,
            accelerator=state,
            seed=training.seed,
            stop_strings=stop_strings,
        )
        stats = json.loads((samples_dir / rejection.STATS_FILE).read_text())
    sampled_seconds = time.time() - start

    tokenizer.padding_side = "right"  # training pads on the right; evaluation switches to left itself
    trainer = build_trainer(
        cleanup,
        training,
        model_args,
        kept,
        tokenizer,
        init,
        eval_dataset=heldout if cleanup.eval_at_end else None,
        stop_strings=stop_strings,
        callbacks=callbacks,
    )
    trainer.train(resume_from_checkpoint=resume)
    save_final_model(trainer, training.output_dir, base_model=init)
    summary = {
        "seconds": round(time.time() - start, 1),
        "sampling_seconds": round(sampled_seconds, 1),
        "steps": trainer.state.global_step,
        "init_from": init,
        "sample_from": sample_path,
        "filter_stats": stats,
        "log_history": trainer.state.log_history,
        "cleanup": asdict(cleanup),
    }
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(training.output_dir)
        write_task_record(training.output_dir, task, record["base_model"], cleanup.sample_max_new_tokens, stop_strings)
        with open(os.path.join(training.output_dir, "run_summary.json"), "w") as f:
            json.dump(summary, f, indent=1, default=str)
    trainer.accelerator.wait_for_everyone()  # a pipeline's next stage reads these files on every process
    return summary
