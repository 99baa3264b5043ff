"""The R1-Zero stage end to end on the tiny recipe: parsing, bad input, training, rollouts, resume, 2 processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from r1lite.training import zero

from conftest import REPO  # noqa: E402

RECIPES = sorted((REPO / "configs").glob("*/zero.yaml"))


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.parent.name)
def test_every_recipe_parses(recipe):
    # GPU recipes must parse here too (bf16 on a CPU box is checked by the trainer, not the parser).
    task, training, model_args = zero.parse_args(["--config", str(recipe), "--use_cpu", "true", "--bf16", "false"])
    assert model_args.model_name_or_path
    assert training.generation_batch_size % training.num_generations == 0


def test_no_arguments_means_default_recipe():
    task, training, model_args = zero.parse_args([])
    assert model_args.model_name_or_path == "smollm2-135m-instruct"
    assert training.output_dir.endswith("smollm2-135m-zero")


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if anything tries to load the policy model."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the bad input was reported")

    monkeypatch.setattr(zero, "load_policy", refuse)


def _bad_json_dataset(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"numbers": [1, 2], "goal": 3}\n')
    return str(path)


BAD_INPUTS = [
    # (extra args, expected exception, words the message must contain)
    (["--not_a_key", "1"], ValueError, "not_a_key"),  # unknown key on the command line
    (["--num_generations", "3"], ValueError, "divisible"),  # 8 completions per batch cannot form groups of 3
    (["--model_name_or_path", "./no/such/model"], FileNotFoundError, "does not exist"),  # missing model path
    (["--reward_funcs", "equation_reward", "no_such_reward"], ValueError, "equation_reward"),  # lists known names
    (["--reward_weights", "1.0"], ValueError, "reward_weights"),  # one weight for two rewards
    (["--prompt_template", "fancy"], ValueError, "chat_one_shot"),  # lists the templates
]


@pytest.mark.parametrize("extra,error,words", BAD_INPUTS, ids=[b[0][0] for b in BAD_INPUTS])
def test_bad_input_fails_before_model_loads(tiny_recipe, no_model_load, extra, error, words):
    with pytest.raises(error, match=words):
        args = zero.parse_args(tiny_recipe + extra)
        zero.build_trainer(*args)


def test_unknown_key_in_yaml(tmp_path, no_model_load):
    recipe = tmp_path / "r.yaml"
    recipe.write_text((REPO / "configs/tiny/zero.yaml").read_text() + "\nlearning_rat: 1.0e-3\n")
    with pytest.raises(ValueError, match="learning_rat"):
        zero.parse_args(["--config", str(recipe)])


def test_dataset_without_columns(tmp_path, tiny_recipe, no_model_load):
    args = zero.parse_args(tiny_recipe + ["--dataset_name", _bad_json_dataset(tmp_path)])
    with pytest.raises(ValueError, match="nums"):
        zero.build_trainer(*args)


def _rollouts(run: Path) -> dict[str, list[dict]]:
    return {f.name: [json.loads(line) for line in f.open()] for f in sorted((run / "rollouts").glob("*.jsonl"))}


def test_tiny_run_trains_logs_and_evaluates(tmp_path, tiny_recipe, tiny_model_path, length_reward, capsys):
    from transformers import AutoModelForCausalLM

    before = AutoModelForCausalLM.from_pretrained(tiny_model_path).state_dict()
    summary = zero.main(tiny_recipe + length_reward + ["--eval_at_start", "true"])
    run = tmp_path / "run"
    assert summary["steps"] == 2
    assert 0.1 < summary["peak_memory_gb"] < 64  # written for the memory comparisons (bench/README.md)
    after = AutoModelForCausalLM.from_pretrained(run).state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "no parameter changed after two GRPO steps"

    rollouts = _rollouts(run)
    assert list(rollouts) == ["step-000000.jsonl", "step-000001.jsonl"]
    rows = rollouts["step-000000.jsonl"]
    assert len(rows) == 8  # per_device_train_batch_size completions
    keys = {
        "step",
        "index",
        "group",
        "prompt",
        "completion",
        "nums",
        "target",
        "rewards",
        "reward",
        "advantage",
        "length",
        "truncated",
    }
    assert keys <= set(rows[0])
    assert set(rows[0]["rewards"]) == {"equation_reward", "length_reward"}  # the dotted-path reward was used
    assert [r["group"] for r in rows] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert all(r["length"] <= 16 for r in rows)
    assert any(r["advantage"] != 0 for r in rows)

    final = json.loads((run / "eval" / "final.json").read_text())
    assert final["num_prompts"] == 8 and 0.0 <= final["accuracy"] <= 1.0
    from r1lite.inspection.summary import run_table

    table = run_table(run)
    assert "| 2 |" in table and "Held-out (8 puzzles" in table
    # the run ends by printing the before-and-after table with the template baseline, and what to open next
    assert (run / "eval" / "step-000000.json").exists() and final["twins"]["pairs"] > 0
    printed = capsys.readouterr().out
    assert "Before and after, on the same held-out puzzles" in printed and "best target-blind template" in printed
    assert f"r1lite report {run}" in printed


def test_resume_continues_with_the_same_batches(tmp_path, tiny_model_path, length_reward):
    """Stop after step 2, resume, reach step 4: step 3's prompts match an uninterrupted run."""
    from transformers import TrainerCallback

    class StopAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 2:
                control.should_training_stop = True

    base = [
        "--config",
        str(REPO / "configs/tiny/zero.yaml"),
        "--max_steps",
        "4",
        "--eval_at_end",
        "false",
        "--save_strategy",
        "steps",
        "--save_steps",
        "2",
        "--lr_scheduler_type",
        "linear",
        *length_reward,
    ]
    zero.main(base + ["--output_dir", str(tmp_path / "full")])
    zero.main(base + ["--output_dir", str(tmp_path / "part")], callbacks=[StopAt()])
    assert (tmp_path / "part" / "checkpoint-2").is_dir()
    summary = zero.main(base + ["--output_dir", str(tmp_path / "part"), "--resume_from_checkpoint", "true"])
    assert summary["steps"] == 4
    full, part = _rollouts(tmp_path / "full"), _rollouts(tmp_path / "part")
    for step in ("step-000002.jsonl", "step-000003.jsonl"):
        assert [r["prompt"] for r in part[step]] == [r["prompt"] for r in full[step]], step
        assert [r["completion"] for r in part[step]] == [r["completion"] for r in full[step]], step


def test_two_processes_with_accelerate(tmp_path, tiny_model_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # The config file starts 2 processes with torchrun; the recipe's use_cpu makes them talk over gloo.
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(REPO / "configs/accelerate/cpu-2proc.yaml"),
        str(REPO / "recipes/zero.py"),
        "--config",
        str(REPO / "configs/tiny/zero.yaml"),
        "--output_dir",
        str(tmp_path / "run"),
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "training pass with shared prefixes" in result.stderr  # one forward per micro-batch: DDP takes it
    assert "FutureWarning" not in result.stderr  # the console reads like a product's: no deprecation noise
    rows = _rollouts(tmp_path / "run")["step-000001.jsonl"]
    assert len(rows) == 16  # 8 completions on each of the 2 processes, gathered and written once
    assert (tmp_path / "run" / "eval" / "final.json").exists()


def test_stop_strings_end_completions(tmp_path, tiny_recipe, tiny_model_path, length_reward):
    """A stop string ends a row's completion at the token that completes it; the row then costs no more tokens."""
    # Random tokens often contain an "e", so most of the 16-token completions stop early.
    summary = zero.main(
        tiny_recipe + length_reward + ["--stop_strings", "e", "--max_steps", "1", "--eval_at_end", "false"]
    )
    rows = _rollouts(tmp_path / "run")["step-000000.jsonl"]
    stopped = [r for r in rows if r["length"] < 16]
    assert stopped, "no completion stopped early"
    assert all("e" in r["completion"] and not r["truncated"] for r in stopped)
    assert summary["steps"] == 1


@pytest.mark.parametrize(
    "with_length_reward, dropped, rounds",
    [
        (False, 1.0, 2.0),  # equation_reward alone: a random model never solves, every group dead, 2 extra rounds
        (True, None, None),  # plus the length reward's variance: few or no extra rounds
    ],
)
def test_dynamic_sampling(tmp_path, tiny_recipe, tiny_model_path, length_reward, with_length_reward, dropped, rounds):
    rewards = length_reward if with_length_reward else ["--reward_funcs", "equation_reward"]
    summary = zero.main(
        tiny_recipe
        + rewards
        + [
            "--dynamic_sampling",
            "true",
            "--dynamic_sampling_max_rounds",
            "2",
            "--max_steps",
            "1",
            "--eval_at_end",
            "false",
        ]
    )
    logs = next(h for h in summary["log_history"] if "dynamic_sampling/dropped_fraction" in h)
    if dropped is not None:
        assert logs["dynamic_sampling/dropped_fraction"] == dropped and logs["dynamic_sampling/extra_rounds"] == rounds
        assert logs["dynamic_sampling/signal_fraction"] == 0.0
        files = set(_rollouts(tmp_path / "run"))  # the first round and the two extra ones
        assert files == {"step-000000.jsonl", "step-000000-0001.jsonl", "step-000000-0002.jsonl"}
    else:
        assert 0.0 <= logs["dynamic_sampling/dropped_fraction"] < 1.0
        assert logs["dynamic_sampling/signal_fraction"] >= 1.0 - logs["dynamic_sampling/dropped_fraction"]
    assert summary["steps"] == 1


@pytest.mark.parametrize(
    "args, match",
    [
        (["--dynamic_sampling_max_rounds", "0"], "dynamic_sampling_max_rounds must be at least 1"),
        (["--stop_strings", ""], "empty string"),
    ],
)
def test_speed_options_checked(tiny_recipe, args, match):
    with pytest.raises(ValueError, match=match):
        zero.main(tiny_recipe + args)
