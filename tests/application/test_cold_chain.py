"""Cold-chain receiving (冷链验收), through the API: a cold-chain device's receipt records how it
travelled and its temperature on arrival, and a line that travelled ambient or arrived outside the
item's storage range may not be accepted at inspection — the inspector rejects it, and it lands
nonconforming. Devices stored at room temperature ask for none of it."""

from __future__ import annotations

from tests.application.purchasing_fixtures import (
    VERIFY,
    Decimal,
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
    day,
    gtin,
    url,
)

#: the refusal of an accepted quantity on a cold-chain line that may not be accepted (zh_CN)
NOT_ACCEPTABLE = (
    "冷链商品未以冷藏方式运输或到货温度超出其贮存温度范围，不得验收合格，请判为不合格（拒收）"
)


def _cold_item(bed, code="GLC", body="0690123456031", **extra) -> int:
    card = bed.item(code, body, storage_condition="cold_chain", **extra)
    return card["data"]["item"]


def _receipt(bed, supplier, item, lot="CC1", **line) -> dict:
    payload = {
        "location": bed.loc("WH-SH"), "supplier": supplier, "transport_mode": "cold_box",
        "lines": [{"item": item, "lot": lot, "expiry_date": day(300), "quantity": "10",
                   "unit_cost": "3.00", "arrival_temperature": "5.0", **line}],
    }  # fmt: skip
    return payload


def _received(bed, payload: dict) -> dict:
    """The receipt created and received (awaiting inspection), as QA reads it."""
    record = bed.create("keeper", "purchase_receipt", payload)
    assert bed.fire("keeper", "purchase_receipt", record["id"], "receive").status_code == 200
    return bed.api("qa").get(url("purchase_receipt", record["id"])).json


def _inspect(bed, record: dict, accepted: str, rejected: str, **extra):
    line = record["data"]["lines"][0]
    response = bed.api("qa").put(url("purchase_receipt", record["id"]), json={
        "version": record["version"], "inspector": bed.users["qa"], "inspected_at": day(0),
        "lines": [{**line, "accepted_quantity": accepted, "rejected_quantity": rejected,
                   "conclusion": "accepted" if rejected == "0" else "rejected", **extra}],
    })  # fmt: skip
    return response


def test_a_cold_chain_receipt_needs_its_transport_and_arrival_temperature(bed):
    supplier = bed.supplier()["id"]
    item = _cold_item(bed)
    payload = _receipt(bed, supplier, item)
    del payload["transport_mode"], payload["lines"][0]["arrival_temperature"]
    response = bed.api("keeper").post(url("purchase_receipt"), json=payload)
    assert response.status_code == 422
    assert response.json["errors"] == {
        "transport_mode": ["This field is required."],
        "lines[0].arrival_temperature": ["This field is required."],
    }
    assert bed.api("keeper").get(url("purchase_receipt")).json["items"] == []
    # a device kept at room temperature needs neither
    plain = bed.item("GAUZE", "0690123456011")["data"]["item"]
    payload = _receipt(bed, supplier, plain)
    del payload["transport_mode"], payload["lines"][0]["arrival_temperature"]
    plain = bed.create("keeper", "purchase_receipt", payload)
    printed = bed.api("keeper").client.get(f"/forms/purchase_receipt/{plain['id']}/print").text
    assert "Receiving record" in printed and "Arrival temperature" not in printed


def test_a_line_that_arrived_too_warm_is_rejected_not_accepted(bed):
    supplier = bed.supplier()["id"]
    item = _cold_item(bed)
    # it arrives, awaiting inspection, whatever its temperature: the inspector decides
    payload = _receipt(bed, supplier, item, arrival_temperature="9.5")
    record = _received(bed, payload)
    response = _inspect(bed, record, "10", "0")
    assert response.status_code == 422
    assert response.json["errors"] == {"lines[0].accepted_quantity": [NOT_ACCEPTABLE]}
    assert (
        bed.api("qa").get(url("purchase_receipt", record["id"])).json["version"]
        == (record["version"])
    )
    response = _inspect(bed, record, "0", "10", reject_reason="到货温度 9.5 ℃，超出 2–8 ℃")
    assert response.status_code == 200, response.json
    response = bed.fire("qa", "purchase_receipt", record["id"], "inspect", **VERIFY)
    assert response.status_code == 200, response.json
    assert bed.balances() == {("WH-SH", item, "CC1", "nonconforming"): Decimal(10)}


def test_ambient_transport_cannot_be_accepted_even_at_the_right_temperature(bed):
    supplier = bed.supplier()["id"]
    item = _cold_item(bed)
    payload = _receipt(bed, supplier, item)
    payload["transport_mode"] = "ambient"
    record = _received(bed, payload)
    response = _inspect(bed, record, "4", "6", reject_reason="常温运输")
    assert response.status_code == 422
    assert response.json["errors"] == {"lines[0].accepted_quantity": [NOT_ACCEPTABLE]}


def test_the_item_cards_range_decides_and_the_record_shows_it(bed):
    supplier = bed.supplier()["id"]
    # a frozen reagent: kept at −25 to −15 ℃; −18 on arrival is right, 5 ℃ is not
    item = _cold_item(bed, "FRZ", "0690123456041", temperature_min="-25",
                                temperature_max="-15")  # fmt: skip
    record = _received(bed, _receipt(bed, supplier, item, lot="FZ1", arrival_temperature="-18"))
    assert _inspect(bed, record, "10", "0").status_code == 200
    response = bed.fire("qa", "purchase_receipt", record["id"], "inspect", **VERIFY)
    assert response.status_code == 200, response.json
    assert bed.balances() == {("WH-SH", item, "FZ1", "available"): Decimal(10)}
    warm = _received(bed, _receipt(bed, supplier, item, lot="FZ2"))
    assert _inspect(bed, warm, "10", "0").json["errors"] == {
        "lines[0].accepted_quantity": [NOT_ACCEPTABLE]
    }
    printed = bed.api("qa").client.get(f"/forms/purchase_receipt/{record['id']}/print").text
    assert 'data-label="到货温度（℃）">-18<' in printed and "冷藏箱" in printed
    rows = [
        row["values"] for row in bed.api("qa").get("/api/v1/reports/receiving_record").json["rows"]
    ]
    assert [(row["lot"], row["transport_mode"], row["arrival_temperature"]) for row in rows] == [
        ("FZ1", "cold_box", "-18")
    ]


def test_a_range_from_zero_is_the_cards_not_the_default(bed):
    """0 ℃ is a lower limit, not a missing one: 1 ℃ is within a 0–10 ℃ card's range."""
    supplier = bed.supplier()["id"]
    item = _cold_item(bed, "ZRO", "0690123456061", temperature_min="0",
                                temperature_max="10")  # fmt: skip
    record = _received(bed, _receipt(bed, supplier, item, lot="Z1", arrival_temperature="1"))
    response = _inspect(bed, record, "10", "0")
    assert response.status_code == 200, response.json
    assert response.json["data"]["lines"][0]["temperature_ok"] is True


def test_an_item_card_needs_a_sensible_storage_range(bed):
    base = {
        "code": "BAD", "name": "冷链试剂", "specification": "1 盒", "unit_of_measure": "盒",
        "gtin": gtin("0690123456051"), "registration_cert": "国械注准2023BAD",
        "manufacturer": "某厂",
        "registration_expiry": day(700), "device_class": "II", "tracking": "lot",
        "expiry_required": True, "storage_condition": "cold_chain", "near_expiry_days": 90,
    }  # fmt: skip
    response = bed.api("hq").post(url("item_master"), json={
        **base, "temperature_min": "8", "temperature_max": "2"})  # fmt: skip
    assert response.status_code == 422
    assert response.json["errors"] == {"temperature_max": ["贮存温度上限必须高于下限"]}
    # left empty, a cold-chain card keeps 2–8 ℃
    card = bed.create("hq", "item_master", base)
    assert (card["data"]["temperature_min"], card["data"]["temperature_max"]) == ("2", "8")
