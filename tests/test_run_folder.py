"""The run-folder lock and the resume clean-up, in process (the entry points are tested in
test_errors/test_kill_resume)."""

import json
import logging
import os
import socket

import pytest

from r1lite.errors import UserError
from r1lite.training.run_folder import LOCK_NAME, RunFolderInUseError, acquire, drop_after, release, run_folder_lock


def _lock(folder, **owner):
    folder.mkdir(exist_ok=True)
    (folder / LOCK_NAME).write_text(
        json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": 0, "command": "x", **owner})
    )


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)  # reaped: no process has this pid now
    return pid


def test_lock_is_held_for_the_block_and_released(tmp_path):
    with run_folder_lock(tmp_path / "run") as lock:
        owner = json.loads(lock.read_text())
        assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
    assert not (tmp_path / "run" / LOCK_NAME).exists()
    with run_folder_lock(tmp_path / "other", main_process=False) as lock:  # other ranks take no lock
        assert lock is None and (tmp_path / "other").exists() is False


@pytest.mark.parametrize(
    "owner, outcome",
    [
        ({"pid": 1}, "refused"),  # a live process on this host (init)
        ({"pid": None}, "taken over"),  # unreadable owner: stale
        ({"host": "another-machine"}, "refused"),  # cannot tell whether it is live: refused, says how to clear
        ({}, "ours"),  # this very process (a pipeline's stage): re-entrant
    ],
)
def test_existing_lock(tmp_path, caplog, owner, outcome):
    _lock(tmp_path, **owner)
    if outcome == "refused":
        with pytest.raises(RunFolderInUseError, match="another output_dir"):
            acquire(tmp_path)
    elif outcome == "ours":
        assert acquire(tmp_path) is None and (tmp_path / LOCK_NAME).exists()
    else:
        with caplog.at_level(logging.WARNING):
            lock = acquire(tmp_path)
        assert "taking over the stale lock" in caplog.text and json.loads(lock.read_text())["pid"] == os.getpid()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, caplog):
    _lock(tmp_path, pid=_dead_pid())
    with caplog.at_level(logging.WARNING):
        lock = acquire(tmp_path)
    assert "that process is gone" in caplog.text
    release(lock)
    assert not lock.exists()


def test_unwritable_output_dir_is_a_user_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="cannot be created"):
        acquire(tmp_path / "file" / "run")  # a path under a regular file


def test_drop_after_keeps_steps_up_to_the_checkpoint(tmp_path):
    rollouts = tmp_path / "rollouts"
    rollouts.mkdir()
    for name in ("step-000001.jsonl", "step-000002.jsonl", "step-000002-0003.jsonl", "step-000003.jsonl", "notes.txt"):
        (rollouts / name).write_text("{}\n")
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "history.jsonl").write_text('{"step": 0}\n{"step": 2}\n{"step": 4}\n{"step": 6, "acc')
    removed = drop_after(tmp_path, 2)
    assert sorted(p.name for p in removed) == ["step-000002-0003.jsonl", "step-000002.jsonl", "step-000003.jsonl"]
    assert sorted(p.name for p in rollouts.iterdir()) == ["notes.txt", "step-000001.jsonl"]
    assert (tmp_path / "eval" / "history.jsonl").read_text() == '{"step": 0}\n{"step": 2}\n'
