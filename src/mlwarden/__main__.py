"""`python -m mlwarden` runs the CLI."""

from mlwarden.cli.main import main

main()
