"""Encoding a UDI for a printed label: what ``encode_udi`` writes, ``parse_udi`` reads back."""

from __future__ import annotations

import datetime as dt

import pytest

from app.kernel.udi import UDI, encode_udi, human_readable_udi, parse_udi, udi_elements

GTIN = "06901234567892"


@pytest.mark.parametrize(
    "udi",
    [
        UDI(GTIN),
        UDI(GTIN, lot="L1", expiry_date=dt.date(2031, 6, 30)),
        UDI(GTIN, lot="A-7/1", expiry_date=dt.date(2030, 1, 31), serial="SN0001"),
        UDI(GTIN, serial="SN9", production_date=dt.date(2025, 3, 1)),
    ],
)
def test_encoded_and_human_readable_forms_parse_back_to_the_same_udi(udi):
    assert parse_udi(encode_udi(udi)) == udi
    assert parse_udi(human_readable_udi(udi)) == udi


def test_fixed_length_fields_come_first_and_a_separator_ends_a_lot_before_a_serial():
    udi = UDI(GTIN, lot="L1", expiry_date=dt.date(2031, 6, 30), serial="S2")
    assert [ai for ai, _value in udi_elements(udi)] == ["01", "17", "10", "21"]
    assert encode_udi(udi) == f"01{GTIN}17310630" + "10L1\x1d21S2"
    assert encode_udi(UDI(GTIN, lot="L1")) == f"01{GTIN}10L1"  # the last field needs none
    assert human_readable_udi(udi) == f"(01){GTIN}(17)310630(10)L1(21)S2"
