"""Firmware profiles: declarative sensor descriptions (firmware-profiles/*.toml) and codecs."""
