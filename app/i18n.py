"""Translation helpers used by every layer: Chinese first, English too.

``_`` translates now (in a request it follows the user's locale; outside one it returns the
source text); ``_l`` translates lazily, for module-level constants. Source strings are English;
``app/translations/zh_CN`` holds the Chinese catalogue.
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

LOCALES = ("zh_CN", "en")

__all__ = ["LOCALES", "_", "_l", "localized", "ngettext"]


def localized(label, language: str | None = None) -> str:
    """The text of a metadata label (``{zh_CN: …, en: …}``) in ``language``, by default the
    current user's (Chinese outside a request)."""
    if not isinstance(label, dict):
        return "" if label is None else str(label)
    if language is None:
        from flask_babel import get_locale

        locale = get_locale()
        language = "en" if locale is not None and locale.language == "en" else "zh_CN"
    return label.get(language) or label.get("zh_CN") or label.get("en") or ""
