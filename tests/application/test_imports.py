"""HQ loads item cards from Excel (导入): the shipped item card form's rules, the GTIN's check
digit among them, checked row by row; a refused row keeps the whole file out."""

from __future__ import annotations

import io

from openpyxl import Workbook

from tests.application.purchasing_fixtures import (
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
    day,
    gtin,
    url,
)

HEADER = ("商品编码", "商品名称", "规格型号", "计量单位", "产品标识（UDI-DI）",
          "医疗器械注册证 / 备案凭证", "注册证有效期至", "管理类别", "追溯方式")  # fmt: skip


def workbook(*rows) -> io.BytesIO:
    book = Workbook()
    for row in (HEADER, *rows):
        book.active.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return buffer


def card(code: str, gtin_text: str) -> tuple:
    return (code, f"血糖试纸 {code}", "50 条/盒", "盒", gtin_text, f"国械注准2023{code}", day(700),
            "二类", "按批号")  # fmt: skip


def test_hq_imports_item_cards_and_a_wrong_check_digit_keeps_the_file_out(bed):
    hq = bed.api("hq")
    wrong = gtin("0690123456011")[:-1] + "0"
    response = hq.post(
        "/api/v1/forms/item_master/import",
        data={"file": (workbook(card("GLC-1", gtin("0690123456011")), card("GLC-2", wrong)),
                       "items.xlsx")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json["errors"] == {"rows[3].gtin": ["产品标识校验位不对：请核对 14 位数字。"]}
    assert hq.get(url("item_master")).json["items"] == []
    response = hq.post(
        "/api/v1/forms/item_master/import",
        data={"file": (workbook(card("GLC-1", gtin("0690123456011")),
                                card("GLC-2", gtin("0690123456028"))), "items.xlsx")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 201, response.json
    cards = {c["data"]["code"]: c for c in hq.get(url("item_master")).json["items"]}
    assert set(cards) == {"GLC-1", "GLC-2"}
    assert cards["GLC-1"]["data"]["tracking"] == "lot" and cards["GLC-1"]["state"] == "draft"
