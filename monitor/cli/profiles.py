"""`monitor profiles`: list, show, check and try out firmware profiles."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from monitor.core import NotificationBatch
from monitor.errors import MonitorError
from monitor.profiles.decoder import ProfileDecoder
from monitor.profiles.loader import (
    bundled_profiles_dir,
    get_profile,
    load_profile,
    profile_entries,
)
from monitor.profiles.schema import schema_text


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "profiles",
        help="list, show, check and try out firmware profiles",
        description="Firmware profiles describe how each sensor model is recognised, started "
        "and decoded. Your own go in the user profiles directory.",
    )
    verbs = parser.add_subparsers(dest="profiles_verb", metavar="ACTION", required=True)

    listing = verbs.add_parser("list", help="bundled and user profiles")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=_list)

    show = verbs.add_parser("show", help="one profile in detail")
    show.add_argument("profile", metavar="ID", help="profile id or path to a .toml file")
    show.add_argument("--json", action="store_true", help="the validated profile as JSON")
    show.set_defaults(func=_show)

    check = verbs.add_parser("check", help="validate a profile file")
    check.add_argument("file", metavar="FILE", type=Path)
    check.set_defaults(func=_check)

    decode = verbs.add_parser(
        "decode",
        help="decode one captured notification, print its samples as JSON",
        description="Prints t_ns, acc_mps2, gyro_rads and mag_ut of the samples in one "
        "notification. Codec settings (range, FACTOR, chip variant, previous frame timestamp) "
        "can be given with --set; see docs/profiles.md.",
    )
    decode.add_argument("profile", metavar="ID", help="profile id or path to a .toml file")
    decode.add_argument("hex", metavar="HEX", help="notification bytes in hex")
    decode.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a stream setting (repeatable)",
    )
    decode.add_argument("--stream", help="stream name (default: the profile's first)")
    decode.add_argument(
        "--characteristic", metavar="UUID", help="characteristic (default: the stream's first)"
    )
    decode.add_argument(
        "--host-time-ns", type=int, default=0, help="arrival time of the notification"
    )
    decode.set_defaults(func=_decode)

    schema = verbs.add_parser("schema", help="print (or write) the profile JSON schema")
    schema.add_argument("-o", "--output", type=Path, help="write to this file")
    schema.set_defaults(func=_schema)


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _list(args: argparse.Namespace) -> int:
    rows: dict[str, dict[str, Any]] = {}
    for path, profile in profile_entries():  # user files come last, replace bundled ones by id
        rows[profile.id] = {
            "id": profile.id,
            "name": profile.name,
            "vendor": profile.vendor,
            "streams": [s.name for s in profile.streams],
            "file": str(path),
        }
    if args.json:
        _print_json(list(rows.values()))
        return 0
    width = max((len(r) for r in rows), default=2)
    bundled = bundled_profiles_dir()
    for row in rows.values():
        mine = "" if Path(row["file"]).parent == bundled else f"  (your file {row['file']})"
        print(f"{row['id']:<{width}}  {row['name']}  [{', '.join(row['streams'])}]{mine}")
    return 0


def _show(args: argparse.Namespace) -> int:
    profile = get_profile(args.profile)
    if args.json:
        _print_json(profile.model_dump(mode="json"))
        return 0
    print(f"{profile.name} ({profile.id}) by {profile.vendor}")
    if profile.description:
        print(f"  {profile.description}")
    print(f"  name patterns: {', '.join(profile.recognition.name_patterns) or '-'}")
    print(f"  services: {', '.join(profile.recognition.service_uuids) or '-'}")
    for stream in profile.streams:
        decoder = ProfileDecoder(profile, stream=stream.name)
        print(
            f"  stream {stream.name}: codec {stream.codec}, {stream.timestamp} clock, "
            f"axes {stream.axes}"
        )
        for name, value in decoder.settings.items():
            allowed = stream.choices.get(name)
            extra = f"  (choices: {', '.join(map(str, allowed))})" if allowed else ""
            print(f"    {name} = {value}{extra}")
        for label, steps in (("start", decoder.start_steps()), ("stop", decoder.stop_steps())):
            for step in steps:
                data = f" {step.data.hex(' ')}" if step.data is not None else ""
                target = step.characteristic or f"{step.wait_ms:g} ms"
                print(f"    {label}: {step.action} {target}{data}")
    return 0


def _check(args: argparse.Namespace) -> int:
    profile = load_profile(args.file)
    print(
        f"{args.file}: ok, profile {profile.id!r} ({profile.name}), "
        f"{len(profile.streams)} stream(s)"
    )
    return 0


def _parse_setting(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise MonitorError(f"--set {text!r}: expected KEY=VALUE")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def _parse_hex(text: str) -> bytes:
    digits = re.sub(r"[\s:]", "", text.removeprefix("0x"))
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise MonitorError(f"HEX {text!r}: expected hex bytes, e.g. 030416c494a22ad0") from None


def _decode(args: argparse.Namespace) -> int:
    profile = get_profile(args.profile)
    overrides = dict(_parse_setting(s) for s in args.settings)
    decoder = ProfileDecoder(profile, overrides, args.stream)
    characteristic = args.characteristic or decoder.stream.characteristics[0]
    data = _parse_hex(args.hex)
    result = decoder.feed(NotificationBatch.single(characteristic, data, args.host_time_ns))
    _print_json(
        {
            "profile": profile.id,
            "stream": decoder.stream.name,
            "characteristic": characteristic.lower(),
            "settings": decoder.settings,
            "blocks": [block.to_json() for block in result.blocks],
            "events": [event.to_json() for event in result.events],
            "bad_packets": result.bad_packets,
        }
    )
    return 0


def _schema(args: argparse.Namespace) -> int:
    text = schema_text()
    if args.output:
        args.output.write_text(text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0
