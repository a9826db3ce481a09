"""One module per top-level command (``sitegate <name> …``).

Each module defines ``register(subparsers)`` that adds its parser and sets ``func`` (called with the
parsed args; returns an exit code or None for 0). The CLI discovers the modules here, so a new
command is a new file. Keep imports of heavy libraries inside the functions: every CLI call imports
every command module.
"""
