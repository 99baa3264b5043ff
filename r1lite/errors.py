"""User errors: a mistake in a recipe, a command, the data or the machine, reported in one line.

``run_main(main)`` is what every entry point calls (the scripts in ``recipes/`` and the ``r1lite``
command): a :class:`UserError` becomes ``r1lite: error: <message>`` on stderr (from the first
process only, under ``accelerate launch``) and exit status 2; anything else is a bug and keeps its
stack trace. ``R1LITE_DEBUG=1`` shows the trace for user errors too.

The subclasses also derive from the built-in exception a caller would expect (``ConfigError`` is a
``ValueError``, ``PathNotFoundError`` a ``FileNotFoundError``), so library code may catch either.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Callable, Iterable


class UserError(Exception):
    """Something the user can change (the message says what); not a bug in r1lite."""


class ConfigError(UserError, ValueError):
    """A recipe key or command-line value that is wrong, or settings that do not fit together."""


class DataError(UserError, ValueError):
    """Data r1lite reads (puzzle rows, a task record, a run folder's logs) is not what it expects."""


class PathNotFoundError(UserError, FileNotFoundError):
    """A path the user named (model, recipe, data file, run folder) does not exist or holds the wrong thing."""


class MissingPackageError(UserError, ImportError):
    """The recipe or launcher asks for a feature whose package is not installed."""


class NoGPUError(UserError):
    """A GPU recipe was started on a machine without a CUDA GPU."""


def did_you_mean(word: str, known: Iterable[str], n: int = 3) -> str:
    """`` (did you mean 'a' or 'b'?)`` for the known words closest to ``word``; empty when none is close."""
    close = difflib.get_close_matches(word, sorted(set(known)), n=n, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors are :class:`ConfigError` (one line, exit status 2 in
    run_main)."""

    def error(self, message: str):
        raise ConfigError(f"{message} (see {self.prog} --help)")


def run_main(main: Callable[[], object]) -> None:
    """Call ``main()``; a :class:`UserError` ends the process with one line and exit status 2."""
    try:
        main()
    except UserError as err:
        if os.environ.get("R1LITE_DEBUG") == "1":
            raise
        if int(os.environ.get("RANK", "0")) == 0:
            _close_progress_bars()  # a bar the error interrupted leaves the cursor mid-line: the error gets its own
            message = " ".join(str(err).split("\n"))  # one line, whatever the message holds
            print(f"r1lite: error: {message}", file=sys.stderr)
        sys.exit(2)


def _close_progress_bars() -> None:
    """Close the tqdm bars still open (the trainer's, an evaluation's), so each ends its line."""
    try:
        from tqdm import tqdm  # noqa: PLC0415 - only on the error path; the errors module stays light
    except ImportError:  # no bar can be open without tqdm
        return
    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()
