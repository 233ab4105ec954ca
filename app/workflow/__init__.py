"""The workflow engine: states, transitions, approvals and action plugins from ``workflows/``."""
