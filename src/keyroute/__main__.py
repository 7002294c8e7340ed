"""``python -m keyroute`` runs the command-line interface."""

from keyroute.cli.main import main

main()
