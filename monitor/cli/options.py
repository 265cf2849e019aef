"""Argument types shared by several verbs."""

from __future__ import annotations

import argparse


def replay_speed(text: str) -> float | None:
    """`--speed`: a positive factor of real time, or 'max' (None: as fast as possible)."""
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'max', got {text!r}")
    return value
