"""The R1 stage (recipes/sft.py) and the whole pipeline (recipes/pipeline.py) on the tiny model."""

import json

import pytest
import yaml

from conftest import REPO  # noqa: E402

TINY_SFT = str(REPO / "configs" / "tiny" / "sft.yaml")
TINY_PIPELINE = REPO / "configs" / "tiny" / "pipeline.yaml"


@pytest.fixture(scope="module")
def zero_run(tmp_path_factory, tiny_model_path):
    """One tiny R1-Zero run shared by the R1-stage tests."""
    from r1lite.training.zero import main

    out = tmp_path_factory.mktemp("zero") / "run"
    main(
        ["--config", str(REPO / "configs" / "tiny" / "zero.yaml"), "--output_dir", str(out), "--eval_at_end", "false"]
    )
    return out


CPU = {"use_cpu": True, "bf16": False}  # GPU recipes only parse on a GPU box otherwise (TrainingArguments checks bf16)


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*/sft.yaml")), ids=lambda p: p.parent.name)
def test_sft_recipes_parse(path):
    from r1lite.r1.sft import parse_args

    cleanup, training, _ = parse_args(["--config", str(path), "--use_cpu", "true", "--bf16", "false"])
    assert cleanup.sample_from and training.output_dir and cleanup.keep_rules is not None


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*/pipeline.yaml")), ids=lambda p: p.parent.name)
def test_pipeline_recipes_parse(path):
    from r1lite.r1.pipeline import _check_stage, load_pipeline

    spec = load_pipeline(path)
    for stage in ("zero", "sft"):
        _check_stage(stage, {**spec[stage], **CPU})


def test_sft_trains_on_kept_samples(zero_run, tmp_path):
    from r1lite.models import load_model
    from r1lite.r1.sft import main

    out = tmp_path / "sft"
    summary = main(["--config", TINY_SFT, "--sample_from", str(zero_run), "--output_dir", str(out)])
    stats = json.loads((out / "samples" / "filter_stats.json").read_text())
    assert stats["sampled"] == 16 and stats["kept"] == summary["filter_stats"]["kept"] > 0
    assert summary["steps"] > 0
    before, after = load_model(str(zero_run)), load_model(str(out))
    changed = [n for n, p in after.named_parameters() if not p.detach().equal(before.get_parameter(n).detach())]
    assert changed, "SFT left every parameter unchanged"
    assert json.loads((out / "eval" / "final.json").read_text())["num_prompts"] == 8
    assert json.loads((out / "r1lite_task.json").read_text())["base_model"] == "tiny-random"  # the task travels on


def test_sft_loss_is_on_completions_only(zero_run, tmp_path):
    """The prompt tokens carry label -100: SFT learns the reasoning, not the question."""
    from datasets import Dataset

    from r1lite.models import load_tokenizer
    from r1lite.r1.sft import build_trainer, parse_args

    cleanup, training, model_args = parse_args(["--config", TINY_SFT, "--output_dir", str(tmp_path / "o")])
    tokenizer = load_tokenizer(str(zero_run))
    kept = Dataset.from_list(
        [{"prompt": "User: 2 + 2?\nAssistant: <think>", "completion": " 4 </think> <answer> 4 </answer>"}]
    )
    trainer = build_trainer(cleanup, training, model_args, kept, tokenizer, str(zero_run))
    batch = next(iter(trainer.get_train_dataloader()))
    labels = batch["labels"][0]
    n_prompt = len(tokenizer("User: 2 + 2?\nAssistant: <think>")["input_ids"])
    assert (labels[: n_prompt - 1] == -100).all() and (labels[n_prompt:] != -100).any()


@pytest.mark.parametrize(
    "args, error, match",
    [
        (["--sample_from", "/no/such/run"], FileNotFoundError, "no such folder"),  # fails before sampling
        (["--keep_if", "equation_reward"], ValueError, "reward_name>=value"),  # malformed rule
        (["--keep_if", "no_such_reward>=1"], ValueError, "no_such_reward"),  # unknown reward
        (["--model_name_or_path", "x"], ValueError, "set init_from instead"),  # ambiguous start
        (["--init_from", "/no/such/model"], FileNotFoundError, "/no/such/model"),
        (["--max_length", "20"], ValueError, "Set max_length to at least 163"),  # 147-token prompts + 16 new
    ],
)
def test_sft_bad_input_fails_before_sampling(zero_run, tmp_path, monkeypatch, args, error, match):
    from r1lite.r1 import rejection
    from r1lite.r1.sft import main

    monkeypatch.setattr(rejection, "sample", lambda *a, **k: pytest.fail("sampling started"))
    base = ["--config", TINY_SFT, "--sample_from", str(zero_run), "--output_dir", str(tmp_path / "o")]
    with pytest.raises(error, match=match):
        main(base + args)


def test_sft_without_task_record_needs_task_recipe(zero_run, tmp_path):
    import shutil

    from r1lite.r1.sft import main

    bare = tmp_path / "bare"
    shutil.copytree(zero_run, bare)
    (bare / "r1lite_task.json").unlink()
    with pytest.raises(FileNotFoundError, match="set task_recipe"):
        main(["--config", TINY_SFT, "--sample_from", str(bare), "--output_dir", str(tmp_path / "o")])


def test_empty_kept_set_stops_before_training(zero_run, tmp_path):
    from r1lite.r1.rejection import EmptyKeptSetError
    from r1lite.r1.sft import main

    # The library's default filter (correct answer, strict format) keeps nothing from a random model.
    args = [
        "--config",
        TINY_SFT,
        "--sample_from",
        str(zero_run),
        "--output_dir",
        str(tmp_path / "o"),
        "--keep_if",
        "equation_reward>=1",
        "format_reward>=1",
    ]
    with pytest.raises(
        EmptyKeptSetError, match=r"sampled 16 completions from 8 prompts, kept 0.*equation_reward<1: 16"
    ):
        main(args)
    assert not (tmp_path / "o" / "model.safetensors").exists()


def test_pipeline_runs_skips_and_resumes(tmp_path, tiny_model_path, monkeypatch):
    from r1lite.r1 import pipeline, rejection, sft
    from r1lite.training import zero

    root = tmp_path / "pipe"
    summary = pipeline.main(["--config", str(TINY_PIPELINE), "--output_dir", str(root), "--seed", "3"])
    assert set(summary["models"]) == {"base", "zero", "sft"}
    for metrics in summary["models"].values():
        for key in (
            "accuracy",
            "format_rate",
            "mean_length",
            "truncation_rate",
            "repetition_rate",
            "language_mixing_rate",
            "empty_reasoning_rate",
            "readable_rate",
            "distinct_rate",
        ):
            assert 0 <= metrics[key] <= (16 if key == "mean_length" else 1), (key, metrics)
    table = (root / "results.md").read_text()
    assert "| after R1-Zero |" in table and "| after SFT (R1) |" in table and "Rejection sampling: sampled 16" in table
    assert json.loads((root / "results.json").read_text())["filter_stats"]["kept"] > 0
    recipe = yaml.safe_load((root / "zero" / "recipe.yaml").read_text())
    assert recipe["eval_at_end"] is False and recipe["output_dir"] == str(root / "zero")
    assert recipe["seed"] == 3 and yaml.safe_load((root / "sft" / "recipe.yaml").read_text())["seed"] == 3  # --seed

    # Done stages are skipped: running again trains nothing and gives the same table.
    monkeypatch.setattr(zero, "main", lambda *a, **k: pytest.fail("zero stage ran again"))
    monkeypatch.setattr(sft, "main", lambda *a, **k: pytest.fail("sft stage ran again"))
    assert pipeline.main(["--config", str(TINY_PIPELINE), "--output_dir", str(root)])["models"] == summary["models"]

    # A pipeline stopped after sampling resumes at SFT without sampling again.
    monkeypatch.undo()
    (root / "sft" / "run_summary.json").unlink()
    (root / "eval" / "sft.json").unlink()
    monkeypatch.setattr(rejection, "sample", lambda *a, **k: pytest.fail("sampled again"))
    monkeypatch.setattr(zero, "main", lambda *a, **k: pytest.fail("zero stage ran again"))
    again = pipeline.main(["--config", str(TINY_PIPELINE), "--output_dir", str(root)])
    assert (root / "sft" / "run_summary.json").exists() and set(again["models"]) == {"base", "zero", "sft"}

    # An evaluation cached for other puzzles is made again: the recipe's eval.puzzles changed since.
    spec = {**yaml.safe_load(TINY_PIPELINE.read_text()), "output_dir": str(root)}
    (tmp_path / "four.yaml").write_text(yaml.safe_dump({**spec, "eval": {**spec["eval"], "puzzles": 4}}))
    four = pipeline.main(["--config", str(tmp_path / "four.yaml")])
    assert {m["num_prompts"] for m in four["models"].values()} == {4}
    assert json.loads((root / "eval" / "sft.json").read_text())["num_prompts"] == 4


RECORD = {"prompt_template": "chat_compare", "seed": 0}


@pytest.mark.parametrize(
    "change, reused, why",
    [
        ({}, True, None),  # nothing changed: the saved evaluation stands
        ({"puzzles": 4}, False, "puzzles"),  # eval.puzzles changed
        ({"max_new_tokens": 64}, False, "max_new_tokens"),  # eval.max_new_tokens changed
        ({"record": {**RECORD, "prompt_template": "chat_try"}}, False, "task"),  # the zero stage ran another task
        ({"weights": b"newer"}, False, "weights"),  # the stage's folder was deleted and the stage run again
        ({"model": "other"}, False, "model, weights"),  # another model
        ({"no_key": True}, False, "max_new_tokens, model, puzzles, task, weights"),  # saved by an older version
    ],
)
def test_cached_evaluation_reused_only_for_the_same_model_task_and_puzzles(tmp_path, caplog, change, reused, why):
    from r1lite.r1.pipeline import _cached_eval, _eval_key

    model = tmp_path / "zero"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"old")
    (model / "run_summary.json").write_text("{}")  # not a weight file: not in the key
    saved = _eval_key(str(model), 8, 96, RECORD)
    target = tmp_path / "eval" / "zero.json"
    target.parent.mkdir()
    target.write_text(json.dumps({"accuracy": 0.5, **({} if change.get("no_key") else {"cache_key": saved})}))
    if "weights" in change:
        (model / "model.safetensors").write_bytes(change["weights"])
    path = str(tmp_path / change["model"]) if "model" in change else str(model)
    key = _eval_key(path, change.get("puzzles", 8), change.get("max_new_tokens", 96), change.get("record", RECORD))
    with caplog.at_level("INFO", logger="r1lite.r1.pipeline"):
        assert _cached_eval(target, key) == ({"accuracy": 0.5} if reused else None)
    assert (why is None) == (not caplog.records)
    if why:
        assert f"made for another {why}: evaluating anew" in caplog.text


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"zero": {"config": "configs/tiny/zero.yaml"}}, "output_dir is not set"),
        ({"output_dir": "x", "zeroo": {}}, r"unknown top-level keys \['zeroo'\]"),
        ({"output_dir": "x", "eval": {"puzles": 3}}, r"unknown keys \['puzles'\] in eval"),
        ({"output_dir": "x", "zero": {"config": "configs/nope.yaml"}}, "recipe 'configs/nope.yaml' not found"),
        (
            {
                "output_dir": "x",
                "zero": {"config": "configs/tiny/zero.yaml", "max_stepz": 3},
                "sft": {"config": "configs/tiny/sft.yaml"},
            },
            "zero section of the pipeline does not parse",
        ),
    ],
)
def test_pipeline_bad_config(tmp_path, spec, match):
    from r1lite.r1 import pipeline

    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        pipeline.main(["--config", str(path)])


def test_pipeline_on_two_processes(tmp_path, tiny_model_path):
    """The R1 stage under the same accelerate config as the zero stage: each process samples half the prompts."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(REPO / "configs/accelerate/cpu-2proc.yaml"),
        str(REPO / "recipes/pipeline.py"),
        "--config",
        str(TINY_PIPELINE),
        "--output_dir",
        str(tmp_path / "pipe"),
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "FutureWarning" not in result.stderr  # filtered before any stage builds its config
    stats = json.loads((tmp_path / "pipe" / "sft" / "samples" / "filter_stats.json").read_text())
    assert stats["sampled"] == 16 and stats["prompts"] == 8  # both halves gathered
    samples = (tmp_path / "pipe" / "sft" / "samples" / "samples.jsonl").read_text().splitlines()
    assert sorted(json.loads(s)["prompt_index"] for s in samples) == sorted(list(range(8)) * 2)
    results = json.loads((tmp_path / "pipe" / "results.json").read_text())
    assert all(m["num_prompts"] == 8 for m in results["models"].values())  # eval gathered from both processes


def test_a_curriculum_pipeline_tables_each_level_and_reuses_the_zero_stage_evaluations(tmp_path, tiny_model_path):
    from r1lite.r1 import pipeline

    spec = {
        "output_dir": str(tmp_path / "pipe"),
        "zero": {
            "config": "configs/tiny/zero.yaml",
            "curriculum_levels": ["2/20/1-50", "2-3/20/1-50"],  # the second is the recipe's own difficulty
            "eval_at_start": True,
            "eval_at_end": True,
        },
        "sft": {"config": "configs/tiny/sft.yaml"},
        "eval": {"puzzles": 8, "batch_size": 8},
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(spec))
    pipeline.main(["--config", str(path)])
    root = tmp_path / "pipe"
    entries = {name: json.loads((root / "eval" / f"{name}.json").read_text()) for name in ("base", "zero", "sft")}
    # the zero stage evaluated the base and R1-Zero models on the same puzzles: reused, not run again
    assert entries["base"]["reused"].endswith("step-000000.json") and entries["zero"]["reused"].endswith("final.json")
    assert "reused" not in entries["sft"]
    for entry in entries.values():
        assert len(entry["levels"]) == 2  # level 1 is the main evaluation, level 0 its own
        assert entry["levels"][0]["num_prompts"] == 8 and all(
            len(s["nums"]) == 2 for s in entry["levels"][0]["samples"]
        )
    assert entries["zero"]["levels"][1]["twin_changed_share"] >= 0  # the final evaluation's target probe
    table = (root / "results.md").read_text()
    assert "Level 0 (8 held-out puzzles" in table and "Level 1 (8 held-out puzzles" in table
    assert table.count("| after SFT (R1) |") == 3 and "Best target-blind template `" in table


@pytest.mark.parametrize(
    "share, n, text",
    [
        (0.5, 96, "50% (40-60%)"),
        (0.0, 96, "0% (0-4%)"),  # 0 of 96: the interval still reaches 3.8%
        (None, 96, "-"),  # not measured (no right answer to be faithful in)
        (1.0, 0, "-"),
    ],
)
def test_rates_carry_their_interval(share, n, text):
    from r1lite.r1.pipeline import _rate

    assert _rate(share, n) == text


@pytest.mark.parametrize("name", ["pipeline.yaml", "learn-pipeline.yaml"])
def test_default_model_pipelines_fit_their_samples_before_the_zero_stage(tokenizer, name):
    from r1lite.errors import ConfigError
    from r1lite.r1.pipeline import _check_stage, check_samples_fit_sft, load_pipeline

    spec = load_pipeline(REPO / "configs" / "smollm2-135m" / name)
    zero, sft = (_check_stage(stage, {**spec[stage], **CPU}) for stage in ("zero", "sft"))
    check_samples_fit_sft(zero, sft, tokenizer)  # the shipped max_length holds prompt + sample_max_new_tokens
    sft[1].max_length = 512  # the default's until 2026-12-07: make pipeline stopped only after the zero stage
    with pytest.raises(ConfigError, match="Set max_length to at least"):
        check_samples_fit_sft(zero, sft, tokenizer)


def test_the_learn_pipeline_samples_from_every_level(tokenizer):
    from r1lite.config import TaskConfig
    from r1lite.r1.pipeline import load_pipeline
    from r1lite.task.data import sampling_rows

    spec = load_pipeline(REPO / "configs" / "smollm2-135m" / "learn-pipeline.yaml")
    task_keys = set(TaskConfig.__dataclass_fields__)
    task = TaskConfig(**{k: v for k, v in spec["zero"].items() if k in task_keys})
    rows = sampling_rows(task, tokenizer, 6)
    assert [len(r["nums"]) for r in rows] == [2, 3, 2, 3, 2, 3] and all("prompt" in r for r in rows)
    assert "faithful_reward>=1" in spec["sft"]["keep_if"] and spec["zero"]["eval_at_end"] is True
