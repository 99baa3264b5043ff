"""A user's mistake, through the real entry point in a subprocess: exit status 2, one line
`r1lite: error: ...` on stderr, no traceback. A bug keeps its trace; R1LITE_DEBUG=1 shows it for
user errors too.

The cases run concurrently once per session (each subprocess spends most of its time importing
torch and TRL), then each case is checked on its own.
"""

import json
import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import REPO

TINY = ["--config", "configs/tiny/zero.yaml"]


def _cases(tmp, tiny_model_path):
    """{case id: (argv after python, words the error line must hold)}; files the cases need are written to tmp."""
    (tmp / "typo.yaml").write_text((REPO / "configs/tiny/zero.yaml").read_text() + "lerning_rate: 0.1\n")
    (tmp / "broken.yaml").write_text("model_name_or_path: [tiny-random\n")
    (tmp / "bad_rows.jsonl").write_text(json.dumps({"nums": "3, 4", "target": 7}) + "\n")
    (tmp / "bad_pipeline.yaml").write_text("output_dir: x\nzero: {}\nsft: {}\nevals: {}\n")
    (tmp / "norollouts").mkdir()
    (tmp / "user_rewards.py").write_text(
        "def broken_reward(prompts, completions, **kwargs):\n"
        "    return [len(c) / 0 for c in completions]  # a user's bug: ZeroDivisionError on every completion\n"
    )
    sample_from = tmp / "zero-run"  # a 'finished zero run' of the random tiny model: it solves nothing
    sample_from.mkdir()
    for item in os.listdir(tiny_model_path):
        os.symlink(os.path.join(tiny_model_path, item), sample_from / item)
    from r1lite.config import TaskConfig
    from r1lite.task.record import write_task_record

    write_task_record(str(sample_from), TaskConfig(num_train_puzzles=50, eval_puzzles=8, min_numbers=2, max_numbers=2, max_number=30, target_max=60),
                      "tiny-random", 8, [])
    live = tmp / "live"
    live.mkdir()
    (live / ".r1lite.lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": 0,
                                                   "command": "pytest"}))
    runs = iter(range(100))

    def zero():  # the zero recipe into a folder of its own (a shared one would be locked by another case)
        return ["recipes/zero.py", *TINY, "--output_dir", str(tmp / f"out{next(runs)}")]

    return {
        "unknown key": ([*zero(), "--lerning_rate", "1"], ["unknown recipe key", "did you mean 'learning_rate'"]),
        "unknown key in recipe": (["recipes/zero.py", "--config", str(tmp / "typo.yaml"), "--output_dir", str(tmp / "typo")],
                                  ["typo.yaml", "'lerning_rate'", "did you mean 'learning_rate'"]),
        "value of the wrong type": ([*zero(), "--learning_rate", "fast"], ["--learning_rate", "invalid"]),
        "missing recipe file": (["recipes/zero.py", "--config", str(tmp / "nope.yaml")], ["nope.yaml", "no such recipe"]),
        "malformed YAML": (["recipes/zero.py", "--config", str(tmp / "broken.yaml")], ["not valid YAML"]),
        "bad batch shape": ([*zero(), "--per_device_train_batch_size", "3", "--num_generations", "2"],
                            ["divisible by num_generations"]),
        "missing model path": ([*zero(), "--model_name_or_path", str(tmp / "no-model")], ["does not exist"]),
        "unknown reward": ([*zero(), "--reward_funcs", "equation_rewrd"],
                           ["unknown reward 'equation_rewrd'", "did you mean 'equation_reward'"]),
        "malformed data rows": ([*zero(), "--dataset_name", str(tmp / "bad_rows.jsonl")], ["row 0", "nums"]),
        "too few puzzles": ([*zero(), "--min_numbers", "2", "--max_numbers", "2", "--max_number", "2",
                             "--num_train_puzzles", "50"], ["too few"]),
        "missing optional package": ([*zero(), "--report_to", "wandb"], ["wandb", "not installed"]),
        "curriculum out of order": ([*zero(), "--curriculum_levels", "3/20/1-40", "2/20/1-40"], ["curriculum_levels[1]"]),
        "resume without a checkpoint": ([*zero(), "--resume_from_checkpoint", "true"], ["no checkpoint-N"]),
        "unwritable output_dir": (["recipes/zero.py", *TINY, "--output_dir", "/proc/r1lite-run"], ["cannot be"]),
        "live run in the folder": (["recipes/zero.py", *TINY, "--output_dir", str(live)], ["in use by a live run"]),
        "empty kept set": (["recipes/sft.py", "--config", "configs/tiny/sft.yaml", "--sample_from", str(sample_from),
                            "--keep_if", "equation_reward>=1", "--num_sample_prompts", "2", "--samples_per_prompt", "2",
                            "--output_dir", str(tmp / "sft")], ["kept nothing"]),
        "sft without a run to sample": (["recipes/sft.py", "--config", "configs/tiny/sft.yaml", "--sample_from",
                                         str(tmp / "nothing")], ["no such folder"]),
        "pipeline unknown key": (["recipes/pipeline.py", "--config", str(tmp / "bad_pipeline.yaml")], ["unknown top-level"]),
        "eval missing model": (["recipes/eval.py", str(tmp / "no-model")], ["does not exist"]),
        "eval bad option": (["recipes/eval.py", "tiny-random", "--num_samples", "many"], ["--num_samples", "invalid int"]),
        "eval level out of range": (["recipes/eval.py", "tiny-random", "--level", "3"], ["--level 3"]),
        "user reward raises": ([*zero(), "--reward_funcs", "user_rewards:broken_reward", "--max_steps", "1"],
                               ["broken_reward", "ZeroDivisionError", "at step 0", "completion 0 of 8", "begins:"]),
        "cli run folder without rollouts": (["-m", "r1lite.cli", "report", str(tmp / "norollouts")], ["no rollouts/"]),
        "cli summary of no run": (["-m", "r1lite.cli", "summary", str(tmp / "norollouts")], ["run_summary.json not found"]),
        "cli unknown command": (["-m", "r1lite.cli", "sumary", "x"], ["invalid choice"]),
    }


def _run(argv, env=None):
    env = {key: value for key, value in os.environ.items() if key != "R1LITE_DEBUG"} | (env or {})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("CASES_DIR"), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True, timeout=600, cwd=REPO)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, tiny_model_path):
    tmp = tmp_path_factory.mktemp("errors")
    cases = _cases(tmp, tiny_model_path)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(_run, argv, {"CASES_DIR": str(tmp)}) for name, (argv, _) in cases.items()}
    return {name: (future.result(), cases[name][1]) for name, future in futures.items()}


CASES = [
    "unknown key", "unknown key in recipe", "value of the wrong type", "missing recipe file", "malformed YAML",
    "bad batch shape", "missing model path", "unknown reward", "malformed data rows", "too few puzzles",
    "missing optional package", "curriculum out of order", "resume without a checkpoint", "unwritable output_dir",
    "live run in the folder", "empty kept set", "sft without a run to sample", "pipeline unknown key",
    "eval missing model", "eval bad option", "eval level out of range", "user reward raises",
    "cli run folder without rollouts",
    "cli summary of no run", "cli unknown command",
]


@pytest.mark.parametrize("case", CASES)
def test_user_mistake_is_one_line_and_status_2(outcomes, case):
    result, words = outcomes[case]
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("r1lite: error:")]
    assert len(lines) == 1, result.stderr[-3000:]
    for word in words:
        assert word in lines[0], lines[0]


def test_every_case_is_checked(outcomes):
    assert sorted(CASES) == sorted(outcomes)


def test_debug_shows_the_trace_of_a_user_error():
    result = _run(["recipes/zero.py", *TINY, "--reward_funcs", "equation_rewrd"], env={"R1LITE_DEBUG": "1"})
    assert result.returncode != 0 and "Traceback" in result.stderr and "ConfigError" in result.stderr


def test_a_bug_keeps_its_trace(tmp_path):
    # A reward module that fails to import for a reason of its own is not a user's recipe mistake... but a
    # bug in r1lite's code is: simulate one by breaking a function the run calls before training.
    script = tmp_path / "buggy.py"
    script.write_text(
        "import sys\nsys.argv[1:] = ['--config', 'configs/tiny/zero.yaml', '--output_dir', %r]\n"
        "import r1lite.training.zero as zero\n"
        "def broken(*a, **k):\n    raise KeyError('a bug')\n"
        "zero.build_trainer = broken\n"
        "from r1lite.errors import run_main\nrun_main(zero.main)\n" % str(tmp_path / "out")
    )
    result = _run([str(script)])
    assert result.returncode == 1 and "Traceback" in result.stderr and "KeyError: 'a bug'" in result.stderr
    assert not (tmp_path / "out" / ".r1lite.lock").exists()  # the lock goes with the run, even a failed one


def test_two_processes_print_the_line_once(tmp_path):
    result = _run(["-m", "accelerate.commands.launch", "--config_file", "configs/accelerate/cpu-2proc.yaml",
                   "recipes/zero.py", *TINY, "--output_dir", str(tmp_path / "run"), "--reward_funcs", "equation_rewrd"],
                  env={"OMP_NUM_THREADS": "1"})
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("r1lite: error:")]
    assert len(lines) == 1 and "did you mean 'equation_reward'" in lines[0], result.stderr[-3000:]
    assert "Traceback" not in result.stderr.split("r1lite: error:")[0]  # no rank's trace before it
