"""`python -m courtbox.cli`: the same as the `courtbox` command."""

from courtbox.cli import main

main()
