"""Translation helpers used by every layer: Chinese first, English too.

``_`` translates now (in a request it follows the user's locale; outside one it returns the
source text); ``_l`` translates lazily, for module-level constants. Source strings are English;
``app/translations/zh_CN`` holds the Chinese catalogue.
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

LOCALES = ("zh_CN", "en")

__all__ = ["LOCALES", "_", "_l", "ngettext"]
