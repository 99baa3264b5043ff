"""Whole prompt groups per micro-batch (r1lite.speedups.group_shuffle), against TRL's own shuffle."""

import importlib

import pytest
import torch
from trl.trainer.utils import shuffle_sequence_dict, split_tensor_dict

from r1lite.speedups.group_shuffle import TRL_MODULE, group_permutation, shuffle_groups, whole_groups


def _batch(prompts: list[list[int]], width: int = 4) -> dict:
    """TRL's generation batch: left-padded prompt ids and mask, completions, a list column, a 0-d tensor, None."""
    ids = torch.zeros(len(prompts), width, dtype=torch.long)  # (B, P)
    mask = torch.zeros(len(prompts), width, dtype=torch.long)  # (B, P)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt)
        mask[row, width - len(prompt) :] = 1
    rows = torch.arange(len(prompts))
    return {
        "prompt_ids": ids,
        "prompt_mask": mask,
        "completion_ids": rows[:, None].repeat(1, 3),
        "advantages": rows.float(),
        "row": rows.tolist(),
        "num_items_in_batch": torch.tensor(7),
        "old_per_token_logps": None,
    }


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a
    )


def test_distinct_prompts_shuffle_exactly_as_trl():
    batch = _batch([[i + 1] for i in range(12)])  # every prompt its own group: nothing to keep together
    torch.manual_seed(3)
    ours = shuffle_groups(batch)
    torch.manual_seed(3)
    theirs = shuffle_sequence_dict(batch)
    assert _same(ours, theirs)


def test_the_random_stream_after_it_is_trls():
    batch = _batch([[1, 2]] * 4 + [[3]] * 4 + [[4, 5, 6]] * 4)
    torch.manual_seed(0)
    shuffle_groups(batch)
    after_ours = torch.rand(3)
    torch.manual_seed(0)
    shuffle_sequence_dict(batch)
    assert torch.equal(after_ours, torch.rand(3))  # later sampling draws the same numbers either way


@pytest.mark.parametrize("seed", range(5))
def test_micro_batches_hold_whole_groups(seed):
    prompts = [[1, 2]] * 4 + [[3]] * 4 + [[4, 5, 6]] * 4 + [[2, 1]] * 4  # 4 groups of 4, interleaved below
    order = torch.randperm(16, generator=torch.Generator().manual_seed(99))
    batch = _batch([prompts[i] for i in order.tolist()])
    torch.manual_seed(seed)
    shuffled = shuffle_groups(batch)
    assert sorted(shuffled["row"]) == list(range(16))  # a permutation of the rows, every column alike
    assert torch.equal(shuffled["advantages"], torch.tensor(shuffled["row"]).float())
    assert shuffled["num_items_in_batch"].item() == 7 and shuffled["old_per_token_logps"] is None
    for micro in split_tensor_dict(shuffled, 4):  # 4 micro-batches of 4 rows: one prompt each
        assert len({tuple(r.tolist()) for r in micro["prompt_ids"]}) == 1


def test_group_order_follows_trls_permutation():
    batch = _batch([[1], [1], [2], [2], [3], [3]])  # group g is rows 2g and 2g+1
    torch.manual_seed(1)
    rows = torch.randperm(6).tolist()  # TRL's draw
    torch.manual_seed(1)
    order = group_permutation(batch["prompt_ids"], batch["prompt_mask"]).tolist()
    landed = {
        g: min(rows.index(2 * g), rows.index(2 * g + 1)) for g in range(3)
    }  # each group's first row in TRL's order
    assert [order[i] // 2 for i in (0, 2, 4)] == sorted(range(3), key=landed.get)
    assert all(order[i] // 2 == order[i + 1] // 2 for i in (0, 2, 4))  # rows of a group side by side


def test_whole_groups_swaps_trls_shuffle_and_puts_it_back():
    module = importlib.import_module(TRL_MODULE)
    original = module.shuffle_sequence_dict
    with pytest.raises(RuntimeError), whole_groups():
        assert module.shuffle_sequence_dict is shuffle_groups
        raise RuntimeError("a failing step")
    assert module.shuffle_sequence_dict is original


def test_trainer_splits_a_generation_batch_into_whole_groups(tmp_path, tiny_model_path, monkeypatch):
    from datasets import Dataset

    from r1lite.config import R1ZeroConfig
    from r1lite.models import load_model, load_tokenizer
    from r1lite.training.trainer import R1ZeroTrainer

    def build(shared: bool) -> R1ZeroTrainer:
        args = R1ZeroConfig(
            output_dir=str(tmp_path / str(shared)),
            use_cpu=True,
            per_device_train_batch_size=4,
            gradient_accumulation_steps=4,
            num_generations=4,
            report_to="none",
            shared_prefix=shared,
        )
        return R1ZeroTrainer(
            model=load_model(tiny_model_path),
            args=args,
            processing_class=load_tokenizer(tiny_model_path),
            reward_funcs=lambda prompts, completions, **kw: [0.0] * len(completions),
            train_dataset=Dataset.from_dict({"prompt": ["a b", "c d"]}),
        )

    batch = _batch([[1, 2], [3], [4, 5, 6], [2, 1]] * 4)  # 4 prompts, their rows interleaved
    prompts_per_micro_batch = {}
    for shared in (True, False):
        trainer = build(shared)
        assert trainer.args.steps_per_generation == 4
        monkeypatch.setattr(trainer, "_generate_and_score_completions", lambda generation_batch: dict(batch))
        trainer.model.train()
        torch.manual_seed(0)
        trainer._prepare_inputs(None)
        prompts_per_micro_batch[shared] = [
            len({tuple(r.tolist()) for r in b["prompt_ids"]}) for b in trainer._buffered_inputs
        ]
    assert prompts_per_micro_batch[True] == [1, 1, 1, 1]  # whole groups
    assert prompts_per_micro_batch[False] != [1, 1, 1, 1]  # TRL's row shuffle scatters them (this seed)
