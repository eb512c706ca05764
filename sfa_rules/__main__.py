"""``python -m sfa_rules``: the ``sfa`` command."""

from .cli import main

main(prog_name="sfa")
