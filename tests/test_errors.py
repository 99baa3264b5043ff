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

    write_task_record(
        str(sample_from),
        TaskConfig(num_train_puzzles=50, eval_puzzles=8, min_numbers=2, max_numbers=2, max_number=30, target_max=60),
        "tiny-random",
        8,
        [],
    )
    live = tmp / "live"
    live.mkdir()
    (live / ".r1lite.lock").write_text(
        json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": 0, "command": "pytest"})
    )
    runs = iter(range(100))

    def zero():  # the zero recipe into a folder of its own (a shared one would be locked by another case)
        return ["recipes/zero.py", *TINY, "--output_dir", str(tmp / f"out{next(runs)}")]

    return {
        # through each entry point, as separate processes
        "unknown key": ([*zero(), "--lerning_rate", "1"], ["unknown recipe key", "did you mean 'learning_rate'"]),
        "bad batch shape": (
            [*zero(), "--per_device_train_batch_size", "3", "--num_generations", "2"],
            ["divisible by num_generations"],
        ),
        "missing model path": ([*zero(), "--model_name_or_path", str(tmp / "no-model")], ["does not exist"]),
        "unknown reward": (
            [*zero(), "--reward_funcs", "equation_rewrd"],
            ["unknown reward 'equation_rewrd'", "did you mean 'equation_reward'"],
        ),
        "malformed data rows": ([*zero(), "--dataset_name", str(tmp / "bad_rows.jsonl")], ["row 0", "nums"]),
        "too few puzzles": (
            [*zero(), "--min_numbers", "2", "--max_numbers", "2", "--max_number", "2", "--num_train_puzzles", "50"],
            ["too few"],
        ),
        "missing optional package": ([*zero(), "--report_to", "wandb"], ["wandb", "not installed"]),
        "GPU recipe on a CPU machine": (
            ["recipes/zero.py", "--config", "configs/qwen2.5-3b/zero.yaml"],
            ["bf16", "use_cpu"],
        ),
        "vLLM on a CPU machine": ([*zero(), "--use_vllm", "true"], ["vLLM"]),
        "GPU pipeline on a CPU machine": (
            ["recipes/pipeline.py", "--config", "configs/qwen2.5-3b/pipeline.yaml"],
            ["bf16"],
        ),
        "unwritable output_dir": (["recipes/zero.py", *TINY, "--output_dir", "/proc/r1lite-run"], ["cannot be"]),
        "live run in the folder": (["recipes/zero.py", *TINY, "--output_dir", str(live)], ["in use by a live run"]),
        "user reward raises": (
            [*zero(), "--reward_funcs", "user_rewards:broken_reward", "--max_steps", "1"],
            ["broken_reward", "ZeroDivisionError", "at step 0", "completion 0 of 8", "begins:"],
        ),
        "empty kept set": (
            [
                "recipes/sft.py",
                "--config",
                "configs/tiny/sft.yaml",
                "--sample_from",
                str(sample_from),
                "--keep_if",
                "equation_reward>=1",
                "--num_sample_prompts",
                "2",
                "--samples_per_prompt",
                "2",
                "--output_dir",
                str(tmp / "sft"),
            ],
            ["kept nothing"],
        ),
        "pipeline unknown key": (
            ["recipes/pipeline.py", "--config", str(tmp / "bad_pipeline.yaml")],
            ["unknown top-level"],
        ),
        "eval missing model": (["recipes/eval.py", str(tmp / "no-model")], ["does not exist"]),
        "cli run folder without rollouts": (["-m", "r1lite.cli", "report", str(tmp / "norollouts")], ["no rollouts/"]),
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
    runs = {name: (argv, {"CASES_DIR": str(tmp)}) for name, (argv, _) in cases.items()}
    runs |= _other_runs(tmp)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(_run, argv, env) for name, (argv, env) in runs.items()}
    results = {name: future.result() for name, future in futures.items()}
    return {name: (results[name], cases[name][1] if name in cases else None) for name in results}


def _other_runs(tmp):
    """Runs checked by their own tests below: a user error with R1LITE_DEBUG=1, a bug, two processes."""
    script = tmp / "buggy.py"  # a bug in r1lite's code, simulated: a function the run calls before training breaks
    bug_run = str(tmp / "bug-run")
    script.write_text(
        "import sys\n"
        f"sys.argv[1:] = ['--config', 'configs/tiny/zero.yaml', '--output_dir', {bug_run!r}]\n"
        "import r1lite.training.zero as zero\n"
        "def broken(*a, **k):\n    raise KeyError('a bug')\n"
        "zero.build_trainer = broken\n"
        "from r1lite.errors import run_main\nrun_main(zero.main)\n"
    )
    full = tmp / "full_disk.py"  # a disk with 1 MB free: the first checkpoint cannot fit
    full_run = str(tmp / "full-run")
    full.write_text(
        "import sys, shutil\n"
        f"sys.argv[1:] = ['--config', 'configs/tiny/zero.yaml', '--output_dir', {full_run!r}, "
        "'--save_strategy', 'steps', '--save_steps', '1']\n"
        "import r1lite.training.disk_space as disk_space\n"
        "disk_space.shutil.disk_usage = lambda path: shutil._ntuple_diskusage(10**12, 10**12 - 10**6, 10**6)\n"
        "import r1lite.training.zero as zero\n"
        "from r1lite.errors import run_main\nrun_main(zero.main)\n"
    )
    return {
        "full disk": ([str(full)], {}),
        "debug": (
            ["recipes/zero.py", *TINY, "--output_dir", str(tmp / "debug"), "--reward_funcs", "equation_rewrd"],
            {"R1LITE_DEBUG": "1"},
        ),
        "bug": ([str(script)], {}),
        "two processes": (
            [
                "-m",
                "accelerate.commands.launch",
                "--config_file",
                "configs/accelerate/cpu-2proc.yaml",
                "recipes/zero.py",
                *TINY,
                "--output_dir",
                str(tmp / "2proc"),
                "--reward_funcs",
                "equation_rewrd",
            ],
            {"OMP_NUM_THREADS": "1"},
        ),
    }


CASES = [
    "unknown key",
    "bad batch shape",
    "missing model path",
    "unknown reward",
    "malformed data rows",
    "too few puzzles",
    "missing optional package",
    "GPU recipe on a CPU machine",
    "vLLM on a CPU machine",
    "GPU pipeline on a CPU machine",
    "unwritable output_dir",
    "live run in the folder",
    "user reward raises",
    "empty kept set",
    "pipeline unknown key",
    "eval missing model",
    "cli run folder without rollouts",
    "cli unknown command",
]


def _one_line(stderr: str, words) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("r1lite: error:")]
    assert len(lines) == 1, stderr[-3000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("case", CASES)
def test_user_mistake_is_one_line_and_status_2(outcomes, case):
    if "CPU machine" in case:
        import torch

        if torch.cuda.is_available():
            pytest.skip("checks a machine without a CUDA GPU")
    result, words = outcomes[case]
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    _one_line(result.stderr, words)


def test_every_case_is_checked(outcomes):
    assert sorted(CASES) == sorted(name for name, (_, words) in outcomes.items() if words is not None)


def test_debug_shows_the_trace_of_a_user_error(outcomes):
    result, _ = outcomes["debug"]
    assert result.returncode != 0 and "Traceback" in result.stderr and "ConfigError" in result.stderr


def test_a_bug_keeps_its_trace(outcomes):
    result, _ = outcomes["bug"]
    assert result.returncode == 1 and "Traceback" in result.stderr and "KeyError: 'a bug'" in result.stderr
    assert "r1lite: error:" not in result.stderr


def test_a_full_disk_stops_before_the_checkpoint_in_one_line(outcomes):
    result, _ = outcomes["full disk"]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    _one_line(result.stderr, ["has 1.0 MB free", "checkpoint of step 1 needs about", "save_strategy: no"])
    assert "iostream error" not in result.stderr


def test_two_processes_print_the_line_once(outcomes):
    result, _ = outcomes["two processes"]
    assert result.returncode != 0
    _one_line(result.stderr, ["did you mean 'equation_reward'"])
    assert "Traceback" not in result.stderr.split("r1lite: error:")[0]  # no rank's trace before it


# The same contract for the mistakes caught while parsing, run in this process (each costs milliseconds here,
# seconds of imports in a subprocess): run_main turns them into one line and exit status 2.


def _main_of(script):
    import runpy

    return runpy.run_path(str(REPO / script))["main"]


@pytest.fixture
def recipe_files(tmp_path):
    (tmp_path / "typo.yaml").write_text((REPO / "configs/tiny/zero.yaml").read_text() + "lerning_rate: 0.1\n")
    (tmp_path / "broken.yaml").write_text("model_name_or_path: [tiny-random\n")
    (tmp_path / "norun").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    "script, args, words",
    [
        (
            "recipes/zero.py",
            ["--config", "{tmp}/typo.yaml"],
            ["typo.yaml", "'lerning_rate'", "did you mean 'learning_rate'"],
        ),
        ("recipes/zero.py", [*TINY, "--learning_rate", "fast"], ["--learning_rate", "invalid"]),
        ("recipes/zero.py", ["--config", "{tmp}/nope.yaml"], ["nope.yaml", "no such recipe"]),
        ("recipes/zero.py", ["--config", "{tmp}/broken.yaml"], ["not valid YAML"]),
        ("recipes/zero.py", [*TINY, "--curriculum_levels", "3/20/1-40", "2/20/1-40"], ["curriculum_levels[1]"]),
        (
            "recipes/zero.py",
            [*TINY, "--output_dir", "{tmp}/norun", "--resume_from_checkpoint", "true"],
            ["no checkpoint-N"],
        ),
        (
            "recipes/sft.py",
            ["--config", "configs/tiny/sft.yaml", "--sample_from", "{tmp}/nothing"],
            ["no such folder"],
        ),
        ("recipes/eval.py", ["tiny-random", "--num_samples", "many"], ["--num_samples", "invalid int"]),
        ("recipes/eval.py", ["tiny-random", "--level", "3"], ["--level 3"]),
        ("r1lite/cli.py", ["summary", "{tmp}/norun"], ["run_summary.json not found"]),
    ],
)
def test_parse_time_mistake_is_one_line_and_status_2(recipe_files, capsys, monkeypatch, script, args, words):
    from r1lite.errors import run_main

    monkeypatch.delenv("R1LITE_DEBUG", raising=False)
    args = [a.replace("{tmp}", str(recipe_files)) for a in args]
    main = _main_of(script)
    with pytest.raises(SystemExit) as info:
        run_main(lambda: main(args))
    assert info.value.code == 2
    _one_line(capsys.readouterr().err, words)
