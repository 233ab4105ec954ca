"""Items counted in whole units (盒, 支): half a box is refused on the line as it is saved — an
order would otherwise meet the kernel's refusal only at its receipt — while an item whose card
says it is measured (metres of tubing) takes fractions; the kernel refuses it too, last."""

from __future__ import annotations

from tests.application.purchasing_fixtures import (
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
    url,
)


def _order(bed, username: str, supplier: int, lines: list[tuple[int, str]]):
    return bed.api(username).post(url("purchase_order"), json={
        "location": bed.loc("WH-SH"), "supplier": supplier,
        "lines": [{"item": item, "quantity": quantity, "unit_price": "10.00"}
                  for item, quantity in lines],
    })  # fmt: skip


def test_half_a_box_is_refused_on_its_line_and_nothing_is_saved(bed):
    strips = bed.item("STRIP", "0690123456012")["data"]["item"]
    supplier = bed.supplier()["id"]
    response = _order(bed, "keeper", supplier, [(strips, "2"), (strips, "1.5")])
    assert response.status_code == 422, response.json
    assert response.json["errors"] == {
        "lines[1].quantity": ["STRIP is counted in whole units (盒): 1.5 is not a whole number."]
    }
    assert bed.api("hq").get(url("purchase_order")).json["items"] == []
    response = _order(bed, "supervisor", supplier, [(strips, "0.5")])  # in the user's language
    assert response.json["errors"] == {
        "lines[0].quantity": ["STRIP 按整数计量（盒）：0.5 不是整数。"]
    }
    assert _order(bed, "keeper", supplier, [(strips, "2.0")]).status_code == 201  # 2.0 is two boxes


def test_an_item_measured_not_counted_takes_fractions_through_to_its_receipt(bed):
    tubing = bed.item("TUBE", "0690123456029", unit_of_measure="米", whole_units=False,
                      tracking="none", expiry_required=False)["data"]["item"]  # fmt: skip
    supplier = bed.supplier()["id"]
    response = _order(bed, "keeper", supplier, [(tubing, "2.5")])
    assert response.status_code == 201, response.json
    receipt = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier,
        "lines": [{"item": tubing, "quantity": "2.5"}],
    })  # fmt: skip
    assert bed.fire("keeper", "purchase_receipt", receipt["id"], "receive").status_code == 200
    assert sum(bed.balances().values()) == 2.5
