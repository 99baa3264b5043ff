"""User errors: a mistake in a recipe, a command or the machine it runs on, reported in one line.

``run_main(main)`` is what the entry scripts in ``recipes/`` call: a :class:`UserError` becomes
``r1lite: error: <message>`` on stderr (from the first process only, under ``accelerate launch``)
and exit status 2; anything else is a bug and keeps its stack trace. ``R1LITE_DEBUG=1`` shows the
trace for user errors too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


class UserError(Exception):
    """Something the user can change (the message says what); not a bug in r1lite."""


class MissingPackageError(UserError, ImportError):
    """The recipe or launcher asks for a feature whose package is not installed."""


class NoGPUError(UserError):
    """A GPU recipe was started on a machine without a CUDA GPU."""


def run_main(main: Callable[[], object]) -> None:
    """Call ``main()``; a :class:`UserError` ends the process with one line and exit status 2."""
    try:
        main()
    except UserError as err:
        if os.environ.get("R1LITE_DEBUG") == "1":
            raise
        if int(os.environ.get("RANK", "0")) == 0:
            print(f"r1lite: error: {err}", file=sys.stderr)
        sys.exit(2)
