"""`python -m stackkit`: the `stackkit` command."""

from stackkit.cli import main

main()
