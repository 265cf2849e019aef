"""User-facing errors: the CLI prints their message as one line and exits non-zero."""


class MonitorError(Exception):
    """An error the user can act on (bad file, bad argument, sensor refused a command).

    The message is complete on its own: it names the file or device and what was wrong.
    """

    exit_code = 2


class InputFileError(MonitorError):
    """A file given to the monitor (recording, CSV, profile, program) is unreadable or invalid."""
