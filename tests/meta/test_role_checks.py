"""roles.yaml is checked beyond its schema: unknown forms, write actions on read_only roles."""

import shutil
from pathlib import Path

import pytest

from app.meta import MetadataInvalid, load_metadata

ROOT = Path(__file__).resolve().parents[2]

BAD_ROLES = """\
roles:
  peeker:
    label: {zh_CN: 查看, en: Peeker}
    scope: all
    read_only: true
    admin: true
    forms:
      purchase_receipt: [read, update]
      purchase_reciept: [read]
"""


def test_bad_roles_are_reported_with_file_line_and_path(tmp_path):
    shutil.copytree(ROOT / "metadata", tmp_path / "metadata")
    (tmp_path / "metadata" / "roles.yaml").write_text(BAD_ROLES, encoding="utf-8")
    with pytest.raises(MetadataInvalid) as invalid:
        load_metadata(tmp_path / "metadata", ROOT / "workflows")
    text = str(invalid.value)
    assert (
        "roles.yaml:8 roles.peeker.forms.purchase_receipt[1]: a read_only role cannot be "
        "granted 'update'" in text
    )
    assert (
        "roles.yaml:9 roles.peeker.forms.purchase_reciept: unknown form 'purchase_reciept'" in text
    )
    assert "roles.peeker.admin: a read_only role cannot be an admin" in text


def test_an_unknown_scope_is_refused_by_the_schema(tmp_path):
    shutil.copytree(ROOT / "metadata", tmp_path / "metadata")
    roles = (tmp_path / "metadata" / "roles.yaml").read_text(encoding="utf-8")
    (tmp_path / "metadata" / "roles.yaml").write_text(
        roles.replace("scope: own", "scope: store", 1), encoding="utf-8"
    )
    with pytest.raises(MetadataInvalid, match="'store' is not allowed; expected one of: own"):
        load_metadata(tmp_path / "metadata", ROOT / "workflows")
