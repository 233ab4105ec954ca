"""The approval tasks as a report source: what waits for whom, for dashboards and lists.

Each row is one approval task with its record's form, number and location. The source belongs to
its user (``user_column``): everyone reads only the tasks waiting for them — "my pending
approvals" — within their data scope, as the inbox shows them.
"""

from __future__ import annotations

from sqlalchemy import select

from app.meta.kernel_sources import location_link
from app.meta.models import Record
from app.meta.sources import Source, SourceColumn, col, register_source
from app.workflow.models import ApprovalTask


def _label(zh: str, en: str) -> dict:
    return {"zh_CN": zh, "en": en}


def _tasks():
    tasks, records = ApprovalTask.__table__, Record.__table__
    return (
        select(
            tasks.c.id,
            tasks.c.approver_id,
            tasks.c.status,
            tasks.c.transition,
            tasks.c.level_name,
            tasks.c.created_at,
            tasks.c.due_at,
            records.c.id.label("record_id"),
            records.c.form,
            records.c.number,
            records.c.state,
            records.c.location_id,
        )
        .join_from(tasks, records, records.c.id == tasks.c.record_id)
        .subquery("approval_tasks")
    )


register_source(
    Source(
        name="approval_tasks",
        label=_label("审批任务", "Approval tasks"),
        table=_tasks,
        columns={
            "id": SourceColumn("integer", _label("任务编号", "Task"), col("id")),
            "status": SourceColumn("text", _label("任务状态", "Task status"), col("status")),
            "transition": SourceColumn(
                "text", _label("审批事项", "Approval of"), col("transition")
            ),
            "level": SourceColumn("text", _label("审批级别", "Level"), col("level_name")),
            "created_at": SourceColumn(
                "datetime", _label("送审时间", "Waiting since"), col("created_at")
            ),
            "due_at": SourceColumn("datetime", _label("期限", "Due"), col("due_at")),
            "record_id": SourceColumn("integer", _label("单据编号", "Record id"), col("record_id")),
            "form": SourceColumn("text", _label("表单", "Form"), col("form"), names_form=True),
            "number": SourceColumn("text", _label("单号", "Number"), col("number")),
            "state": SourceColumn("text", _label("单据状态", "Record state"), col("state")),
            "location_id": SourceColumn(
                "integer", _label("地点编号", "Location id"), col("location_id")
            ),
        },  # fmt: skip
        links={"location": location_link("location_id")},
        location_column="location_id",
        user_column="approver_id",
    )
)
