"""Reading a customizations package: each entry maps to its kind and name as in the repository;
anything else is refused by name, before anything is checked or published."""

from __future__ import annotations

import io
import zipfile

import pytest

from app.meta import packages
from app.meta.packages import PackageInvalid, read_package
from app.meta.registry import (
    DASHBOARDS,
    FORMS,
    OPTION_LISTS,
    REPORTS,
    ROLES,
    SETTINGS,
    WORKFLOWS,
)


def zipped(**entries) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name, content in entries.items():
            package.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("entry", "kind", "name"),
    [
        ("metadata/forms/supplier.yaml", FORMS, "supplier"),
        ("metadata/forms/supplier.json", FORMS, "supplier"),
        ("workflows/scrap.yaml", WORKFLOWS, "scrap"),
        ("metadata/reports/near_expiry.yaml", REPORTS, "near_expiry"),
        ("metadata/options/transport_modes.yaml", OPTION_LISTS, "transport_modes"),
        ("metadata/dashboards/store.yaml", DASHBOARDS, "store"),
        ("metadata/roles.yaml", ROLES, "roles"),
        ("metadata/settings.yaml", SETTINGS, "settings"),
    ],
)
def test_an_entry_is_the_definition_at_its_place(entry, kind, name):
    assert read_package(zipped(**{entry: "x"})) == {(kind, name): "x"}
    assert packages.entry_name(kind, name) == entry.replace(".json", ".yaml")


@pytest.mark.parametrize(
    "entry",
    ["metadata/secrets.txt", "forms/supplier.yaml", "metadata/demo/items.yaml",
     "metadata/forms/sub/x.yaml", "metadata/other.yaml", "../metadata/roles.yaml"],
)  # fmt: skip
def test_anything_else_is_refused_by_name(entry):
    with pytest.raises(PackageInvalid, match="not a definition a package may hold"):
        read_package(zipped(**{entry: "x"}))


def test_what_is_not_a_package_or_too_big_is_refused(monkeypatch):
    with pytest.raises(PackageInvalid, match="not a zip file"):
        read_package(b"PK but not really")
    with pytest.raises(PackageInvalid, match="not UTF-8"):
        read_package(zipped(**{"metadata/roles.yaml": b"\xff\xfe"}))
    monkeypatch.setattr(packages, "MAX_ENTRY_BYTES", 10)
    with pytest.raises(PackageInvalid, match="larger than 1 MB"):
        read_package(zipped(**{"metadata/roles.yaml": "x" * 11}))
    monkeypatch.setattr(packages, "MAX_ENTRIES", 2)
    many = {f"metadata/forms/f{i}.yaml": "x" for i in range(3)}
    with pytest.raises(PackageInvalid, match="at most 2 files"):
        read_package(zipped(**many))
    assert read_package(zipped(**{packages.MANIFEST: "{}"})) == {}
