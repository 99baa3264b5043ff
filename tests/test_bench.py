"""Each benchmark script starts and prints its numbers (tiny sizes; benchmarks are not timed tests)."""

import json
import subprocess
import sys

import pytest

from conftest import REPO  # noqa: E402


def _run(*args, timeout=600):
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_bench_rewards_starts():
    out = _run("bench/bench_rewards.py", "--n", "200", "--repeats", "3")
    assert "completions/s" in out


def test_bench_overhead_starts(tiny_model_path):
    out = _run("bench/bench_overhead.py", "--config", "configs/tiny/zero.yaml", "--rounds", "1", "--steps", "1")
    assert "ratio to A" in out


def test_bench_step_starts(tiny_model_path):
    out = _run(
        "bench/bench_step.py",
        "--config",
        "configs/tiny/zero.yaml",
        "--rows",
        "8",
        "--new_tokens",
        "8",
        "--repeats",
        "1",
        "--matmul_n",
        "128",
    )
    assert "GFLOP/s" in out and "tokens/s" in out and "cache copied to every row" in out


def test_bench_attention_starts():
    out = _run("bench/bench_attention.py", "--prompt", "8", "--rows", "2", "--completion", "4", "--repeats", "1")
    assert "masked SDPA" in out and "| fp32 |" in out


def test_bench_sampling_starts():
    out = _run("bench/bench_sampling.py", "--rows", "2", "--vocab", "100", "--repeats", "2")
    assert "inverse CDF" in out and "ratio" in out


def test_bench_gpu_starts_on_cpu(tiny_model_path):
    out = _run(
        "bench/bench_gpu.py",
        "--shape",
        "tiny",
        "--device",
        "cpu",
        "--rows",
        "8",
        "--num_generations",
        "4",
        "--new_tokens",
        "8",
        "--repeats",
        "1",
    )
    assert "MFU" in out and "R1ZeroTrainer step" in out


def test_bench_behaviour_starts(tmp_path, tiny_recipe, tiny_model_path):
    from r1lite.training.zero import main

    main(tiny_recipe + ["--max_steps", "1", "--eval_at_end", "false"])
    out = _run("bench/bench_behaviour.py", str(tmp_path / "run"), "--min_rows", "50", "--repeats", "1")
    assert "completions/s" in out


def _bench(name):
    import runpy

    return runpy.run_path(str(REPO / "bench" / name))


def test_bench_prompts_counts_what_rl_could_reinforce(tokenizer):
    bench = _bench("bench_prompts.py")
    rows = [{"nums": [3, 7], "target": 10}] * 4
    completions = [
        "no answer",
        "</think> <answer> 1 + 2 </answer>",
        "<answer> 3 * 2 </answer>",
        "<answer> 7 + 3 </answer>",
    ]
    assert bench["counts"](completions, rows) == {
        "answer block": 0.75,
        "uses a puzzle number": 0.5,
        "uses exactly the numbers": 0.25,
        "solves it": 0.25,
    }
    text = bench["prompt"](tokenizer, "restate_two_numbers_try", [22, 12], 10)
    assert text.endswith("<think> I have the numbers 22 and 12 and need 10.") and "(1 + 2) / 3" not in text
    from r1lite.task.prompts import make_prompt

    assert bench["prompt"](tokenizer, "chat_few_shot", [22, 12], 10) == make_prompt(
        "chat_few_shot", [22, 12], 10, tokenizer
    )


def test_bench_seeds_table_has_the_spread(tmp_path):
    bench = _bench("bench_seeds.py")
    for seed, (reward, accuracy) in enumerate([(0.2, 0.0), (0.4, 0.125)]):
        run = tmp_path / f"seed-{seed}"
        (run / "eval").mkdir(parents=True)
        (run / "run_summary.json").write_text(
            json.dumps(
                {
                    "seconds": 600,
                    "log_history": [
                        {"step": 1, "reward": 0.0},
                        {"step": 2, "reward": reward},
                        {"step": 2, "train_runtime": 1},
                    ],
                }
            )
        )
        (run / "eval" / "final.json").write_text(
            json.dumps({"accuracy": accuracy, "num_prompts": 32, "format_rate": 0.5, "mean_length": 30.0})
        )
    rows = [bench["seed_row"](seed, tmp_path / f"seed-{seed}") for seed in (0, 1)]
    table = bench["table"](rows)
    assert "| 1 | 0.000 | 0.400 | 0.125 (" in table and "| mean ± sd | 0.000 ± 0.000 | 0.300 ± 0.141 |" in table
    bench["plot"](rows, tmp_path / "reward.png")
    assert (tmp_path / "reward.png").stat().st_size > 5_000
    assert not bench["plot_heldout"](rows, tmp_path / "heldout.png")  # no evaluation during training: no figure


def test_bench_seeds_table_per_level(tmp_path):
    bench = _bench("bench_seeds.py")
    for seed, level1 in enumerate([0.25, 0.5]):
        run = tmp_path / f"seed-{seed}"
        (run / "eval").mkdir(parents=True)
        (run / "run_summary.json").write_text(
            json.dumps({"seconds": 600, "log_history": [{"step": 1, "reward": 0.5}]})
        )
        probe = {"template": "a - b + c", "template_accuracy": 0.375, "top_shape": "a - b + c", "top_shape_share": 0.9}
        probe["twins"] = {"pairs": 8, "changed": 1, "changed_share": 0.125, "twin_accuracy": 0.0, "samples": []}
        levels = [{"accuracy": 0.5, "num_prompts": 8}, {"accuracy": level1, "num_prompts": 8, **probe}]
        (run / "eval" / "final.json").write_text(
            json.dumps({"accuracy": 0.5, "num_prompts": 8, "format_rate": 1.0, "mean_length": 30.0, "levels": levels})
        )
        if seed == 0:  # evaluated before training: the untrained row
            (run / "eval" / "step-000000.json").write_text(
                json.dumps({"accuracy": 0.0, "num_prompts": 8, "levels": [levels[0], {**levels[1], "accuracy": 0.0}]})
            )
        (run / "eval" / "history.jsonl").write_text(
            "".join(
                json.dumps({"step": step, "eval/level0/accuracy": 0.5, "eval/level1/accuracy": acc}) + "\n"
                for step, acc in [(0, 0.0), (4, level1)]
            )
        )
    rows = [bench["seed_row"](seed, tmp_path / f"seed-{seed}") for seed in (0, 1)]
    table = bench["table"](rows)
    assert (
        "| seed | reward, first step | reward, last step | level 0 held-out accuracy (95% interval) | level 1 held-out"
        in table
    )
    assert "| 1 | 0.500 | 0.500 | 0.500 (0.215-0.785, n=8) | 0.500 (0.215-0.785, n=8) | 1.000 |" in table
    assert "| mean ± sd | 0.500 ± 0.000 | 0.500 ± 0.000 | 0.500 ± 0.000 | 0.375 ± 0.177 |" in table
    assert bench["plot_heldout"](rows, tmp_path / "heldout.png") and (tmp_path / "heldout.png").stat().st_size > 5_000
    probes = bench["probe_table"](rows, bench["untrained_row"]([tmp_path / "seed-0", tmp_path / "seed-1"]))
    assert "| 1 | untrained | 0/8 (0%-32%) | `a - b + c` 3/8 | - | 1/8 | `a - b + c` 90% | - |" in probes
    assert "| 1 | 1 | 4/8 (22%-78%) | `a - b + c` 3/8 |" in probes and "| 0 | 0 | 4/8 (22%-78%) | - |" in probes


def test_bench_step_flop_count_shares_only_the_prompt(tiny_model_path):
    from r1lite.models import load_model

    flops = _bench("bench_step.py")["part_flops"]
    model = load_model(tiny_model_path)
    one = flops(model, groups=2, size=1, prompt=230, new=96)  # a group of one shares nothing
    assert one["training pass shared"] == one["training pass"] and one["prefill shared"] == one["prefill"]
    eight = flops(model, groups=2, size=8, prompt=230, new=96)
    assert eight["prefill shared"] == eight["prefill"] / 8  # each prompt once instead of 8 times
    assert eight["training pass"] / 8 < eight["training pass shared"] < eight["training pass"]


def test_bench_equality_starts(tiny_model_path):
    out = _run(
        "bench/bench_equality.py",
        "--model",
        "tiny-random",
        "--dtype",
        "float32",
        "--groups",
        "2",
        "--rows",
        "2",
        "--new_tokens",
        "4",
    )
    assert "first_token_logit_max_diff" in out and "rows_identical" in out and "logp_max_diff" in out


def test_bench_template_finds_the_best_target_blind_shape(tmp_path):
    # a - b solves the first two puzzles, a * b only the last: the best shape is a - b, 2 of 3
    samples = [
        {"nums": [9, 4], "target": 5, "correct": 0.0},
        {"nums": [7, 2], "target": 5, "correct": 1.0},
        {"nums": [3, 4], "target": 12, "correct": 0.0},
    ]
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "final.json").write_text(json.dumps({"samples": samples}))
    out = _run("bench/bench_template.py", str(tmp_path))
    assert "model           1/3" in out and "best template   a - b on 2-number puzzles: 2/3" in out
    assert "best order rule a * b where a < b; a - b where b < a: 3/3" in out  # per order of the numbers


def test_bench_template_on_an_unfinished_run_says_what_to_pass(tmp_path):
    result = subprocess.run(
        [sys.executable, "bench/bench_template.py", str(tmp_path)], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "eval/final.json not found: pass the folder of a run" in result.stderr


def test_compare_verdicts_reads_the_comparison_and_whether_the_answer_follows_it(tmp_path):
    def sample(nums, target, reasoning, shape):
        return {"nums": nums, "target": target, "completion": reasoning, "shape": shape}

    samples = [
        sample([25, 9], 16, "16 is less than 25, so subtract: 25 - 9 = 16, yes.", "a - b"),  # right, followed
        sample([14, 5], 19, "19 is less than 14, so subtract: 14 - 5 = 9, no.", "a - b"),  # wrong, followed
        sample([8, 23], 31, "31 is more than 23, so add: 8 - 23 = 31, yes.", "a - b"),  # right, not followed
        sample([6, 20], 14, "20 - 6 = 14, yes.", "b - a"),  # no comparison written: counts as neither
    ]
    (tmp_path / "final.json").write_text(json.dumps({"samples": samples}))
    out = _run("bench/compare_verdicts.py", str(tmp_path / "final.json"))
    assert "comparison right 2/4, answer's operator follows it 2/4" in out
    assert "decision right 2/4" in out  # target_decision_reward: the first and the third (its word follows)


def test_compare_verdicts_on_a_missing_file_says_what_to_pass(tmp_path):
    result = subprocess.run(
        [sys.executable, "bench/compare_verdicts.py", str(tmp_path / "step-000012.json")],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "step-000012.json not found: pass evaluation files" in result.stderr


def test_compare_verdicts_counts_the_naming_of_the_larger_number(tmp_path):
    def sample(nums, target, larger, smaller, correct):
        text = f"The larger number is {larger} and the smaller is {smaller}. ..."
        return {"nums": nums, "target": target, "completion": text, "correct": correct}

    samples = [
        sample([9, 25], 16, 25, 9, 1.0),  # a difference, named right, solved
        sample([9, 25], 16, 9, 25, 0.0),  # a difference, named in the given order (wrong): 9 - 25 fails
        sample([14, 5], 19, 14, 5, 1.0),  # a sum named right
        sample([5, 14], 19, 5, 14, 1.0),  # a sum named wrong: adding does not care
        sample([2, 3, 4], 9, 4, 3, 1.0),  # three numbers: not counted
    ]
    (tmp_path / "final.json").write_text(json.dumps({"samples": samples}))
    out = _run("bench/compare_verdicts.py", str(tmp_path / "final.json"))
    assert "larger number named right 2/4; sums solved 1/1 named right, 1/1 named wrong; " in out
    assert "differences solved 1/1 named right, 0/1 named wrong" in out


@pytest.mark.parametrize(
    ("scores", "truths", "auc", "best"),
    [
        ([3.0, 2.0, -1.0, -2.0], [True, True, False, False], 1.0, 1.0),  # ranked right: one cut splits them
        ([-1.0, -2.0, -3.0, -4.0], [True, True, False, False], 1.0, 1.0),  # leaning to "less", still ranked right
        ([1.0, 1.0, 1.0, 1.0], [True, False, True, False], 0.5, 0.5),  # all ties: no ranking at all
        ([-2.0, 1.0, 2.0, -1.0], [True, False, True, False], 0.5, 0.75),  # one of each kind out of place
        ([-3.0, -2.0, 1.0, 2.0], [True, True, False, False], 0.0, 0.5),  # ranked backwards: a cut cannot help
    ],
)
def test_compare_probe_ranks_and_thresholds(scores, truths, auc, best):
    probe = _bench("compare_probe.py")
    assert probe["auc"](scores, truths) == auc
    assert probe["best_threshold_share"](scores, truths) == best


def test_compare_probe_starts(tiny_model_path):
    out = _run(
        "bench/compare_probe.py",
        "--model",
        tiny_model_path,
        "--puzzles",
        "8",
        "--templates",
        "chat_compare",
        "--order",
        "543210",
    )
    assert "| chat_compare |" in out and "| chat_compare order 543210 |" in out and "8 puzzles (" in out


def test_compare_probe_refuses_puzzles_of_one_kind_in_one_line(tiny_model_path):
    args = ["bench/compare_probe.py", "--model", tiny_model_path, "--puzzles", "1", "--templates", "chat_compare"]
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "no sums or no differences" in result.stderr
    assert "Traceback" not in result.stderr


def test_comparison_drift_counts_more_per_kind_and_window(tmp_path):
    def row(step, nums, target, said, advantage, named="", correct=False):
        completion = f"{named}{target} is {said} than 25"
        return {
            "step": step,
            "nums": nums,
            "target": target,
            "completion": completion,
            "advantage": advantage,
            "correct": correct,
        }

    rows = [
        row(0, [25, 9], 34, "more", 0.5),  # a sum, "more": right, pushed up
        row(0, [25, 9], 16, "less", 0.5, "The larger number is 25 and the smaller is 9. ", True),  # named, solved
        row(1, [25, 9], 16, "more", -0.25, "The larger number is 9 and the smaller is 25. "),  # named wrongly
        row(2, [25, 9], 16, "more", 0.75),  # the next window
        row(2, [3, 4], 12, "more", 1.0),  # a product: no right comparison, left out
    ]
    (tmp_path / "rollouts").mkdir()
    (tmp_path / "rollouts" / "step-000000.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    out = _run("bench/comparison_drift.py", str(tmp_path), "--window", "2")
    assert "steps 0-1: sums: 'more' 1/1, push +0.5; differences: 'more' 1/2, push -0.2" in out
    assert "steps 2-3: sums: 'more' 0/0, push +0.0; differences: 'more' 1/1, push +0.8" in out
    assert "sums: named right 0/1, solved 0/1; differences: named right 1/2, solved 1/2" in out  # steps 0-1


def test_try_verdicts_reads_the_first_check_and_whether_the_answer_follows_it(tmp_path):
    def sample(nums, target, reasoning, shape):
        return {"nums": nums, "target": target, "completion": f"{reasoning} </think> <answer>", "shape": shape}

    samples = [
        sample([25, 9], 16, "25 + 9 = 34, no. 25 - 9 = 16, yes.", "a - b"),  # true sum, right no, followed
        sample([14, 5], 19, "14 + 5 = 19, yes.", "a + b"),  # true sum, right yes, followed
        sample([6, 20], 14, "6 + 20 = 14, yes.", "a + b"),  # copied target: false sum, wrong yes, followed
        sample([8, 23], 31, "8 + 23 = 31, no. 23 - 8 = 15, yes.", "b - a"),  # wrong no on a sum, followed
        sample([11, 27], 16, "11 + 27 = 38, no.", "a + b"),  # right no, not followed
        sample([3, 4], 7, "3 * 4 = 12, no. 3 + 5 = 8, yes.", "a + b"),  # no check over the puzzle's sum
    ]
    (tmp_path / "final.json").write_text(json.dumps({"samples": samples}))
    out = _run("bench/try_verdicts.py", str(tmp_path / "final.json"))
    assert "checked 5/6, sum true 4/6, verdict right 3/6, answer follows 4/6" in out


def test_try_verdicts_counts_right_answers_that_honest_checks_reached(tmp_path):
    def sample(nums, target, reasoning, answer, correct):
        text = f"{reasoning} </think> <answer> {answer} </answer>"
        return {"nums": nums, "target": target, "completion": text, "correct": correct}

    samples = [
        sample([25, 9], 16, "25 + 9 = 34, no. 25 - 9 = 16, yes.", "25 - 9", 1.0),  # reached
        sample([22, 12], 10, "22 + 12 = 33, no. 22 - 12 = 10, yes.", "22 - 12", 1.0),  # a false sum before it
        sample([28, 18], 10, "28 + 18 = 46, no. 28 - 18 = 9, yes.", "28 - 18", 1.0),  # a false difference
        sample([14, 5], 19, "14 + 5 = 19, yes.", "14 + 5", 1.0),  # a sum, reached
        sample([14, 5], 9, "14 + 5 = 19, yes.", "14 + 5", 0.0),  # a difference answered wrong: a row, not right
        sample([3, 4], 12, "3 * 4 = 12, yes.", "3 * 4", 1.0),  # a product: neither kind
    ]
    (tmp_path / "final.json").write_text(json.dumps({"samples": samples}))
    out = _run("bench/try_verdicts.py", str(tmp_path / "final.json"))
    assert "right: sums 1/1 (1 reached by honest checks), differences 3/4 (1 reached by honest checks)" in out
    # stated over the two numbers: 25 + 9, 22 + 12 (false), 28 + 18, 14 + 5 twice; 25 - 9, 22 - 12, 28 - 18 (false)
    assert "stated over the puzzle's numbers: sums true 4/5, differences true 2/3" in out


def test_try_verdicts_counts_no_per_kind_and_window(tmp_path):
    def row(step, nums, target, verdict, advantage, correct=False, then=""):
        completion = f"{nums[0]} + {nums[1]} = {sum(nums)}, {verdict}. {then}</think>"
        return {"step": step, "nums": nums, "target": target, "completion": completion, "advantage": advantage,
                "correct": correct}  # fmt: skip

    rows = [
        row(0, [25, 9], 16, "no", 0.5, correct=True),  # a difference, "no": right, pushed up, solved
        row(0, [25, 9], 34, "yes", 0.5),  # a sum, "yes": not counted as "no"
        row(1, [25, 9], 34, "no", -0.25),  # a sum, "no": wrong, pushed down
        row(2, [25, 9], 16, "no", 0.75),  # the next window
        row(3, [25, 9], 16, "no", 0.5, True, "25 - 9 = 16, yes. </think> <answer> 25 - 9 </answer>"),  # reached
        row(2, [3, 4], 12, "no", 1.0),  # a product: neither kind, left out
    ]
    (tmp_path / "rollouts").mkdir()
    (tmp_path / "rollouts" / "step-000000.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    out = _run("bench/try_verdicts.py", str(tmp_path), "--window", "2")
    sums, differences = "sums: 'no' 1/2 (0 right, 0 honestly), push -0.2", "'no' 1/1 (1 right, 0 honestly), push +0.5"
    assert f"steps 0-1: {sums}; differences: {differences}" in out
    sums, differences = "sums: 'no' 0/0 (0 right, 0 honestly), push +0.0", "'no' 2/2 (1 right, 1 honestly), push +1.2"
    assert f"steps 2-3: {sums}; differences: {differences}" in out


@pytest.mark.parametrize(
    "script, path, message",
    [
        ("bench/comparison_drift.py", "empty", "has no rollouts/ folder"),  # an eval folder, say, not a run's
        ("bench/try_verdicts.py", "empty", "has no rollouts/ folder"),
        ("bench/try_verdicts.py", "final.json", "does not exist: pass an evaluation file"),  # a typo in the path
    ],
)
def test_rollout_scripts_end_a_wrong_path_in_one_line(tmp_path, script, path, message):
    (tmp_path / "empty").mkdir()
    result = subprocess.run([sys.executable, script, str(tmp_path / path)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_bench_seeds_removes_checkpoints_of_finished_seeds_only(tmp_path):
    bench = _bench("bench_seeds.py")
    finished, running = tmp_path / "seed-0", tmp_path / "seed-1"
    for run in (finished, running):
        for step in (6, 12):
            (run / f"checkpoint-{step}").mkdir(parents=True)
            (run / f"checkpoint-{step}" / "optimizer.pt").write_bytes(b"x" * 1000)
        (run / "model.safetensors").write_bytes(b"w" * 10)
    (finished / "run_summary.json").write_text("{}")
    assert bench["remove_checkpoints"](finished) == 2000
    assert not list(finished.glob("checkpoint-*")) and (finished / "model.safetensors").exists()  # the model stays
    assert bench["remove_checkpoints"](running) == 0  # unfinished: it resumes from them
    assert len(list(running.glob("checkpoint-*"))) == 2
