"""Subcommands of the ``napari-backproject`` command, one module each.

Each public module defines ``register(subparsers)`` that adds its parser(s)
and sets ``func`` (called with the parsed arguments, returns an exit code).
"""
