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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: master\n  bad: [unclosed\n", "forms/supplier.yaml:2: malformed YAML"),
        ("", "forms/supplier.yaml:1: the file is empty"),
        ("name: supplier\nname: supplier\n", "forms/supplier.yaml:2 name: duplicate key 'name'"),
    ],
)
def test_a_form_that_does_not_parse_is_the_only_problem_reported(text, message):
    """Not also every link, role, workflow and report that names it: those follow from it."""
    with pytest.raises(MetadataInvalid) as raised:
        load_metadata(ROOT / "metadata", ROOT / "workflows", {"forms/supplier.yaml": text})
    assert [str(issue) for issue in raised.value.issues][0].startswith(message)
    assert len(raised.value.issues) == 1, raised.value.issues


def test_a_form_failing_its_schema_is_listed_before_what_follows_from_it(metadata_copy):
    supplier = metadata_copy / "metadata" / "forms" / "supplier.yaml"
    supplier.write_text(supplier.read_text().replace("type: date", "type: datee", 1))
    shutil.copy(BAD / "forms" / "bad_expression.yaml", metadata_copy / "metadata" / "forms")
    with pytest.raises(MetadataInvalid) as raised:
        load_metadata(metadata_copy / "metadata", metadata_copy / "workflows")
    files = [issue.file for issue in raised.value.issues]
    assert files == ["forms/supplier.yaml", "forms/bad_expression.yaml"], raised.value.issues


def test_yaml_messages_are_translated(app):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("zh_CN"):
        with pytest.raises(MetadataInvalid, match="文件为空"):
            parse_yaml("", "forms/x.yaml")
        with pytest.raises(MetadataInvalid, match="YAML 格式错误"):
            parse_yaml("a: [", "forms/x.yaml")
        with pytest.raises(MetadataInvalid, match="键“a”重复"):
            parse_yaml("a: 1\na: 2\n", "forms/x.yaml")


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


def test_a_definition_may_be_written_in_json(metadata_copy):
    """Metadata is YAML or JSON: an integrator's generator writes JSON, read by the same rules —
    and its mistakes named by file, line and path the same way."""
    import json

    forms = metadata_copy / "metadata" / "forms"
    form = {
        "name": "temperature_log",
        "label": {"zh_CN": "温度记录", "en": "Temperature log"},
        "fields": [
            {"name": "reading", "type": "decimal", "label": {"zh_CN": "读数", "en": "Reading"}},
            {"name": "box", "type": "select", "options": "transport_modes",
             "label": {"zh_CN": "箱", "en": "Box"}},
        ],
    }  # fmt: skip
    (forms / "temperature_log.json").write_text(json.dumps(form, indent=2, ensure_ascii=False))
    metadata = load_metadata(metadata_copy / "metadata", metadata_copy / "workflows")
    fields = metadata.forms["temperature_log"].data["fields"]
    assert [option["value"] for option in fields[1]["options"]][0] == "refrigerated_vehicle"

    form["fields"][0]["type"] = "decimals"
    (forms / "temperature_log.json").write_text(json.dumps(form, indent=2, ensure_ascii=False))
    with pytest.raises(MetadataInvalid) as raised:
        load_metadata(metadata_copy / "metadata", metadata_copy / "workflows")
    [issue] = raised.value.issues
    assert str(issue).startswith("forms/temperature_log.json:10 fields[0].type: 'decimals'")
