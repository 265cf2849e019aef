"""Codecs: the few frame formats that need an algorithm, parameterised by profiles.

Importing this package registers every codec in `CODECS` (name -> class).
"""

from __future__ import annotations

from monitor.profiles.codecs import metawear, movesense, pmd, struct_codec, witmotion
from monitor.profiles.codecs.base import CODECS, Codec, CodecModel, DecodeResult, register_codec

CODEC_MODULES = (struct_codec, witmotion, metawear, pmd, movesense)

__all__ = ["CODECS", "CODEC_MODULES", "Codec", "CodecModel", "DecodeResult", "register_codec"]
