"""The demo chain's catalogue: what ``metadata/demo/*.yaml`` lists, grown to the size asked for.

Pure data, no database: the locations of N stores and M warehouses, N items generated from the
category templates (GTIN-14 with its check digit, a registration certificate in the format its
class and origin call for), the suppliers and customers with their licence numbers and dates.
Everything random comes from ``random.Random`` seeded by the caller, so one seed gives one chain.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import yaml

from app.kernel.items import gtin_check_digit

#: A registration certificate is valid five years (《医疗器械注册与备案管理办法》).
REGISTRATION_YEARS = 5
#: Shares of items whose certificate runs out soon after the demo's last day, or just before it.
EXPIRING_SOON_SHARE = Decimal("0.05")
EXPIRED_SHARE = Decimal("0.02")


@dataclass(frozen=True)
class LocationSpec:
    code: str
    name: str
    type: str
    region: str | None = None
    address: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None


@dataclass(frozen=True)
class ItemSpec:
    """One item as the kernel's ``add_item`` takes it, plus its prices and GS1/serial prefixes."""

    code: str
    name: str
    specification: str
    unit_of_measure: str
    gtin: str
    registration_cert: str
    registration_expiry: dt.date | None
    manufacturer: str
    device_class: str
    tracking: str
    expiry_required: bool
    shelf_life_days: int | None
    storage_condition: str
    near_expiry_days: int
    category: str
    purchase_price: Decimal
    retail_price: Decimal
    serial_prefix: str

    def kernel_attributes(self) -> dict:
        """What ``app.kernel.items.add_item`` stores."""
        return {
            "specification": self.specification,
            "unit_of_measure": self.unit_of_measure,
            "gtin": self.gtin,
            "registration_cert": self.registration_cert,
            "registration_expiry": self.registration_expiry,
            "manufacturer": self.manufacturer,
            "device_class": self.device_class,
            "tracking": self.tracking,
            "expiry_required": self.expiry_required,
            "shelf_life_days": self.shelf_life_days,
            "storage_condition": self.storage_condition,
            "near_expiry_days": self.near_expiry_days,
        }


@dataclass
class Catalogue:
    """The YAML files of ``metadata/demo/`` as read."""

    organisation: dict
    items: dict
    parties: dict
    settings: dict
    volume: dict = field(init=False)

    def __post_init__(self):
        self.volume = self.settings["volume"]

    @classmethod
    def read(cls, folder: Path) -> Catalogue:
        def load(name: str) -> dict:
            return yaml.safe_load((folder / f"{name}.yaml").read_text(encoding="utf-8"))

        return cls(load("organisation"), load("items"), load("parties"), load("settings"))

    # --- organisation ----------------------------------------------------------------------

    def hq(self) -> LocationSpec:
        return _location(self.organisation["hq"], "hq")

    def regions(self) -> list[LocationSpec]:
        return [_location(region, "region") for region in self.organisation["regions"]]

    def warehouses(self, count: int, rng: random.Random) -> list[LocationSpec]:
        return self._locations("warehouses", "warehouse", count, rng)

    def stores(self, count: int, rng: random.Random) -> list[LocationSpec]:
        return self._locations("stores", "store", count, rng)

    def _locations(self, key: str, kind: str, count: int, rng) -> list[LocationSpec]:
        """The listed ones first; then new ones in the cities, in turn, near the city centre."""
        listed = [_location(entry, kind) for entry in self.organisation[key][:count]]
        codes = {spec.code for spec in listed}
        names = {spec.name for spec in listed}
        cities, streets = self.organisation["cities"], self.organisation["streets"]
        index = 0
        while len(listed) < count:
            city = cities[index % len(cities)]
            index += 1
            number = 1
            while _code(kind, city["code"], number) in codes:
                number += 1
            code = _code(kind, city["code"], number)
            street = streets[(index + number) % len(streets)]
            suffix = "配送仓" if kind == "warehouse" else "店"
            name = f"{city['name']}{street}{suffix}"
            if name in names:
                name = f"{city['name']}{street}{number}{suffix}"
            codes.add(code)
            names.add(name)
            listed.append(
                LocationSpec(
                    code=code, name=name, type=kind, region=city["region"],
                    address=f"{city['name']}市{street} {rng.randint(1, 999)} 号",
                    latitude=_jitter(city["latitude"], rng),
                    longitude=_jitter(city["longitude"], rng),
                )
            )  # fmt: skip
        return listed

    # --- items -------------------------------------------------------------------------------

    def generate_items(self, count: int, rng: random.Random, today: dt.date) -> list[ItemSpec]:
        """``count`` items spread over the categories by weight (each one present when there is
        room, else an even pick of them); GTINs numbered per manufacturer."""
        categories = self.items["categories"]
        makers = self.items["manufacturers"]
        next_reference: dict[str, int] = {}
        specs = []
        for category, quota in zip(categories, _quotas(categories, count), strict=True):
            for number in range(1, quota + 1):
                maker_key = rng.choice(category["manufacturers"])
                maker = makers[maker_key]
                next_reference[maker_key] = next_reference.get(maker_key, 0) + 1
                specs.append(_item(category, number, maker, next_reference[maker_key], rng, today))
        return specs

    # --- parties -----------------------------------------------------------------------------

    def suppliers(self, today: dt.date) -> list[dict]:
        return [_party(entry, today) for entry in self.parties["suppliers"]]

    def customers(self, today: dt.date) -> list[dict]:
        return [_party(entry, today) for entry in self.parties["customers"]]


def _location(entry: dict, kind: str) -> LocationSpec:
    def degrees(name):
        return Decimal(entry[name]) if entry.get(name) else None

    return LocationSpec(
        code=entry["code"], name=entry["name"], type=kind, region=entry.get("region"),
        address=entry.get("address"), latitude=degrees("latitude"),
        longitude=degrees("longitude"),
    )  # fmt: skip


def _code(kind: str, city: str, number: int) -> str:
    return f"WH-{city}{number}" if kind == "warehouse" else f"{city}{number:02d}"


def _jitter(degrees: str, rng: random.Random) -> Decimal:
    """A point within about 4 km of the city centre."""
    return Decimal(degrees) + Decimal(rng.randint(-400, 400)) / 10000


def _quotas(categories: list[dict], count: int) -> list[int]:
    """How many items each category gets: by weight (largest remainder), at least one each."""
    if count < len(categories):
        picked = {index * len(categories) // count for index in range(count)}
        return [1 if index in picked else 0 for index in range(len(categories))]
    spare = count - len(categories)
    total = sum(category["weight"] for category in categories)
    exact = [Decimal(spare * category["weight"]) / total for category in categories]
    quotas = [int(share) for share in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (quotas[i] - exact[i], i))
    for index in by_remainder[: spare - sum(quotas)]:
        quotas[index] += 1
    return [quota + 1 for quota in quotas]


def gtin(prefix: str, reference: int) -> str:
    """GTIN-14: indicator 0, the GS1 company prefix, the item reference, the check digit."""
    body = f"0{prefix}{reference:0{12 - len(prefix)}d}"
    return body + str(gtin_check_digit(body))


def registration_cert(device_class: str, maker: dict, classification: str, year: int, rng) -> str:
    """A certificate number in the format the class and origin call for (NMPA numbering)."""
    serial = rng.randint(1, 9999)
    if device_class == "I":
        issuer = "国" if maker.get("import") else f"{maker['province']}{maker['city']}"
        return f"{issuer}械备{year}{serial:04d}号"
    level = "3" if device_class == "III" else "2"
    if maker.get("import"):
        return f"国械注进{year}{level}{classification}{serial:04d}"
    issuer = "国" if device_class == "III" else maker["province"]
    return f"{issuer}械注准{year}{level}{classification}{serial:04d}"


def _registration_dates(rng: random.Random, today: dt.date) -> tuple[dt.date, dt.date]:
    """(issued, expires): most valid for years, a few running out soon, a few just lapsed."""
    draw = Decimal(rng.randint(0, 9999)) / 10000
    if draw < EXPIRED_SHARE:
        expires = today - dt.timedelta(days=rng.randint(5, 30))
    elif draw < EXPIRED_SHARE + EXPIRING_SOON_SHARE:
        expires = today + dt.timedelta(days=rng.randint(1, 60))
    else:
        expires = today + dt.timedelta(days=rng.randint(120, 1700))
    return _years_before(expires, REGISTRATION_YEARS) + dt.timedelta(days=1), expires


def _years_before(date: dt.date, years: int) -> dt.date:
    """The same day ``years`` earlier (29 February becomes the 28th)."""
    day = 28 if (date.month, date.day) == (2, 29) else date.day
    return date.replace(year=date.year - years, day=day)


def _money(value: Decimal) -> Decimal:
    step = Decimal(1) if value >= 100 else Decimal("0.01")
    return value.quantize(step, ROUND_HALF_UP)


def _item(category: dict, number: int, maker: dict, reference: int, rng, today) -> ItemSpec:
    models, variants = category["models"], category["specs"]
    model = models[(number - 1) % len(models)]
    variant = variants[((number - 1) // len(models)) % len(variants)]
    low, high = (int(Decimal(bound) * 100) for bound in category["price"])
    purchase = _money(Decimal(rng.randint(low, high)) / 100)
    issued, expires = _registration_dates(rng, today)
    device_class = category["device_class"]
    cert = registration_cert(device_class, maker, category["classification"], issued.year, rng)
    shelf_life = category.get("shelf_life_days")
    return ItemSpec(
        code=f"{category['code']}-{number:04d}",
        name=category["name"],
        specification=f"{model} {variant}",
        unit_of_measure=category["unit"],
        gtin=gtin(maker["prefix"], reference),
        registration_cert=cert,
        registration_expiry=None if device_class == "I" else expires,
        manufacturer=maker["name"],
        device_class=device_class,
        tracking=category["tracking"],
        expiry_required=shelf_life is not None,
        shelf_life_days=shelf_life,
        storage_condition=category["storage"],
        near_expiry_days=category.get("near_expiry_days", 90),
        category=category["code"],
        purchase_price=purchase,
        retail_price=_money(purchase * Decimal(category["markup"])),
        serial_prefix=maker["serial"],
    )


# --- licences --------------------------------------------------------------------------------

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code(area: str, body: str) -> str:
    """A 统一社会信用代码 (GB 32100-2015): 91 (company), area code, 9-character body, check."""
    code = f"91{area}{body}"
    weighted = zip(code, _USCC_WEIGHTS, strict=True)
    total = sum(_USCC_CHARS.index(char) * weight for char, weight in weighted)
    return code + _USCC_CHARS[(31 - total % 31) % 31]


def _party(entry: dict, today: dt.date) -> dict:
    """A supplier's or customer's card as the forms name its fields; dates from days-from-today."""
    data = {key: value for key, value in entry.items() if not key.endswith("_in_days")}
    for name in ("licence", "business_licence"):
        days = entry.get(f"{name}_expires_in_days")
        if days is not None:
            data[f"{name}_expiry"] = today + dt.timedelta(days=days)
    if "area" in entry:
        body = f"{zlib.crc32(entry['code'].encode()) % 10**8:08d}X"
        data["business_licence_number"] = credit_code(entry["area"], body)
    return data
