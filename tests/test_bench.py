"""Each benchmark script starts and prints its numbers (tiny sizes; benchmarks are not timed tests)."""

import subprocess
import sys

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
    out = _run("bench/bench_step.py", "--config", "configs/tiny/zero.yaml", "--rows", "8", "--new_tokens", "8",
               "--repeats", "1", "--matmul_n", "128")
    assert "GFLOP/s" in out and "tokens/s" in out


def test_bench_gpu_starts_on_cpu(tiny_model_path):
    out = _run("bench/bench_gpu.py", "--shape", "tiny", "--device", "cpu", "--rows", "8", "--num_generations", "4",
               "--new_tokens", "8", "--repeats", "1")
    assert "MFU" in out and "R1ZeroTrainer step" in out


def test_bench_behaviour_starts(tmp_path, tiny_recipe, tiny_model_path):
    from r1lite.training.zero import main

    main(tiny_recipe + ["--max_steps", "1", "--eval_at_end", "false"])
    out = _run("bench/bench_behaviour.py", str(tmp_path / "run"), "--min_rows", "50", "--repeats", "1")
    assert "completions/s" in out
