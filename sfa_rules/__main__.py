"""``python -m sfa_rules``: the ``sfa`` command."""

from sfa_rules.cli.main import main

main(prog_name="sfa")
