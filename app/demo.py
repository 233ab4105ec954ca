"""The demo chain: what ``lianku demo`` and ``make run`` load into an empty database.

Demo data goes through the same code paths as real use, so it doubles as a smoke test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.kernel.items import (
    add_item,
    business_today,
    get_or_create_lot,
    get_or_create_unit,
)
from app.kernel.locations import Location, add_location
from app.kernel.stock import Movement, Reason, post_movements
from app.kernel.transfers import ShipLine, ship
from app.kernel.users import User
from app.meta.identity import update_user

DEMO_PASSWORD = "lianku-demo"

#: (username, full name, role) — one demo user per shipped role.
DEMO_USERS = [
    ("admin", "系统管理员 Admin", "admin"),
    ("hq", "总部经理 王敏", "hq_manager"),
    ("finance", "财务 李娟", "finance"),
    ("qa", "质管 陈静", "qa"),
    ("store_manager", "店长 张伟", "store_manager"),
    ("store_clerk", "店员 刘洋", "store_clerk"),
    ("wh_supervisor", "仓库主管 赵强", "warehouse_supervisor"),
    ("wh_clerk", "保管员 孙丽", "warehouse_clerk"),
    ("auditor", "审计 周平", "auditor"),
    ("integrator", "接口 API", "integrator"),
    ("store_clerk_bj", "店员 马超", "store_clerk"),
]

#: Where each demo user works; users not listed get HQ (their role's scope is "all").
#: The second store clerk sits at BJ01, so the demo shows one store not seeing another's records.
DEMO_USER_LOCATIONS = {
    "store_manager": "SH01",
    "store_clerk": "SH01",
    "wh_supervisor": "WH-SH",
    "wh_clerk": "WH-SH",
    "store_clerk_bj": "BJ01",
}


#: The demo organisation: (code, name, type, parent code, address, latitude, longitude).
DEMO_LOCATIONS = [
    ("HQ", "联库医疗总部", "hq", None, "上海市浦东新区张江路 88 号", "31.204000", "121.599000"),
    ("R-EAST", "华东区", "region", "HQ", None, None, None),
    ("R-NORTH", "华北区", "region", "HQ", None, None, None),
    (
        "WH-SH",
        "上海中心仓",
        "warehouse",
        "R-EAST",
        "上海市嘉定区安亭镇墨玉路 185 号",
        "31.296000",
        "121.161000",
    ),
    (
        "SH01",
        "上海徐汇店",
        "store",
        "R-EAST",
        "上海市徐汇区漕溪北路 398 号",
        "31.188000",
        "121.436000",
    ),
    (
        "HZ01",
        "杭州西湖店",
        "store",
        "R-EAST",
        "杭州市西湖区文三路 259 号",
        "30.278000",
        "120.131000",
    ),
    (
        "WH-BJ",
        "北京中心仓",
        "warehouse",
        "R-NORTH",
        "北京市大兴区亦庄经济开发区科创街 12 号",
        "39.795000",
        "116.506000",
    ),
    (
        "BJ01",
        "北京朝阳店",
        "store",
        "R-NORTH",
        "北京市朝阳区建国路 93 号",
        "39.908000",
        "116.473000",
    ),
    (
        "TJ01",
        "天津和平店",
        "store",
        "R-NORTH",
        "天津市和平区南京路 189 号",
        "39.117000",
        "117.199000",
    ),
]


def load_locations(session: Session) -> dict[str, Location]:
    """Create the demo organisation tree; returns the locations by code."""
    created: dict[str, Location] = {}
    for code, name, kind, parent, address, latitude, longitude in DEMO_LOCATIONS:
        created[code] = add_location(
            session, code, name, kind, created.get(parent) if parent else None,
            address=address,
            latitude=Decimal(latitude) if latitude else None,
            longitude=Decimal(longitude) if longitude else None,
        )  # fmt: skip
    return created


def is_empty(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(User)) == 0


def load(session: Session) -> None:
    locations = load_locations(session)
    load_users(session, locations)
    load_stock(session, locations)


def load_users(session: Session, locations: dict[str, Location] | None = None) -> None:
    """Create one user per role, each with its role and its locations (audited as in real use)."""
    if locations is None:
        locations = {loc.code: loc for loc in session.scalars(select(Location))}
    for username, full_name, role in DEMO_USERS:
        user = User(username=username, full_name=full_name, locale="zh_CN", active=True)
        user.set_password(DEMO_PASSWORD)
        session.add(user)
        session.flush()
        location = locations.get(DEMO_USER_LOCATIONS.get(username, "HQ"))
        update_user(session, user, roles=[role], location_ids=[location.id] if location else [])


def print_logins(echo: Callable[[str], None]) -> None:
    echo(f"demo logins (password for all: {DEMO_PASSWORD}):")
    for username, full_name, role in DEMO_USERS:
        where = DEMO_USER_LOCATIONS.get(username, "HQ")
        echo(f"  {username:<15} {role:<22} {where:<6} {full_name}")


#: Demo items: (code, name, specification, unit of measure, GTIN, registration certificate,
#: manufacturer, device class, tracking, expiry required, storage condition, unit cost).
DEMO_ITEMS = [
    ("BPM-U80", "电子血压计（上臂式）", "YE660D", "台", "06912345001014", "苏械注准20192070123",
     "江苏鱼跃医疗设备股份有限公司", "II", "lot", False, "normal", "168.00"),
    ("GLU-AIR", "血糖仪", "安稳+ Air", "台", "06912345001021", "湘械注准20172400123",
     "三诺生物传感股份有限公司", "II", "lot", False, "normal", "95.00"),
    ("GLU-STRIP", "血糖试纸（葡萄糖氧化酶法）", "50片/盒", "盒", "06912345001038",
     "湘械注准20172400124", "三诺生物传感股份有限公司", "II", "lot", True, "normal", "42.00"),
    ("SYR-5ML", "一次性使用无菌注射器 带针", "5ml 0.6×25TWLB", "支", "06912345001045",
     "国械注准20153150123", "山东威高集团医用高分子制品股份有限公司", "III", "lot", True,
     "normal", "0.35"),
    ("ECG-1200", "十二导心电图机", "ECG-1200", "台", "06912345001052", "粤械注准20172070123",
     "深圳市理邦精密仪器股份有限公司", "II", "serial", False, "normal", "12800.00"),
    ("DRS-1010", "医用伤口敷贴", "10cm×10cm", "片", "06912345001069", "浙械注准20182640123",
     "浙江红雨医药用品有限公司", "II", "lot", True, "normal", "1.20"),
    ("STENT-DES", "药物洗脱冠状动脉支架系统", "3.0mm×18mm", "套", "06912345001076",
     "国械注准20193130456", "上海微创医疗器械（集团）有限公司", "III", "serial", True, "normal",
     "7200.00"),
    ("GLU-CTRL", "血糖质控液（2–8 ℃ 冷藏）", "2×4ml", "盒", "06912345001083",
     "湘械注准20182400318", "三诺生物传感股份有限公司", "II", "lot", True, "cold_chain", "36.00"),
    ("MASK-SURG", "医用外科口罩", "17.5cm×9.5cm 50只/盒", "盒", "06912345001090",
     "豫械注准20202140123", "河南飘安集团有限公司", "II", "lot", True, "normal", "18.00"),
    ("THERM-IR", "红外额温计", "JXB-178", "台", "06912345001106", "粤械注准20182070456",
     "广州市康信电子科技有限公司", "II", "lot", False, "normal", "58.00"),
    ("GAUZE-8", "医用脱脂纱布块", "8cm×10cm-8P 10片/包", "包", "06912345001113",
     "苏泰械备20150012号", "江苏华晨医用卫生材料有限公司", "I", "lot", True, "normal", "2.50"),
    ("GLOVE-M", "一次性使用医用检查手套", "M 100只/盒", "盒", "06912345001120",
     "苏械注准20162640789", "江苏蓝帆医疗科技有限公司", "II", "none", False, "normal", "26.00"),
]  # fmt: skip

#: Demo lots: (item code, lot number, days from today to expiry or None); one near expiry and
#: one expired so the expiry views and FEFO have something to show.
DEMO_LOTS = [
    ("BPM-U80", "B2406018", None), ("GLU-AIR", "A2405103", None),
    ("GLU-STRIP", "S2410021", 40), ("GLU-STRIP", "S2503117", 420),
    ("SYR-5ML", "W2311045", -10), ("SYR-5ML", "W2502088", 900),
    ("DRS-1010", "D2409007", 600), ("GLU-CTRL", "C2502001", 75),
    ("MASK-SURG", "M2501122", 700), ("THERM-IR", "T2403009", None),
    ("GAUZE-8", "G2412030", 1000), ("ECG-1200", "E2406", None), ("STENT-DES", "DES2503A", 700),
]  # fmt: skip

#: Demo receipts: (location code, item code, lot number or None, quantity).
DEMO_RECEIPTS = [
    ("WH-SH", "BPM-U80", "B2406018", 40), ("WH-SH", "GLU-AIR", "A2405103", 60),
    ("WH-SH", "GLU-STRIP", "S2410021", 80), ("WH-SH", "GLU-STRIP", "S2503117", 300),
    ("WH-SH", "SYR-5ML", "W2311045", 200), ("WH-SH", "SYR-5ML", "W2502088", 2000),
    ("WH-SH", "DRS-1010", "D2409007", 500), ("WH-SH", "GLU-CTRL", "C2502001", 30),
    ("WH-SH", "MASK-SURG", "M2501122", 150), ("WH-SH", "GLOVE-M", None, 120),
    ("WH-BJ", "BPM-U80", "B2406018", 25), ("WH-BJ", "GLU-STRIP", "S2503117", 200),
    ("WH-BJ", "THERM-IR", "T2403009", 50), ("WH-BJ", "GAUZE-8", "G2412030", 400),
    ("WH-BJ", "GLOVE-M", None, 80),
    ("SH01", "GLU-STRIP", "S2410021", 12), ("SH01", "BPM-U80", "B2406018", 5),
    ("SH01", "MASK-SURG", "M2501122", 20), ("BJ01", "THERM-IR", "T2403009", 8),
    ("BJ01", "GAUZE-8", "G2412030", 30),
]  # fmt: skip

#: Serial-numbered units: (location code, item code, lot number, serials).
DEMO_UNITS = [
    ("WH-SH", "ECG-1200", "E2406", ["LB24060101", "LB24060102", "LB24060103"]),
    ("WH-BJ", "STENT-DES", "DES2503A", ["MP2503A0001", "MP2503A0002"]),
]


def load_stock(session: Session, locations: dict[str, Location]) -> None:
    """Items, lots and opening stock, received through ``post_movements`` like real receipts.

    Ends with one transfer from the Shanghai warehouse to the Hangzhou store still in transit.
    """
    today = business_today()
    clerk = session.scalar(select(User).where(User.username == "wh_clerk"))
    items, costs = {}, {}
    for (code, name, spec, uom, gtin, cert, maker, device_class, tracking, needs_expiry,
         storage, cost) in DEMO_ITEMS:  # fmt: skip
        items[code] = add_item(
            session, code, name, specification=spec, unit_of_measure=uom, gtin=gtin,
            registration_cert=cert, registration_expiry=today + dt.timedelta(days=1200),
            manufacturer=maker, device_class=device_class, tracking=tracking,
            expiry_required=needs_expiry, storage_condition=storage,
            shelf_life_days=730 if needs_expiry else None,
        )  # fmt: skip
        costs[code] = Decimal(cost)
    lots = {}
    for code, number, days in DEMO_LOTS:
        expiry = today + dt.timedelta(days=days) if days is not None else None
        lots[number] = get_or_create_lot(session, items[code], number, expiry)
    movements = [
        Movement(
            item=items[code], quantity=Decimal(quantity), destination=locations[where],
            lot=lots.get(lot), unit_cost=costs[code], line=number,
        )
        for number, (where, code, lot, quantity) in enumerate(DEMO_RECEIPTS, start=1)
    ]  # fmt: skip
    for where, code, lot, serials in DEMO_UNITS:
        for serial in serials:
            unit = get_or_create_unit(session, items[code], serial, lots[lot])
            movements.append(
                Movement(item=items[code], quantity=Decimal(1), destination=locations[where],
                         unit=unit, unit_cost=costs[code], line=len(movements) + 1)
            )  # fmt: skip
    post_movements(session, movements, user=clerk, document="DEMO-OPENING", reason=Reason.opening)
    ecg = get_or_create_unit(session, items["ECG-1200"], "LB24060103")
    ship(
        session, "DEMO-TO-0001", locations["WH-SH"], locations["HZ01"],
        [ShipLine(items["GLU-STRIP"], Decimal(30), lot=lots["S2503117"]),
         ShipLine(items["ECG-1200"], Decimal(1), unit=ecg)],
        user=clerk,
    )  # fmt: skip
