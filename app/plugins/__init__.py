"""Built-in workflow actions, registered through the ``lianku.actions`` entry points like any
third-party plugin; they use only the kernel and the workflow's published action interface."""
