"""Loading profiles: bundled files, user files, and one-line errors for broken ones."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from monitor import paths
from monitor.profiles.errors import ProfileError
from monitor.profiles.loader import (
    bundled_profiles_dir,
    get_profile,
    identify,
    load_profile,
    load_profiles,
    profile_files,
)
from monitor.profiles.schema import schema_text

THINGY = bundled_profiles_dir() / "nordic_thingy52.toml"


def test_every_bundled_profile_loads_and_is_named_after_its_file() -> None:
    files = profile_files(include_user=False)
    assert len(files) >= 2
    for path in files:
        assert load_profile(path).id == path.stem


def test_committed_schema_matches_the_models() -> None:
    committed = (bundled_profiles_dir() / "schema.json").read_text()
    assert committed == schema_text(), (
        "firmware-profiles/schema.json is stale: run "
        "`monitor profiles schema -o firmware-profiles/schema.json`"
    )
    assert json.loads(committed)["properties"]["streams"]["type"] == "array"


def _write_variant(tmp_path: Path, replace: tuple[str, str]) -> Path:
    text = THINGY.read_text()
    assert replace[0] in text
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(*replace, 1))
    return path


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        (('timestamp = "host"', 'timestamp = "gps"'), r"streams\[0\]\.timestamp: Input should be"),
        (('codec = "struct"', 'codec = "strukt"'), r"streams\[0\]\.codec: unknown codec 'strukt'"),
        (
            ('dtype = "i16le", lsb = 0.0009765625', 'dtype = "i17", lsb = 0.0009765625'),
            r"streams\[0\]\.params\.layouts\[0\]\.fields\[0\]\.dtype",
        ),
        (("rate_hz = 50", "rate_hz = 7"), r"streams\[0\]\.settings\.rate_hz: 7 is not supported"),
        (('name = "Nordic Thingy:52"', 'nmae = "Nordic Thingy:52"'), r"nmae: unknown field"),
        (('"ef680401-9b35', '"ef680401-9b35-zz'), r"expected a UUID"),
        (
            ("{rate_hz:u16le}", "{rate:u16le}"),
            r"streams\[0\]\.start: \{rate:u16le\} names no setting",
        ),
        (
            ('rate_setting = "rate_hz"', 'rate_setting = "odr"'),
            r"rate_setting: 'odr' is not a setting",
        ),
    ],
)
def test_broken_profile_error_names_file_field_and_expectation(
    tmp_path: Path, replace: tuple[str, str], expected: str
) -> None:
    path = _write_variant(tmp_path, replace)
    with pytest.raises(ProfileError, match=expected) as caught:
        load_profile(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert "\n" not in message


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("id = \n")
    with pytest.raises(ProfileError, match="invalid TOML"):
        load_profile(bad)
    with pytest.raises(ProfileError, match="no such profile file"):
        load_profile(tmp_path / "absent.toml")


def test_user_profiles_are_found_and_replace_bundled_ones() -> None:
    user_dir = paths.user_profiles_dir()
    user_dir.mkdir(parents=True)
    data = THINGY.read_text().replace('name = "Nordic Thingy:52"', 'name = "My Thingy"')
    (user_dir / "nordic_thingy52.toml").write_text(data)
    (user_dir / "my_sensor.toml").write_text(data.replace('id = "nordic_thingy52"', 'id = "mine"'))
    profiles = load_profiles()
    assert profiles["nordic_thingy52"].name == "My Thingy"
    assert profiles["mine"].name == "My Thingy"
    assert "nordic_thingy52" in load_profiles(include_user=False)


def test_unknown_profile_id_lists_the_known_ones() -> None:
    with pytest.raises(
        ProfileError, match=r"no firmware profile 'nope' \(known: .*nordic_thingy52"
    ):
        get_profile("nope")


def test_identify_by_advertised_name_and_services() -> None:
    assert identify("Thingy", [])[0].id == "nordic_thingy52"
    assert identify(None, ["555A0002-0000-467A-9538-01F0652C74E8"])[0].id == (
        "arduino_nano33_ble_sense"
    )
    assert identify("Some headphones", ["180d"]) == []


def test_bundled_profiles_are_valid_toml_with_sources() -> None:
    for path in profile_files(include_user=False):
        data = tomllib.loads(path.read_text())
        assert data["sources"], f"{path.name} cites no source"


def test_every_codec_and_its_settings_are_documented() -> None:
    from monitor.profiles.codecs import CODECS

    docs = Path(__file__).parent.parent.parent / "docs"
    profiles_doc = (docs / "profiles.md").read_text()
    for name in CODECS:
        assert f"`{name}`" in profiles_doc, f"codec {name} is not documented"
    for name in ("struct", "witmotion", "metawear"):  # pmd, movesense: codecs-pmd-movesense.md
        for setting in CODECS[name].Settings.model_fields:
            assert f"`{setting}`" in profiles_doc, f"setting {setting} of {name} is undocumented"
