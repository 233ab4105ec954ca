"""The built-in plugins' actions run in the workflow test bed (``tests/workflow/conftest.py``)."""

from tests.workflow.conftest import wf_api, wf_app, wf_org  # noqa: F401  (fixtures)
