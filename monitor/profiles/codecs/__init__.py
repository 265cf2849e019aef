"""Codecs: the few frame formats that need an algorithm, parameterised by profiles.

Importing this package registers every codec module in `CODECS` (name -> class).
"""

from __future__ import annotations

import importlib
import importlib.util

from monitor.profiles.codecs.base import CODECS, Codec, CodecModel, DecodeResult, register_codec

CODEC_MODULES = ("struct_codec", "witmotion", "metawear", "pmd", "movesense")

for _module in CODEC_MODULES:
    if importlib.util.find_spec(f"{__name__}.{_module}") is not None:
        importlib.import_module(f"{__name__}.{_module}")

__all__ = ["CODECS", "Codec", "CodecModel", "DecodeResult", "register_codec"]
