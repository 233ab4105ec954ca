"""A supplier return goes back to the supplier the goods came from, through the API: to the
supplier of the receipt it names, with only what that receipt brought in; without a receipt, to
a supplier a receipt brought the lot from. Each refusal names the receipt or the line."""

from __future__ import annotations

from tests.application.purchasing_fixtures import (
    Decimal,
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
)


def _return(bed, supplier: int, item: int, lot: str, receipt: dict | None = None):
    record = bed.create("supervisor", "supplier_return", {
        "location": bed.loc("WH-SH"), "supplier": supplier,
        "purchase_receipt": receipt["id"] if receipt else None,
        "lines": [{"item": item, "lot": lot, "quantity": "2"}],
    })  # fmt: skip
    # the supervisor picks it: goods that may not go back are refused at picking done
    done = bed.fire("supervisor", "supplier_return", record["id"], "finish_picking")
    if done.status_code != 200:
        return done
    return bed.review_and_return("qa", record["id"])


def test_goods_go_back_only_to_the_supplier_they_came_from(bed):
    supplier = bed.supplier()["id"]
    other = bed.supplier("SUP-HN", "华南医疗")["id"]
    item = bed.item("GAUZE", "0690123456011")["data"]["item"]
    first = bed.rejected("keeper", "WH-SH", supplier, item, "L1")
    second = bed.rejected("keeper", "WH-SH", supplier, item, "L2")
    before = bed.balances()

    response = _return(bed, other, item, "L1", first)
    assert response.status_code == 409
    assert (
        response.json["error"]
        == f"采购入库单 {first['number']} 的供应商为 华东医疗，而不是 华南医疗。"
    )
    response = _return(bed, supplier, item, "L1", second)
    assert response.status_code == 409
    assert response.json["error"] == f"第 1 行：GAUZE L1 不在采购入库单 {second['number']} 上。"
    response = _return(bed, other, item, "L1")
    assert response.status_code == 409
    assert response.json["error"] == "第 1 行：GAUZE L1 不是从供应商 华南医疗 收货的。"
    assert bed.balances() == before

    assert _return(bed, supplier, item, "L1", first).status_code == 200
    assert _return(bed, supplier, item, "L2").status_code == 200
    assert bed.balances() == {
        ("WH-SH", item, "L1", "nonconforming"): Decimal(3),
        ("WH-SH", item, "L2", "nonconforming"): Decimal(3),
    }
