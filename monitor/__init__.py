"""backstretch session monitor: one commodity IMU, a therapist's program, live feedback."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("backstretch-monitor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+src"
