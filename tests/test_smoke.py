"""The smoke run (``recipes/smoke.py``) fails on a broken setup: a pure-bf16 policy, weights that barely
move, log-probs that differ from TRL's. One training step of the tiny recipe per run, in process."""

import pytest
import torch

from conftest import REPO

LENGTH_REWARD = (
    "def length_reward(prompts, completions, **kwargs):\n    return [(len(c) % 10) / 9 for c in completions]\n"
)


@pytest.fixture
def smoke_args(tmp_path, monkeypatch, tiny_model_path):
    """One step of the tiny recipe with a reward that has variance on random text (so the step has a gradient)."""
    (tmp_path / "smoke_rewards.py").write_text(LENGTH_REWARD)
    monkeypatch.syspath_prepend(str(tmp_path))
    return [
        "--config",
        str(REPO / "configs/tiny/zero.yaml"),
        "--output_dir",
        str(tmp_path / "smoke"),
        "--max_steps",
        "1",
        "--reward_funcs",
        "equation_reward",
        "smoke_rewards:length_reward",
    ]


def test_smoke_passes_on_the_tiny_recipe(smoke_args, capsys):
    from r1lite.training import smoke

    report = smoke.main(smoke_args)
    assert all(report["checks"].values()), report["checks"]
    assert report["stepped_dtypes"] == ["float32"]
    assert report["moved_share"] > 0.99, report["moved_share"]  # fp32 at lr 1e-3: nearly every element moves
    assert report["logp_path"] == "shared prefixes"  # r1lite's own pass is the one compared
    assert report["logp_precision"] == "fp32" and report["logp_tokens"] > 0, report
    assert report["logp_max_diff"] < 1e-4 and report["logp_worst"] <= 1, report
    out = capsys.readouterr().out
    for line in (
        "[ok] optimizer steps fp32 weights",
        "[ok] weights moved",
        "[ok] log-probs match TRL's",
        "elements moved",
        "log-probs vs TRL",
    ):
        assert line in out, out


def test_smoke_fails_on_a_pure_bf16_policy(smoke_args, monkeypatch, capsys):
    """A policy loaded in bf16 (what r1lite.models.training_dtype prevents) steps bf16 weights: at lr 1e-6
    only a few percent of them change, though every tensor has a changed element."""
    from r1lite.training import smoke, zero

    load = zero.load_policy
    monkeypatch.setattr(zero, "load_policy", lambda model_args: load(model_args).to(torch.bfloat16))
    with pytest.raises(SystemExit) as exit_:
        smoke.main([*smoke_args, "--learning_rate", "1e-6"])
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert "[FAILED] optimizer steps fp32 weights" in out, out
    assert "[FAILED] weights moved" in out, out  # the element share, not a tensor count
    assert "optimizer steps     bfloat16 tensors" in out, out


def test_smoke_fails_when_r1lite_logps_differ_from_trl(smoke_args, monkeypatch, capsys):
    """A fault in r1lite's training pass (here: every log-prob off by 1e-3) fails the comparison with TRL's."""
    from r1lite.training import smoke
    from r1lite.training.trainer import R1ZeroTrainer

    scored = R1ZeroTrainer._score

    def off(self, logits, targets, compute_entropy):
        logps, entropy = scored(self, logits, targets, compute_entropy)
        return logps + 1e-3, entropy

    monkeypatch.setattr(R1ZeroTrainer, "_score", off)
    with pytest.raises(SystemExit):
        smoke.main(smoke_args)
    out = capsys.readouterr().out
    assert "[FAILED] log-probs match TRL's" in out and "[ok] weights moved" in out, out


def test_trained_keys_of_lora_are_the_merged_weights():
    from peft import LoraConfig, get_peft_model

    from r1lite.models import tiny_model
    from r1lite.training.smoke import trained_keys

    base = tiny_model()
    keys = list(base.state_dict())
    lora = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    assert trained_keys(lora, keys) == sorted(k for k in keys if k.endswith(("q_proj.weight", "v_proj.weight")))
    assert len(trained_keys(tiny_model(), keys)) == len(list(tiny_model().parameters()))  # full fine-tuning: all


def test_moved_elements_compare_at_the_saved_precision():
    from r1lite.training.smoke import moved_elements

    start = {"w": torch.tensor([0.1, 0.2, 0.3, 0.4])}
    saved = {"w": start["w"].to(torch.bfloat16)}  # a bf16 save of untouched weights: nothing moved
    assert moved_elements(start, saved, ["w"]) == (0, 4, 0)
    saved["w"][0] += 1
    assert moved_elements(start, saved, ["w"]) == (1, 4, 1)


def test_importance_sampling_metrics_are_reported():
    from r1lite.training.smoke import format_report, sampling_metrics

    history = [
        {"loss": 0.1, "sampling/importance_sampling_ratio/mean": 0.99, "sampling/sampling_logp_difference/max": 0.2},
        {"loss": 0.2, "sampling/importance_sampling_ratio/mean": 1.01, "sampling/sampling_logp_difference/max": 0.3},
        {"train_runtime": 3.0},
    ]
    metrics = sampling_metrics(history)
    assert metrics == {
        "sampling/importance_sampling_ratio/mean": [0.99, 1.01],
        "sampling/sampling_logp_difference/max": [0.2, 0.3],
    }
    report = {
        "losses": [0.1, 0.2],
        "grad_norms": [1.0, 1.0],
        "tokens_per_s": 1.0,
        "peak_memory_gb": 1.0,
        "tensors_changed": 1,
        "tensors": 1,
        "sampling": metrics,
        "checks": {"weights moved": True},
    }
    text = format_report(report)
    assert "sampling/importance_sampling_ratio/mean" in text and "0.99, 1.01" in text
    assert "sampling/sampling_logp_difference/max" in text and "0.2, 0.3" in text
    assert "sampling/" not in format_report({**report, "sampling": {}})


def test_logp_atol_option_is_the_smoke_runs_own():
    from r1lite.training.smoke import _pop_option

    assert _pop_option(["--config", "x.yaml", "--logp_atol", "0.1", "--max_steps", "2"], "--logp_atol") == (
        ["--config", "x.yaml", "--max_steps", "2"],
        "0.1",
    )
    assert _pop_option(["--logp_atol=0.2"], "--logp_atol") == ([], "0.2")
    assert _pop_option(["--max_steps", "2"], "--logp_atol") == (["--max_steps", "2"], None)
