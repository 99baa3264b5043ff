"""The whole R1-Zero -> R1 chain from one YAML: base -> GRPO -> rejection sampling -> SFT -> evaluation.

Pipeline YAML (``configs/*/pipeline.yaml``)::

    output_dir: runs/smollm2-135m-pipeline
    zero:                                    # the R1-Zero stage
      config: configs/smollm2-135m/zero.yaml # a zero recipe (optional) ...
      max_steps: 12                          # ... and keys that override it
    sft:                                     # the R1 stage, same shape
      config: configs/smollm2-135m/sft.yaml
    eval:                                    # optional; defaults come from the zero stage's task
      puzzles: 32                            # held-out puzzles (default: the task's eval_puzzles)
      max_new_tokens: 96                     # default: the zero stage's max_completion_length
      batch_size: 32

Each stage writes into its own folder under ``output_dir`` and is skipped when its outputs are
there, so running the same command again resumes a stopped pipeline (an interrupted GRPO or SFT
stage resumes from its last checkpoint):

    zero/    the R1-Zero model (the merged recipe it ran: zero/recipe.yaml)
    sft/     samples/ (the kept set and filter statistics), the R1 model (sft/recipe.yaml)
    eval/    base.json, zero.json, sft.json: greedy held-out evaluation with every completion, made
             again when its model, the zero stage's task, the puzzles or the token budget changed
    results.json, results.md    the final table
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import yaml

from r1lite.errors import ArgumentParser, ConfigError, PathNotFoundError
from r1lite.r1.readability import readability_rates
from r1lite.r1.sft_config import CleanupConfig

logger = logging.getLogger("r1lite.r1.pipeline")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PIPELINE = REPO_ROOT / "configs" / "smollm2-135m" / "pipeline.yaml"
SECTIONS = ("zero", "sft", "eval")
EVAL_KEYS = ("puzzles", "max_new_tokens", "batch_size")


def _find(path: str, where: Path) -> Path:
    """A recipe path as given (relative to the working directory), else relative to the pipeline YAML, else
    the repo."""
    for candidate in (Path(path), where / path, REPO_ROOT / path):
        if candidate.exists():
            return candidate
    raise PathNotFoundError(f"recipe {path!r} not found (looked in the working directory, {where} and {REPO_ROOT})")


def load_pipeline(path: str | os.PathLike, overrides: dict | None = None) -> dict:
    """Read and check a pipeline YAML; returns {output_dir, zero: {...}, sft: {...}, eval: {...}} with recipes
    merged."""
    path = Path(path)
    if not path.exists():
        raise PathNotFoundError(f"pipeline config {path} not found")
    spec = yaml.safe_load(path.read_text()) or {}
    spec.update(overrides or {})
    unknown = sorted(set(spec) - {"output_dir", *SECTIONS})
    if unknown:
        raise ConfigError(f"{path}: unknown top-level keys {unknown}; a pipeline has output_dir, zero, sft and eval")
    if not spec.get("output_dir"):
        raise ConfigError(f"{path}: output_dir is not set")
    out = {"output_dir": spec["output_dir"], "eval": dict(spec.get("eval") or {})}
    bad = sorted(set(out["eval"]) - set(EVAL_KEYS))
    if bad:
        raise ConfigError(f"{path}: unknown keys {bad} in eval; known: {list(EVAL_KEYS)}")
    for stage in ("zero", "sft"):
        section = dict(spec.get(stage) or {})
        base = section.pop("config", None)
        recipe = yaml.safe_load(_find(base, path.parent).read_text()) if base else {}
        # The pipeline evaluates every model alike at the end, so the stages skip their own final
        # evaluation unless the pipeline's section asks for it.
        out[stage] = {**recipe, "eval_at_end": False, **section}
    return out


def _write_recipe(recipe: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "recipe.yaml"
    target.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return target


def _run_stage(name: str, recipe: dict, root: Path) -> Path:
    """Run stage ``name`` ("zero" or "sft") into ``root/name`` unless it finished there; resume from its
    checkpoints."""
    folder = root / name
    if (folder / "run_summary.json").exists():
        logger.info("%s stage done already (%s); delete the folder to run it again", name, folder)
        return folder
    from r1lite.r1 import sft  # noqa: PLC0415 - heavy: --help and the YAML checks skip it
    from r1lite.training import zero  # noqa: PLC0415 - heavy: --help and the YAML checks skip it

    recipe = {**recipe, "output_dir": str(folder)}
    if any(folder.glob("checkpoint-*")):
        recipe["resume_from_checkpoint"] = True
    main = zero.main if name == "zero" else sft.main
    main(["--config", str(_write_recipe(recipe, folder))])
    gc.collect()
    return folder


def run_zero(spec: dict, root: Path) -> Path:
    return _run_stage("zero", spec["zero"], root)


def run_sft(spec: dict, root: Path, zero_dir: Path) -> Path:
    return _run_stage("sft", {**spec["sft"], "sample_from": str(zero_dir)}, root)


def _entry(result, model_path: str, seconds: float) -> dict:
    """One evaluation as the pipeline stores it: metrics without the ``eval/`` prefix, the template, the samples."""
    return {
        "model": model_path,
        "seconds": round(seconds, 1),
        **{k.removeprefix("eval/"): v for k, v in result.metrics().items()},
        "num_prompts": result.num_prompts,
        "template": result.template,
        "top_shape": result.top_shape,
        "samples": result.samples,
    }


def _reused(zero_dir: Path, name: str, puzzles: int, max_new_tokens: int, record: dict) -> dict | None:
    """The zero stage's own evaluation of the base model (``eval/step-000000.json``, made when the stage evaluates
    at the start) or of the R1-Zero model (``eval/final.json``), as a pipeline entry with its levels, when it
    covered the same puzzles with the same token budget; else None."""
    from r1lite.task.evaluation import EvalResult  # noqa: PLC0415 - heavy: --help and the YAML checks skip it

    path = zero_dir / "eval" / ("step-000000.json" if name == "base" else "final.json")
    if not path.exists() or max_new_tokens != record["max_completion_length"]:
        return None
    saved = json.loads(path.read_text())
    if saved["num_prompts"] != puzzles:
        return None
    fields = set(EvalResult.__dataclass_fields__)

    def entry(d):
        return _entry(EvalResult(**{k: v for k, v in d.items() if k in fields}), str(zero_dir), 0.0)

    out = {**entry(saved), "reused": str(path)}
    if saved.get("levels"):
        out["levels"] = [entry(level) for level in saved["levels"]]
    return out


def run_eval(spec: dict, root: Path, models: dict[str, str]) -> dict[str, dict]:
    """Greedy held-out evaluation of each model with the zero stage's task; results cached in eval/<name>.json.

    A task with curriculum levels is evaluated on each level's held-out split too (``levels``). The zero stage's
    own evaluations of the base and R1-Zero models are reused where they cover the same puzzles."""
    from accelerate import PartialState  # noqa: PLC0415 - heavy: --help and the YAML checks skip it

    from r1lite.models import load_full_model, load_tokenizer, resolve_model_path  # noqa: PLC0415 - heavy: --help and the YAML checks skip it
    from r1lite.task.balanced import heldout  # noqa: PLC0415 - heavy: --help and the YAML checks skip it
    from r1lite.task.data import with_prompts  # noqa: PLC0415 - heavy: --help and the YAML checks skip it
    from r1lite.task.evaluation import evaluate  # noqa: PLC0415 - heavy: --help and the YAML checks skip it
    from r1lite.task.record import find_task_record, record_stop_strings, task_from_record  # noqa: PLC0415 - heavy: --help and the YAML checks skip it

    zero_dir = Path(models["zero"])
    record = find_task_record(models["zero"])
    task = task_from_record(record)
    options = spec["eval"]
    max_new_tokens = options.get("max_new_tokens", record["max_completion_length"])
    puzzles = options.get("puzzles", task.eval_puzzles)
    levels = task.curriculum.levels if task.curriculum is not None and task.curriculum.levels else []
    state = PartialState()
    results = {}
    for name, model_path in models.items():
        target = root / "eval" / f"{name}.json"
        key = _eval_key(model_path, puzzles, max_new_tokens, record)
        cached = _cached_eval(target, key)
        if cached is not None:
            entry = cached
        elif name in ("base", "zero") and (found := _reused(zero_dir, name, puzzles, max_new_tokens, record)):
            entry = {**found, "model": model_path}
        else:
            tokenizer = load_tokenizer(resolve_model_path(model_path))
            model = load_full_model(resolve_model_path(model_path)).to(state.device)

            def run(level, index=0, model=model, tokenizer=tokenizer, model_path=model_path):
                start = time.time()
                # the run's own prompt: its template and, for chat_few_shot, its number of shots
                data = with_prompts(heldout(puzzles, level.difficulty, task.heldout_share(index)), task, tokenizer)
                result = evaluate(
                    model,
                    tokenizer,
                    data,
                    max_new_tokens=max_new_tokens,
                    batch_size=options.get("batch_size", task.eval_batch_size),
                    accelerator=state,
                    progress=state.is_main_process,
                    stop_strings=record_stop_strings(record),
                )
                return _entry(result, model_path, time.time() - start)

            main = run(task.level)
            entry = dict(main)
            if levels:  # a level at the recipe's own difficulty is the main evaluation
                entry["levels"] = [main if level == task.level else run(level, k) for k, level in enumerate(levels)]
            del model
            gc.collect()
        # The text measures come from the samples, so a cached evaluation gets this version's measures too.
        for part in [entry, *entry.get("levels", [])]:
            part.update(readability_rates([s["completion"] for s in part["samples"]]))
        results[name] = entry
        if cached is None:
            if state.is_main_process:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps({**entry, "cache_key": key}, indent=1))
            logger.info("held-out %s: %s", name, {k: v for k, v in entry.items() if k not in ("samples", "levels")})
    return results


def _eval_key(model_path: str, puzzles: int, max_new_tokens: int, record: dict) -> dict:
    """What a cached evaluation must match to be reused: the puzzles, the token budget, the zero stage's task (its
    prompt, levels and seed) and the model, down to its weight files when it is a local folder (a stage deleted
    and run again writes new ones)."""
    folder = Path(model_path)
    weights = sorted(
        (f.name, f.stat().st_size, f.stat().st_mtime_ns)
        for f in (folder.iterdir() if folder.is_dir() else [])
        if f.suffix in (".safetensors", ".bin", ".gguf", ".pt")
    )
    return {
        "model": model_path,
        "weights": _digest(weights) if weights else None,
        "puzzles": puzzles,
        "max_new_tokens": max_new_tokens,
        "task": _digest(record),
    }


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _cached_eval(target: Path, key: dict) -> dict | None:
    """The evaluation saved at ``target``, or None when there is none or it was made for something else: other
    puzzles, another token budget, task or model (a stage run again since), or by a version without the key."""
    if not target.exists():
        return None
    entry = json.loads(target.read_text())
    saved = entry.pop("cache_key", None)
    if saved != key:
        changed = sorted(k for k in key if saved is None or saved.get(k) != key[k])
        logger.info("%s was made for another %s: evaluating anew", target, ", ".join(changed))
        return None
    return entry


COLUMNS = [
    ("accuracy", "accuracy"),
    ("template_accuracy", "best target-blind template"),
    ("faithful_rate", "faithful"),
    ("faithful_correct_rate", "faithful, right answers"),
    ("top_shape_share", "top answer shape"),
    ("format_rate", "format"),
    ("mean_length", "mean tokens"),
    ("truncation_rate", "truncated"),
    ("reasoning_words", "reasoning words"),
    ("repetition_rate", "repetition"),
    ("language_mixing_rate", "language mixing"),
    ("empty_reasoning_rate", "empty reasoning"),
    ("readable_rate", "readable"),
    ("distinct_rate", "distinct"),
]


LABELS = {"base": "base", "zero": "after R1-Zero", "sft": "after SFT (R1)"}


def results_table(results: dict[str, dict], filter_stats: dict | None = None) -> str:
    """The final Markdown table: one row per model; then, for a task with curriculum levels, one table per level."""
    lines = ["| model | " + " | ".join(title for _, title in COLUMNS) + " |", "| --- |" + " ---: |" * len(COLUMNS)]
    for name, metrics in results.items():
        cells = [
            ""
            if key not in metrics
            else f"{metrics[key]:.3f}"
            if key != "mean_length" and key != "reasoning_words"
            else f"{metrics[key]:.1f}"
            for key, _ in COLUMNS
        ]
        lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + " |")
    first = next(iter(results.values()))
    lines += [
        "",
        f"Held-out: {first['num_prompts']} puzzles, greedy decoding. Readability columns are shares of completions. "
        f"The best target-blind template (`{first.get('template', '?')}`) is the most one fixed answer shape "
        "solves on these puzzles, never reading the target; the top answer shape's share is of each model's answers.",
    ]
    levels = len(first.get("levels", []))
    for k in range(levels):
        lines += ["", *level_table(k, {name: r["levels"][k] for name, r in results.items() if r.get("levels")})]
    if filter_stats:
        from r1lite.r1.rejection import describe  # noqa: PLC0415 - heavy: --help and the YAML checks skip it

        lines += ["", f"Rejection sampling: {describe(filter_stats)}."]
    return "\n".join(lines)


def _rate(share: float | None, n: int) -> str:
    """A rate with its 95% Wilson interval, as percentages ("42% (33-52%)")."""
    from r1lite.task.evaluation import wilson_interval  # noqa: PLC0415 - heavy: --help and the YAML checks skip it

    if share is None or n == 0:
        return "-"
    low, high = wilson_interval(round(share * n), n)
    return f"{share:.0%} ({100 * low:.0f}-{high:.0%})"


def level_table(k: int, entries: dict[str, dict]) -> list[str]:
    """One curriculum level: each model's accuracy, faithful rates, format and length with 95% intervals, beside
    the level's best target-blind template and, where measured, the target twins."""
    first = next(iter(entries.values()))
    n = first["num_prompts"]
    lines = [
        f"Level {k} ({n} held-out puzzles, e.g. {first['samples'][0]['nums']} -> {first['samples'][0]['target']}):",
        "",
        "| model | accuracy | faithful | faithful, right answers | format | mean tokens | twins changed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, e in entries.items():
        right = round(e["accuracy"] * n)
        twins = "-" if "twin_changed_share" not in e else f"{e['twin_changed_share']:.0%}"
        cells = [
            _rate(e["accuracy"], n),
            _rate(e["faithful_rate"], n),
            _rate(e.get("faithful_correct_rate"), right),
            _rate(e["format_rate"], n),
            f"{e['mean_length']:.1f}",
            twins,
        ]
        lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + " |")
    lines += ["", f"Best target-blind template `{first['template']}`: {_rate(first['template_accuracy'], n)}."]
    return lines


def main(argv: list[str] | None = None) -> dict:
    """Run (or resume) the pipeline; returns the results written to ``<output_dir>/results.json``."""
    parser = ArgumentParser(description="R1-Zero -> R1 pipeline from one YAML (see r1lite/r1/pipeline.py)")
    parser.add_argument("--config", default=str(DEFAULT_PIPELINE), help="pipeline YAML")
    parser.add_argument("--output_dir", default=None, help="override the YAML's output_dir")
    parser.add_argument("--seed", type=int, default=None, help="both stages' seed (a second run of the chain)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    spec = load_pipeline(args.config, {"output_dir": args.output_dir} if args.output_dir else None)
    if args.seed is not None:
        for stage in ("zero", "sft"):
            spec[stage]["seed"] = args.seed
    parsed = {stage: _check_stage(stage, spec[stage]) for stage in ("zero", "sft")}  # before the first one trains
    check_samples_fit_sft(parsed["zero"], parsed["sft"])
    root = Path(spec["output_dir"])
    from r1lite.training.run_folder import run_folder_lock  # noqa: PLC0415 - heavy: --help and the YAML checks skip it

    with run_folder_lock(root, main_process=int(os.environ.get("RANK", "0")) == 0):  # before any model loads
        return _run(spec, root)


def _run(spec: dict, root: Path) -> dict:
    start = time.time()
    zero_dir = run_zero(spec, root)
    sft_dir = run_sft(spec, root, zero_dir)
    base = json.loads((zero_dir / "r1lite_task.json").read_text())["base_model"]
    results = run_eval(spec, root, {"base": base, "zero": str(zero_dir), "sft": str(sft_dir)})
    stats_path = sft_dir / "samples" / "filter_stats.json"
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else None
    table = results_table(results, stats)
    summary = {
        "models": {name: {k: v for k, v in r.items() if k != "samples"} for name, r in results.items()},
        "filter_stats": stats,
        "seconds_this_call": round(time.time() - start, 1),
    }
    from accelerate import PartialState  # noqa: PLC0415 - heavy: --help and the YAML checks skip it

    if PartialState().is_main_process:
        (root / "results.json").write_text(json.dumps(summary, indent=1))
        (root / "results.md").write_text(table + "\n")
        print(table)
    return summary


def _check_stage(stage: str, recipe: dict) -> tuple:
    """Parse a stage's merged recipe without running it: unknown keys and bad values fail before any training.
    Returns the parsed configs (task or cleanup, training, model)."""
    from trl import ModelConfig, SFTConfig  # noqa: PLC0415 - heavy: --help and the YAML checks skip it

    from r1lite.config import R1ZeroConfig, TaskConfig, parse_recipe  # noqa: PLC0415 - heavy: --help and the YAML checks skip it

    classes = (TaskConfig, R1ZeroConfig, ModelConfig) if stage == "zero" else (CleanupConfig, SFTConfig, ModelConfig)
    recipe = {**recipe, "output_dir": recipe.get("output_dir", "unused")}
    if stage == "sft":
        recipe["sample_from"] = "unused"  # the pipeline sets it to the zero stage's folder
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(recipe, f)
    try:
        return parse_recipe(classes, Path(f.name), [])
    except (ValueError, SystemExit) as err:
        raise ConfigError(f"the {stage} section of the pipeline does not parse: {err}") from err
    finally:
        os.unlink(f.name)


def check_samples_fit_sft(zero: tuple, sft: tuple, tokenizer=None) -> None:
    """The R1 stage's check that a sample (prompt + ``sample_max_new_tokens``) fits SFT's ``max_length``, made
    before the zero stage trains: the prompts it will sample from are the zero recipe's. (The R1 stage checks
    again from the zero run's record; without this, a misfit surfaced only after the zero stage's training.)"""
    from r1lite.models import load_tokenizer, resolve_model_path  # noqa: PLC0415 - heavy: --help skips it
    from r1lite.r1.sft import fitting_sample_rows  # noqa: PLC0415 - heavy: --help skips it

    (task, _, model_args), (cleanup, training, _) = zero, sft
    tokenizer = tokenizer or load_tokenizer(resolve_model_path(model_args.model_name_or_path))
    fitting_sample_rows(task, tokenizer, cleanup, training)
