"""Errors raised by firmware profiles: a broken profile file, a command the sensor refused."""

from __future__ import annotations

from monitor.errors import InputFileError, MonitorError


class ProfileError(InputFileError):
    """A firmware profile is missing or invalid; the message names the file, field and problem."""


class CommandRefusedError(MonitorError):
    """The sensor answered a start/stop command with a status other than success."""

    def __init__(self, message: str, status: int, status_name: str) -> None:
        super().__init__(message)
        self.status = status
        self.status_name = status_name
