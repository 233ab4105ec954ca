"""UDI scanning: what scanners and people send, and the errors a clerk sees."""

from __future__ import annotations

import datetime as dt

import pytest

from app.kernel import (
    UDI,
    InvalidGTIN,
    LotMismatch,
    UDIError,
    UnknownItem,
    add_item,
    check_udi,
    get_or_create_lot,
    is_valid_gtin,
    item_by_gtin,
    parse_udi,
)
from app.kernel.errors import ExpiryRequired, NotTracked

GTIN = "06901234567892"


@pytest.mark.parametrize(
    "scan",
    [
        f"]d201{GTIN}17271231" + "10LOT-A\x1d21SN001",
        f"]C101{GTIN}17271231" + "10LOT-A\x1d21SN001",
        f"]Q301{GTIN}17271231" + "10LOT-A\x1d21SN001",
        f"01{GTIN}17271231" + "10LOT-A\x1d21SN001\r\n",
        f"(01){GTIN}(17)271231(10)LOT-A(21)SN001",
    ],
)
def test_scanner_and_human_readable_forms(scan):
    assert parse_udi(scan) == UDI(
        gtin=GTIN, lot="LOT-A", expiry_date=dt.date(2027, 12, 31), serial="SN001"
    )


def test_day_00_is_the_last_day_of_the_month_and_production_date_is_read():
    udi = parse_udi(f"(01){GTIN}(11)240215(17)280200(10)X1")
    assert udi.expiry_date == dt.date(2028, 2, 29)
    assert udi.production_date == dt.date(2024, 2, 15)
    assert udi.serial is None


def test_plain_gtin_barcode_gives_the_udi_di_only():
    assert parse_udi("6901234567892") == UDI(gtin=GTIN)


@pytest.mark.parametrize(
    ("scan", "field"),
    [
        ("(01)06901234567893(10)A", "gtin"),
        (f"]d201{GTIN}17271332", "expiry_date"),
        (f"(01){GTIN}(11)270230", "production_date"),
        (f"(01){GTIN}(10)" + "A" * 25, "lot"),
        ("(10)LOT-A(17)271231", "gtin"),
        ("hello world", "udi"),
        ("   ", "udi"),
        ("(01)0690123456789(10)A", "gtin"),
    ],
)
def test_bad_scans_name_the_faulty_part(scan, field):
    with pytest.raises(UDIError) as caught:
        parse_udi(scan)
    assert caught.value.field == field
    assert str(caught.value)


def test_gtin_check_digit_is_verified_on_items(db):
    assert is_valid_gtin(GTIN) and not is_valid_gtin("06901234567893")
    assert not is_valid_gtin("6901234567892")
    with db.transaction() as session, pytest.raises(InvalidGTIN) as caught:
        add_item(session, "BAD", "bad", gtin="06901234567893")
    assert caught.value.field == "gtin"


def test_check_udi_finds_item_and_lot_and_catches_contradictions(db):
    with db.transaction() as session:
        item = add_item(session, "STRIP", "血糖试纸", gtin=GTIN)
        lot = get_or_create_lot(session, item, "LOT-A", dt.date(2027, 12, 31))
        assert item_by_gtin(session, GTIN) is item
        assert check_udi(session, parse_udi(f"(01){GTIN}(17)271231(10)LOT-A")) == (item, lot)
        assert check_udi(session, parse_udi(f"(01){GTIN}(17)281231(10)NEW")) == (item, None)
        with pytest.raises(LotMismatch) as caught:
            check_udi(session, parse_udi(f"(01){GTIN}(17)280131(10)LOT-A"))
        assert caught.value.field == "expiry_date"
        assert check_udi(session, parse_udi(GTIN)) == (item, None)
        with pytest.raises(UnknownItem) as caught:
            check_udi(session, parse_udi("(01)06901234567809(10)A"))
        assert caught.value.field == "gtin"


def test_lot_creation_rules(db):
    with db.transaction() as session:
        item = add_item(session, "STRIP", "血糖试纸", expiry_required=True)
        with pytest.raises(ExpiryRequired) as caught:
            get_or_create_lot(session, item, "NOEXP")
        assert caught.value.field == "expiry_date"
        plain = add_item(session, "PLAIN", "普通", tracking="none")
        with pytest.raises(NotTracked):
            get_or_create_lot(session, plain, "X")


def test_a_lot_on_record_is_not_taken_with_other_dates(db):
    with db.transaction() as session:
        item = add_item(session, "STRIP", "血糖试纸", gtin=GTIN)
        lot = get_or_create_lot(session, item, "LOT-A", dt.date(2027, 2, 4))
        assert get_or_create_lot(session, item, "LOT-A", dt.date(2027, 2, 4)) is lot
        assert get_or_create_lot(session, item, "LOT-A") is lot  # no date given: nothing said
        with pytest.raises(LotMismatch) as caught:
            get_or_create_lot(session, item, "LOT-A", dt.date(2027, 1, 1))
        assert caught.value.field == "expiry_date"
        assert str(caught.value) == (
            "Lot LOT-A is on record with the expiry date 2027-02-04, not 2027-01-01: "
            "check the label."
        )
