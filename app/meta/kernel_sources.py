"""The kernel's read models as report sources: typed columns over the kernel's own tables."""

from __future__ import annotations

from sqlalchemy import exists

from app.kernel.audit import AuditEntry
from app.kernel.locations import Location
from app.kernel.users import User
from app.meta.sources import Link, Source, SourceColumn, col, register_source


def _label(zh: str, en: str) -> dict:
    return {"zh_CN": zh, "en": en}


def _location_columns() -> dict[str, SourceColumn]:
    return {
        "code": SourceColumn("text", _label("地点编码", "Location code"), col("code")),
        "name": SourceColumn("text", _label("地点", "Location"), col("name")),
        "type": SourceColumn("text", _label("地点类型", "Location type"), col("type")),
        "path": SourceColumn("text", _label("层级路径", "Tree path"), col("path")),
    }


def location_link(column: str) -> Link:
    """A link from ``column`` (a location id) to that location's fields."""
    return Link(
        target=lambda: Location.__table__.alias(),
        on=lambda base, target: base.c[column] == target.c.id,
        columns=_location_columns(),
    )


def region_link(column: str) -> Link:
    """From ``column`` (a location id) to its region: the ancestor of type region."""
    locations = Location.__table__

    def on(base, region):
        member = locations.alias()
        return (region.c.type == "region") & exists().where(
            member.c.id == base.c[column], member.c.path.startswith(region.c.path)
        )

    return Link(target=lambda: locations.alias(), on=on, columns=_location_columns())


def user_link(column: str) -> Link:
    return Link(
        target=lambda: User.__table__.alias(),
        on=lambda base, target: base.c[column] == target.c.id,
        columns={
            "username": SourceColumn("text", _label("用户名", "Username"), col("username")),
            "full_name": SourceColumn("text", _label("姓名", "Full name"), col("full_name")),
        },
    )


register_source(
    Source(
        name="audit_trail",
        label=_label("审计追踪", "Audit trail"),
        table=lambda: AuditEntry.__table__,
        columns={
            "id": SourceColumn("integer", _label("编号", "Entry"), col("id")),
            "at": SourceColumn("datetime", _label("时间", "Time"), col("at")),
            "username": SourceColumn("text", _label("用户", "User"), col("username")),
            "action": SourceColumn("text", _label("操作", "Action"), col("action")),
            "entity": SourceColumn("text", _label("对象", "Entity"), col("entity")),
            "entity_id": SourceColumn("text", _label("对象编号", "Entity id"), col("entity_id")),
            "reason": SourceColumn("text", _label("原因", "Reason"), col("reason")),
            "client_addr": SourceColumn(
                "text", _label("来源地址", "Client address"), col("client_addr")
            ),  # fmt: skip
            "request_id": SourceColumn("text", _label("请求编号", "Request id"), col("request_id")),
        },
        links={"user": user_link("user_id")},
        permission="audit",
    )
)

register_source(
    Source(
        name="locations",
        label=_label("库存地点", "Locations"),
        table=lambda: Location.__table__,
        columns={
            **_location_columns(),
            "id": SourceColumn("integer", _label("编号", "Id"), col("id")),
            "address": SourceColumn("text", _label("地址", "Address"), col("address")),
            "latitude": SourceColumn("decimal", _label("纬度", "Latitude"), col("latitude")),
            "longitude": SourceColumn("decimal", _label("经度", "Longitude"), col("longitude")),
            "active": SourceColumn("boolean", _label("启用", "Active"), col("active")),
        },
        links={"parent": location_link("parent_id"), "region": region_link("id")},
        location_column="id",
    )
)
