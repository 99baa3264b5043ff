"""The twin baseline: advantages centred on a puzzle's group and its target twin's together."""

import json
import math

import pytest
import torch
from trl.trainer.utils import nanstd

from r1lite.training.twin_baseline import check_pairs, twin_advantages, weighted_rewards

from conftest import REPO

NAN = math.nan

# (rewards of one pair: the puzzle's group of 2, then its twin's group of 2; scale_rewards; advantages; why)
CASES = [
    (
        [0, 0, 1, 1],
        "none",
        [-0.5, -0.5, 0.5, 0.5],
        "each group uniform: GRPO gives 0, the pair pays the target that fits",
    ),
    ([1, 1, 1, 1], "group", [0, 0, 0, 0], "a habit that pays on both targets alike earns nothing"),
    ([0, 1, 0, 1], "none", [-0.5, 0.5, -0.5, 0.5], "equal group means: the same as GRPO's own-group centring"),
    ([0, 1, 1, 1], "none", [-0.75, 0.25, 0.25, 0.25], "the twin's completions raise the baseline of the weak group"),
    ([NAN, 1, 0, 0], "none", [0, 2 / 3, -1 / 3, -1 / 3], "unscorable: advantage 0, left out of the mean"),
]


@pytest.mark.parametrize("rewards, scale, expected, why", CASES, ids=[c[3][:40] for c in CASES])
def test_twin_advantages(rewards, scale, expected, why):
    got = twin_advantages(torch.tensor(rewards, dtype=torch.float32), num_generations=2, scale_rewards=scale)
    assert torch.allclose(got, torch.tensor(expected, dtype=torch.float32), atol=1e-4), why


def test_what_both_twins_share_cancels():
    """The same reward added to every completion of a pair (a target-blind habit) leaves its advantages as is."""
    rewards = torch.tensor([0.0, 0.3, 1.0, 0.1, 0.9, 0.2, 0.0, 0.4])  # two pairs of groups of 2
    shifted = rewards + torch.tensor([0.5] * 4 + [-0.2] * 4)
    for scale in ("group", "batch", "none"):
        expected = twin_advantages(rewards, 2, scale)
        if scale == "batch":  # the batch's std sees the shift between pairs; rescale to compare centring alone
            expected = expected * nanstd(rewards) / nanstd(shifted)
        assert torch.allclose(twin_advantages(shifted, 2, scale), expected, atol=1e-3)


def test_scaling_divides_by_the_pairs_or_the_rounds_std():
    rewards = torch.tensor([0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 2.0])  # (P=2 pairs, 2G=4)
    centred = twin_advantages(rewards, 2, "none")
    pair_std = nanstd(rewards.view(2, 4), dim=1, keepdim=True)  # (2, 1)
    assert torch.allclose(twin_advantages(rewards, 2, "group"), (centred.view(2, 4) / (pair_std + 1e-4)).view(-1))
    assert torch.allclose(twin_advantages(rewards, 2, "batch"), centred / (nanstd(rewards) + 1e-4))


def test_a_round_that_is_not_whole_pairs_is_refused():
    with pytest.raises(ValueError, match="do not form pairs"):
        twin_advantages(torch.zeros(6), 2, "group")  # three groups of 2


def test_weighted_rewards_follow_trls_rule_for_none():
    per_func = torch.tensor([[1.0, NAN], [NAN, NAN], [0.5, 1.0]])  # (B=3, F=2)
    got = weighted_rewards(per_func, torch.tensor([1.0, 0.5]))
    assert got[0] == 1.0 and math.isnan(got[1]) and got[2] == 1.0  # None counts 0 unless every reward is None


def test_check_pairs():
    nums, targets = [[3, 7]] * 2 + [[7, 3]] * 2, [10] * 2 + [4] * 2  # a pair of groups of 2: the same numbers
    check_pairs(nums, targets, 2)
    with pytest.raises(RuntimeError, match="not a twin pair"):
        check_pairs([[3, 7]] * 2 + [[3, 8]] * 2, targets, 2)  # other numbers
    with pytest.raises(RuntimeError, match="not a twin pair"):
        check_pairs(nums, [10] * 4, 2)  # the same target


TWINS = ["--train_twins", "true", "--shuffle_dataset", "false", "--min_numbers", "2", "--max_numbers", "2"]


def test_a_twin_baseline_run_trains_on_the_pair_centred_advantages(
    tmp_path, tiny_recipe, tiny_model_path, length_reward
):
    """On the tiny model: the rollout log's advantages are the twin baseline's of its rewards, and weights move."""
    from transformers import AutoModelForCausalLM

    from r1lite.training import zero

    before = AutoModelForCausalLM.from_pretrained(tiny_model_path).state_dict()
    once = ["--twin_baseline", "true", "--max_steps", "1", "--eval_at_end", "false"]
    summary = zero.main(tiny_recipe + TWINS + length_reward + once)
    rows = [
        json.loads(line) for line in (tmp_path / "run" / "rollouts" / "step-000000.jsonl").read_text().splitlines()
    ]
    assert len(rows) == 8 and rows[0]["nums"] == rows[4]["nums"] and rows[0]["target"] != rows[4]["target"]
    rewards = torch.tensor([r["reward"] for r in rows])
    logged = torch.tensor([r["advantage"] for r in rows])
    assert torch.allclose(logged, twin_advantages(rewards, 4, "group"), atol=1e-5)
    assert any("twin_baseline/pair_gap" in h for h in summary["log_history"])
    after = AutoModelForCausalLM.from_pretrained(str(tmp_path / "run")).state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before), "no weight changed"


@pytest.mark.parametrize(
    "args, match",
    [
        (["--twin_baseline", "true"], "set train_twins: true"),  # no twins to centre on
        (
            [*TWINS, "--twin_baseline", "true", "--dynamic_sampling", "true"],
            "dynamic_sampling",
        ),  # refills single prompts
    ],
)
def test_a_twin_baseline_without_whole_pairs_is_refused(tiny_recipe, args, match):
    from r1lite.training import zero

    with pytest.raises(ValueError, match=match):
        zero.build_trainer(*zero.parse_args(tiny_recipe + args))


def test_a_twin_baseline_run_on_two_processes(tmp_path, tiny_model_path, length_reward):
    """DDP over gloo: each process holds one pair of the gathered round; the log shows the pair-centred advantages."""
    import os
    import subprocess
    import sys

    cmd = [
        *(sys.executable, "-m", "accelerate.commands.launch"),
        *("--config_file", str(REPO / "configs/accelerate/cpu-2proc.yaml"), str(REPO / "recipes/zero.py")),
        *("--config", str(REPO / "configs/tiny/zero.yaml"), "--output_dir", str(tmp_path / "run")),
        *TWINS,
        *length_reward,  # its module is found through PYTHONPATH below
        *("--twin_baseline", "true", "--max_steps", "1", "--eval_at_end", "false"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-4000:]
    text = (tmp_path / "run" / "rollouts" / "step-000000.jsonl").read_text()
    rows = [json.loads(line) for line in text.splitlines()]
    assert len(rows) == 16  # 2 processes x 8 rows: two pairs of groups of 4
    rewards = torch.tensor([r["reward"] for r in rows])
    assert rewards.std() > 0  # the length reward varies: the advantages below are not all 0
    assert torch.allclose(
        torch.tensor([r["advantage"] for r in rows]), twin_advantages(rewards, 4, "group"), atol=1e-5
    )
