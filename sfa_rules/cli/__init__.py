"""The ``sfa`` command (the only package that imports click)."""

from sfa_rules.cli.main import main

__all__ = ["main"]
