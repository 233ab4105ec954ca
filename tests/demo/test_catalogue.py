"""The catalogue grown to any size: valid GTINs and certificate formats, real places, one seed."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest

from app.demo.catalogue import Catalogue, credit_code, gtin
from app.kernel.items import is_valid_gtin
from tests.conftest import PROJECT_ROOT

TODAY = dt.date(2026, 11, 25)
#: Province abbreviations that issue class II certificates (苏械注准…).
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
CERTIFICATES = {
    "III": re.compile(r"^国械注(准|进)\d{4}3\d{6}$"),
    "II": re.compile(rf"^([{PROVINCES}]械注准|国械注进)\d{{4}}2\d{{6}}$"),
    "I": re.compile(rf"^([{PROVINCES}].|国)械备\d{{8}}号$"),
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.read(PROJECT_ROOT / "metadata" / "demo")


def test_items_are_valid_and_cover_every_kind(catalogue):
    items = catalogue.generate_items(200, random.Random("items-1"), TODAY)
    assert len(items) == 200 and len({item.code for item in items}) == 200
    assert len({item.gtin for item in items}) == 200 and all(is_valid_gtin(i.gtin) for i in items)
    for item in items:
        assert CERTIFICATES[item.device_class].match(item.registration_cert), item
        assert (item.registration_expiry is None) == (item.device_class == "I")
        assert item.retail_price > item.purchase_price > 0
        assert item.expiry_required == (item.shelf_life_days is not None)
    assert {item.tracking for item in items} == {"none", "lot", "serial"}
    assert {item.storage_condition for item in items} == {"normal", "cold_chain"}
    expiries = [item.registration_expiry for item in items if item.registration_expiry]
    assert any(TODAY < expiry <= TODAY + dt.timedelta(days=60) for expiry in expiries)
    assert any(expiry < TODAY for expiry in expiries)
    assert {item.category for item in items} >= {"ECG", "BPM", "GLM", "GLS", "SYR", "HAD", "DES"}


def test_a_few_items_still_span_the_categories(catalogue):
    items = catalogue.generate_items(10, random.Random("items-1"), TODAY)
    assert len({item.category for item in items}) == 10
    assert {item.tracking for item in items} == {"none", "lot", "serial"}


def test_one_seed_one_catalogue(catalogue):
    def codes(seed):
        return [(i.code, i.gtin, i.registration_cert)
                for i in catalogue.generate_items(50, random.Random(seed), TODAY)]  # fmt: skip

    assert codes("items-1") == codes("items-1")
    assert codes("items-1") != codes("items-2")


def test_a_benchmark_chain_has_unique_places_in_china(catalogue):
    rng = random.Random(1)
    stores, warehouses = catalogue.stores(2000, rng), catalogue.warehouses(50, rng)
    regions = {region.code for region in catalogue.regions()}
    for places in (stores, warehouses):
        assert len({place.code for place in places}) == len(places)
        assert len({place.name for place in places}) == len(places)
        for place in places:
            assert place.region in regions and place.address
            assert 18 <= place.latitude <= 54 and 73 <= place.longitude <= 135
    assert [store.code for store in stores[:3]] == ["SH01", "BJ01", "GZ01"]


def test_gtin_and_credit_code_check_characters():
    assert gtin("4006381", 33393) == "04006381333931"  # EAN-13 4006381333931 as a GTIN-14
    assert credit_code("350100", "M000100Y4") == "91350100M000100Y43"  # GB 32100 example


def test_parties_carry_licences_some_about_to_expire(catalogue):
    suppliers, customers = catalogue.suppliers(TODAY), catalogue.customers(TODAY)
    assert customers[0]["name"] == "散客" and customers[0]["kind"] == "retail"
    assert {c["kind"] for c in customers} == {"retail", "hospital", "clinic", "distributor"}
    for party in suppliers + [c for c in customers if c["kind"] != "retail"]:
        assert party["licence_number"] and party["licence_expiry"]
        assert re.fullmatch(r"91\d{6}[0-9A-Z]{10}", party["business_licence_number"])
    soon = TODAY + dt.timedelta(days=30)
    assert any(TODAY <= s["licence_expiry"] <= soon for s in suppliers)
    assert any(TODAY <= c["licence_expiry"] <= soon for c in customers if "licence_expiry" in c)


def test_a_certificate_lapsing_on_29_february_was_issued_five_years_before():
    from app.demo.catalogue import _years_before

    assert _years_before(dt.date(2028, 2, 29), 5) == dt.date(2023, 2, 28)
    assert _years_before(dt.date(2028, 3, 1), 5) == dt.date(2023, 3, 1)
