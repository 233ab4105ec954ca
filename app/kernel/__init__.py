"""The inventory kernel: typed tables and plain functions that must never be wrong.

It knows nothing about forms, YAML or HTTP; the engines above call it and it raises typed errors.
"""

from app.kernel.users import User

__all__ = ["User"]
