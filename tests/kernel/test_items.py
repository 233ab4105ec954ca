"""Item rules documents rely on: a lapsed registration certificate blocks buying and selling."""

from __future__ import annotations

import datetime as dt

import pytest

from app.kernel import add_item
from app.kernel.errors import RegistrationExpired
from app.kernel.items import require_registration

TODAY = dt.date(2026, 11, 25)


def test_registration_valid_until_its_last_day_then_refused_with_certificate_and_date(db):
    with db.transaction() as session:
        item = add_item(
            session, "ECG-1", "心电图机", registration_cert="国械注准20193070001",
            registration_expiry=TODAY,
        )  # fmt: skip
        require_registration(item, TODAY)
        with pytest.raises(RegistrationExpired) as caught:
            require_registration(item, TODAY + dt.timedelta(days=1))
    assert caught.value.field == "item"
    assert "国械注准20193070001" in str(caught.value) and "2026-11-25" in str(caught.value)


def test_item_without_registration_expiry_is_not_refused(db):
    with db.transaction() as session:
        require_registration(add_item(session, "GAUZE", "纱布", device_class="I"), TODAY)
