"""Kill a run with SIGKILL and rerun the same command with --resume_from_checkpoint true: it continues
from the checkpoint, the rollout log holds exactly one record set per step, `r1lite summary` and
`report` read it without warnings, and run_summary.json covers the whole run. The same for the
pipeline killed during SFT. The runs stall on purpose (a reward that sleeps mid-step, or a patched
step start) so the kill lands at a known place.
"""

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest
import yaml

from conftest import REPO

STALL_REWARD = '''
import os, time
def stall_reward(prompts, completions, trainer_state=None, **kwargs):
    """0 for every completion; sleeps mid-step (after generation) at step STALL_AT, so the test can kill the
    run there."""
    if os.environ.get("STALL_AT") and trainer_state.global_step == int(os.environ["STALL_AT"]):
        open(os.environ["STALL_FLAG"], "w").close()
        time.sleep(600)
    return [0.0] * len(completions)
'''

STALL_SFT = """
import os
if os.environ.get("STALL_SFT_AT"):
    import time
    from transformers import trainer_callback

    _begin = trainer_callback.CallbackHandler.on_step_begin

    def on_step_begin(self, args, state, control, **kwargs):
        if type(args).__name__ == "SFTConfig" and state.global_step >= int(os.environ["STALL_SFT_AT"]):
            open(os.environ["STALL_FLAG"], "w").close()
            time.sleep(600)
        return _begin(self, args, state, control, **kwargs)

    trainer_callback.CallbackHandler.on_step_begin = on_step_begin
"""


def _start(argv, env):
    env = {k: v for k, v in os.environ.items() if k != "R1LITE_DEBUG"} | env
    return subprocess.Popen(
        [sys.executable, *argv], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _kill_when(flag, proc, timeout=300):
    deadline = time.time() + timeout
    while not flag.exists():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it stalled: {proc.communicate()[1][-3000:]}")
        if time.time() > deadline:
            proc.kill()
            pytest.fail("the run did not reach its stall point")
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _finish(argv, env):
    proc = _start(argv, env)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-4000:]
    return err


def _inspect_without_warnings(run, capsys):
    from r1lite.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        main(["summary", str(run)])
        main(["report", str(run), "--out", str(run / "report")])
    captured = capsys.readouterr()
    assert "warning" not in captured.err.lower(), captured.err
    return captured.out


def test_zero_killed_mid_step_resumes_with_one_record_set_per_step(tmp_path, tiny_model_path, capsys):
    (tmp_path / "stall_rewards.py").write_text(STALL_REWARD)
    run = tmp_path / "run"
    argv = [
        "recipes/zero.py",
        "--config",
        "configs/tiny/zero.yaml",
        "--output_dir",
        str(run),
        "--max_steps",
        "6",
        "--save_strategy",
        "steps",
        "--save_steps",
        "2",
        "--eval_every",
        "2",
        "--reward_funcs",
        "equation_reward",
        "stall_rewards:stall_reward",
    ]
    env = {"PYTHONPATH": str(tmp_path)}
    killed = _start(argv, {**env, "STALL_AT": "3", "STALL_FLAG": str(tmp_path / "stalled")})
    _kill_when(tmp_path / "stalled", killed)
    # Killed while scoring step 3's completions: checkpoint-2 is the last one; rollouts of steps 0-2 exist.
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2"]
    assert (run / "rollouts" / "step-000002.jsonl").exists() and (run / ".r1lite.lock").exists()
    (run / "rollouts" / "step-000003.jsonl").write_text('{"step": 3, "index": 0, "prom')  # a write cut short

    err = _finish([*argv, "--resume_from_checkpoint", "true"], env)
    assert "taking over the stale lock" in err  # the killed run's lock, its process gone
    assert not (run / ".r1lite.lock").exists()

    files = sorted(p.name for p in (run / "rollouts").iterdir())
    assert files == [f"step-{n:06d}.jsonl" for n in range(6)]  # one record set per step, none duplicated
    for n, name in enumerate(files):
        rows = [json.loads(line) for line in (run / "rollouts" / name).read_text().splitlines()]
        assert len(rows) == 8 and {r["step"] for r in rows} == {n}
    summary = json.loads((run / "run_summary.json").read_text())
    assert summary["steps"] == 6 and summary["resumed_from_step"] == 2
    assert [h["step"] for h in summary["log_history"] if "reward" in h] == [1, 2, 3, 4, 5, 6]  # the whole run
    history = [json.loads(line)["step"] for line in (run / "eval" / "history.jsonl").read_text().splitlines()]
    assert history == [0, 2, 4, 6]
    table = _inspect_without_warnings(run, capsys)
    assert "| 6 |" in table


def test_pipeline_killed_during_sft_resumes_there(tmp_path, tiny_model_path):
    (tmp_path / "sitecustomize.py").write_text(STALL_SFT)
    root = tmp_path / "pipe"
    spec = {
        "output_dir": str(root),
        "zero": {"config": "configs/tiny/zero.yaml"},
        "sft": {"config": "configs/tiny/sft.yaml", "num_train_epochs": 2, "save_strategy": "steps", "save_steps": 1},
        "eval": {"puzzles": 8, "batch_size": 8},
    }
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump(spec))
    argv = ["recipes/pipeline.py", "--config", str(config)]
    env = {"PYTHONPATH": str(tmp_path)}
    killed = _start(argv, {**env, "STALL_SFT_AT": "2", "STALL_FLAG": str(tmp_path / "stalled")})
    _kill_when(tmp_path / "stalled", killed)
    assert (root / "zero" / "run_summary.json").exists() and not (root / "sft" / "run_summary.json").exists()
    assert (root / "sft" / "checkpoint-2").is_dir()
    zero_done = (root / "zero" / "run_summary.json").stat().st_mtime

    err = _finish(argv, env)
    assert "zero stage done already" in err and "taking over the stale lock" in err
    assert (root / "zero" / "run_summary.json").stat().st_mtime == zero_done  # not trained again
    sft = json.loads((root / "sft" / "run_summary.json").read_text())
    assert sft["steps"] == 4  # 16 kept samples / 8 per step x 2 epochs
    assert [h["step"] for h in sft["log_history"] if "loss" in h] == [1, 2, 3, 4]
    results = json.loads((root / "results.json").read_text())
    assert set(results["models"]) == {"base", "zero", "sft"}
