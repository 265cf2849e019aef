"""Finding, reading and validating firmware profiles (bundled and the user's own).

Bundled profiles live in `firmware-profiles/`; a user can drop more (or replacements, same
`id`) into `monitor.paths.user_profiles_dir()`. Every problem becomes a ProfileError whose one
line names the file, the field path and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from monitor import paths
from monitor.profiles.codecs import CODECS
from monitor.profiles.codecs.base import Codec, CodecModel
from monitor.profiles.errors import ProfileError
from monitor.profiles.model import Profile, Stream, value_key
from monitor.textfiles import load_user_files, read_toml


def bundled_profiles_dir() -> Path:
    return paths.bundled_dir("firmware-profiles")


def _location(loc: Iterable[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def format_validation_error(error: ValidationError, source: str, prefix: str = "") -> str:
    """One line: `file: field.path: what was expected (got ...)`, first three problems."""
    parts = []
    for item in error.errors()[:3]:
        loc = _location(item["loc"])
        loc = f"{prefix}.{loc}" if prefix and loc != "(top level)" else (prefix or loc)
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field (a typo?)"
        elif (
            item["type"] != "missing"
            and "input" in item
            and not isinstance(item["input"], dict | list)
        ):
            message += f" (got {item['input']!r})"
        parts.append(f"{loc}: {message}")
    more = len(error.errors()) - 3
    tail = f"; and {more} more" if more > 0 else ""
    return f"{source}: {'; '.join(parts)}{tail}"


def codec_class(stream: Stream, source: str, where: str) -> type[Codec]:
    try:
        return CODECS[stream.codec]
    except KeyError:
        raise ProfileError(
            f"{source}: {where}.codec: unknown codec {stream.codec!r} "
            f"(known: {', '.join(sorted(CODECS))})"
        ) from None


def codec_params(stream: Stream, source: str = "<profile>", where: str = "stream") -> CodecModel:
    cls = codec_class(stream, source, where)
    try:
        return cls.Params.model_validate(stream.params)
    except ValidationError as error:
        raise ProfileError(format_validation_error(error, source, f"{where}.params")) from None


def codec_settings(
    stream: Stream,
    overrides: Mapping[str, Any] | None = None,
    source: str = "<profile>",
    where: str = "stream",
) -> CodecModel:
    """The stream's codec Settings: profile defaults, then `overrides`, checked against choices."""
    cls = codec_class(stream, source, where)
    overrides = dict(overrides or {})
    known = set(cls.Settings.model_fields)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ProfileError(
            f"{source}: {where}: unknown setting {', '.join(unknown)} for codec "
            f"{stream.codec!r} (settings: {', '.join(sorted(known)) or 'none'})"
        )
    try:
        settings = cls.Settings.model_validate({**stream.settings, **overrides})
    except ValidationError as error:
        raise ProfileError(format_validation_error(error, source, f"{where}.settings")) from None
    values = settings.model_dump()
    for name, allowed in stream.choices.items():
        if value_key(values[name]) not in {value_key(v) for v in allowed}:
            raise ProfileError(
                f"{source}: {where}.settings.{name}: {value_key(values[name])} is not supported "
                f"(choose {', '.join(value_key(v) for v in allowed)})"
            )
    return settings


def _check_stream(profile: Profile, index: int, stream: Stream, source: str) -> None:
    where = f"streams[{index}]"
    cls = codec_class(stream, source, where)
    codec_params(stream, source, where)
    known = set(cls.Settings.model_fields)
    for field, name in (
        ("rate_setting", stream.rate_setting),
        *((f"channel_rate_settings.{c}", s) for c, s in stream.channel_rate_settings.items()),
        *((f"choices.{s}", s) for s in stream.choices),
        *((f"codes.{c}.setting", t.setting) for c, t in stream.codes.items()),
    ):
        if name not in known:
            raise ProfileError(
                f"{source}: {where}.{field}: {name!r} is not a setting of codec "
                f"{stream.codec!r} (settings: {', '.join(sorted(known))})"
            )
    settings = codec_settings(stream, None, source, where).model_dump()
    for which in ("start", "stop"):
        try:
            profile.resolve_steps(getattr(stream, which), settings, stream.codes)
        except ValueError as error:
            raise ProfileError(f"{source}: {where}.{which}: {error}") from None


def parse_profile(data: Mapping[str, Any], source: str) -> Profile:
    """Validate a profile's data, codec params and settings, and its templates."""
    try:
        profile = Profile.model_validate(data)
    except ValidationError as error:
        raise ProfileError(format_validation_error(error, source)) from None
    for index, stream in enumerate(profile.streams):
        _check_stream(profile, index, stream, source)
    return profile


def load_profile(path: Path | str) -> Profile:
    path = Path(path)
    if not path.exists():
        raise ProfileError(f"{path}: no such profile file")
    return parse_profile(read_toml(path, error=ProfileError), str(path))


def profile_files(include_user: bool = True) -> list[Path]:
    """Bundled profile files, then the user's (later ones replace earlier ones by id)."""
    files = sorted(bundled_profiles_dir().glob("*.toml"))
    if include_user:
        user_dir = paths.user_profiles_dir()
        if user_dir.is_dir():
            files += sorted(user_dir.glob("*.toml"))
    return files


def load_profiles(include_user: bool = True) -> dict[str, Profile]:
    """All profiles by id; a user file replaces the bundled profile with its id.

    A broken bundled profile raises ProfileError. A broken user file is skipped with a warning
    (`monitor.errors.warn_user`), so one bad file does not take every sensor away; so is a
    second user file with an id another user file already has.
    """
    return {profile.id: profile for _path, profile in profile_entries(include_user)}


def profile_entries(include_user: bool = True) -> list[tuple[Path, Profile]]:
    """(file, profile) for every profile that loads, in `profile_files` order."""
    bundled = bundled_profiles_dir()
    files = profile_files(include_user)
    entries = [(path, load_profile(path)) for path in files if path.parent == bundled]
    user_files = [path for path in files if path.parent != bundled]
    entries += load_user_files(user_files, load_profile, lambda p: p.id, "profile")
    return entries


def get_profile(name: str) -> Profile:
    """A profile by id, or from a path to a .toml file."""
    if name.endswith(".toml") or "/" in name:
        return load_profile(name)
    profiles = load_profiles()
    if name not in profiles:
        raise ProfileError(
            f"no firmware profile {name!r} (known: {', '.join(sorted(profiles))}; "
            f"add your own in {paths.user_profiles_dir()})"
        )
    return profiles[name]


def identify(local_name: str | None, service_uuids: Iterable[str] = ()) -> list[Profile]:
    """Profiles that match an advertisement, best match first."""
    uuids = list(service_uuids)
    scored = [(p.match_score(local_name, uuids), p) for p in load_profiles().values()]
    return [p for score, p in sorted(scored, key=lambda s: -s[0]) if score > 0]
