"""Counterparty accounts (往来账): what customers owe the chain (``receivable``, 应收) and what it
owes its suppliers (``payable``, 应付), as report sources built from the forms that say how their
records count — no account logic in code, as for any other form.

A form declares it in its metadata::

    account:
      kind: receivable        # receivable | payable
      party: customer         # the link field naming the customer / supplier
      date: sale_date         # the date the amount counts from
      due: due_date           # optional: the date it falls due (账期), else ``date``
      amount: total           # a money (or formula) field of the record
      effect: increase        # increase: a sale on credit, goods received; decrease: a receipt,
                              # a payment, a credit granted
      states: [delivered]     # only records in these states count
      when: {sale_kind: [hospital, wholesale]}   # optional: only records with these values

``account:receivable`` and ``account:payable`` then read one row per counting record: its form,
number, date, due date, location, party, and the amount as ``debit`` (increase) or ``credit``
(decrease), with ``balance`` signed, so a report sums what is owed, per party or as a statement
(对账单); and of each increase what is still ``open``, how old it is and how long overdue.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    Date,
    FromClause,
    Integer,
    Numeric,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from app.meta.form_sources import extract, field_link
from app.meta.kernel_sources import band_of, days_between, location_link, region_link, zh_en
from app.meta.models import Record
from app.meta.sources import SOURCE_BUILDERS, Source, SourceColumn, col, current_today

KINDS = {
    "receivable": {"zh_CN": "应收账款", "en": "Receivables"},
    "payable": {"zh_CN": "应付账款", "en": "Payables"},
}
AMOUNT = Numeric(18, 4)
#: The types of field each key of a declaration may name (checked at load, offered by the designer).
FIELD_TYPES = {"date": ("date",), "due": ("date",), "amount": ("money", "decimal", "formula")}
#: How long an amount has been open (账龄), by the days since its document's date: the upper
#: bound of each band, the last open-ended.
AGE_BANDS = {
    "1_up_to_30": (30, zh_en("30天以内", "Up to 30 days")),
    "2_up_to_60": (60, zh_en("31–60天", "31–60 days")),
    "3_up_to_90": (90, zh_en("61–90天", "61–90 days")),
    "4_up_to_180": (180, zh_en("91–180天", "91–180 days")),
    "5_over_180": (None, zh_en("180天以上", "Over 180 days")),
}
#: How long past its due date an amount is (逾期): not yet due, then by days overdue.
DUE_BANDS = {
    "0_not_due": (0, zh_en("未到期", "Not yet due")),
    "1_up_to_30": (30, zh_en("逾期30天以内", "Up to 30 days overdue")),
    "2_up_to_60": (60, zh_en("逾期31–60天", "31–60 days overdue")),
    "3_up_to_90": (90, zh_en("逾期61–90天", "61–90 days overdue")),
    "4_over_90": (None, zh_en("逾期90天以上", "Over 90 days overdue")),
}


def account_forms(metadata, kind: str) -> list[tuple[str, dict]]:
    """The forms whose records count on ``kind`` accounts, with their ``account`` declaration."""
    return [
        (name, document.data["account"])
        for name, document in sorted(metadata.forms.items())
        if document.data.get("account", {}).get("kind") == kind
    ]


def party_form(metadata, forms: list[tuple[str, dict]]) -> str | None:
    """The form the parties are records of (customer, supplier): the party fields' target."""
    for name, account in forms:
        field = _field(metadata.forms[name].data, account["party"])
        if field is not None and field["type"] == "link":
            return field.get("link")
    return None


def _field(spec: dict, name: str) -> dict | None:
    return next((f for f in spec.get("fields", []) if f["name"] == name), None)


def counts_on_account(form, data: dict | None) -> bool:
    """Does a record of ``form`` with ``data`` count on its account once in the account's states
    (its ``when`` values match: a hospital's sale, not a walk-in one)? ``_rows``' condition, for
    one record read in Python (the month-end close, a transition of a closed month)."""
    account = form.spec.get("account")
    if not account:
        return False
    data = data or {}
    return all(
        str(data.get(field)) in {str(value) for value in values}
        for field, values in account.get("when", {}).items()
    )


def _rows(form: str, account: dict):
    """One form's counting records as account rows."""
    records = Record.__table__
    data = records.c.data
    amount = func.coalesce(cast(extract(data, account["amount"], "decimal"), AMOUNT), 0)
    zero = cast(literal(0), AMOUNT)
    increase = account.get("effect", "increase") == "increase"
    conditions = [records.c.form == form, records.c.state.in_(account["states"])]
    for field, values in account.get("when", {}).items():
        conditions.append(extract(data, field, "text").in_([str(value) for value in values]))
    party = cast(extract(data, account["party"], "integer"), Integer)
    date = extract(data, account["date"], "date")
    due = func.coalesce(extract(data, account["due"], "date"), date) if "due" in account else date
    return select(
        records.c.id.label("id"),
        literal(form).label("form"),
        records.c.number.label("number"),
        records.c.state.label("state"),
        date.label("date"),
        due.label("due_date"),
        records.c.location_id.label("location_id"),
        party.label("party_id"),
        (amount if increase else zero).label("debit"),
        (zero if increase else amount).label("credit"),
        (amount if increase else -amount).label("balance"),
    ).where(and_(*conditions), party.is_not(None))


def owed_by(session, metadata, party: Record) -> Decimal:
    """What ``party`` (a customer's or a supplier's card) owes on its account now: the signed sum
    of its rows on the kind of account whose parties are records of its form (0 if none is)."""
    for kind in KINDS:
        forms = account_forms(metadata, kind)
        if forms and party_form(metadata, forms) == party.form:
            rows = accounts_table(forms)
            total = select(func.coalesce(func.sum(rows.c.balance), 0)).where(
                rows.c.party_id == party.id
            )
            return Decimal(session.scalar(total))
    return Decimal(0)


def accounts_table(forms: list[tuple[str, dict]]):
    selects = [_rows(form, account) for form, account in forms]
    if not selects:  # no form counts yet: the columns, and no rows
        records = Record.__table__
        zero = cast(literal(0), AMOUNT)
        selects = [
            select(records.c.id.label("id"), literal("").label("form"),
                   records.c.number.label("number"), records.c.state.label("state"),
                   cast(null(), records.c.created_at.type).label("date"),
                   cast(null(), records.c.created_at.type).label("due_date"),
                   records.c.location_id.label("location_id"),
                   cast(null(), Integer).label("party_id"), zero.label("debit"),
                   zero.label("credit"), zero.label("balance")).where(false())
        ]  # fmt: skip
    return union_all(*selects).subquery("accounts")


def with_open_amounts(accounts: FromClause, as_of) -> FromClause:
    """``accounts`` dated up to ``as_of`` with what was still open of each increase on that day
    (未结: a delivery not yet paid for).

    A party pays its oldest debts first, so what it owes is its latest increases': walking them
    newest first, each keeps what the newer ones do not cover of the party's balance — as stock
    age keeps the latest arrivals. A decrease (a receipt, a payment, a credit) is never open, nor
    is anything while the party owes nothing. Read as of a past day, the documents are those
    dated up to it, as they stand now (a receipt voided since no longer counts)."""
    newest_first = (accounts.c.date.desc(), accounts.c.id.desc())
    by_party = accounts.c.party_id
    rows = (
        select(
            accounts,
            (func.sum(accounts.c.debit).over(partition_by=by_party, order_by=newest_first)
             - accounts.c.debit).label("newer"),
            func.sum(accounts.c.balance).over(partition_by=by_party).label("owed"),
        )
        .where(or_(accounts.c.date <= literal(as_of, Date), accounts.c.date.is_(None)))
        .subquery()
    )  # fmt: skip
    left = rows.c.owed - rows.c.newer
    open_amount = case(
        (rows.c.debit <= 0, 0), (left <= 0, 0), (left < rows.c.debit, left), else_=rows.c.debit
    )
    kept = [column for column in rows.c if column.name not in ("newer", "owed")]
    return select(*kept, cast(open_amount, AMOUNT).label("open")).subquery("open_accounts")


def _age_days(table: FromClause):
    return days_between(table.c.date, literal(current_today(), Date))


def _age_band(table: FromClause):
    return band_of(_age_days(table), AGE_BANDS)


def _past_due(table: FromClause):
    """Days since the amount fell due: below zero while it is not yet due."""
    return days_between(table.c.due_date, literal(current_today(), Date))


def _overdue_days(table: FromClause):
    """Days since the amount fell due; 0 until then."""
    return case((_past_due(table) > 0, _past_due(table)), else_=0)


def _due_band(table: FromClause):
    return band_of(_past_due(table), DUE_BANDS)


def build_account_source(kind: str, metadata) -> Source | None:
    """``account:receivable`` or ``account:payable`` over ``metadata``'s declaring forms."""
    if kind not in KINDS:
        return None
    forms = account_forms(metadata, kind)
    form_labels = {name: metadata.forms[name].data.get("label") for name, _ in forms}
    columns = {
        "id": SourceColumn("integer", zh_en("记录", "Record"), col("id")),
        "form": SourceColumn("text", zh_en("单据类型", "Document type"), col("form"),
                             options=form_labels),
        "number": SourceColumn("text", zh_en("单号", "Number"), col("number")),
        "state": SourceColumn("text", zh_en("状态", "State"), col("state")),
        "date": SourceColumn("date", zh_en("日期", "Date"), col("date")),
        "due_date": SourceColumn("date", zh_en("到期日", "Due date"), col("due_date")),
        "location_id": SourceColumn("integer", zh_en("地点", "Location"), col("location_id")),
        "party_id": SourceColumn("integer", zh_en("往来单位", "Party"), col("party_id")),
        "debit": SourceColumn("money", zh_en("增加", "Increase"), col("debit")),
        "credit": SourceColumn("money", zh_en("减少", "Decrease"), col("credit")),
        "balance": SourceColumn("money", zh_en("余额", "Balance"), col("balance")),
        "open": SourceColumn("money", zh_en("未结金额", "Open"), col("open")),
        "age_days": SourceColumn("integer", zh_en("账龄（天）", "Days open"), _age_days),
        "age_band": SourceColumn(
            "text", zh_en("账龄段", "Age band"), _age_band,
            options={code: label for code, (_, label) in AGE_BANDS.items()},
        ),
        "overdue_days": SourceColumn("integer", zh_en("逾期天数", "Days overdue"), _overdue_days),
        "due_band": SourceColumn(
            "text", zh_en("逾期段", "Overdue band"), _due_band,
            options={code: label for code, (_, label) in DUE_BANDS.items()},
        ),
    }  # fmt: skip
    links = {"location": location_link("location_id"), "region": region_link("location_id")}
    target = party_form(metadata, forms)
    if target is not None:
        party = field_link({"link": target}, lambda table: table.c.party_id, metadata)
        if party is not None:
            links["party"] = party
    return Source(
        name=f"account:{kind}",
        label=KINDS[kind],
        table=lambda: with_open_amounts(accounts_table(forms), current_today()),
        columns=columns,
        links=links,
        location_column="location_id",
        as_of="date",
    )


SOURCE_BUILDERS["account"] = build_account_source
