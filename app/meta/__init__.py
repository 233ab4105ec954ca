"""The metadata engine: reads, validates and interprets the YAML definitions at runtime.

Forms, fields, workflows, roles and reports live in ``metadata/`` and ``workflows/`` as data;
every file is checked against its JSON Schema in ``schemas/`` and against the others.
"""

from app.meta import accounts as _accounts  # noqa: F401  (account:<kind> report sources)
from app.meta import checks as _checks  # noqa: F401  (registers the cross-reference checks)
from app.meta import dashboards as _dashboards  # noqa: F401  (registers the dashboard checks)
from app.meta import form_sources as _form_sources  # noqa: F401  (form:<name> report sources)
from app.meta import kernel_sources as _kernel_sources  # noqa: F401  (registers report sources)
from app.meta import reports as _reports  # noqa: F401  (registers the report checks)
from app.meta import role_checks as _role_checks  # noqa: F401  (roles.yaml cross-checks)
from app.meta.loader import Metadata, load_metadata
from app.meta.yamlsource import MetadataInvalid, MetadataIssue

__all__ = ["Metadata", "MetadataInvalid", "MetadataIssue", "load_metadata"]
