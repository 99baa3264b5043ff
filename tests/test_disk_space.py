"""The check before each checkpoint: the bytes it will write, and a one-line stop when the disk cannot hold them."""

import shutil
from types import SimpleNamespace

import pytest
import torch

from r1lite.errors import UserError
from r1lite.training import disk_space
from r1lite.training.disk_space import DiskFullError, DiskSpaceCallback, check_room, checkpoint_bytes


def _free(monkeypatch, free: int):
    usage = shutil._ntuple_diskusage(10**12, 10**12 - free, free)
    monkeypatch.setattr(disk_space.shutil, "disk_usage", lambda path: usage)


def test_checkpoint_bytes_counts_weights_and_adam_state():
    model = torch.nn.Linear(10, 10)  # 110 fp32 parameters: 440 bytes
    optimizer = torch.optim.AdamW(model.parameters())
    assert checkpoint_bytes(model, optimizer) == 440  # no state before the first step
    model(torch.ones(1, 10)).sum().backward()
    optimizer.step()
    assert checkpoint_bytes(model, optimizer) == 440 * 3 + 2 * 4  # exp_avg, exp_avg_sq, one fp32 step per tensor
    assert checkpoint_bytes(model.to(torch.bfloat16), None) == 220  # as held: bf16 weights are half


@pytest.mark.parametrize(
    "free, need, stops",
    [
        (10**9, 10**8, False),  # room to spare
        (10**8, 10**8, True),  # exactly the weights and state, nothing for the margin
        (int(1.2e9), 10**9, False),  # the 10% margin fits
        (10**6, 10**9, True),
    ],
)
def test_check_room(monkeypatch, tmp_path, free, need, stops):
    _free(monkeypatch, free)
    if stops:
        with pytest.raises(DiskFullError, match="checkpoint of step 6 needs about") as err:
            check_room(str(tmp_path), need, 6)
        assert isinstance(err.value, UserError) and "save_strategy: no" in str(err.value)
    else:
        check_room(str(tmp_path), need, 6)


def test_check_room_on_a_folder_not_made_yet(monkeypatch, tmp_path):
    seen, usage = [], shutil.disk_usage
    monkeypatch.setattr(disk_space.shutil, "disk_usage", lambda path: seen.append(path) or usage(path))
    check_room(str(tmp_path / "run" / "sub"), 1, 1)
    assert seen == [tmp_path]  # the nearest folder that exists: the trainer makes output_dir at its first save


def test_callback_checks_only_steps_that_save(monkeypatch, tmp_path):
    _free(monkeypatch, 10)
    args, state = SimpleNamespace(output_dir=str(tmp_path)), SimpleNamespace(global_step=3)
    model = torch.nn.Linear(10, 10)
    DiskSpaceCallback().on_step_end(args, state, SimpleNamespace(should_save=False), model=model)
    with pytest.raises(DiskFullError, match="has 0.0 MB free"):
        DiskSpaceCallback().on_step_end(args, state, SimpleNamespace(should_save=True), model=model)
