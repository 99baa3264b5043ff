"""A user's reward that breaks TRL's contract is reported with its name, the step and the completion."""

import pickle
import types

import pytest

from r1lite.training.reward_guard import CheckedReward, RewardError, checked
from rewards import equation_reward

STATE = types.SimpleNamespace(global_step=7)
COMPLETIONS = ["fine", "also fine", "x" * 300 + " BAD", "fine"]


def fails_on_bad(prompts, completions, **kwargs):
    return [1.0 if "BAD" not in c else float("boom") for c in completions]


def fails_on_batches(prompts, completions, **kwargs):
    if len(completions) > 1:
        raise MemoryError("too many at once")
    return [0.0]


def wrong_count(prompts, completions, **kwargs):
    return [0.0]


def not_a_number(prompts, completions, **kwargs):
    return [0.0, 1.0, "0.5", None]


def not_a_list(prompts, completions, **kwargs):
    return 1.0


def good(prompts, completions, **kwargs):
    import numpy as np
    import torch

    return [0.5, None, np.float32(1.0), torch.tensor(2.0)]  # None: not applicable; numpy and 0-d tensors are numbers


def _call(func, **extra):
    return CheckedReward(func)(
        prompts=["p"] * 4, completions=COMPLETIONS, trainer_state=STATE, nums=[[1]] * 4, **extra
    )


@pytest.mark.parametrize(
    "func, words",
    [
        (fails_on_bad, ["fails_on_bad raised ValueError", "at step 7", "completion 2 of 4", "'" + "x" * 200 + "'"]),
        (fails_on_batches, ["MemoryError", "a batch of 4 completions (none fails alone)"]),  # no single culprit
        (wrong_count, ["returned 1 values for 4 completions", "at step 7"]),
        (not_a_number, ["returned '0.5' (str) for completion 2 of 4", "not a number"]),
        (not_a_list, ["returned float", "one float (or None) per completion"]),
    ],
)
def test_misbehaving_reward_names_function_step_and_completion(func, words):
    with pytest.raises(RewardError) as info:
        _call(func)
    for word in words:
        assert word in str(info.value)
    if func is fails_on_bad:
        assert "BAD" not in str(info.value)  # only the first 200 characters of the completion


def test_well_behaved_reward_passes_through_unchanged():
    assert _call(good)[:2] == [0.5, None]
    assert CheckedReward(equation_reward)(["p"], ["<answer> 1 + 2 </answer>"], nums=[[1, 2]], target=[3]) == [1.0]


def test_checked_keeps_the_metric_name_and_pickles():
    (wrapped,) = checked([equation_reward])
    assert wrapped.__name__ == "equation_reward"  # TRL's metric name
    assert pickle.loads(pickle.dumps(wrapped)).__name__ == "equation_reward"
    assert checked([wrapped])[0] is wrapped  # not wrapped twice


def test_async_rewards_are_left_to_trl():
    async def judge(prompts, completions, **kwargs):
        return [0.0] * len(completions)

    assert checked([judge])[0] is judge


def test_rejection_sampling_names_its_stage():
    with pytest.raises(RewardError, match="in rejection sampling"):
        CheckedReward(wrong_count, where="in rejection sampling")(["p", "q"], ["a", "b"])
