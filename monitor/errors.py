"""User-facing errors: the CLI prints their message as one line and exits non-zero."""

import logging


class MonitorError(Exception):
    """An error the user can act on (bad file, bad argument, sensor refused a command).

    The message is complete on its own: it names the file or device and what was wrong.
    """

    exit_code = 2


class InputFileError(MonitorError):
    """A file given to the monitor (recording, CSV, profile, program) is unreadable or invalid."""


_warned: set[str] = set()


def warn_user(message: str) -> None:
    """Show a problem the monitor works around (e.g. a broken user file it skipped) once.

    Goes to the `monitor` logger; the CLI prints it as `monitor: warning: ...` on stderr.
    """
    if message not in _warned:
        _warned.add(message)
        logging.getLogger("monitor").warning(message)
