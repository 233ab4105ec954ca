"""The workflow engine: states, transitions, approvals and action plugins from ``workflows/``."""

from app.i18n import localized  # a plugin's messages, in the reader's language
from app.workflow import checks as _checks  # noqa: F401  (registers the load-time checks)
from app.workflow import editing as _editing  # noqa: F401  (refusals of workflow publishes)
from app.workflow import expiry as _expiry  # noqa: F401  (registers the expiry_scan job)
from app.workflow import reminders as _reminders  # noqa: F401  (the daily reminders job)
from app.workflow import replenishment as _replenishment  # noqa: F401  (the replenishment job)
from app.workflow import report_sources as _report_sources  # noqa: F401  (approval_tasks source)
from app.workflow.actions import Action, ActionContext, ActionError, installed_actions

__all__ = ["Action", "ActionContext", "ActionError", "installed_actions", "localized"]
