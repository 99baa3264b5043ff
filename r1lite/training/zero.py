"""The R1-Zero stage as a library: parse a recipe, check it, build data, rewards and model, train.

``recipes/zero.py`` is a thin wrapper around :func:`main`. Every check that can fail on a user's
mistake (unknown key, bad batch shape, missing model path, unknown reward, malformed data set)
runs before the model loads.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict

from trl import ModelConfig, get_peft_config

from r1lite.config import CONFIGS, R1ZeroConfig, TaskConfig, parse_recipe, r1lite_switches
from r1lite.errors import ConfigError
from r1lite.inspection.guards import GuardSettings
from r1lite.inspection.summary import closing_lines
from r1lite.models import load_model, load_tokenizer, peak_memory_gb, resolve_model_path, training_dtype
from r1lite.requirements import check_features, report_to_list
from r1lite.task.data import LevelSwitch, build_curriculum_datasets, build_datasets, heldout_dataset, twin_dataset
from r1lite.task.record import write_task_record
from r1lite.training.callbacks import CollapseGuardCallback, HeldoutEvalCallback, RewardProgressCallback
from r1lite.training.cpu import configure_cpu
from r1lite.training.curriculum import CurriculumCallback
from r1lite.training.disk_space import DiskSpaceCallback
from r1lite.training.reward_guard import checked
from r1lite.training.run_folder import RunFolderResumeCallback, resume_point, run_folder_lock
from r1lite.training.saving import save_final_model
from r1lite.training.trainer import R1ZeroTrainer
from rewards import get_reward_funcs

logger = logging.getLogger("r1lite.training.zero")

DEFAULT_RECIPE = CONFIGS / "smollm2-135m" / "zero.yaml"


def parse_args(argv: list[str] | None = None) -> tuple[TaskConfig, R1ZeroConfig, ModelConfig]:
    """Parse ``--config recipe.yaml`` plus ``--key value`` overrides; no ``--config`` means the default recipe."""
    task, training, model_args = parse_recipe((TaskConfig, R1ZeroConfig, ModelConfig), DEFAULT_RECIPE, argv)
    if not model_args.model_name_or_path:
        raise ConfigError("model_name_or_path is not set: put it in the recipe or pass --model_name_or_path")
    return task, training, model_args


def load_policy(model_args: ModelConfig):
    """Load the policy model for training: fp32 master weights, the recipe's attention implementation.

    See :func:`r1lite.models.training_dtype` for what the recipe's ``dtype`` means here.
    """
    model = load_model(model_args.model_name_or_path, dtype=training_dtype(model_args))
    if model_args.attn_implementation:
        model.config._attn_implementation = model_args.attn_implementation
    return model


def _check_twins(task: TaskConfig, training: R1ZeroConfig) -> None:
    """``train_twins`` keeps a puzzle and its twin in adjacent rows; TRL must serve them in order, and a
    generation batch must hold whole pairs."""
    if not task.train_twins:
        if training.twin_baseline:
            raise ConfigError(
                "twin_baseline centres each puzzle on its target twin, which only train_twins serves: "
                "set train_twins: true and shuffle_dataset: false"
            )
        return
    if training.shuffle_dataset:
        raise ConfigError(
            "train_twins keeps each puzzle beside its twin in adjacent rows, and shuffle_dataset would separate "
            "them: set shuffle_dataset: false (the generator's order is already random)"
        )
    prompts = training.generation_batch_size // training.num_generations
    if prompts % 2:
        raise ConfigError(
            f"train_twins needs whole pairs in each generation batch, but it holds {prompts} prompts "
            f"({training.generation_batch_size} completions / num_generations={training.num_generations}): "
            "choose a per_device_train_batch_size that makes the prompt count even"
        )


def build_trainer(task: TaskConfig, training: R1ZeroConfig, model_args: ModelConfig, callbacks=()):
    """Check the recipe, then build and return an ``R1ZeroTrainer`` ready for ``train()``."""
    # 1. Cheap checks first: the model has not loaded yet. A reward's mistakes name it, the step and the completion.
    reward_funcs = checked(get_reward_funcs(task.reward_funcs))
    if training.reward_weights is not None and len(training.reward_weights) != len(reward_funcs):
        raise ConfigError(
            f"reward_weights has {len(training.reward_weights)} entries but reward_funcs has {len(reward_funcs)} "
            f"({task.reward_funcs}); give one weight per reward or drop reward_weights"
        )
    _check_twins(task, training)
    check_features(
        report_to=report_to_list(training),
        use_peft=model_args.use_peft,
        vllm="use_vllm" if training.use_vllm else None,
    )
    model_args.model_name_or_path = resolve_model_path(model_args.model_name_or_path)

    tokenizer = load_tokenizer(model_args.model_name_or_path)
    tokenizer.padding_side = "left"  # GRPO generates from left-padded prompts
    curriculum, switch, level_heldouts = task.curriculum, None, []
    if curriculum is not None and curriculum.levels:
        train_dataset, switch, level_heldouts = build_curriculum_datasets(task, tokenizer)
        eval_dataset = heldout_dataset(task, tokenizer)
    else:
        train_dataset, eval_dataset = build_datasets(task, tokenizer)

    # 2. The model.
    model = load_policy(model_args)
    eval_cb = None
    extra = [*callbacks, CollapseGuardCallback(GuardSettings.from_config(training)), DiskSpaceCallback()]
    if task.eval_every or task.eval_at_end or task.eval_at_start:
        eval_cb = HeldoutEvalCallback(
            eval_dataset,
            tokenizer,
            max_new_tokens=training.max_completion_length,
            every=task.eval_every,
            at_start=task.eval_at_start,
            at_end=task.eval_at_end,
            batch_size=task.eval_batch_size,
            stop_strings=training.stop_strings,
            levels=level_heldouts,
            twins=twin_dataset(eval_dataset, task, tokenizer) if task.eval_twins else None,
            level_twins=[
                None
                if heldout is None
                else twin_dataset(heldout, task, tokenizer, (level.target_min, level.target_max))
                for heldout, level in zip(level_heldouts, task.curriculum.levels, strict=True)
            ]
            if task.eval_twins and level_heldouts
            else (),
        )
        extra.append(eval_cb)
    curriculum_cb = None
    if curriculum is not None:
        curriculum_cb = CurriculumCallback(curriculum, switch or LevelSwitch(), task.reward_funcs)
        extra.append(curriculum_cb)
    progress_cb = RewardProgressCallback()
    trainer = R1ZeroTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=training,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        callbacks=[*extra, progress_cb],
    )
    progress_cb.trainer = trainer
    for callback in (eval_cb, curriculum_cb):
        if callback is not None:
            callback.trainer = trainer
    return trainer


def main(argv: list[str] | None = None, callbacks=()) -> dict:
    """Run the R1-Zero stage; returns a summary (also written to ``<output_dir>/run_summary.json``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    task, training, model_args = parse_args(argv)
    with run_folder_lock(training.output_dir, main_process=training.process_index == 0):  # before the model loads
        summary = _train(task, training, model_args, callbacks)
    if training.process_index == 0:
        print("\n".join(closing_lines(training.output_dir)), flush=True)
    return summary


def _train(task: TaskConfig, training: R1ZeroConfig, model_args: ModelConfig, callbacks=()) -> dict:
    configure_cpu(training)
    if training.process_index == 0:
        logger.info(training.update_size())
    resume, first_step = resume_point(training)
    start = time.time()
    base_model = model_args.model_name_or_path  # as named in the recipe, before resolving to a cache path
    resume_cb = RunFolderResumeCallback(training.output_dir, main_process=training.process_index == 0)
    trainer = build_trainer(task, training, model_args, callbacks=[*callbacks, resume_cb])
    if trainer.accelerator.is_main_process:
        write_task_record(training.output_dir, task, base_model, training.max_completion_length, training.stop_strings)
    trainer.train(resume_from_checkpoint=resume)
    save_final_model(trainer, training.output_dir, base_model=model_args.model_name_or_path)
    trainer.release_vllm()  # a pipeline's next stage starts its own engine on the same GPUs
    summary = {
        "seconds": round(time.time() - start, 1),
        "steps": trainer.state.global_step,
        "peak_memory_gb": round(peak_memory_gb(), 2),  # this process (rank 0): GPU allocated, or CPU resident
        "resumed_from_step": first_step,  # log_history covers the whole run; seconds only this process's part
        "log_history": trainer.state.log_history,
        "task": asdict(task),
        "trainer": r1lite_switches(training),
        "model": model_args.model_name_or_path,
        "output_dir": training.output_dir,
    }
    if trainer.accelerator.is_main_process:
        trainer.processing_class.save_pretrained(training.output_dir)
        with open(os.path.join(training.output_dir, "run_summary.json"), "w") as f:
            json.dump(summary, f, indent=1, default=str)
    trainer.accelerator.wait_for_everyone()  # a pipeline's next stage reads these files on every process
    return summary
