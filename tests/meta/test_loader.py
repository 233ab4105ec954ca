"""The metadata loader: shipped metadata is valid; every broken file gets its exact message.

Each file under ``tests/meta/bad/`` states, in ``# expect:`` comments, every message loading it
must produce — file, line, path and reason — and no others.
"""

import shutil
from pathlib import Path

import pytest

import app.workflow  # noqa: F401  (the workflow checks are part of loading)
from app.meta import MetadataInvalid, load_metadata
from app.meta.yamlsource import parse_yaml

ROOT = Path(__file__).resolve().parents[2]
BAD = Path(__file__).parent / "bad"
CORPUS = sorted(BAD.glob("*/*.yaml"))


def test_shipped_metadata_is_valid():
    metadata = load_metadata(ROOT / "metadata", ROOT / "workflows")
    assert "purchase_receipt" in metadata.forms
    assert "purchase_receipt" in metadata.workflows
    assert "store_clerk" in metadata.roles


def test_shipped_forms_number_their_documents_with_distinct_prefixes():
    """Scrap and count sheets both numbered SC-…: two documents had the same number."""
    metadata = load_metadata(ROOT / "metadata", ROOT / "workflows")
    prefixes = {}
    for form in metadata.forms.values():
        numbering = form.data.get("numbering")
        if numbering:
            prefix = numbering.split("{", 1)[0]
            assert prefix not in prefixes, f"{form.file} and {prefixes[prefix]} share {prefix}"
            prefixes[prefix] = form.data["name"]


@pytest.fixture
def metadata_copy(tmp_path):
    shutil.copytree(ROOT / "metadata", tmp_path / "metadata")
    shutil.copytree(ROOT / "workflows", tmp_path / "workflows")
    return tmp_path


def expected_messages(path: Path) -> list[str]:
    return [
        line.removeprefix("# expect: ")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("# expect: ")
    ]


@pytest.mark.parametrize("bad_file", CORPUS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_bad_metadata_gives_exact_messages(metadata_copy, bad_file):
    kind = bad_file.parent.name
    target = (
        metadata_copy / "metadata" / "forms" if kind == "forms" else metadata_copy / "workflows"
    )
    shutil.copy(bad_file, target / bad_file.name)
    with pytest.raises(MetadataInvalid) as raised:
        load_metadata(metadata_copy / "metadata", metadata_copy / "workflows")
    assert sorted(str(issue) for issue in raised.value.issues) == sorted(
        expected_messages(bad_file)
    )


def test_all_problems_of_all_files_are_reported_together(metadata_copy):
    for bad_file in BAD.glob("forms/*.yaml"):
        shutil.copy(bad_file, metadata_copy / "metadata" / "forms" / bad_file.name)
    with pytest.raises(MetadataInvalid) as raised:
        load_metadata(metadata_copy / "metadata", metadata_copy / "workflows")
    files = {issue.file for issue in raised.value.issues}
    assert len(files) == len(list(BAD.glob("forms/*.yaml")))


def test_workflow_for_a_missing_form_is_refused(metadata_copy):
    (metadata_copy / "metadata" / "forms" / "purchase_receipt.yaml").unlink()
    with pytest.raises(
        MetadataInvalid, match=r"workflows/purchase_receipt.yaml:1 form: unknown form"
    ):
        load_metadata(metadata_copy / "metadata", metadata_copy / "workflows")


def test_line_numbers_point_into_nested_documents():
    document = parse_yaml("a:\n  b:\n    - x: 1\n      y: 2\n", "f.yaml")
    assert document.line_of(("a", "b", 0, "y")) == 4
    assert document.line_of(("a", "b", 0, "missing")) == 3
