"""How the ``seghub`` command ends on an error: one message on stderr and exit code 2.

Bad input must never end in a traceback: seghub's own errors already say what is wrong and how
to fix it; anything else a command raises (another library refusing a value, a file that cannot
be written) is reported as its type and a short message. ``SEGHUB_TRACEBACK=1`` lets such an
error through with its traceback, for reporting a bug.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from ._excerpt import error_text, shorten
from .errors import SeghubError

__all__ = ["EXIT_USAGE", "EXIT_INTERRUPTED", "EXIT_BROKEN_PIPE", "TRACEBACK_ENV", "run_reporting_errors"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # what shells report for Ctrl-C
EXIT_BROKEN_PIPE = 141  # and for a closed pipe (SIGPIPE)
TRACEBACK_ENV = "SEGHUB_TRACEBACK"
_MAX_REPORT = 5000


def _say(message: str) -> None:
    print(f"seghub: error: {message}", file=sys.stderr)


def run_reporting_errors(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """``run(args)``'s exit code; an error it raises is reported in one message and gives
    :data:`EXIT_USAGE` (Ctrl-C gives :data:`EXIT_INTERRUPTED`, a closed output pipe
    :data:`EXIT_BROKEN_PIPE`, both silently but for one line on Ctrl-C)."""
    try:
        return run(args)
    except SeghubError as exc:
        _say(shorten(str(exc), _MAX_REPORT))
    except BrokenPipeError:  # the reader went away (`seghub encoders | head`): nothing to say
        try:  # flushing stdout at exit would raise again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("seghub: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the command's contract: no traceback for bad input
        if os.environ.get(TRACEBACK_ENV, "") not in ("", "0"):
            raise
        _say(f"{type(exc).__name__}: {error_text(exc)} ({TRACEBACK_ENV}=1 shows the traceback)")
    return EXIT_USAGE
