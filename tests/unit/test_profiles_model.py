"""Profile model parts: UUIDs, axis mappings, hex templates, expected responses."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from monitor.profiles.errors import CommandRefusedError
from monitor.profiles.model import (
    AxisMapping,
    CodeTable,
    Expect,
    ResolvedExpect,
    Step,
    Stream,
    normalize_uuid,
    render_template,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2A19", "00002a19-0000-1000-8000-00805f9b34fb"),
        ("0x180f", "0000180f-0000-1000-8000-00805f9b34fb"),
        ("FB005C81-02E7-F387-1CAD-8ACD2D8DF0C8", "fb005c81-02e7-f387-1cad-8acd2d8df0c8"),
        # WitMotion's vendor base differs from the SIG base (9a, not 9b) and stays as written.
        ("0000FFE4-0000-1000-8000-00805F9A34FB", "0000ffe4-0000-1000-8000-00805f9a34fb"),
        ("fb005c8102e7f3871cad8acd2d8df0c8", "fb005c81-02e7-f387-1cad-8acd2d8df0c8"),
    ],
)
def test_uuids_normalise_to_lower_case_128_bit(given: str, expected: str) -> None:
    assert normalize_uuid(given) == expected


@pytest.mark.parametrize("bad", ["2a1", "zzzz", "fb005c81-02e7"])
def test_malformed_uuid_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="expected a UUID"):
        normalize_uuid(bad)


def test_axis_mapping_applies_and_inverts_exactly() -> None:
    mapping = AxisMapping.from_text("x=-y, y=x, z=z")
    values = np.array([[1.5, -2.25, 3.0], [0.1, 0.2, 0.3]])
    mapped = mapping.apply(values)
    np.testing.assert_array_equal(mapped[0], [2.25, 1.5, 3.0])
    np.testing.assert_array_equal(mapping.invert(mapped), values)
    assert not mapping.is_identity


def test_axis_matrix_form_is_canonicalised() -> None:
    stream = Stream(
        name="imu",
        codec="struct",
        characteristics=["2a19"],
        timestamp="host",
        rate_setting="rate_hz",
        axes=[[0, -1, 0], [1, 0, 0], [0, 0, 1]],
    )
    assert stream.axes == "x=-y, y=x, z=z"


@pytest.mark.parametrize("bad", ["x=y, y=y, z=z", "x=y, y=x", "x=2y, y=x, z=z"])
def test_axis_mapping_must_be_a_signed_permutation(bad: str) -> None:
    with pytest.raises(ValueError, match="axis mapping"):
        AxisMapping.from_text(bad)


def test_templates_render_codes_and_formatted_settings() -> None:
    codes = {
        "acc_odr": CodeTable(setting="rate_hz", values={"12.5": "25", "100": "28"}),
        "acc_range": CodeTable(setting="acc_range_g", values={"16": "0c"}),
    }
    settings = {"rate_hz": 100.0, "acc_range_g": 16}
    assert render_template("03 03 {acc_odr} {acc_range}", settings, codes) == bytes.fromhex(
        "0303280c"
    )
    assert render_template("{rate_hz:u16le}01", {"rate_hz": 10.0}, {}) == bytes.fromhex("0a0001")
    assert render_template("0163{path:ascii}", {"path": 104}, {}) == b"\x01\x63104"
    with pytest.raises(ValueError, match="rate_hz=50 has no code"):
        render_template("{acc_odr}", {"rate_hz": 50.0}, codes)
    with pytest.raises(ValueError, match="does not fit u8"):
        render_template("{rate_hz:u8}", {"rate_hz": 300}, {})


def test_step_validation_names_what_is_missing() -> None:
    with pytest.raises(ValidationError, match="needs 'value'"):
        Step(action="write", characteristic="2a19")
    with pytest.raises(ValidationError, match="needs 'ms'"):
        Step(action="wait")
    with pytest.raises(ValidationError, match="unknown format"):
        Step(action="write", characteristic="2a19", value="{x:u24}")
    with pytest.raises(ValidationError, match="hex bytes"):
        Step(action="write", characteristic="2a19", value="0g")


def test_expected_response_names_the_sensors_status() -> None:
    expect = Expect(
        characteristic="fb005c81-02e7-f387-1cad-8acd2d8df0c8",
        prefix="f0 02 02",
        status_offset=3,
        status_names={0: "SUCCESS", 9: "INVALID_RANGE"},
    )
    resolved = ResolvedExpect(
        characteristic=expect.characteristic,
        prefix=bytes.fromhex("f00202"),
        status_offset=3,
        status_format="u8",
        ok=(0,),
        status_names=expect.status_names,  # type: ignore[arg-type]
        timeout_ms=1000,
    )
    assert resolved.matches(bytes.fromhex("f002020000"))
    assert not resolved.matches(bytes.fromhex("f002050000"))
    resolved.check(bytes.fromhex("f002020000"), "Polar H10")
    with pytest.raises(
        CommandRefusedError, match=r"Polar H10 refused .* status 9 \(INVALID_RANGE\)"
    ):
        resolved.check(bytes.fromhex("f002020900"), "Polar H10", bytes.fromhex("0202"))
    with pytest.raises(CommandRefusedError, match="too short"):
        resolved.check(bytes.fromhex("f00202"), "Polar H10")
