"""Held-out evaluation: pass@k arithmetic and recipes/eval.py on a tiny model."""

import importlib.util
import json

import pytest

from r1lite.task.evaluation import pass_at_k

from conftest import REPO  # noqa: E402


@pytest.mark.parametrize(
    "n,c,k,expected",
    [
        (1, 1, 1, 1.0),  # greedy, correct
        (1, 0, 1, 0.0),  # greedy, wrong
        (8, 0, 8, 0.0),  # nothing correct
        (8, 1, 8, 1.0),  # one hit among k=n samples solves the prompt
        (4, 2, 1, 0.5),  # pass@1 is the fraction correct
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    ],
)
def test_pass_at_k(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def _eval_recipe():
    spec = importlib.util.spec_from_file_location("eval_recipe", REPO / "recipes" / "eval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eval_recipe_greedy_and_sampled(tmp_path, tiny_model_path):
    recipe = _eval_recipe()
    out = tmp_path / "greedy.json"
    report = recipe.main([tiny_model_path, "--eval_puzzles", "4", "--max_new_tokens", "6", "--output", str(out)])
    saved = json.loads(out.read_text())
    assert saved["num_prompts"] == 4 and saved["num_samples"] == 1 and len(saved["samples"]) == 4
    assert report["accuracy"] == saved["accuracy"]

    out = tmp_path / "sampled.json"
    recipe.main(
        [
            tiny_model_path,
            "--eval_puzzles",
            "3",
            "--max_new_tokens",
            "4",
            "--num_samples",
            "2",
            "--temperature",
            "1.0",
            "--output",
            str(out),
        ]
    )
    saved = json.loads(out.read_text())
    assert saved["num_samples"] == 2 and len(saved["samples"]) == 6
    assert 0.0 <= saved["pass_at_k"] <= 1.0


def test_eval_recipe_rejects_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _eval_recipe().main([str(tmp_path / "nope")])


def test_sampling_without_temperature_is_refused(tiny_model_path):
    with pytest.raises(ValueError, match="temperature"):
        _eval_recipe().main([tiny_model_path, "--eval_puzzles", "2", "--num_samples", "4"])


def test_eval_recipe_takes_a_checkpoints_task(tmp_path, tiny_recipe, tiny_model_path):
    """A run's checkpoint is evaluated on its own task (the tiny recipe: 8 puzzles, 16 tokens, 'base'),
    a zero recipe's task with --config, and options given on the command line win."""
    from r1lite.training import zero

    zero.main(tiny_recipe + ["--max_steps", "1", "--eval_at_end", "false", "--stop_strings", "</answer>"])
    recipe = _eval_recipe()
    report = recipe.main([str(tmp_path / "run"), "--output", str(tmp_path / "a.json")])
    assert report["task_from"] == "task record" and report["num_prompts"] == 8
    assert report["settings"]["max_new_tokens"] == 16 and report["settings"]["stop_strings"] == ["</answer>"]
    assert report["settings"]["max_number"] == 20 and report["settings"]["prompt_template"] == "base"
    report = recipe.main([str(tmp_path / "run"), "--eval_puzzles", "3", "--output", str(tmp_path / "b.json")])
    assert report["num_prompts"] == 3
    report = recipe.main(
        [
            tiny_model_path,
            "--config",
            str(REPO / "configs/smollm2-135m/zero.yaml"),
            "--eval_puzzles",
            "2",
            "--max_new_tokens",
            "4",
            "--output",
            str(tmp_path / "c.json"),
        ]
    )
    assert report["settings"]["prompt_template"] == "chat_compare"


@pytest.mark.parametrize(
    "successes, n, low, high",
    [
        (0, 64, 0.0, 0.0566),  # z^2 / (n + z^2)  # nothing solved: the interval still reaches 5.7%
        (64, 64, 0.9434, 1.0),
        (13, 64, 0.1227, 0.3171),  # 20%: clears a base at 0 of 64
        (5, 10, 0.2366, 0.7634),  # the textbook example
        (0, 0, 0.0, 1.0),  # no data: no information
    ],
)
def test_wilson_interval(successes, n, low, high):
    from r1lite.task.evaluation import wilson_interval

    assert wilson_interval(successes, n) == pytest.approx((low, high), abs=1e-4)


def test_eval_recipe_at_a_curriculum_level(tmp_path, tiny_model_path):
    recipe = _eval_recipe()
    report = recipe.main(
        [
            tiny_model_path,
            "--config",
            str(REPO / "configs/smollm2-135m/learn.yaml"),
            "--level",
            "1",
            "--eval_puzzles",
            "2",
            "--max_new_tokens",
            "4",
            "--output",
            str(tmp_path / "l.json"),
        ]
    )
    assert report["settings"]["max_numbers"] == 3 and all(len(s["nums"]) == 3 for s in report["samples"])
    assert len(report["accuracy_interval"]) == 2
    with pytest.raises(ValueError, match="--level 5: the task has 2 curriculum levels"):
        recipe.main([tiny_model_path, "--config", str(REPO / "configs/smollm2-135m/learn.yaml"), "--level", "5"])


def test_eval_recipe_reports_the_template_baseline_and_the_twin_probe(tmp_path, tiny_model_path, capsys):
    recipe = _eval_recipe()
    out = tmp_path / "greedy.json"
    recipe.main([tiny_model_path, "--eval_puzzles", "4", "--max_new_tokens", "6", "--output", str(out)])
    saved = json.loads(out.read_text())
    assert saved["template"] and 0 <= saved["template_accuracy"] <= 1
    assert saved["twins"]["pairs"] == len(saved["twins"]["samples"]) > 0  # every twin evaluated, greedy
    assert all(s["twin_of"] != s["target"] for s in saved["twins"]["samples"])
    printed = capsys.readouterr().out
    assert "best target-blind template:" in printed and "target twins (same numbers, another target)" in printed


def test_eval_recipe_draws_a_balanced_heldout_set(tmp_path, tiny_model_path):
    # the learning recipe's 2-number level, where the sum alone solves more than a third of the plain split
    args = [tiny_model_path, "--config", str(REPO / "configs/smollm2-135m/learn.yaml"), "--eval_puzzles", "16"]
    args += ["--max_new_tokens", "2", "--no-twins", "--eval_template_share", "0.25"]
    args += ["--output", str(tmp_path / "b.json")]
    report = _eval_recipe().main(args)
    assert report["settings"]["eval_template_share"] == [0.25] and report["template_accuracy"] <= 0.25


def test_eval_recipe_takes_an_operator_set(tmp_path, tiny_model_path):
    # --operators +-: every held-out target and every twin's is a sum or a difference of the puzzle's numbers
    args = [tiny_model_path, "--min_numbers", "2", "--max_numbers", "2", "--max_number", "30", "--target_max", "60"]
    args += ["--operators", "+-", "--eval_puzzles", "8", "--max_new_tokens", "2", "--output", str(tmp_path / "o.json")]
    report = _eval_recipe().main(args)
    assert report["settings"]["operators"] == "+-"
    for s in report["samples"] + report["twins"]["samples"]:
        assert s["target"] in (sum(s["nums"]), abs(s["nums"][0] - s["nums"][1]))


def test_eval_recipe_refuses_twins_with_sampling(tiny_model_path):
    from r1lite.errors import ConfigError

    with pytest.raises(ConfigError, match="one greedy answer per puzzle"):
        _eval_recipe().main([tiny_model_path, "--twins", "--num_samples", "2", "--temperature", "1.0"])


def test_a_set_too_small_to_beat_the_template_is_warned_once(caplog, monkeypatch):
    from r1lite.task import evaluation
    from r1lite.task.evaluation import target_blind

    monkeypatch.setattr(evaluation, "_warned", set())

    samples = [
        {"nums": [3, 4], "target": 7, "correct": 0.0, "shape": None},
        {"nums": [5, 1], "target": 4, "correct": 0.0, "shape": None},
    ]
    with caplog.at_level("WARNING", logger="r1lite.task.evaluation"):
        fields = target_blind(samples)
        target_blind(samples)
    assert fields["template"] == "a + b" and fields["template_accuracy"] == 0.5  # ties: the first shape
    warnings = [r.getMessage() for r in caplog.records if "cannot tell a model 15 points above" in r.getMessage()]
    assert len(warnings) == 1 and "use at least" in warnings[0]


@pytest.mark.parametrize(
    "every, at_start, evaluated",
    [
        (0, None, False),  # no curve, nothing asked: the run evaluates only at the end
        (12, None, True),  # a curve starts at step 0
        (12, False, False),  # said false: skipped even with a curve (seeds whose untrained row comes from elsewhere)
        (0, True, True),  # a before-and-after table without a curve
    ],
)
def test_start_evaluation(every, at_start, evaluated):
    from types import SimpleNamespace

    from r1lite.training.callbacks import HeldoutEvalCallback

    cb = HeldoutEvalCallback([], None, max_new_tokens=8, every=every, at_start=at_start)
    runs = []
    cb._run = lambda state, name=None, **kw: runs.append(name)
    cb.on_train_begin(None, SimpleNamespace(global_step=0), None)
    assert runs == (["step-000000.json"] if evaluated else [])
