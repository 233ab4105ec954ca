"""Every module that defines tables, imported in one place so ``Base.metadata`` is complete.

Alembic's autogenerate and the models-versus-migrations test read the metadata from here.
"""

from app import kernel  # noqa: F401
from app.db import Base
from app.meta import attachments as meta_attachments  # noqa: F401
from app.meta import models as meta_models  # noqa: F401
from app.workflow import models as workflow_models  # noqa: F401

metadata = Base.metadata
