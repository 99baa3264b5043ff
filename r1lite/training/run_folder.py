"""A run folder (``output_dir``) owned by one run at a time, and consistent after a resume.

Lock: the first process of a run writes ``<output_dir>/.r1lite.lock`` (pid, host, start time,
command) before any model loads, and removes it when the run ends. A second run into a folder
whose lock names a live process is refused; a lock whose process is gone (a run killed with
SIGKILL, a machine that rebooted) is taken over with a warning. An ``output_dir`` that cannot be
created or written fails here, before the model loads.

Resume: a run resumed from ``checkpoint-N`` generates step N again, so ``RunFolderResumeCallback``
first removes what the killed run logged after its checkpoint: rollout files of steps >= N
(including a file cut short by the kill) and held-out evaluations after step N. The rollout log
then holds exactly one record set per step.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_utils import get_last_checkpoint

from r1lite.errors import UserError

logger = logging.getLogger(__name__)

LOCK_NAME = ".r1lite.lock"
STEP_FILE = re.compile(r"step-(\d+)(?:-\d+)?\.jsonl$")


class RunFolderInUseError(UserError):
    """Another live run owns the output_dir."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _owner(lock: Path) -> dict | None:
    try:
        owner = json.loads(lock.read_text())
        return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None
    except (OSError, ValueError):
        return None


def _describe(owner: dict) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(owner.get("started", 0)))
    return f"pid {owner['pid']} on {owner.get('host', '?')}, started {started}: {owner.get('command', '?')}"


def acquire(output_dir: str | os.PathLike) -> Path | None:
    """Lock ``output_dir`` for this process; returns the lock file, or None if this process holds it already."""
    folder = Path(output_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(
            f"output_dir {str(folder)!r} cannot be created ({err.strerror}): pick another output_dir"
        ) from err
    lock = folder / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "command": " ".join(sys.argv)}
    for _ in range(2):  # a second try after taking over a stale lock
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _owner(lock)
            if owner is not None and owner["pid"] == me["pid"] and owner.get("host") == me["host"]:
                return None  # this process holds it (a pipeline's stage in its own folder, a second call)
            if owner is not None and owner.get("host") != me["host"]:
                raise RunFolderInUseError(
                    f"output_dir {str(folder)!r} is locked by a run on another machine ({_describe(owner)}); "
                    "if that run "
                    f"is over, delete {lock}, or pick another output_dir"
                ) from None
            if owner is not None and _alive(owner["pid"]):
                raise RunFolderInUseError(
                    f"output_dir {str(folder)!r} is in use by a live run ({_describe(owner)}): wait for it to end, "
                    "or pick another output_dir"
                ) from None
            logger.warning(
                "taking over the stale lock %s (%s; that process is gone)",
                lock,
                _describe(owner) if owner else "unreadable",
            )
            lock.unlink(missing_ok=True)
            continue
        except OSError as err:
            raise UserError(
                f"output_dir {str(folder)!r} cannot be written ({err.strerror}): pick another output_dir"
            ) from err
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        return lock
    raise RunFolderInUseError(f"output_dir {str(folder)!r}: another run took the lock while this one was starting")


def release(lock: Path | None) -> None:
    """Remove ``lock`` if this process still owns it."""
    if lock is None:
        return
    owner = _owner(lock)
    if owner is not None and owner["pid"] == os.getpid():
        lock.unlink(missing_ok=True)


@contextmanager
def run_folder_lock(output_dir: str | os.PathLike, main_process: bool = True):
    """Hold the lock of ``output_dir`` for the block (only the first process of a run takes it)."""
    lock = acquire(output_dir) if main_process else None
    try:
        yield lock
    finally:
        release(lock)


def drop_after(output_dir: str | os.PathLike, step: int) -> list[Path]:
    """Remove what a killed run logged after ``checkpoint-<step>``; returns the removed rollout files."""
    folder = Path(output_dir)
    removed = []
    for path in sorted((folder / "rollouts").glob("step-*.jsonl")):
        match = STEP_FILE.search(path.name)
        if match and int(match.group(1)) >= step:  # generated at step >= N: the resumed run generates them again
            path.unlink()
            removed.append(path)
    history = folder / "eval" / "history.jsonl"
    if history.exists():
        kept = []
        for line in history.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by the kill
            if isinstance(record, dict) and record.get("step", 0) <= step:
                kept.append(line)
        history.write_text("".join(f"{line}\n" for line in kept))
    return removed


class RunFolderResumeCallback(TrainerCallback):
    """On a resumed run (global step N > 0 at the start), drop the killed run's logs after step N (main process)."""

    def __init__(self, output_dir: str, main_process: bool):
        self.output_dir = output_dir
        self.main_process = main_process

    def on_train_begin(self, args, state, control, **kwargs):
        if state.global_step > 0 and self.main_process:
            removed = drop_after(self.output_dir, state.global_step)
            if removed:
                logger.info(
                    "resumed at step %d: removed %d rollout file(s) the stopped run wrote after its checkpoint",
                    state.global_step,
                    len(removed),
                )


def resume_point(training) -> tuple[str | bool | None, int | None]:
    """``(what to pass to train(resume_from_checkpoint=...), the checkpoint's step)`` for the recipe's setting.

    ``true``/``latest`` mean the last ``checkpoint-N`` in ``output_dir``; none there is a user error,
    reported before the model loads."""
    resume = training.resume_from_checkpoint
    if isinstance(resume, str) and resume.lower() in ("true", "latest"):
        resume = True
    if isinstance(resume, str) and resume.lower() in ("false", "none", ""):
        resume = None
    if not resume:
        return None, None
    last = (
        get_last_checkpoint(training.output_dir) if resume is True and os.path.isdir(training.output_dir) else resume
    )
    if last is None or not os.path.isdir(last):
        where = training.output_dir if resume is True else resume
        raise UserError(
            f"resume_from_checkpoint: no checkpoint-N folder in {where!r} to resume from; drop "
            "--resume_from_checkpoint to start afresh"
        )
    match = re.search(r"checkpoint-(\d+)$", str(last).rstrip("/"))
    return resume, int(match.group(1)) if match else None
