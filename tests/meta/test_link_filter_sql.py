"""A link filter said in SQL keeps every record the filter keeps row by row, on SQLite and on
PostgreSQL alike, whatever JSON a field holds (a number, a text of digits, true, null, a list,
nothing); where SQL says all of the filter it keeps exactly those. The picker relies on it: a
row the SQL drops is never offered."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.kernel.users import User
from app.meta.expressions import compile_expression
from app.meta.links import (
    LINK_TARGETS,
    BoundFilter,
    _record_column,
    _table_column,
    passes,
    search,
    sql_filter,
)
from app.meta.models import Record

NAMES = {"customer", "invoice_colour", "flag", "tasks", "number", "state", "id", "this", "count"}
#: What a field may hold in ``data``; ``MISSING`` leaves it out.
MISSING = object()
HELD = [5, 5.0, "5", 6, True, False, 1, 0, 0.0, None, MISSING, "red", "blue", "", [5], {"a": 5}]

FILTERS = [
    ("state == 'delivered' and customer == this('customer')", {"customer": 5}, True),
    ("state == 'delivered' and customer == this('customer')", {"customer": "5"}, True),
    ("customer == this('customer')", {"customer": None}, True),
    ("customer != this('customer')", {"customer": 1}, True),
    ("invoice_colour != 'red' and 'confirmed' == state", {}, True),
    ("customer in (5, 'red', None)", {}, True),
    ("customer not in (0, 'blue')", {}, True),
    ("customer != None or number == 'N3'", {}, True),
    ("number != 'N3' and id != 2", {}, True),
    ("flag == true", {}, False),  # a yes/no is left to Python
    ("customer > 1 and state == 'delivered'", {}, False),
    ("count(tasks) > 0 and invoice_colour == 'red'", {}, False),
    ("count(tasks) > 0 or state == 'delivered'", {}, False),
    ("not (state == 'delivered')", {}, False),
]


@pytest.fixture(name="rows")
def rows_fixture(db):
    """Records holding each JSON value in each field, in two states, some with no number."""
    with db.transaction() as session:
        for index, value in enumerate(HELD):
            for state in ("delivered", "confirmed"):
                data = {} if value is MISSING else {"customer": value, "invoice_colour": value}
                number = None if index % 4 == 0 else f"N{index}"
                session.add(Record(form="probe", number=number, state=state, data=data))
    return db


@pytest.mark.parametrize(("text", "this", "exact"), FILTERS)
def test_sql_keeps_every_record_the_filter_keeps(rows, text, this, exact):
    expression = compile_expression(text, NAMES)
    condition = BoundFilter(expression, this) if expression.this_fields else expression
    with rows.session() as session:
        every = session.scalars(select(Record).where(Record.form == "probe")).all()
        kept = {row.id for row in every if passes(condition, row)}
        where, said_all = sql_filter(condition, _record_column, session.get_bind().dialect.name)
        query = select(Record.id).where(Record.form == "probe")
        found = set(session.scalars(query if where is None else query.where(where)))
    assert said_all is exact
    assert kept <= found
    if exact:
        assert found == kept
    if text.startswith("state == 'delivered' and customer"):
        assert where is not None and len(found) < len(every) / 4  # narrowed in SQL


def test_a_kernel_table_filter_is_said_on_its_columns(lab_app, org):
    """Locations (a kernel table): a filter on their columns narrows the query; one on a column
    of another kind (a yes/no) is checked row by row, with the same choices."""
    model = LINK_TARGETS["location"].model
    with lab_app.extensions["lianku.db"].session() as session:
        admin = session.get(User, org["admin"])
        for text, this, exact in [
            ("code != 'S1' and parent_id == this('parent')", {"parent": org["hq"]}, True),
            ("active == true and code in ('S1', 'S2')", {}, False),
        ]:
            expression = compile_expression(text, {"code", "parent_id", "active", "this"})
            condition = BoundFilter(expression, this) if expression.this_fields else expression
            dialect = session.get_bind().dialect.name
            where, said_all = sql_filter(condition, _table_column(model), dialect)
            assert where is not None and said_all is exact
            every = search(session, admin, "location", "", limit=100)
            wanted = [c for c in every if passes(condition, session.get(model, c.value))]
            assert search(session, admin, "location", "", limit=100, condition=condition) == wanted
            assert wanted and len(wanted) < len(every)
